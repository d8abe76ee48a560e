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

The view is async: it waits in the run's channel-layer group for
`run.finished` (no polling) and then reads the row. Behind the web
process's synchronous middleware chain (orchestrator_site/asgi_handler.py) it
runs through `async_to_sync`, so a waiting caller does hold a thread of its
own request for at most the trigger's `timeout_s`; the trigger's rate limit
bounds how many wait at once."""
from __future__ import annotations

import asyncio
import json
import time
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


def _trigger(token: str) -> Trigger | None:
    return (Trigger.objects.select_related("workflow__team", "workflow__published_version")
            .filter(token=token, type=Trigger.Type.WEBHOOK).first())


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
    return Run.objects.filter(pk=run_id).values_list("status", "output", "error").first() or ("failed", None, {"message": "run deleted"})


async def _wait_finished(run_id: int, timeout: float) -> tuple[str, Any, Any]:
    """The run's (status, output, error) once it has finished, or its status when `timeout` passes first.

    Joins the run's channel-layer group, as the run's WebSocket does, and
    sleeps until the engine's `run.finished` arrives there (the worker already
    sends every event to that group): no polling, and the answer leaves as soon
    as the run ends. The row is then read: the database decides (the event is
    stored with the run's end, in one transaction, before it is sent). The
    group is joined before the first read, so a run that ends in between is
    seen by one or the other. With Redis away, or a message lost, the row is
    read again every FALLBACK_S."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    group = events.group_name(run_id)
    channel = await layer.new_channel()
    try:
        await layer.group_add(group, channel)
        joined = True
    except Exception:  # Redis away: the periodic database read still answers
        joined = False
    try:
        deadline = time.monotonic() + timeout
        state = await _db(_run_state, run_id)
        while state[0] not in Run.FINISHED:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            wait = min(FALLBACK_S, left)
            if joined:
                await _until_finished_event(layer, channel, wait)
            else:
                await asyncio.sleep(wait)
            state = await _db(_run_state, run_id)
        return state
    finally:
        if joined:
            try:
                await layer.group_discard(group, channel)
            except Exception:  # the group's key expires on its own (the layer's group_expiry)
                pass
        # A message sent to the channel after the last receive (a publisher's
        # repeat of a batch) would stay in the layer's buffer for good.
        getattr(layer, "receive_buffer", {}).pop(channel, None)


async def _until_finished_event(layer, channel: str, wait: float) -> None:
    """Return when a batch carrying `run.finished` reaches `channel`, or after `wait` seconds."""
    end = time.monotonic() + wait
    while (left := end - time.monotonic()) > 0:
        try:
            message = await asyncio.wait_for(layer.receive(channel), left)
        except asyncio.TimeoutError:
            return
        except Exception:  # Redis away mid-wait: sleep the rest out, then the row is read
            await asyncio.sleep(max(0.0, end - time.monotonic()))
            return
        if message.get("type") == "run.status" or any(e.get("type") == events.RUN_FINISHED for e in message.get("events", ())):
            return  # (run.status: a queued run cancelled outside the engine)


FALLBACK_S = 1.0


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
