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
RESUME_GAP = 10_000  # how far above the last known number a run's lost counter resumes
PUBLISH_GIVE_UP_S = 120.0  # how long a batch of events waits for Redis to come back


class Publisher:
    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[dict[str, Any], asyncio.Future | None]] | None = None
        self._task: asyncio.Task | None = None
        self._append = None
        # The highest event number this process has seen published per run, and
        # the database's record of it: where numbering resumes if Redis lost the
        # run's counter (a restart without persistence, a FLUSHALL, an eviction).
        self._last: dict[int, int] = {}
        self._floors_read: set[int] = set()

    def last_seq(self, run_id: int) -> int:
        return self._last.get(run_id, 0)

    def forget(self, run_id: int) -> None:
        self._last.pop(run_id, None)

    # Called from any thread.
    def emit(self, event: dict[str, Any]) -> None:
        ioloop.call_soon(self._put, event, None)

    def emit_many(self, batch: list[dict[str, Any]]) -> None:
        """One wake-up of the I/O loop for many events (waking it costs more than queueing)."""
        if batch:
            ioloop.call_soon(self._put_many, list(batch))

    def flush(self, timeout: float = 5.0) -> None:
        """Block until everything emitted so far from this thread is published
        (or `timeout` passed: Redis is away, and the pump goes on trying)."""
        import concurrent.futures

        future = ioloop.submit(self._flush())
        try:
            future.result(timeout)
        except concurrent.futures.TimeoutError:
            import logging

            logging.getLogger(__name__).warning("run events not yet published after %g s (Redis away?); they follow when it is back", timeout)

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
            await self._publish_until_done([e for e, _ in batch if e is not None])
            for _, done in batch:
                if done is not None and not done.done():
                    done.set_result(None)

    async def _publish_until_done(self, batch: list[dict[str, Any]]) -> None:
        """Redis away is an outage, not a reason to drop events: try again with
        backoff (up to PUBLISH_GIVE_UP_S), keeping the order. A batch appended
        to the log but not sent live is fine: a client that reconnects reads it."""
        import logging

        from redis.exceptions import RedisError

        delay, waited = 0.1, 0.0
        while True:
            try:
                await self._publish(batch)
                return
            except (RedisError, OSError) as exc:
                if waited >= PUBLISH_GIVE_UP_S:
                    logging.getLogger(__name__).error("gave up publishing %d run events after %g s: %s", len(batch), waited, exc)
                    return
                logging.getLogger(__name__).warning("publishing run events failed (%s); again in %.1f s", exc, delay)
                self._append = None  # a script registered on a lost server is re-sent
                await asyncio.sleep(delay)
                waited += delay
                delay = min(delay * 2, 2.0)
            except Exception:  # a bug must not kill the pump; the DB still has every step
                logging.getLogger(__name__).exception("publishing run events failed")
                return

    async def _floor(self, run_id: int) -> int:
        """Where this run's numbering continues if Redis has no counter for it."""
        if run_id not in self._floors_read:
            from .db import off_loop
            from .models import Run

            recorded = await off_loop(lambda: Run.objects.filter(pk=run_id).values_list("event_seq", flat=True).first())()
            self._floors_read.add(run_id)
            self._last[run_id] = max(self._last.get(run_id, 0), recorded or 0)
        return self._last.get(run_id, 0)

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
            known = await self._floor(run_id)
            # Used only if Redis has no counter for the run: above anything a
            # process may have published but not yet recorded (another owner's
            # last batch, a fan-out worker's deltas) — a jump, never a repeat.
            floor = known + RESUME_GAP if known else 0
            first = await self._append(keys=[events.seq_key(run_id), events.log_key(run_id)], args=[LOG_TTL_S, floor, *encoded])
            for offset, event in enumerate(run_events):
                event["seq"] = int(first) + offset
            self._last[run_id] = max(self._last.get(run_id, 0), int(first) + len(run_events) - 1)
            await layer.group_send(events.group_name(run_id), {"type": "run.events", "events": run_events})


# Numbers a batch of a run's events and appends them to its log, atomically:
# the log's order is the seq order, whichever worker published.
# A counter Redis lost starts again at ARGV[2]: RESUME_GAP above the highest
# number known to this process or recorded in the database.
_APPEND_SCRIPT = """
local count = #ARGV - 2
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], ARGV[2])
end
local last = redis.call('INCRBY', KEYS[1], count)
local first = last - count + 1
for i = 3, #ARGV do
  redis.call('RPUSH', KEYS[2], '{"seq": ' .. (first + i - 3) .. ', ' .. string.sub(ARGV[i], 2))
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

    from redis.exceptions import RedisError

    try:
        redis_client.client().delete(events.log_key(run_id), events.seq_key(run_id), results_key(run_id))
    except RedisError:  # Redis away: a new run's id has no log there anyway (ids are not reused)
        pass


def seed_run_log(run_id: int, run_events: list[dict[str, Any]]) -> None:
    """Start a new run's log with events of steps it did not execute (a
    re-run's reused steps), numbered as the engine numbers its own; called
    before the run is queued, so nobody is listening yet."""
    if run_events:
        from .models import Run

        script = redis_client.client().register_script(_APPEND_SCRIPT)
        first = script(keys=[events.seq_key(run_id), events.log_key(run_id)],
                       args=[LOG_TTL_S, 0, *(json.dumps({k: v for k, v in e.items() if k != "seq"}, default=str) for e in run_events)])
        # Recorded, so numbering resumes above them should Redis lose the counter.
        Run.objects.filter(pk=run_id).update(event_seq=int(first) + len(run_events) - 1)


async def read_log(run_id: int, after: int = 0) -> list[dict[str, Any]]:
    """The run's published events with seq > after, in order."""
    raw = await redis_client.async_client().lrange(events.log_key(run_id), 0, -1)
    parsed = (json.loads(item) for item in raw)
    return [e for e in parsed if e.get("seq", 0) > after]
