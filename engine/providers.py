"""Which endpoint a model call goes to: a team's stored credential by name, or
the default provider from the environment (or the demo model without a key)."""
from __future__ import annotations


from .db import off_loop
from .errors import NodeFailed
from .llm import ModelTarget, default_target


def _resolve(team_id: int | None, credential: str | None, model: str | None) -> ModelTarget:
    if not credential:
        return default_target(model)
    from editor.models import Credential

    found = Credential.objects.filter(team_id=team_id, name=credential).first()
    if found is None:
        raise NodeFailed(f"no credential named '{credential}' in this workflow's team; add it under Credentials or clear the field")
    return ModelTarget(
        model=model or found.default_model or "gpt-4o-mini",
        base_url=found.base_url,
        api_key=found.get_api_key(),
    )


async def resolve(team_id: int | None, credential: str | None, model: str | None) -> ModelTarget:
    if not credential:
        return default_target(model)
    return await off_loop(_resolve)(team_id, credential, model)


def _api_key(team_id: int | None, credential: str) -> str:
    from editor.models import Credential

    found = Credential.objects.filter(team_id=team_id, name=credential).first()
    if found is None:
        raise NodeFailed(f"no credential named '{credential}' in this workflow's team; add it under Credentials or clear the field")
    return found.get_api_key()


async def api_key(team_id: int | None, credential: str) -> str:
    """The secret of a team credential by name, for a node that sends it itself
    (the http node's `Authorization: Bearer`). Never put it in an output or a log."""
    return await off_loop(_api_key)(team_id, credential)
