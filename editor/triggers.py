"""Triggers: what starts a run of a workflow's *published* version from
outside — a webhook, a schedule, an MCP client — and the publishing itself.

Exactly-once is decided in the database, never by which process happens to
run: a firing is a `TriggerFire` row unique on (trigger, key). A schedule's
key is its tick time, a webhook's its Idempotency-Key; the process whose
INSERT succeeds starts the run, every other one finds the row and its run.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import services
from .models import Run, Trigger, TriggerFire, Workflow, WorkflowVersion
from .services import ServiceError

IDEMPOTENCY_WINDOW = timedelta(hours=24)
SIGNATURE_MAX_AGE_S = 300
MIN_EVERY_S = 5


# ----------------------------------------------------------------- publishing


def publish(workflow: Workflow, version_number: int | None) -> WorkflowVersion:
    if version_number is None:
        version = workflow.latest_version
    elif isinstance(version_number, bool) or not isinstance(version_number, int):
        raise ServiceError(f"version: must be a version number, not {version_number!r}")
    else:
        version = workflow.versions.filter(number=version_number).first()
        if version is None:
            raise ServiceError(f"version: workflow {workflow.pk} has no version {version_number}")
    Workflow.objects.filter(pk=workflow.pk).update(published_version=version)
    workflow.published_version = version
    return version


def unpublish(workflow: Workflow) -> None:
    Workflow.objects.filter(pk=workflow.pk).update(published_version=None)
    workflow.published_version = None


def start_published_run(trigger: Trigger, run_input: Any, *, user=None, kind: str | None = None) -> Run:
    """A run of the trigger's workflow's published version, or 409 when nothing is published."""
    workflow = trigger.workflow
    version = workflow.published_version
    if version is None:
        raise ServiceError(
            f"workflow {workflow.pk} ('{workflow.name}') has no published version; publish one "
            f"(POST /api/workflows/{workflow.pk}/publish/) before its triggers can run it", status=409)
    return services.start_run(workflow=workflow, version=version, graph=version.graph, team=workflow.team,
                              user=user, run_input=run_input, trigger=kind or trigger.type, trigger_ref=trigger.pk)


# ----------------------------------------------------------------- trigger config


def _bool(data: dict, name: str, default: bool) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise ServiceError(f"{name}: must be true or false, not {value!r}")
    return value


def _number(data: dict, name: str, default, low: float, high: float, integer: bool = False):
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise ServiceError(f"{name}: must be a {'whole ' if integer else ''}number, not {value!r}")
    if not low <= value <= high:
        raise ServiceError(f"{name}: must be between {low:g} and {high:g}, not {value:g}")
    return value


WEBHOOK_KEYS = {"type", "respond", "timeout_s", "signing", "rate_limit_per_min", "enabled"}
SCHEDULE_KEYS = {"type", "cron", "timezone", "every_s", "input", "enabled"}
MCP_KEYS = {"type", "enabled"}


def clean_config(kind: str, data: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stored config of a trigger of `kind` from a request's fields (PATCH: merged onto `current`)."""
    allowed = {"webhook": WEBHOOK_KEYS, "schedule": SCHEDULE_KEYS, "mcp": MCP_KEYS}[kind]
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ServiceError(f"{unknown[0]}: not a setting of a {kind} trigger (it has {', '.join(sorted(allowed - {'type'}))})")
    merged = {**(current or {}), **{k: v for k, v in data.items() if k not in ("type", "enabled")}}
    if kind == "webhook":
        respond = merged.get("respond", "output")
        if respond not in ("output", "accepted"):
            raise ServiceError(f"respond: must be 'output' (wait for the run and answer with its output) or 'accepted' (answer 202 at once), not {respond!r}")
        return {
            "respond": respond,
            "timeout_s": _number(merged, "timeout_s", 30, 0.1, 300),
            "signing": _bool(merged, "signing", False),
            "rate_limit_per_min": _number(merged, "rate_limit_per_min", settings.WEBHOOK_RATE_LIMIT_PER_MIN, 1, 10_000_000, integer=True),
        }
    if kind == "schedule":
        if data.get("cron") is not None and "every_s" not in data:
            merged.pop("every_s", None)
        if data.get("every_s") is not None and "cron" not in data:
            merged.pop("cron", None)
            merged.pop("timezone", None)
        run_input = merged.get("input", {})
        if not isinstance(run_input, dict):
            raise ServiceError("input: must be a JSON object of the workflow's inputs")
        if merged.get("cron") is not None and merged.get("every_s") is not None:
            raise ServiceError("cron, every_s: give one of them, not both")
        if merged.get("cron") is not None:
            cron = merged["cron"]
            tz = merged.get("timezone", "UTC")
            if not isinstance(tz, str):
                raise ServiceError(f"timezone: must be an IANA time zone name such as 'Europe/Paris', not {tz!r}")
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise ServiceError(f"timezone: '{tz}' is not a time zone; use an IANA name such as 'Europe/Paris' or 'UTC'") from None
            from croniter import croniter

            if not isinstance(cron, str) or len(cron.split()) != 5 or not croniter.is_valid(cron):
                raise ServiceError(f"cron: {cron!r} is not a cron expression of five fields (minute hour day month weekday), e.g. '*/15 * * * *'")
            return {"cron": cron, "timezone": tz, "input": run_input}
        if merged.get("every_s") is None:
            raise ServiceError('cron or every_s: give "cron" (e.g. "*/15 * * * *") or "every_s" (seconds, at least 5)')
        return {"every_s": _number(merged, "every_s", None, MIN_EVERY_S, 366 * 86400, integer=True), "input": run_input}
    return {}


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def rotate(trigger: Trigger) -> str | None:
    """A new URL token (and signing secret, when signing): the old ones stop working at once."""
    if trigger.type != Trigger.Type.WEBHOOK:
        raise ServiceError(f"only a webhook trigger has a token to rotate; this one is a {trigger.type}")
    trigger.token = new_token()
    secret = new_secret() if trigger.config.get("signing") else None
    trigger.set_secret(secret)
    trigger.save(update_fields=["token", "encrypted_secret"])
    return secret


# ----------------------------------------------------------------- webhooks


def verify_signature(trigger: Trigger, body: bytes, signature: str | None, timestamp: str | None, now: float | None = None) -> str | None:
    """None if the request is signed right, else what is wrong (the 401's message).
    The HMAC-SHA256 is over "<timestamp>.<raw body>" so a captured request
    cannot be replayed with a fresh timestamp."""
    if not signature or not timestamp:
        return "this webhook requires X-Orchestrator-Timestamp and X-Orchestrator-Signature: sha256=<hex HMAC-SHA256 of '<timestamp>.<body>'>"
    try:
        sent_at = float(timestamp)
    except ValueError:
        return "X-Orchestrator-Timestamp must be Unix seconds"
    if abs((now or time.time()) - sent_at) > SIGNATURE_MAX_AGE_S:
        return "the signature is stale (X-Orchestrator-Timestamp is more than 5 minutes from now)"
    secret = trigger.get_secret() or ""
    expected = "sha256=" + sign(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        return "the signature does not match"
    return None


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def rate_limited(trigger: Trigger) -> int | None:
    """Seconds to wait when the trigger is over its requests-per-minute limit
    (a guard against floods, not a quota), None when the request may go on.
    A fixed one-minute window counted in Redis, shared by every web process."""
    from engine.redis_client import client

    limit = int(trigger.config.get("rate_limit_per_min") or settings.WEBHOOK_RATE_LIMIT_PER_MIN)
    now = time.time()
    window = int(now // 60)
    key = f"orchestrator:hook-rate:{trigger.pk}:{window}"
    pipe = client().pipeline()
    pipe.incr(key)
    pipe.expire(key, 120)
    count = pipe.execute()[0]
    if count > limit:
        return max(1, int((window + 1) * 60 - now) + 1)
    return None


def claim_idempotent(trigger: Trigger, key: str, start) -> tuple[int | None, bool]:
    """(run id, started now) for the Idempotency-Key `key` on this trigger: the
    first request within 24 h starts a run with `start()`; later ones get that run."""
    fire_key = "idem:" + key[:280]
    with transaction.atomic():
        TriggerFire.objects.filter(trigger=trigger, key=fire_key, created_at__lt=timezone.now() - IDEMPOTENCY_WINDOW).delete()
        existing = TriggerFire.objects.filter(trigger=trigger, key=fire_key).first()
        if existing is not None:
            return existing.run_id_ref, False
        try:
            with transaction.atomic():
                fire = TriggerFire.objects.create(trigger=trigger, key=fire_key)
        except IntegrityError:
            existing = TriggerFire.objects.get(trigger=trigger, key=fire_key)
            return existing.run_id_ref, False
        run = start()
        TriggerFire.objects.filter(pk=fire.pk).update(run_id_ref=run.pk)
        return run.pk, True


# ----------------------------------------------------------------- schedules


def _tz(config: dict[str, Any]) -> ZoneInfo:
    return ZoneInfo(config.get("timezone") or "UTC")


def next_fires(trigger: Trigger, count: int = 5, after: datetime | None = None) -> list[datetime]:
    """The next `count` tick times after `after` (now)."""
    return _ticks_after(trigger.config, trigger.created_at, after or timezone.now(), count)


def _ticks_after(config: dict[str, Any], anchor: datetime, after: datetime, count: int) -> list[datetime]:
    if config.get("cron"):
        from croniter import croniter

        it = croniter(config["cron"], after.astimezone(_tz(config)))
        return [it.get_next(datetime).astimezone(dt_timezone.utc) for _ in range(count)]
    every = int(config["every_s"])
    # Interval ticks are anchored at the trigger's creation: anchor + k·every_s.
    k = int((after - anchor).total_seconds() // every) + 1
    return [anchor + timedelta(seconds=every * (k + i)) for i in range(count)]


def latest_due_tick(config: dict[str, Any], anchor: datetime, now: datetime) -> datetime | None:
    """The last tick at or before `now` (after the anchor), or None."""
    if config.get("cron"):
        from croniter import croniter

        it = croniter(config["cron"], now.astimezone(_tz(config)) + timedelta(microseconds=1))
        tick = it.get_prev(datetime).astimezone(dt_timezone.utc)
        return tick if tick >= anchor else None
    every = int(config["every_s"])
    k = int((now - anchor).total_seconds() // every)
    return anchor + timedelta(seconds=every * k) if k >= 1 else None


def due_ticks(config: dict[str, Any], anchor: datetime, now: datetime, grace: timedelta, limit: int = 100) -> list[datetime]:
    """The ticks at or before `now` that are less than `grace` late, oldest first."""
    ticks: list[datetime] = []
    tick = latest_due_tick(config, anchor, now)
    while tick is not None and now - tick <= grace and len(ticks) < limit:
        ticks.append(tick)
        tick = latest_due_tick(config, anchor, tick - timedelta(microseconds=1))
    return ticks[::-1]


def fire_due_schedules(now: datetime | None = None) -> list[int]:
    """Start the run of every schedule tick that is due and not yet claimed;
    return the run ids started here. Called by the sweep task that Celery
    beat sends every SCHEDULE_SWEEP_S: two beats, or two workers running the
    sweep at once, race for the same (trigger, tick) row and one wins.

    Ticks less than SCHEDULE_GRACE_S late are fired, each once (a sweep that
    waited in the queue, a worker restart); ticks missed for longer (while
    everything was down) are skipped, not replayed in a burst: the schedule
    goes on at its next tick."""
    now = now or timezone.now()
    grace = timedelta(seconds=settings.SCHEDULE_GRACE_S)
    started = []
    for trigger in Trigger.objects.filter(type=Trigger.Type.SCHEDULE, enabled=True).select_related("workflow__published_version", "workflow__team"):
        for tick in due_ticks(trigger.config, trigger.created_at, now, grace):
            run_id = _fire_tick(trigger, tick, now)
            if run_id is not None:
                started.append(run_id)
    return started


def _fire_tick(trigger: Trigger, tick: datetime, now: datetime) -> int | None:
    key = "tick:" + tick.isoformat()
    if TriggerFire.objects.filter(trigger=trigger, key=key).exists():
        return None
    try:
        with transaction.atomic():
            fire = TriggerFire.objects.create(trigger=trigger, key=key, created_at=now)
    except IntegrityError:
        return None  # another process claimed this tick
    try:
        run = start_published_run(trigger, dict(trigger.config.get("input") or {}))
    except ServiceError as exc:
        TriggerFire.objects.filter(pk=fire.pk).update(error=exc.message)
        return None
    TriggerFire.objects.filter(pk=fire.pk).update(run_id_ref=run.pk)
    return run.pk


def ensure_sweep_task() -> None:
    """The beat entry that sends the schedule sweep (idempotent; after migrate)."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every = max(1, int(round(settings.SCHEDULE_SWEEP_S)))
    interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.update_or_create(
        name="orchestrator: fire due schedules",
        defaults={"task": "editor.fire_due_schedules", "interval": interval, "enabled": True,
                  "expires": None, "one_off": False, "description": "Starts the runs of due schedule triggers (editor/triggers.py)."},
    )


# ----------------------------------------------------------------- MCP


def mcp_tool_name(workflow: Workflow) -> str:
    """A stable tool name: the workflow's name as a slug plus its id (a rename changes it; the id keeps it unique)."""
    import re

    slug = re.sub(r"[^a-z0-9]+", "_", workflow.name.lower()).strip("_")[:40] or "workflow"
    return f"{slug}_{workflow.pk}"
