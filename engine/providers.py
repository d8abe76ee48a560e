"""Which endpoint a model call goes to: a team's stored credential by name, or
the default provider from the environment (or the demo model without a key)."""
from __future__ import annotations

import asyncio
import time

from django.conf import settings

from .db import off_loop
from .errors import NodeFailed
from .llm import ModelTarget, default_target
from .product import product


def _resolve(team_id: int | None, credential: str | None, model: str | None) -> ModelTarget:
    if not credential:
        return default_target(model)
    found = product().credential(team_id, credential)
    if found is None:
        raise NodeFailed(f"no credential named '{credential}' in this workflow's team; add it under Credentials or clear the field")
    if found.kind != "model":
        raise NodeFailed(f"'{credential}' is an http credential, for http nodes; pick a model credential (one with a base URL)")
    return ModelTarget(
        model=model or found.default_model or "gpt-4o-mini",
        base_url=found.base_url,
        api_key=found.api_key,
    )


# A fan-out's hundred calls name the same credential: reading and decrypting
# it for each was a fifth of a model call's CPU in the worker. A resolved
# credential is kept for ENGINE_CREDENTIAL_CACHE_S seconds (default 5) in the
# process, so a key rotated or a credential deleted takes effect within that time.
_resolved: dict[tuple[int | None, str, str | None], tuple[float, ModelTarget]] = {}


# A miss shared by the calls that miss together: when the entry is cold (the
# first fan-out, or every ENGINE_CREDENTIAL_CACHE_S), a hundred calls starting
# at once would each read and decrypt the credential on a thread of their own.
_pending: dict[tuple[int, tuple[int | None, str, str | None]], "asyncio.Future[ModelTarget]"] = {}


async def resolve(team_id: int | None, credential: str | None, model: str | None) -> ModelTarget:
    if not credential:
        return default_target(model)
    key = (team_id, credential, model)
    hit = _resolved.get(key)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    loop = asyncio.get_running_loop()
    shared = _pending.get((id(loop), key))
    if shared is None:
        shared = _pending[(id(loop), key)] = asyncio.ensure_future(_look_up(key))
        shared.add_done_callback(lambda _done, _key=(id(loop), key): _pending.pop(_key, None))
    return await asyncio.shield(shared)


async def _look_up(key: tuple[int | None, str, str | None]) -> ModelTarget:
    target = await off_loop(_resolve)(*key)
    if len(_resolved) > 1024:
        _resolved.clear()
    _resolved[key] = (time.monotonic() + float(getattr(settings, "ENGINE_CREDENTIAL_CACHE_S", 5.0)), target)
    return target


def _http_secret(team_id: int | None, credential: str) -> tuple[str, list[str]]:
    found = product().credential(team_id, credential)
    if found is None:
        raise NodeFailed(f"no credential named '{credential}' in this workflow's team; add it under Credentials or clear the field")
    if found.kind != "http":
        # A model key is sent only to its own base URL, by the model-calling
        # nodes: an http node could carry it to any host its author likes.
        raise NodeFailed(f"'{credential}' is a model credential: it is sent only to its own base URL by llm, classify and agent nodes. "
                         "Give the http node an http credential that names the hosts it may go to")
    return found.api_key, list(found.allowed_hosts)


async def http_secret(team_id: int | None, credential: str) -> tuple[str, list[str]]:
    """The secret of a team's http credential by name and the hosts it may be
    sent to, for the http node's `Authorization: Bearer`. Never put it in an
    output or a log."""
    return await off_loop(_http_secret)(team_id, credential)
