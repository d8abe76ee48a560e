"""Celery tasks. A run is advanced by one task; its parallel model calls are
coroutines on that worker's I/O loop."""
from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready

log = logging.getLogger(__name__)


@shared_task(name="engine.advance_run", acks_late=True)
def advance_run(run_id: int) -> str | None:
    from .runner import RunExecutor

    return RunExecutor(run_id).execute()


@shared_task(name="engine.run_steps", bind=True, acks_late=True)
def run_steps(self, run_id: int, team_id: int | None, specs: list[dict]) -> None:
    """Run a share of a run's network steps (a fan-out's calls) for the worker that owns the run."""
    from .execution import run_remote_steps

    run_remote_steps(run_id, team_id, specs, executor=self.request.hostname or "worker")


@worker_ready.connect
def recover_orphaned_runs(**kwargs) -> None:
    """Runs left queued or running by a worker that died get a new owner."""
    from editor.models import Run

    from .runner import Lease

    for run_id in Run.objects.filter(status__in=[Run.Status.QUEUED, Run.Status.RUNNING]).values_list("pk", flat=True):
        if not Lease.held(run_id):
            advance_run.delay(run_id)
