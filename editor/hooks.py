"""`POST /hooks/<token>/`: a webhook call starts a run of the published version.

No session, no API token, no CSRF: the unguessable token in the URL is the
credential (and, with signing on, the HMAC). An unknown or rotated token is a
plain 404 that says nothing about whether it ever existed.

Answers (README, "Calling workflows from outside"):
  200 {"run", "status": "succeeded", "output"}      respond=output, the run succeeded in time
  422 {"run", "status": "failed"|"cancelled", "error"}  the run ended without succeeding
  202 {"run", "status", "url"}                      respond=accepted, or the run outlived timeout_s
  400 bad JSON / input · 401 signature · 404 token · 409 nothing published
  413 body over WEBHOOK_MAX_BODY_BYTES · 429 over the trigger's rate limit (Retry-After)

The view is async: one watcher per process polls the tails of the runs
webhook calls wait for, in Redis, for `run.finished` (no database polling),
and each call then reads its row. Behind the web
process's synchronous middleware chain (orchestrator_site/asgi_handler.py) it
runs through `async_to_sync`, so a waiting caller does hold a thread of its
own request for at most the trigger's `timeout_s`; the trigger's rate limit
bounds how many wait at once."""
from __future__ import annotations

import asyncio
import json
import time
import weakref
from typing import Any

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from engine import events

from .models import Run, Trigger
from .services import ServiceError

NOT_FOUND = {"error": "not found"}


def _json(data: dict[str, Any], status: int, **headers: str) -> JsonResponse:
    response = JsonResponse(data, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def _first(queryset):
    """The first row of a query that matches one row at most, without the
    ORDER BY of `.first()`: compiling that ordering was a third of the
    trigger lookup's CPU, per webhook call (py-spy)."""
    found = list(queryset[:1])
    return found[0] if found else None


def _trigger(token: str) -> Trigger | None:
    return _first(Trigger.objects.select_related("workflow__team", "workflow__published_version")
                  .filter(token=token, type=Trigger.Type.WEBHOOK))


def _accept(trigger: Trigger, body: bytes, headers) -> tuple[dict[str, Any], int, dict[str, str]] | tuple[int, bool]:
    """Everything that needs the database, in one thread hop: checks, then the run (or the idempotent earlier one)."""
    from . import triggers

    if trigger.config.get("signing"):
        problem = triggers.verify_signature(trigger, body, headers.get("X-Orchestrator-Signature"), headers.get("X-Orchestrator-Timestamp"))
        if problem:
            return {"error": problem}, 401, {}
    wait = triggers.rate_limited(trigger)
    if wait is not None:
        return ({"error": f"this webhook allows {trigger.config.get('rate_limit_per_min')} requests a minute; retry in {wait} s"},
                429, {"Retry-After": str(wait)})
    try:
        run_input = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        return {"error": f"the body must be JSON (the run's input object): {exc}"}, 400, {}
    if not isinstance(run_input, dict):
        return {"error": "the body must be a JSON object: the run's input, checked against the workflow's inputs schema"}, 400, {}

    def start() -> Run:
        return triggers.start_published_run(trigger, run_input)

    try:
        key = headers.get("Idempotency-Key")
        if key:
            run_id, _ = triggers.claim_idempotent(trigger, key, start)
            if run_id is None:  # the first request with this key failed before starting a run
                return {"error": "an earlier request with this Idempotency-Key did not start a run; use a new key"}, 409, {}
            return run_id, True
        return start().pk, False
    except ServiceError as exc:
        return {"error": exc.message, **({"fields": exc.extra["fields"]} if "fields" in exc.extra else {})}, exc.status, {}


def _run_state(run_id: int) -> tuple[str, Any, Any]:
    return _first(Run.objects.filter(pk=run_id).values_list("status", "output", "error")) or ("failed", None, {"message": "run deleted"})


async def _wait_finished(run_id: int, timeout: float) -> tuple[str, Any, Any]:
    """The run's (status, output, error) once it has finished, or its status when `timeout` passes first.

    The process's tail watcher (below) says when the run's event log in Redis
    ends with `run.finished`; the row is read then: the database decides (the
    event is stored with the run's end, in one transaction, before it is
    copied to Redis). The row is also read every FALLBACK_S in case Redis lost
    the event or is away."""
    deadline = time.monotonic() + timeout
    state = await _db(_run_state, run_id)
    while state[0] not in Run.FINISHED:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        await _watcher().finished(run_id, min(FALLBACK_S, left))
        state = await _db(_run_state, run_id)
    return state


FALLBACK_S = 1.0
POLL_S = 0.005


class TailWatcher:
    """One poller per event loop for every run a webhook call waits for: one
    pipelined LINDEX of each run's last logged event per POLL_S, however many
    calls wait, and nothing while none does.

    Tried and measured instead: joining each run's channel-layer group, as its
    WebSocket does. Every batch of every run then reaches the web process as
    a message of its own (a blocking pop, then a clean-up round trip, one
    message at a time per process), which cut the 5-node webhook throughput
    from 48 to 36 runs/s; a poll per call (what this replaces) cost a Redis
    call per waiting call per 10 ms."""

    def __init__(self) -> None:
        self._waiters: dict[int, set[asyncio.Future]] = {}
        self._task: asyncio.Task | None = None

    async def finished(self, run_id: int, wait: float) -> None:
        """Return when the run's log ends with `run.finished`, or after `wait` seconds."""
        future = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(run_id, set()).add(future)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._poll())
        try:
            await asyncio.wait_for(future, wait)
        except asyncio.TimeoutError:
            pass
        finally:
            waiting = self._waiters.get(run_id)
            if waiting is not None:
                waiting.discard(future)
                if not waiting:
                    del self._waiters[run_id]
            if not self._waiters and self._task is not None:
                self._task.cancel()
                self._task = None

    async def _poll(self) -> None:
        from engine.redis_client import async_client

        redis = async_client()
        while self._waiters:
            await asyncio.sleep(POLL_S)
            runs = list(self._waiters)
            try:
                async with redis.pipeline(transaction=False) as pipe:
                    for run_id in runs:
                        pipe.lindex(events.log_key(run_id), -1)
                    tails = await pipe.execute()
            except Exception:  # Redis away: each caller's periodic database read still answers
                await asyncio.sleep(FALLBACK_S)
                continue
            for run_id, last in zip(runs, tails):
                if last and b'"run.finished"' in last:
                    for future in self._waiters.get(run_id, ()):
                        if not future.done():
                            future.set_result(None)


_watchers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TailWatcher]" = weakref.WeakKeyDictionary()


def _watcher() -> TailWatcher:
    return _watchers.setdefault(asyncio.get_running_loop(), TailWatcher())


def _db(fn, *args):
    # On the request's own thread (the one waiting in async_to_sync for this
    # view, see the module docstring) with the request's connection: no other
    # thread, no connection taken and given back per call. Concurrent calls
    # each have their own request thread, so none queues behind another.
    from asgiref.sync import sync_to_async

    return sync_to_async(fn, thread_sensitive=True)(*args)


@csrf_exempt
async def webhook(request, token: str):
    if request.method != "POST":
        return _json({"error": "send a POST with the run's input as a JSON object"}, 405, Allow="POST")
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    declared = request.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        return _json({"error": f"the body is over {limit} bytes (WEBHOOK_MAX_BODY_BYTES)"}, 413)
    trigger = await _db(_trigger, token)
    if trigger is None or not trigger.enabled:
        return _json(NOT_FOUND, 404)
    body = request.body
    if len(body) > limit:
        return _json({"error": f"the body is over {limit} bytes (WEBHOOK_MAX_BODY_BYTES)"}, 413)
    accepted = await _db(_accept, trigger, body, request.headers)
    if len(accepted) == 3:
        data, code, headers = accepted
        return _json(data, code, **headers)
    run_id, earlier = accepted
    url = request.build_absolute_uri(f"/api/runs/{run_id}/")
    if trigger.config.get("respond") == "accepted":
        # A run this call created is queued: it was committed a moment ago. Only
        # an Idempotency-Key's earlier run has a status worth reading.
        status_now = await _db(lambda: Run.objects.filter(pk=run_id).values_list("status", flat=True).first()) if earlier else None
        return _json({"run": run_id, "status": status_now or Run.Status.QUEUED, "url": url}, 202)
    status_, output, error = await _wait_finished(run_id, float(trigger.config.get("timeout_s", 30)))
    if status_ == Run.Status.SUCCEEDED:
        return _json({"run": run_id, "status": status_, "output": output}, 200)
    if status_ in Run.FINISHED:
        return _json({"run": run_id, "status": status_, "error": error, "url": url}, 422)
    return _json({"run": run_id, "status": status_, "url": url}, 202)
