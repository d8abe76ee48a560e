"""Celery tasks. A run is advanced by one task; its parallel model calls are
coroutines on that worker's I/O loop."""
from __future__ import annotations

import logging
import os

from celery import shared_task
from celery.signals import worker_ready
from django.db import OperationalError
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


# A database that refuses a connection for a moment (too many clients, a
# restart) must not leave the run queued until the sweeper's grace runs out.
# Redis away is an outage too: the run stays in progress and is tried again
# (the sweeper sends it as well, should the retry itself not get through).
@shared_task(name="engine.advance_run", acks_late=True, autoretry_for=(OperationalError, RedisError, KombuOperationalError),
             retry_backoff=1, retry_backoff_max=10, max_retries=None)
def advance_run(run_id: int) -> str | None:
    from .runner import RunExecutor

    return RunExecutor(run_id).execute()


@shared_task(name="engine.run_steps", bind=True, acks_late=True)
def run_steps(self, run_id: int, team_id: int | None, specs: list[dict], chunk: str = "") -> None:
    """Run a share of a run's network steps (a fan-out's calls) for the worker that owns the run."""
    from .execution import run_remote_steps

    run_remote_steps(run_id, team_id, specs, executor=self.request.hostname or "worker", chunk=chunk)


SWEEP_EVERY_S = float(os.environ.get("ENGINE_SWEEP_EVERY_S", "5"))
# A queued run whose message was sent longer ago than this is sent again (a
# duplicate is harmless: only the lease holder advances a run).
QUEUED_GRACE_S = float(os.environ.get("ENGINE_QUEUED_GRACE_S", "30"))


def sweep_orphaned_runs() -> list[int]:
    """Give a new owner to runs that have none, reading only the database:
    running or waiting with a lease that lapsed (its owner died: the lease
    lapses ENGINE_LEASE_TTL_S after its owner stops renewing it) or with no
    owner at all (an owner that met an outage let go); queued with a message
    sent longer than ENGINE_QUEUED_GRACE_S ago (a killed worker took it, or
    Redis lost it); waiting on a person who has answered or whose deadline
    passed, or on a sub-workflow run that has ended (its wake-up may have
    been lost). Each candidate is claimed by a compare-and-set on its
    `dispatched_at`, so of several sweeping workers one sends it. Returns the
    runs sent again."""
    from datetime import timedelta

    from django.db.models import Exists, OuterRef, Q
    from django.utils import timezone

    from .models import Run, Step

    now = timezone.now()
    resend_before = now - timedelta(seconds=max(SWEEP_EVERY_S, 1.0))
    ownerless = Q(owner="") | Q(lease_until__lt=now) | Q(lease_until__isnull=True)
    candidates = list(Run.objects.filter(ownerless, status=Run.Status.RUNNING).values_list("pk", flat=True))
    candidates += list(Run.objects.filter(ownerless, status=Run.Status.QUEUED, dispatched_at__lt=now - timedelta(seconds=QUEUED_GRACE_S))
                       .values_list("pk", flat=True))
    answered = Step.objects.filter(run=OuterRef("pk"), status=Step.Status.WAITING).filter(Q(answer__isnull=False) | Q(deadline__lt=now))
    waiting = Run.objects.filter(ownerless, status=Run.Status.WAITING)
    candidates += list(waiting.filter(Exists(answered)).values_list("pk", flat=True))
    # A parked sub-workflow step (running, its run waiting) whose own child has ended.
    ended_child = Run.objects.filter(parent_run=OuterRef(OuterRef("pk")), parent_node=OuterRef("node_id"), parent_key=OuterRef("key"),
                                     status__in=list(Run.FINISHED))
    child_ended = Step.objects.filter(run=OuterRef("pk"), status=Step.Status.RUNNING, node_type="subworkflow").filter(Exists(ended_child))
    candidates += list(waiting.filter(Exists(child_ended)).values_list("pk", flat=True))
    sent = []
    dispatched = dict(Run.objects.filter(pk__in=candidates).values_list("pk", "dispatched_at"))
    for run_id in dict.fromkeys(candidates):
        # One sweeper sends it: the others find dispatched_at moved.
        if not Run.objects.filter(pk=run_id, dispatched_at=dispatched.get(run_id)).update(dispatched_at=now):
            continue
        log.warning("run %s has no live owner; sending it to a worker again", run_id)
        try:
            advance_run.delay(run_id)
        except Exception:  # the broker away: the next sweep tries again
            Run.objects.filter(pk=run_id).update(dispatched_at=now - timedelta(seconds=QUEUED_GRACE_S + 1))
            log.warning("run %s: the broker is away; sending it at the next sweep", run_id)
            continue
        sent.append(run_id)
    return sent


# A finished run's event log (engine.models.RunEvent) is kept this long, then
# pruned; after that a client is shown the run from its recorded steps.
EVENT_LOG_KEEP_S = float(os.environ.get("ENGINE_EVENT_LOG_KEEP_S", str(7 * 24 * 3600)))
PRUNE_EVERY_S = 600.0


def prune_event_logs() -> int:
    """Delete the event logs of runs finished more than EVENT_LOG_KEEP_S ago; how many events went."""
    from datetime import timedelta

    from django.utils import timezone

    from .models import Run, RunEvent

    old = Run.objects.filter(finished_at__lt=timezone.now() - timedelta(seconds=EVENT_LOG_KEEP_S)).values("pk")
    deleted, _ = RunEvent.objects.filter(run__in=old).delete()
    return deleted


@worker_ready.connect
def recover_orphaned_runs(**kwargs) -> None:
    """On start, and every SWEEP_EVERY_S after, pick up runs a dead worker left behind."""
    import threading
    import time

    from django.conf import settings
    from django.db import close_old_connections

    from . import workers

    workers.announce_forever()  # so owners know whether sharing a fan-out can help
    if not settings.ENGINE_SWEEP_ORPHANS:
        return

    def sweep_forever() -> None:
        next_prune = time.monotonic() + PRUNE_EVERY_S
        while True:
            try:
                sweep_orphaned_runs()
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + PRUNE_EVERY_S
                    prune_event_logs()
            except Exception:  # a database or broker hiccup must not end the sweeping
                log.exception("sweeping orphaned runs failed")
            finally:
                close_old_connections()
            time.sleep(SWEEP_EVERY_S)

    threading.Thread(target=sweep_forever, name="orphaned-run-sweeper", daemon=True).start()
