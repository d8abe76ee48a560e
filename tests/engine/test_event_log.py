"""The run's event log lives in the database: numbered there, in one
transaction per batch, so several publishers never share or skip a number and
nothing Redis loses can restart the numbering."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from engine import events
from engine.models import Run, RunEvent
from engine.streaming import store_events
from engine.tasks import EVENT_LOG_KEEP_S, prune_event_logs

GRAPH = {"format": "orchestrator.workflow/v1", "name": "x", "nodes": [{"id": "start", "type": "start"}], "edges": []}


@pytest.mark.django_db(transaction=True)
def test_publishers_in_parallel_get_one_unbroken_numbering():
    run = Run.objects.create(graph=GRAPH, input={})
    errors = []

    def publish(who: str) -> None:
        try:
            for batch in range(15):
                store_events(run.pk, [events.event(events.STEP_DELTA, run.pk, node=who, key="1", text=f"{batch}.{i}") for i in range(3)])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=publish, args=(f"n{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    seqs = list(RunEvent.objects.filter(run=run).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, 4 * 15 * 3 + 1))
    assert Run.objects.get(pk=run.pk).event_seq == seqs[-1]


@pytest.mark.django_db
def test_old_finished_runs_logs_are_pruned_recent_ones_kept():
    old = Run.objects.create(graph=GRAPH, input={}, status="succeeded",
                             finished_at=timezone.now() - timedelta(seconds=EVENT_LOG_KEEP_S + 60))
    recent = Run.objects.create(graph=GRAPH, input={}, status="succeeded", finished_at=timezone.now())
    running = Run.objects.create(graph=GRAPH, input={}, status="running")
    for run in (old, recent, running):
        store_events(run.pk, [events.event(events.RUN_STARTED, run.pk, status="running")])
    assert prune_event_logs() == 1
    assert set(RunEvent.objects.values_list("run_id", flat=True)) == {recent.pk, running.pk}
