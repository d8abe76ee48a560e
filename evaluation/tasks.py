"""Celery tasks of the evaluation app."""
from __future__ import annotations

from celery import shared_task


@shared_task(name="evaluation.run_experiment", acks_late=True)
def run_experiment(experiment_id: int) -> str:
    """Run every trial of an experiment (bounded parallelism), score them, finish it.
    Resumable: a re-delivered task picks up the trials where they are."""
    from .runner import ExperimentRunner

    return ExperimentRunner(experiment_id).execute()
