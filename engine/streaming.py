"""Publishing events: each run's events get consecutive sequence numbers
from the database, are stored there (engine.models.RunEvent: the run's event
log, what a connecting or reconnecting client is served from) and sent to the
run's Channels group (what live browsers get); a copy of each is appended to
a Redis list for cheap watchers of a run's tail (editor/hooks.py).

Several workers may publish for one run (the owner, and workers running part
of its fan-out): one transaction raises the run's `event_seq` by the size of
a batch and stores the batch, so numbers never restart, repeat or skip, even
when Redis loses everything (a FLUSHALL, a restart without persistence).
Deltas are coalesced: while one batch is being stored and sent, the next one
gathers, and a batch with token text waits out STREAM_COALESCE_MS after the
previous one, so a fast model costs one row per step per window, not one per
token."""
from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import logging
import threading
import time
from collections import OrderedDict, defaultdict
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from redis.exceptions import RedisError

from . import events, ioloop, redis_client

log = logging.getLogger(__name__)

LOG_TTL_S = 7 * 24 * 3600  # the Redis copy of a run's log (the database keeps it longer: ENGINE_EVENT_LOG_KEEP_S)
PUBLISH_GIVE_UP_S = 120.0  # how long a batch of events waits for the database or Redis to come back


class Publisher:
    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[dict[str, Any], asyncio.Future | None]] | None = None
        self._task: asyncio.Task | None = None
        self._waited_for: asyncio.Event | None = None  # set when a flush is asked for (made on the loop, with the queue)

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
        future = ioloop.submit(self._flush())
        try:
            future.result(timeout)
        except concurrent.futures.TimeoutError:
            log.warning("run events not yet published after %g s (Redis away?); they follow when it is back", timeout)

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
            self._waited_for = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._pump())
        self._queue.put_nowait((event, done))
        if done is not None:
            self._waited_for.set()

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
                if wait > 0 and not any(done is not None for _, done in batch):
                    # Someone waiting on a flush (a run's end) cuts the window
                    # short: a fan-out's last deltas held run.finished up to 30 ms.
                    self._waited_for.clear()
                    try:
                        await asyncio.wait_for(self._waited_for.wait(), wait)
                    except asyncio.TimeoutError:
                        pass
                    while not self._queue.empty():
                        batch.append(self._queue.get_nowait())
                last_delta_batch = time.monotonic()
            await self._publish_until_done([e for e, _ in batch if e is not None])
            for _, done in batch:
                if done is not None and not done.done():
                    done.set_result(None)

    async def _publish_until_done(self, batch: list[dict[str, Any]]) -> None:
        """The database or Redis away is an outage, not a reason to drop
        events: try again with backoff (up to PUBLISH_GIVE_UP_S), keeping the
        order. A batch stored is never stored again (`_publish` sends what it
        stored); one stored but not sent live is fine: a client that
        reconnects reads it."""
        pending = coalesce(batch)
        sent: set[int] = set()  # runs whose share is stored and sent: not again on a retry
        doubtful: set[int] = set()  # runs whose store failed: perhaps only its answer was lost

        delay, waited = 0.1, 0.0
        while True:
            try:
                await self._publish([e for e in pending if e["run"] not in sent], sent, doubtful)
                return
            except (RedisError, OSError, DatabaseError) as exc:
                if waited >= PUBLISH_GIVE_UP_S:
                    log.error("gave up publishing %d run events after %g s: %s", len(batch), waited, exc)
                    return
                log.warning("publishing run events failed (%s); again in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                waited += delay
                delay = min(delay * 2, 2.0)
            except Exception:  # a bug must not kill the pump; the DB still has every step
                log.exception("publishing run events failed")
                return

    async def _publish(self, batch: list[dict[str, Any]], sent: set[int], doubtful: set[int] | None = None) -> None:
        """Store, then send, each run's share of a coalesced batch; each run
        done goes into `sent`. An event that has its number is not stored
        again on a retry after an outage, only sent; nor is a share whose
        store failed (its run in `doubtful`) but is found in the log."""
        by_run: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for event in batch:
            by_run[event["run"]].append(event)
        layer = get_channel_layer()
        for run_id, run_events in by_run.items():
            unnumbered = [e for e in run_events if "seq" not in e]  # (a run's last events come numbered: stored with its end)
            if unnumbered:
                maybe_stored = doubtful is not None and run_id in doubtful
                try:
                    await asyncio.get_running_loop().run_in_executor(_event_log_thread(), _store_on_event_log_thread, run_id, unnumbered,
                                                                     maybe_stored)
                except DatabaseError:
                    if doubtful is not None:
                        doubtful.add(run_id)
                    raise
            stored = [e for e in run_events if "seq" in e]
            try:
                await _append_tail(run_id, stored)
            except (RedisError, OSError):  # a copy for watchers of the tail: they also read the database
                pass
            await layer.group_send(events.group_name(run_id), {"type": "run.events", "events": stored})
            sent.add(run_id)


_event_log_executor = None


def _event_log_thread():
    """One thread per process stores published events, keeping its database
    connection: a connection opened and closed per batch (what `off_loop`
    does for its many threads) cost a trivial run ~10 ms of worker CPU and
    delayed every token batch by the connect."""
    global _event_log_executor
    if _event_log_executor is None:
        _event_log_executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="event-log")
    return _event_log_executor


def _store_on_event_log_thread(run_id: int, run_events: list[dict[str, Any]], maybe_stored: bool = False) -> None:
    try:
        if maybe_stored and _find_stored(run_id, run_events):
            return
        store_events(run_id, run_events)
    except DatabaseError:
        connection.close()  # a broken connection is opened again at the next batch
        raise


def _find_stored(run_id: int, run_events: list[dict[str, Any]]) -> bool:
    """After a store that failed: is the batch in the log anyway? A commit can
    succeed and its answer be lost (the connection dropped during COMMIT);
    storing the batch again would give its events second numbers, and every
    client would show its text twice ("On On Write about tides"). If found,
    each event gets the number it was stored with (True). Only on this rare
    path; a row is compared with what store_events would have written."""
    from .models import RunEvent

    after_seq = _row_data(0, run_events[0])[len(_row_data(0, {})) - 1:]  # what follows the number in its row
    # LIKE narrows (on SQLite it ignores ASCII case); the comparison below is exact.
    candidates = RunEvent.objects.filter(run_id=run_id, data__endswith=after_seq).order_by("-seq").values_list("seq", flat=True)
    for first in candidates:
        rows = dict(RunEvent.objects.filter(run_id=run_id, seq__gte=first, seq__lt=first + len(run_events)).values_list("seq", "data"))
        if all(rows.get(first + offset) == _row_data(first + offset, e) for offset, e in enumerate(run_events)):
            for offset, event in enumerate(run_events):
                event["seq"] = first + offset
            return True
    return False


class _Encoded:
    """The JSON each stored event was given, kept for the Redis copy of the
    log's tail so an event is encoded once, not twice. Keyed by the event
    object itself (the publisher sends the very dicts store_events numbered)
    and checked against its number, so a row of a transaction that rolled
    back is never taken for another event; bounded, oldest first out."""

    LIMIT = 4096

    def __init__(self) -> None:
        self._rows: "OrderedDict[int, tuple[dict[str, Any], int, str]]" = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, event: dict[str, Any], data: str) -> None:
        with self._lock:
            self._rows[id(event)] = (event, event["seq"], data)
            while len(self._rows) > self.LIMIT:
                self._rows.popitem(last=False)

    def take(self, event: dict[str, Any]) -> str:
        with self._lock:
            kept = self._rows.pop(id(event), None)
        if kept is not None and kept[0] is event and kept[1] == event.get("seq"):
            return kept[2]
        return json.dumps(event, default=str)


_encoded = _Encoded()


def _row_data(seq: int, event: dict[str, Any]) -> str:
    """An event as its row stores it (and clients are sent it): JSON, its seq first."""
    return json.dumps({"seq": seq, **{k: v for k, v in event.items() if k != "seq"}}, default=str)


def store_events(run_id: int, run_events: list[dict[str, Any]]) -> None:
    """Number a run's events and store them, in one transaction: the run's
    counter is raised by their number (on PostgreSQL that row stays locked to
    the commit; SQLite holds its write lock), so two publishers never get the
    same numbers and a failed transaction leaves no hole. Sets each event's
    `seq`. Events of a run that no longer exists are dropped (no seq)."""
    from . import runsql
    from .models import RunEvent

    if not run_events:
        return
    count = len(run_events)
    # No savepoint inside a caller's transaction (the run's end): all of it or none.
    with transaction.atomic(savepoint=False):
        last = runsql.raise_event_seq(run_id, count)
        if last is None:
            return
        first = last - count + 1
        numbered = [{"seq": first + offset, **{k: v for k, v in e.items() if k != "seq"}} for offset, e in enumerate(run_events)]
        encoded = [_row_data(e["seq"], e) for e in numbered]
        table, quote = RunEvent._meta.db_table, connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {quote(table)} ({quote('run_id')}, {quote('seq')}, {quote('data')}) VALUES (%s, %s, %s)",
                               [(run_id, e["seq"], data) for e, data in zip(numbered, encoded)])
    for event, with_seq, data in zip(run_events, numbered, encoded):
        event["seq"] = with_seq["seq"]
        _encoded.keep(event, data)


async def _append_tail(run_id: int, run_events: list[dict[str, Any]]) -> None:
    if not run_events:
        return
    client = redis_client.async_client()
    async with client.pipeline(transaction=False) as pipe:
        pipe.rpush(events.log_key(run_id), *(_encoded.take(e) for e in run_events))
        pipe.expire(events.log_key(run_id), LOG_TTL_S)
        await pipe.execute()


def coalesce(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge consecutive deltas of the same step into one event (numbered, in a
    snapshot, with the highest number it covers).

    Numbered events (a snapshot's) come back in seq order: a merged delta takes
    the place of the last delta it covers, not the first. Left where its first
    part was, it would sit before events of other steps with lower numbers, and
    a client that resumes after the seq of the last event it applied (rather
    than the highest) would reconnect below its text and be sent that text
    again. Moving it later is safe: any other event of its own step closes the
    merge, so it only ever passes other steps' events."""
    merged: list[dict[str, Any]] = []
    open_delta: dict[tuple[int, str, str], dict[str, Any]] = {}
    for event in batch:
        if event["type"] == events.STEP_DELTA:
            key = (event["run"], event["node"], event["key"])
            existing = open_delta.get(key)
            if existing is not None:
                existing["text"] += event["text"]
                if "seq" in event:
                    # A snapshot's merged delta carries the last number it covers: a
                    # client that reconnects after it must not be sent its text again.
                    existing["seq"] = event["seq"]
                continue
            event = dict(event)
            open_delta[key] = event
            merged.append(event)
        else:
            # Any other event of a step closes its delta run, keeping order.
            open_delta.pop((event["run"], event.get("node"), event.get("key")), None)
            merged.append(event)
    if all("seq" in e for e in merged):
        merged.sort(key=lambda e: e["seq"])  # stable; the numbers are unique anyway
    return merged


_publisher: Publisher | None = None


def publisher() -> Publisher:
    global _publisher
    if _publisher is None:
        _publisher = Publisher()
    return _publisher


def reset_run_log(run_id: int) -> None:
    """A new run starts with nothing in Redis, whatever a reused id left there."""
    from .execution import results_key

    try:
        redis_client.client().delete(events.log_key(run_id), results_key(run_id))
    except RedisError:  # Redis away: a new run's id has no keys there anyway (ids are not reused)
        pass


def seed_run_log(run_id: int, run_events: list[dict[str, Any]]) -> None:
    """Start a new run's log with events of steps it did not execute (a
    re-run's reused steps), numbered as the engine numbers its own; called
    before the run is queued, so nobody is listening yet."""
    store_events(run_id, [{k: v for k, v in e.items() if k != "seq"} for e in run_events])


@functools.lru_cache(maxsize=1)
def _log_sql() -> str:
    # Written once as SQL: every run socket reads its log once, and compiling
    # the ORM query for each was a visible part of the web process's CPU.
    from .models import RunEvent

    q, meta = connection.ops.quote_name, RunEvent._meta
    run, seq, data = (q(meta.get_field(name).column) for name in ("run", "seq", "data"))
    return f"SELECT {data} FROM {q(meta.db_table)} WHERE {run} = %s AND {seq} > %s ORDER BY {seq}"


def read_log_now(run_id: int, after: int = 0) -> list[dict[str, Any]]:
    """The run's published events with seq > after, in order (from the
    database), on the caller's thread and connection."""
    with connection.cursor() as cursor:
        cursor.execute(_log_sql(), [run_id, after])
        return [json.loads(data) for (data,) in cursor.fetchall()]


async def read_log(run_id: int, after: int = 0) -> list[dict[str, Any]]:
    """read_log_now, off the event loop."""
    from .db import off_loop

    return await off_loop(read_log_now)(run_id, after)
