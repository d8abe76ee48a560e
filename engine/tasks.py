"""Celery tasks. A run is advanced by one task; its parallel model calls are
coroutines on that worker's I/O loop."""
from __future__ import annotations

import logging
import os

from celery import shared_task
from celery.signals import worker_ready
from django.db import OperationalError

log = logging.getLogger(__name__)


# A database that refuses a connection for a moment (too many clients, a
# restart) must not leave the run queued until the sweeper's grace runs out.
@shared_task(name="engine.advance_run", acks_late=True, autoretry_for=(OperationalError,), retry_backoff=1,
             retry_backoff_max=10, max_retries=8)
def advance_run(run_id: int) -> str | None:
    from .runner import RunExecutor

    return RunExecutor(run_id).execute()


@shared_task(name="engine.run_steps", bind=True, acks_late=True)
def run_steps(self, run_id: int, team_id: int | None, specs: list[dict], chunk: str = "") -> None:
    """Run a share of a run's network steps (a fan-out's calls) for the worker that owns the run."""
    from .execution import run_remote_steps

    run_remote_steps(run_id, team_id, specs, executor=self.request.hostname or "worker", chunk=chunk)


SWEEP_EVERY_S = float(os.environ.get("ENGINE_SWEEP_EVERY_S", "15"))
QUEUED_GRACE_S = 120  # a queued run older than this has probably lost its message


def sweep_orphaned_runs() -> list[int]:
    """Give a new owner to runs whose worker died: running with no lease held
    (its lease lapses 30 s after its owner stops renewing it), queued for
    longer than any queue should hold them, or waiting on a person who has
    answered. Returns the runs sent again.
    A duplicate message is harmless: only the lease holder advances a run."""
    from datetime import timedelta

    from django.utils import timezone

    from .models import Run

    from .runner import Lease

    from .models import Step

    stale = timezone.now() - timedelta(seconds=QUEUED_GRACE_S)
    candidates = list(Run.objects.filter(status=Run.Status.RUNNING).values_list("pk", flat=True))
    candidates += list(Run.objects.filter(status=Run.Status.QUEUED, created_at__lt=stale).values_list("pk", flat=True))
    # A waiting run whose person has answered, and whose wake-up went missing
    # (a broker lost it): the answer is recorded, so the run can go on.
    candidates += list(Step.objects.filter(status=Step.Status.WAITING, answer__isnull=False, run__status=Run.Status.WAITING)
                       .values_list("run_id", flat=True).distinct())
    sent = [run_id for run_id in candidates if not Lease.held(run_id)]
    for run_id in sent:
        log.warning("run %s has no live owner; sending it to a worker again", run_id)
        advance_run.delay(run_id)
    return sent


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
        while True:
            try:
                sweep_orphaned_runs()
            except Exception:  # a database or broker hiccup must not end the sweeping
                log.exception("sweeping orphaned runs failed")
            finally:
                close_old_connections()
            time.sleep(SWEEP_EVERY_S)

    threading.Thread(target=sweep_forever, name="orphaned-run-sweeper", daemon=True).start()
