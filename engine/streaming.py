"""Publishing events: each run's events get consecutive sequence numbers, are
appended to the run's event log in Redis (what a connecting browser's snapshot
is read from) and sent to the run's Channels group (what live browsers get).

Several workers may publish for one run (the owner, and workers running part
of its fan-out), so numbers are handed out by Redis itself: one Lua script
numbers a batch and appends it to the log atomically. Deltas are coalesced: while one batch is being sent, the next one
gathers, and a batch with token text waits out STREAM_COALESCE_MS after the
previous one, so a fast model cannot flood the layer."""
from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from . import events, ioloop, redis_client

LOG_TTL_S = 7 * 24 * 3600


class Publisher:
    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[dict[str, Any], asyncio.Future | None]] | None = None
        self._task: asyncio.Task | None = None
        self._append = None

    # Called from any thread.
    def emit(self, event: dict[str, Any]) -> None:
        ioloop.call_soon(self._put, event, None)

    def emit_many(self, batch: list[dict[str, Any]]) -> None:
        """One wake-up of the I/O loop for many events (waking it costs more than queueing)."""
        if batch:
            ioloop.call_soon(self._put_many, list(batch))

    def flush(self, timeout: float = 5.0) -> None:
        """Block until everything emitted so far from this thread is published."""
        future = ioloop.submit(self._flush())
        future.result(timeout)

    # On the I/O loop.
    def emit_nowait(self, event: dict[str, Any]) -> None:
        self._put(event, None)

    async def _flush(self) -> None:
        done = asyncio.get_running_loop().create_future()
        self._put(None, done)
        await done

    def _put_many(self, batch: list[dict[str, Any]]) -> None:
        for event in batch:
            self._put(event, None)

    def _put(self, event: dict[str, Any] | None, done: asyncio.Future | None) -> None:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._pump())
        self._queue.put_nowait((event, done))

    async def _pump(self) -> None:
        assert self._queue is not None
        window = settings.STREAM_COALESCE_MS / 1000
        last_delta_batch = 0.0
        while True:
            first = await self._queue.get()
            batch = [first]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            has_delta = any(e is not None and e["type"] == events.STEP_DELTA for e, _ in batch)
            if has_delta:
                wait = last_delta_batch + window - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                    while not self._queue.empty():
                        batch.append(self._queue.get_nowait())
                last_delta_batch = time.monotonic()
            try:
                await self._publish([e for e, _ in batch if e is not None])
            except Exception:  # a lost publish must not kill the pump; the DB still has every step
                import logging

                logging.getLogger(__name__).exception("publishing run events failed")
            for _, done in batch:
                if done is not None and not done.done():
                    done.set_result(None)

    async def _publish(self, batch: list[dict[str, Any]]) -> None:
        by_run: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for event in coalesce(batch):
            by_run[event["run"]].append(event)
        if not by_run:
            return
        layer = get_channel_layer()
        if self._append is None:
            self._append = redis_client.async_client().register_script(_APPEND_SCRIPT)
        for run_id, run_events in by_run.items():
            encoded = [json.dumps({k: v for k, v in e.items() if k != "seq"}, default=str) for e in run_events]
            first = await self._append(keys=[events.seq_key(run_id), events.log_key(run_id)], args=[LOG_TTL_S, *encoded])
            for offset, event in enumerate(run_events):
                event["seq"] = int(first) + offset
            await layer.group_send(events.group_name(run_id), {"type": "run.events", "events": run_events})


# Numbers a batch of a run's events and appends them to its log, atomically:
# the log's order is the seq order, whichever worker published.
_APPEND_SCRIPT = """
local count = #ARGV - 1
local last = redis.call('INCRBY', KEYS[1], count)
local first = last - count + 1
for i = 2, #ARGV do
  redis.call('RPUSH', KEYS[2], '{"seq": ' .. (first + i - 2) .. ', ' .. string.sub(ARGV[i], 2))
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return first
"""


def coalesce(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge consecutive deltas of the same step into one event."""
    merged: list[dict[str, Any]] = []
    open_delta: dict[tuple[int, str, str], dict[str, Any]] = {}
    for event in batch:
        if event["type"] == events.STEP_DELTA:
            key = (event["run"], event["node"], event["key"])
            existing = open_delta.get(key)
            if existing is not None:
                existing["text"] += event["text"]
                continue
            event = dict(event)
            open_delta[key] = event
            merged.append(event)
        else:
            # Any other event of a step closes its delta run, keeping order.
            open_delta.pop((event["run"], event.get("node"), event.get("key")), None)
            merged.append(event)
    return merged


_publisher: Publisher | None = None


def publisher() -> Publisher:
    global _publisher
    if _publisher is None:
        _publisher = Publisher()
    return _publisher


def reset_run_log(run_id: int) -> None:
    """A new run starts with an empty log, whatever a reused id left in Redis."""
    from .execution import results_key

    redis_client.client().delete(events.log_key(run_id), events.seq_key(run_id), results_key(run_id))


def seed_run_log(run_id: int, run_events: list[dict[str, Any]]) -> None:
    """Start a new run's log with events of steps it did not execute (a
    re-run's reused steps), numbered as the engine numbers its own; called
    before the run is queued, so nobody is listening yet."""
    if run_events:
        script = redis_client.client().register_script(_APPEND_SCRIPT)
        script(keys=[events.seq_key(run_id), events.log_key(run_id)],
               args=[LOG_TTL_S, *(json.dumps({k: v for k, v in e.items() if k != "seq"}, default=str) for e in run_events)])


async def read_log(run_id: int, after: int = 0) -> list[dict[str, Any]]:
    """The run's published events with seq > after, in order."""
    raw = await redis_client.async_client().lrange(events.log_key(run_id), 0, -1)
    parsed = (json.loads(item) for item in raw)
    return [e for e in parsed if e.get("seq", 0) > after]
