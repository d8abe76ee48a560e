"""Messages to the people who have a workflow open (the presence socket,
editor/consumers.py): a teammate saved a version, your role changed. Sent
after the change is committed, so a page never hears of a save that was
rolled back."""
from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)


def workflow_group(workflow_id: int) -> str:
    return f"workflow.{workflow_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def _send(group: str, message: dict) -> None:
    try:
        async_to_sync(get_channel_layer().group_send)(group, message)
    except Exception:  # noqa: BLE001 - presence is a courtesy: a layer that is down must not fail the save
        log.warning("presence: could not notify %s", group, exc_info=True)


def workflow_saved(workflow_id: int, *, version: int, author: str | None, author_id: int | None, message: str) -> None:
    _send(workflow_group(workflow_id), {"type": "workflow.saved", "version": version, "by": author, "by_id": author_id, "message": message})


def workflow_moved(workflow_id: int, *, team: int, team_name: str) -> None:
    _send(workflow_group(workflow_id), {"type": "workflow.moved", "team": team, "team_name": team_name})


def role_changed(team_id: int, user_id: int, role: str | None) -> None:
    _send(user_group(user_id), {"type": "member.role", "team": team_id, "role": role})
