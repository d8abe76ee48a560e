"""Celery tasks of the product: the schedule sweep that Celery beat sends."""
from __future__ import annotations

from celery import shared_task


@shared_task(name="editor.fire_due_schedules", ignore_result=True, acks_late=False)
def fire_due_schedules() -> None:
    """Start the runs of due schedule ticks. Sent every SCHEDULE_SWEEP_S by
    every beat process that is up; it may run twice at once and still starts
    each tick's run once (editor/triggers.py)."""
    from .triggers import fire_due_schedules as fire

    fire()
