"""Celery tasks of the evaluation app."""
from __future__ import annotations

from celery import shared_task
from celery.signals import worker_ready


@shared_task(name="evaluation.run_experiment", acks_late=True)
def run_experiment(experiment_id: int) -> str:
    """Run every trial of an experiment (bounded parallelism), score them, finish it.
    Resumable: a re-delivered task picks up the trials where they are."""
    from .runner import ExperimentRunner

    return ExperimentRunner(experiment_id).execute()


@worker_ready.connect
def recover_orphaned_experiments(**kwargs) -> None:
    """Experiments left queued or running by a worker that died get a new coordinator."""
    from .runner import orphaned

    for experiment_id in orphaned().values_list("pk", flat=True):
        run_experiment.delay(experiment_id)
