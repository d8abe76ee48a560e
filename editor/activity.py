"""The team's activity log: who did what, written by the code that does it,
inside the same transaction, so the log never claims a change that was rolled
back and never misses one that landed."""
from __future__ import annotations

from .models import Activity


def record(team_id: int | None, actor, action: str, obj_type: str, obj_id, summary: str) -> Activity | None:
    """Add one row. Call it inside the `transaction.atomic()` that makes the change."""
    if team_id is None:
        return None  # headless runs belong to no team
    return Activity.objects.create(
        team_id=team_id,
        actor=actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
        action=action,
        object_type=obj_type,
        object_id="" if obj_id is None else str(obj_id),
        summary=summary[:500],
    )


def who(user) -> str:
    return user.get_username() if user is not None and getattr(user, "is_authenticated", False) else "a trigger"
