"""The run's event log lives in the database: numbered there, in one
transaction per batch, so several publishers never share or skip a number and
nothing Redis loses can restart the numbering."""
from __future__ import annotations

import json
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


def test_a_snapshots_merged_delta_carries_its_last_number_in_seq_order():
    """What the first snapshot sends: a step's stored deltas as one event
    numbered with the last seq it covers, placed in seq order among other
    steps' events (a client resuming after it must not be sent its text
    again); the publisher's own batches, not numbered yet, keep their order."""
    from engine.streaming import coalesce

    def delta(seq, node, text):
        return {"run": 1, "seq": seq, "type": events.STEP_DELTA, "node": node, "key": "1", "text": text}

    log = [delta(3, "a", "x"), delta(4, "b", "1"), {"run": 1, "seq": 5, "type": events.STEP_STARTED, "node": "c", "key": "1"},
           delta(6, "a", "y"), delta(7, "b", "2"), {"run": 1, "seq": 8, "type": events.STEP_FINISHED, "node": "a", "key": "1"},
           delta(9, "a", "z")]
    merged = coalesce(log)
    assert [(e["seq"], e["node"], e.get("text")) for e in merged] == [(5, "c", None), (6, "a", "xy"), (7, "b", "12"), (8, "a", None),
                                                                       (9, "a", "z")]
    assert log[0]["text"] == "x", "the stored events are not changed"

    unnumbered = [{k: v for k, v in e.items() if k != "seq"} for e in log]
    assert [(e["node"], e.get("text")) for e in coalesce(unnumbered)] == [("a", "xy"), ("b", "12"), ("c", None), ("a", None), ("a", "z")]


@pytest.mark.django_db(transaction=True)
def test_a_batch_whose_commit_answer_was_lost_is_not_stored_twice(monkeypatch):
    """The publisher's store commits, then the database connection drops
    before the answer arrives (an error, although the rows are in): the retry
    must find the batch in the log and send it with the numbers it has, not
    store it again with new ones (every client would show its text twice)."""
    import asyncio

    from django.db import OperationalError

    from engine import streaming

    run = Run.objects.create(graph=GRAPH, input={})
    store_events(run.pk, [events.event(events.STEP_STARTED, run.pk, node="write", key="1", attempt=1)])
    real_store, answers_lost = streaming.store_events, []

    def commit_then_lose_the_answer(run_id, run_events):
        if not answers_lost:
            answers_lost.append(run_id)
            real_store(run_id, [dict(e) for e in run_events])  # committed, but the caller never learns its numbers
            raise OperationalError("server closed the connection unexpectedly")
        real_store(run_id, run_events)

    monkeypatch.setattr(streaming, "store_events", commit_then_lose_the_answer)
    batch = [events.event(events.STEP_DELTA, run.pk, node="write", key="1", text="On "),
             events.event(events.STEP_DELTA, run.pk, node="other", key="1", text="Write ")]

    async def publish_and_watch() -> list[dict]:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(events.group_name(run.pk), channel)
        await streaming.Publisher()._publish_until_done(batch)
        return (await asyncio.wait_for(layer.receive(channel), 10))["events"]

    live = asyncio.run(publish_and_watch())
    assert answers_lost
    assert [(e["seq"], e["text"]) for e in live] == [(2, "On "), (3, "Write ")], "sent live with the numbers it was stored with"
    log = [(seq, json.loads(data).get("text")) for seq, data in RunEvent.objects.filter(run=run).order_by("seq").values_list("seq", "data")]
    assert log == [(1, None), (2, "On "), (3, "Write ")]
    assert Run.objects.get(pk=run.pk).event_seq == 3
