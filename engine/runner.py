"""Advancing one run: the loop around the scheduler.

Cheap nodes (transform, condition, loop...) run inline in this thread, each
step recorded as it finishes; nodes that wait on the network (`is_io`) run as
coroutines on the process's I/O loop, so a fan-out of model calls overlaps.
Only this thread touches the scheduler and the database for the run, and only
the holder of the run's lease runs this loop."""
from __future__ import annotations

import functools
import json
import logging
import os
import queue
import socket
import time
import traceback
from datetime import timedelta
import uuid
from dataclasses import dataclass
from typing import Any

import jsonschema
from django.conf import settings
from django.db import OperationalError, transaction
from django.db.models import Q
from django.utils import timezone
from redis.exceptions import RedisError

from .models import Run

from . import events, execution, ioloop, redis_client, runsql, templating, values, workers
from .errors import NodeFailed, WorkflowError
from .graph import Graph, InvalidWorkflow, load_cached
from .nodes.base import NodeContext, NodeResult, Usage
from .recording import Recorder
from .scheduler import Activation, ReplayMismatch, Scheduler
from .streaming import publisher
from . import patterns

log = logging.getLogger(__name__)

CHECK_INTERVAL_S = 0.2  # cancel, timeout and lease checks; cancel lands within this
LOCAL_EXECUTOR = f"{socket.gethostname()}:{os.getpid()}"
REMOTE_CHECK_EVERY_S = 1.0  # how often the owner looks after the chunks it sent out
FLUSH_EVERY = 200  # buffered quick steps written at once
LAUNCH_FIRST = 16  # a wide fan-out's first network steps start once this many are built, then twice as many, ...
LAND_EVERY_S = 0.02  # network steps finishing within this of each other are landed and written together
LEASE_TTL_S = float(os.environ.get("ENGINE_LEASE_TTL_S", "20"))  # how soon a dead owner's run is taken over
LEASE_RENEW_S = min(5.0, LEASE_TTL_S / 4)  # how often a live owner renews it


class Parked(Exception):
    """Nothing can run until a person answers: the run waits without a worker."""


class RunStopped(Exception):
    def __init__(self, status: str, message: str, node: str | None = None, reason: str = "error"):
        super().__init__(message)
        self.status = status
        self.message = message
        self.node = node
        self.reason = reason


@dataclass
class _Flight:
    act: Activation
    node_type: str
    rendered: Any
    started_at: Any
    cache_key: str = ""
    launch: tuple | None = None  # what _spawn needs to start it
    task: Any = None  # the asyncio.Task on the I/O loop, once started here
    chunk: str = ""  # sent to other workers as part of this chunk (a row of engine.models.Chunk)
    relaunched: str = ""  # why it runs here again (its chunk taken back), or ""
    cancelled: bool = False  # set on the I/O loop: not to be started there (_cancel_flights)


class OwnershipLost(Exception):
    """This worker no longer owns the run (its lease lapsed and another took
    it): it stops at once, writing nothing more for the run."""


class Lease:
    """A run is advanced by one worker at a time: the one whose token is in the
    run's `owner` column. Taking a run is a compare-and-set on its row (free,
    or its holder's `lease_until` has passed), which also raises `epoch`; the
    holder renews `lease_until` while it works, and every write it makes for
    the run is conditional on its token still being there (Recorder). Redis
    holds no part of this: flush it and no run gets a second owner.

    A request to advance a run that arrives while another worker holds it (a
    person's answer landing just as the run parks, say) must not be lost. So
    a request that finds the lease held raises the run's wake flag (in Redis:
    a wake-up, not the truth — the sweeper is the backstop if it is lost) and
    tries the lease once more (the holder may have let go before the flag
    went up); the holder, after releasing it, sends the run again if the flag
    went up meanwhile. A request that takes the lease at once costs no Redis
    command: its own flag would be of no use to anyone."""

    def __init__(self, run_id: int):
        self.run_id = run_id
        self.wake_key = f"orchestrator:run:{run_id}:wake"
        self.token = f"{LOCAL_EXECUTOR}/{uuid.uuid4().hex[:12]}"
        self.epoch: int | None = None
        self.renewed = 0.0
        self.held_here = False  # taken and not yet given up

    def request(self) -> None:
        # Long-lived: the holder may take minutes before it lets go (a person
        # may answer while other branches still run); it is deleted when taken.
        try:
            redis_client.client().set(self.wake_key, 1, ex=24 * 3600)
        except RedisError:
            log.warning("run %s: could not raise its wake flag (Redis away); the sweeper will look", self.run_id)

    def take_requests(self) -> bool:
        """Lower the wake flag; whether it was up."""
        try:
            return bool(redis_client.client().delete(self.wake_key))
        except RedisError:
            return False

    @staticmethod
    def expiry(now=None):
        """When a lease taken or renewed now lapses."""
        return (now or timezone.now()) + timedelta(seconds=LEASE_TTL_S)

    def acquire(self) -> Run | None:
        """Take the lease (a compare-and-set that also raises `epoch`) and
        read the run under it, in one statement; None if not taken."""
        now = timezone.now()
        run = runsql.take(self.run_id, self.token, now, self.expiry(now))
        if run is None:
            return None
        self.epoch = run.epoch
        self.renewed = time.monotonic()
        self.held_here = True
        return run

    def mine(self):
        """The run's row, as long as this lease holds it: every owner write filters on it."""
        return Run.objects.filter(pk=self.run_id, owner=self.token)

    def write(self, **values: Any) -> bool:
        """Write `values` to the run's row if this lease still holds it (a precompiled UPDATE)."""
        return bool(runsql.update(self.run_id, values, owner=self.token))

    def refresh(self, force: bool = False) -> None:
        """Renew the lease (at most every LEASE_RENEW_S unless forced); OwnershipLost if it is gone."""
        now = time.monotonic()
        if not force and now - self.renewed < LEASE_RENEW_S:
            return
        if not self.write(lease_until=self.expiry()):
            raise OwnershipLost(f"run {self.run_id}: lease lost")
        self.renewed = now

    def let_go(self) -> None:
        """The lease was given up by a fenced write (the run ended or parked): nothing left to release."""
        self.held_here = False

    def release(self) -> None:
        if not self.held_here:
            return
        try:
            self.write(owner="", lease_until=None)
        except OperationalError:
            log.warning("run %s: could not release its lease; it lapses in %g s", self.run_id, LEASE_TTL_S)
        self.held_here = False

    @staticmethod
    def held(run_id: int) -> bool:
        return Run.objects.filter(pk=run_id, lease_until__gte=timezone.now()).exclude(owner="").exists()


@functools.lru_cache(maxsize=256)
def _input_validator(schema_json: str) -> jsonschema.protocols.Validator:
    """Built once per inputs schema: starting runs of one workflow again and again is the API's hot path."""
    return patterns.validator(json.loads(schema_json))


def validate_input(graph_doc: dict[str, Any], run_input: Any) -> list[str]:
    """Input errors against the workflow's `inputs` schema, each naming the field."""
    validator = _input_validator(json.dumps(graph_doc.get("inputs") or {"type": "object"}, sort_keys=True))
    problems = []
    for error in sorted(validator.iter_errors(run_input), key=lambda e: list(e.absolute_path)):
        where = "input" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else error.message
            where = f"{where}.{missing}"
            problems.append(f"{where}: required input is missing")
        else:
            problems.append(f"{where}: {error.message}")
    return problems


class RunExecutor:
    def __init__(self, run_id: int):
        self.run_id = run_id
        self.publisher = publisher()
        self.completions: queue.Queue[_Flight] = queue.Queue()
        self.in_flight: dict[tuple[str, str], _Flight] = {}
        self.to_launch: list[_Flight] = []
        self.listener = None
        self.stopping = False
        self.waiting: list[tuple[Activation, Any]] = []  # human steps with no answer yet, and their deadlines
        self.waiting_children: list[tuple[Activation, int, Any]] = []  # sub-workflow steps whose child runs: (act, child, deadline)
        self.executor_of: dict[tuple[str, str], str] = {}
        self.chunks_sent: dict[str, float] = {}  # chunk -> when it was sent
        self.results_seen = 0  # the last stored remote result (engine.models.StepResult) looked at
        self.resumed = False  # taken over mid-run: steps sent out by the owner before may have stored results
        self.next_remote_check = 0.0
        self.tokens = 0
        self.cost = 0.0
        self.steps = 0
        self.events: list[dict[str, Any]] = []  # published at the next flush, after the steps they announce are stored

    # ------------------------------------------------------------------ entry

    def execute(self) -> str | None:
        lease = Lease(self.run_id)
        run = lease.acquire()
        if run is None:
            # Not taken: finished (a duplicate message), or held by another
            # worker. Only then is the wake flag raised, and the lease tried
            # once more: the holder may have let go before it saw the flag.
            status = Run.objects.filter(pk=self.run_id).values_list("status", flat=True).first()
            if status is None or status in Run.FINISHED:
                return None
            lease.request()
            run = lease.acquire()
            if run is None:
                log.info("run %s is advanced by another worker; it will look again when it lets go", self.run_id)
                return None
            lease.take_requests()
        result = None
        try:
            result = self._execute(run, lease)  # the run as read under the lease: the worker before us may have changed it
            return result
        except OwnershipLost:
            # Another worker owns the run now: stop without writing anything more.
            log.warning("run %s: this worker lost the run to another owner; stopping", self.run_id)
            self._abandon()
            return None
        except (OperationalError, RedisError) as exc:
            # The database or Redis, not the run: an outage. The run stays in
            # progress; the task is retried (and the sweeper sends it again),
            # and the next owner resumes it by replay.
            log.warning("run %s: %s; it resumes when the service is back", self.run_id, type(exc).__name__)
            self._abandon()
            raise
        except Exception as exc:  # a bug must end the run visibly, not leave it "running" for ever
            log.exception("run %s crashed", self.run_id)
            message = f"internal error in the engine: {type(exc).__name__}: {exc}"
            self._abandon()
            with transaction.atomic():
                if lease.mine().exclude(status__in=list(Run.FINISHED)).update(
                    status=Run.Status.FAILED, error={"message": message, "reason": "internal"}, finished_at=timezone.now()
                ):
                    Recorder.close_running_steps(self.run_id, "the run failed: " + message)
            self.publisher.emit(events.event(events.RUN_FINISHED, self.run_id, status="failed", output=None,
                                             error={"message": message, "reason": "internal"},
                                             usage={"tokens": self.tokens, "cost_usd": self.cost, "steps": self.steps}))
            self.publisher.flush()
            self._wake_parent()
            result = "failed"
            return result
        finally:
            self.stopping = True
            lease.release()
            # A run that ended needs no second look, whoever asked for one meanwhile.
            if result not in Run.FINISHED and lease.take_requests():
                from .tasks import advance_run

                log.info("run %s was asked for while this worker held it; sending it again", self.run_id)
                try:
                    advance_run.delay(self.run_id)
                except Exception:
                    log.warning("run %s: could not send it again (broker away); the sweeper will", self.run_id)

    def _cancel_children(self) -> None:
        """A run that ends leaves no sub-workflow run of its own going (a child
        whose step was cut short by a failure, a cancel or a budget)."""
        from .product import product

        graph = getattr(self, "graph", None)
        if graph is not None and not any(t.waits_for_child for t in graph.types.values()):
            return  # only a sub-workflow step starts a child run
        for child in Run.objects.filter(parent_run_id=self.run_id).exclude(status__in=list(Run.FINISHED)).values_list("pk", flat=True):
            log.info("run %s ended: cancelling its sub-workflow run %s", self.run_id, child)
            try:
                product().cancel_run(child)
            except Exception:
                log.exception("run %s: cancelling child run %s failed", self.run_id, child)

    def _abandon(self) -> None:
        """Stop this worker's part in the run: cancel what runs on the I/O loop, write nothing."""
        self.stopping = True
        self._cancel_flights(list(self.in_flight.values()))
        self.in_flight.clear()
        self.to_launch = []

    def _execute(self, run: Run, lease: Lease) -> str:
        self.run = run
        self.lease = lease
        self.recorder = Recorder(run, lease)
        self.started = time.monotonic()
        try:
            graph = load_cached(run.graph)
        except InvalidWorkflow as exc:
            return self._finish("failed", error={"message": f"the workflow is invalid: {exc}", "reason": "invalid"})
        self.graph: Graph = graph
        self.settings = graph.doc.settings
        recorded = self.recorder.succeeded_steps()
        for step in recorded:
            self.tokens += step["tokens_in"] + step["tokens_out"]
            self.cost += step["cost_usd"]
        self.steps = sum(1 for step in recorded if not step.get("failed"))
        try:
            self.scheduler, ready = Scheduler.replay(graph, recorded)
        except ReplayMismatch as exc:
            return self._finish("failed", error={"message": f"cannot resume: {exc}", "reason": "replay"})
        self.resumed = run.status == Run.Status.RUNNING
        if run.status in (Run.Status.QUEUED, Run.Status.WAITING):
            if not self.recorder.mark_running():
                return Run.objects.get(pk=run.pk).status  # it was cancelled before it could start
            # Published with the first steps (at the first flush, or with the
            # run's end): a short run's events are then stored and sent as one batch.
            self.events.append(events.event(events.RUN_STARTED, run.pk, status="running"))
        if run.started_at:
            # Time spent waiting for people does not count against timeout_s.
            elapsed = (timezone.now() - run.started_at).total_seconds() - self.run.parked_s
            self.started = time.monotonic() - max(0.0, elapsed)
        self.run_info = {"id": run.pk, "workflow": run.workflow_id}
        self.extra_scope = self.recorder.conversation_scope()
        try:
            self._loop(list(ready), lease)
        except Parked:
            return self._park()
        except RunStopped as stop:
            self._abort_in_flight(stop.message)
            return self._finish(stop.status, error={"message": stop.message, "node": stop.node, "reason": stop.reason})
        output = self._run_output()
        # The turn is written with the run's end, fenced (Recorder.finish), whichever way it ended here.
        turn = self.recorder.conversation_turn(output, [n for n, t in self.graph.types.items() if t.updates_conversation])
        failed_ending = self._failed_ending()
        if failed_ending is not None:
            return self._finish("failed", output=output, error=failed_ending, turn=turn)
        return self._finish("succeeded", output=output, turn=turn)

    # ------------------------------------------------------------------ main loop

    def _loop(self, ready: list[Activation], lease: Lease) -> None:
        next_check = time.monotonic() + CHECK_INTERVAL_S
        while True:
            early = LAUNCH_FIRST
            while ready:
                act = ready.pop(0)
                ready += self._start(act)
                self._record_skips()
                if self.recorder.buffered >= FLUSH_EVERY:
                    self._flush()
                if len(self.to_launch) >= early and ready and self._launch_early():
                    early *= 2
                if time.monotonic() >= next_check:
                    self._checks(lease)
                    next_check = time.monotonic() + CHECK_INTERVAL_S
            self._launch()
            if not self.in_flight and self.scheduler.finished:
                return  # what is buffered is written with the run's end, in its transaction (Recorder.finish)
            self._flush()
            if not self.in_flight:
                if self.waiting or self.waiting_children:
                    raise Parked()
                raise RunStopped("failed", "the run cannot continue: no step is running or ready (a join or merge waits for a branch that never ends)", reason="stuck")
            try:
                flight = self.completions.get(timeout=max(0.0, next_check - time.monotonic()))
            except queue.Empty:
                flight = None
            # Land every step that has finished by now, then write them together.
            landing_since = time.monotonic()
            while flight is not None:
                ready += self._land(flight)
                self._record_skips()
                flight = self._next_landing(ready, landing_since)
            if time.monotonic() >= next_check:
                self._checks(lease)
                next_check = time.monotonic() + CHECK_INTERVAL_S

    def _next_landing(self, ready: list[Activation], since: float) -> _Flight | dict | None:
        """The next finished step to land with those landed since `since`, if
        one finishes within LAND_EVERY_S of it. A wide fan-out's replies come
        back one by one; landed and written one by one, each cost a
        transaction and a batch of events. Nothing waits when a step became
        ready (it starts now) or when nothing else is in flight (the last one
        is written at once)."""
        try:
            return self.completions.get_nowait()
        except queue.Empty:
            pass
        wait = since + LAND_EVERY_S - time.monotonic()
        if ready or not self.in_flight or wait <= 0:
            return None
        try:
            return self.completions.get(timeout=wait)
        except queue.Empty:
            return None

    def _flush(self) -> None:
        self.recorder.flush()
        self._emit_pending()

    def _emit_pending(self) -> None:
        """Send the events of what was just written (never before: a client must not see a step the database lacks)."""
        self.publisher.emit_many(self.events)
        self.events = []

    def _checks(self, lease: Lease) -> None:
        self._flush()
        # Renews the lease, saves the usage and reads a cancel request: one statement.
        cancelled = self.recorder.checkpoint(self.tokens, self.cost, self.steps)
        self._relaunch_lost_remote_steps()
        if cancelled:
            raise RunStopped("cancelled", "cancelled by a user", reason="cancelled")
        limit = self.settings.timeout_s
        if time.monotonic() - self.started > limit:
            raise RunStopped("failed", f"budget: the run took longer than timeout_s = {limit:g} s", reason="timeout")

    def _check_budgets(self, node: str | None = None) -> None:
        s = self.settings
        if self.steps >= s.max_steps:
            raise RunStopped("failed", f"budget: max_steps = {s.max_steps} reached; raise it in the workflow settings or check for a runaway loop", node, "max_steps")
        if s.max_tokens is not None and self.tokens > s.max_tokens:
            raise RunStopped("failed", f"budget: max_tokens = {s.max_tokens} exceeded ({self.tokens} used)", node, "max_tokens")
        if s.max_cost_usd is not None and self.cost > s.max_cost_usd:
            raise RunStopped("failed", f"budget: max_cost_usd = {s.max_cost_usd:g} exceeded (${self.cost:.4f} spent)", node, "max_cost_usd")

    # ------------------------------------------------------------------ steps

    def _context(self, act: Activation) -> NodeContext:
        return NodeContext(
            node_id=act.node,
            scope=self.scheduler.context(act, self.run.input or {}, self.run_info, self.extra_scope),
            run_id=self.run.pk,
            team_id=self.run.team_id,
            activation=act.number,
            iteration=act.iteration,
            incoming=self.scheduler.incoming_of(act),
            join_items=self.scheduler.join_items_of(act),
            key=act.key,
            budget=self._budget_left(),
        )

    def _budget_left(self) -> dict[str, Any]:
        s = self.settings
        return {
            "max_steps": max(1, s.max_steps - self.steps),
            "max_tokens": None if s.max_tokens is None else max(1, s.max_tokens - self.tokens),
            "max_cost_usd": None if s.max_cost_usd is None else max(0.0, s.max_cost_usd - self.cost),
            "timeout_s": max(1.0, s.timeout_s - (time.monotonic() - self.started)),
        }

    def _render(self, act: Activation, ctx: NodeContext) -> dict[str, Any]:
        node_type = self.graph.types[act.node]
        config = dict(self.graph.configs[act.node])
        for field in node_type.template_fields:
            if config.get(field) is not None:
                config[field] = templating.render(config[field], ctx.scope, node=act.node, field=field)
        return config

    def _start(self, act: Activation) -> list[Activation]:
        self._check_budgets(act.node)
        node_type = self.graph.types[act.node]
        started_at = timezone.now()
        ctx = self._context(act)
        try:
            rendered = self._render(act, ctx)
        except WorkflowError as exc:
            return self._fail_step(act, node_type.type, None, exc.message, 1, started_at)
        node = self.graph.nodes[act.node]
        if node.pin is not None:
            pinned = NodeResult(output=node.pin.output, ports=node.pin.ports, model="pinned")
            return self._succeed(act, node_type.type, rendered, pinned, 0, started_at, existing=False, reused="pin")
        cache_key = self._cache_key(act, node_type, rendered) if node.cache else ""
        if cache_key:
            hit = self.recorder.cached_step(cache_key)
            if hit is not None:
                reused = NodeResult(output=hit.output, ports=hit.ports, set_vars=hit.set_vars, model=hit.model, demo=hit.demo)
                return self._succeed(act, node_type.type, rendered, reused, 0, started_at, existing=False, reused="cache", cache_key=cache_key)
        if node_type.waits_for_person:
            return self._start_human(act, node_type, ctx, rendered, started_at)
        if node_type.waits_for_child:
            return self._start_subworkflow(act, node_type, ctx, rendered, started_at, node.timeout_s)
        if not node_type.is_io:
            return self._run_inline(act, node_type, ctx, rendered, started_at, cache_key)
        flight = _Flight(act, node_type.type, rendered, started_at, cache_key=cache_key)
        policy = node.retry
        attempts = policy.max_attempts if policy else 1 + settings.LLM_MAX_RETRIES
        backoff = policy.backoff_s if policy else settings.LLM_RETRY_BASE_S
        ctx.emit_delta = lambda text, _act=act: self.publisher.emit_nowait(
            events.event(events.STEP_DELTA, self.run.pk, node=_act.node, key=_act.key, text=text)
        )
        flight.launch = (node_type(), ctx, attempts, backoff, node.timeout_s)
        self.to_launch.append(flight)
        self.in_flight[(act.node, act.key)] = flight
        return []

    def _launch(self) -> None:
        """Start the waiting network steps together: one write for their rows,
        one wake-up of the I/O loop (a fan-out of a hundred calls is one batch).
        A large batch is shared with other workers: all but the first chunk go
        out as `engine.run_steps` tasks, so more workers speed up one run."""
        if not self.to_launch:
            return
        batch, self.to_launch = self.to_launch, []
        # What led here is stored before anything leaves the process: in the
        # started steps' own transaction, unless a resumed run must first look
        # for results stored before it was taken over.
        if self.resumed:
            self._flush()
            batch = self._land_results_stored_before(batch)
            if not batch:
                return
        self.recorder.steps_started([(f.act.node, f.act.key, f.node_type, f.rendered, f.started_at) for f in batch], flush=True)
        self._emit_pending()
        self.publisher.emit_many([
            events.event(events.STEP_STARTED, self.run.pk, node=f.act.node, key=f.act.key, node_type=f.node_type, input=f.rendered, attempt=1)
            if not f.relaunched else
            # Taken back from another worker, it streams anew here: step.retrying
            # voids what that worker streamed, or a client would show it twice.
            events.event(events.STEP_RETRYING, self.run.pk, node=f.act.node, key=f.act.key, attempt=1, error=f"run again here: {f.relaunched}")
            for f in batch
        ])
        local = batch
        chunk = settings.ENGINE_SPREAD_CHUNK
        spreadable = [f for f in batch if self.graph.types[f.act.node].spreadable and not f.relaunched]
        if len(spreadable) >= settings.ENGINE_SPREAD_MIN_BATCH and chunk > 0 and self._others_could_help():
            remote = spreadable[chunk:]
            sent = {id(f) for f in remote}
            local = [f for f in batch if id(f) not in sent]
            shares = [remote[start:start + chunk] for start in range(0, len(remote), chunk)]
            names = self._create_chunks(len(shares))
            for name, share in zip(names, shares):
                try:
                    self._dispatch(name, share)
                except Exception:  # the broker is away: run the share here rather than wait for it
                    log.warning("run %s: could not send %d steps to other workers; running them here", self.run.pk, len(share))
                    for flight in share:
                        flight.chunk = ""
                    local += share
        ioloop.submit(self._spawn(local))

    def _launch_early(self) -> bool:
        """Start the network steps gathered so far while a wide fan-out's other
        activations are still being built (each is rendered, ~0.1-0.2 ms):
        the first of a thousand model calls left ~120 ms after the fan-out
        started, the time to build them all. Batches double (LAUNCH_FIRST,
        twice that, ...), so a thousand steps are a handful of writes. Not
        when the batch is to be shared with other workers: it is shared whole."""
        if self._others_could_help():
            return False
        self._launch()
        return True

    def _others_could_help(self) -> bool:
        """ENGINE_SPREAD "auto": share only when another worker process is alive."""
        mode = settings.ENGINE_SPREAD
        return mode == "always" or (mode == "auto" and workers.others_alive())

    def _land_results_stored_before(self, batch: list[_Flight]) -> list[_Flight]:
        """A run taken over mid-run: steps another worker executed for the
        owner before and whose results it stored are landed from there, not
        executed again (no model call twice); the rest is returned to launch."""
        keys = {(f.act.node, f.act.key) for f in batch}
        stored = {(p["node"], p["key"]): p for _, p in execution.stored_results(self.run.pk, keys=keys)}
        if not stored:
            return batch
        log.info("run %s: %d steps' results were stored by a worker before this owner; landing them", self.run.pk, len(stored))
        for flight in batch:
            if (flight.act.node, flight.act.key) in stored:
                self.completions.put(stored[(flight.act.node, flight.act.key)])
        return [f for f in batch if (f.act.node, f.act.key) not in stored]

    def _create_chunks(self, count: int) -> list[str]:
        """Rows for the chunks about to be sent (unclaimed), in one write: a worker claims one on its row."""
        from .models import Chunk

        names = [uuid.uuid4().hex[:16] for _ in range(count)]
        Chunk.objects.bulk_create([Chunk(run_id=self.run.pk, name=name) for name in names])
        return names

    def _dispatch(self, chunk: str, flights: list[_Flight]) -> None:
        from .tasks import run_steps

        specs = []
        for flight in flights:
            _, _, attempts, backoff, timeout = flight.launch
            flight.chunk = chunk
            specs.append(execution.StepSpec(flight.act.node, flight.act.key, flight.node_type, flight.rendered, attempts, backoff, timeout).as_dict())
        self._listen()
        self.chunks_sent[chunk] = time.monotonic()
        run_steps.apply_async((self.run.pk, self.run.team_id, specs, chunk), queue=settings.ENGINE_SPREAD_QUEUE or None)

    def _listen(self) -> None:
        """Results of remote steps arrive on a Redis list; a thread moves them to the completion queue."""
        if self.listener is not None:
            return
        import threading

        def pump() -> None:
            client = redis_client.client()
            key = execution.results_key(self.run.pk)
            while not self.stopping:
                try:
                    item = client.blpop([key], timeout=0.5)
                except RedisError:  # Redis away: the chunks' results wait, or come back through the reclaim path
                    time.sleep(0.5)
                    continue
                if item is not None:
                    self.completions.put(json.loads(item[1]))

        self.listener = threading.Thread(target=pump, name=f"run-{self.run.pk}-results", daemon=True)
        self.listener.start()

    def _relaunch_lost_remote_steps(self) -> None:
        """Every REMOTE_CHECK_EVERY_S: land the results of sent steps that are
        stored but whose wake-up Redis lost, and take back the chunks whose
        steps no worker started in time, whose worker stopped beating (it
        died), or whose worker beats but delivers nothing (it is stuck)."""
        now = time.monotonic()
        if now < self.next_remote_check:
            return
        self.next_remote_check = now + REMOTE_CHECK_EVERY_S
        if not any(f.chunk and f.task is None for f in self.in_flight.values()):
            return
        try:
            self._land_stored_results()
            self._reclaim(now)
        except OperationalError:
            log.warning("run %s: could not look after its sent steps (database busy); looking again in %g s", self.run.pk, REMOTE_CHECK_EVERY_S)

    def _land_stored_results(self) -> None:
        for pk, payload in execution.stored_results(self.run.pk, after_id=self.results_seen):
            self.results_seen = pk
            if (payload["node"], payload["key"]) in self.in_flight:
                self.completions.put(payload)  # landed once: a copy from Redis finds it gone

    def _stall_s(self, flights: list[_Flight]) -> float:
        """How long a chunk may go without delivering a result before it counts as
        stuck: ENGINE_CHUNK_STALL_S if set, else the longest one of its steps
        could take (all run at once) — every attempt's limit and the backoffs."""
        if settings.ENGINE_CHUNK_STALL_S:
            return settings.ENGINE_CHUNK_STALL_S
        longest = 0.0
        for flight in flights:
            _, _, attempts, backoff, timeout = flight.launch
            limit = timeout or settings.LLM_TIMEOUT_S
            longest = max(longest, attempts * limit + sum(backoff * 2 ** i for i in range(attempts - 1)))
        return longest + settings.ENGINE_REMOTE_HEARTBEAT_TTL_S

    def _landing(self) -> set[tuple[str, str]]:
        """Steps whose remote result is in the completion queue, not yet landed."""
        with self.completions.mutex:
            return {(p["node"], p["key"]) for p in self.completions.queue if isinstance(p, dict)}

    def _reclaim(self, now: float) -> None:
        from .models import Chunk

        waiting: dict[str, list[_Flight]] = {}
        landing = self._landing()
        for key, flight in self.in_flight.items():
            if flight.chunk and flight.task is None and key not in landing:
                waiting.setdefault(flight.chunk, []).append(flight)
        if not waiting:
            return
        mine = f"owner:{self.lease.token}"
        db_now = timezone.now()
        for row in Chunk.objects.filter(run_id=self.run.pk, name__in=list(waiting)):
            flights = waiting[row.name]
            if row.claimed_by == mine:
                continue
            if not row.claimed_by:
                if now - self.chunks_sent.get(row.name, now) < settings.ENGINE_REMOTE_START_S:
                    continue
                still = Q(claimed_by="")
                why = f"no worker started {len(flights)} sent steps within {settings.ENGINE_REMOTE_START_S:g} s"
            elif row.beat_at is None or row.beat_at < db_now - timedelta(seconds=settings.ENGINE_REMOTE_HEARTBEAT_TTL_S):
                still = Q(claimed_by=row.claimed_by, beat_at=row.beat_at)
                why = f"worker {row.claimed_by} stopped beating while running {len(flights)} steps"
            elif row.progress_at is None or row.progress_at < db_now - timedelta(seconds=self._stall_s(flights)):
                still = Q(claimed_by=row.claimed_by, progress_at=row.progress_at)
                why = (f"worker {row.claimed_by} beats but delivered no result of its {len(flights)} remaining steps "
                       f"for {self._stall_s(flights):g} s")
            else:
                continue
            # Taken back only if nothing changed since it was read: a result the
            # worker stores meanwhile moves progress_at, and the claim fails.
            if not Chunk.objects.filter(run_id=self.run.pk, name=row.name).filter(still).update(claimed_by=mine):
                continue
            log.warning("run %s: %s; running them here", self.run.pk, why)
            self._land_stored_results()  # what it stored before it lost the chunk
            landing = self._landing()
            for flight in flights:
                if (flight.act.node, flight.act.key) in landing:
                    continue
                flight.chunk = ""
                flight.relaunched = why
                self.to_launch.append(flight)
        self._launch()

    async def _spawn(self, batch: list[_Flight]) -> None:
        import asyncio

        loop = asyncio.get_running_loop()
        for number, flight in enumerate(batch):
            if number:
                # Each call's request goes out before the next one is built: the
                # client writes a request's body in a task of its own, so a
                # hundred calls started in one go sent nothing until all hundred
                # were built (~50 ms of CPU), and their replies then all came
                # back at once, to be read one after another.
                await asyncio.sleep(0)
            if self.stopping:
                return
            if flight.cancelled:
                continue
            node, ctx, attempts, backoff, timeout = flight.launch
            act = flight.act
            on_retry = lambda attempt, message, _act=act: self.publisher.emit_nowait(  # noqa: E731
                events.event(events.STEP_RETRYING, self.run.pk, node=_act.node, key=_act.key, attempt=attempt, error=message)
            )
            flight.task = loop.create_task(
                execution.execute(node, flight.rendered, ctx, attempts=attempts, backoff=backoff, timeout=timeout, on_retry=on_retry)
            )
            flight.task.add_done_callback(lambda _t, _flight=flight: self.completions.put(_flight))

    def _cancel_flights(self, flights: list[_Flight]) -> None:
        """Cancel steps running here, or about to: on the I/O loop, where _spawn
        starts them one by one, so a step not started yet is never started."""

        def cancel() -> None:
            for flight in flights:
                flight.cancelled = True
                if flight.task is not None:
                    flight.task.cancel()

        ioloop.call_soon(cancel)

    def _start_human(self, act: Activation, node_type, ctx: NodeContext, rendered, started_at) -> list[Activation]:
        """A human step: done if answered (or past its deadline), else asked and waited for."""
        step = self.recorder.find_step(act.node, act.key)
        now = timezone.now()
        if step is not None and (step.answer or (step.deadline and now >= step.deadline)):
            ctx.answer = step.answer
            result = node_type().run(rendered, ctx)
            return self._succeed(act, node_type.type, rendered, result, 1, step.started_at or started_at, existing=True)
        if step is None:
            timeout = rendered.get("timeout_s")
            deadline = now + timedelta(seconds=timeout) if timeout else None
            self._flush()
            self.recorder.step_waiting(node=act.node, key=act.key, node_type=node_type.type, rendered=rendered, started_at=started_at, deadline=deadline)
            self.events.append(events.event(
                events.STEP_WAITING, self.run.pk, node=act.node, key=act.key, prompt=rendered.get("prompt"),
                assignees=rendered.get("assignees") or [], form=rendered.get("form"), allow_reject=rendered.get("allow_reject", True),
                deadline=deadline.isoformat() if deadline else None,
            ))
        else:
            deadline = step.deadline
        self.waiting.append((act, deadline))
        return []

    def _start_subworkflow(self, act: Activation, node_type, ctx: NodeContext, rendered, started_at, timeout_s) -> list[Activation]:
        """A sub-workflow step: its child run is started (or found again: it is
        keyed by parent run, node and activation) and, while the child runs,
        the step waits without a worker — the run parks as for a person, and
        the child's end wakes it (`_wake_parent`; the sweeper is the backstop).
        Woken, the run replays to here and lands the child's result."""
        from .nodes import subworkflow

        step = self.recorder.find_step(act.node, act.key)
        if step is None:
            self._flush()  # what led here is stored before the child starts
            self.recorder.steps_started([(act.node, act.key, node_type.type, rendered, started_at)])
            self.publisher.emit_many([events.event(events.STEP_STARTED, self.run.pk, node=act.node, key=act.key, node_type=node_type.type,
                                                   input=rendered, attempt=1)])
        else:
            started_at = step.started_at or started_at
            self.lease.refresh(force=True)  # a child is never started by an owner that lost the run
        try:
            child_id = subworkflow.start_child(rendered, ctx)
            result = subworkflow.outcome(child_id)
        except NodeFailed as exc:  # fails the run, or only its fan-out item (on_item_error)
            return self._fail_step(act, node_type.type, rendered, exc.message, 1, started_at, existing=True)
        if result is not None:
            return self._succeed(act, node_type.type, rendered, result, 1, started_at, existing=True)
        deadline = started_at + timedelta(seconds=timeout_s) if timeout_s else None
        if deadline is not None and timezone.now() >= deadline:
            subworkflow.cancel_child(child_id)
            return self._fail_step(act, node_type.type, rendered, f"timed out after {timeout_s:g} s (its sub-workflow run {child_id} was cancelled)",
                            1, started_at, existing=True)
        self.waiting_children.append((act, child_id, deadline))
        return []

    def _wake_parent(self) -> None:
        """A sub-workflow run that ended wakes its parked parent (a lost
        wake-up is found by the sweeper, which reads the database)."""
        run = getattr(self, "run", None)  # as read under the lease: a run's parent never changes
        parent = run.parent_run_id if run is not None else Run.objects.filter(pk=self.run_id).values_list("parent_run_id", flat=True).first()
        if parent is None:
            return
        from .tasks import advance_run

        try:
            advance_run.delay(parent)
        except Exception:
            log.warning("run %s ended but could not wake its parent run %s (broker away); the sweeper will", self.run_id, parent)

    def _park(self) -> str:
        """Leave the run waiting: recorded, announced, woken by an answer, a
        child run's end or at the first deadline."""
        self._flush()
        # Time waiting for a person is not counted against timeout_s; time waiting for a child is.
        self.recorder.park(for_person=bool(self.waiting))
        waiting_on = [{"node": act.node, "key": act.key, "assignees": self.graph.configs[act.node].get("assignees") or []}
                      for act, _ in self.waiting]
        waiting_on += [{"node": act.node, "key": act.key, "child_run": child} for act, child, _ in self.waiting_children]
        self.publisher.emit_many([events.event(events.RUN_WAITING, self.run.pk, waiting_on=waiting_on)])
        self.publisher.flush()
        deadlines = [deadline for _, deadline in self.waiting if deadline is not None]
        deadlines += [deadline for _, _, deadline in self.waiting_children if deadline is not None]
        if deadlines:
            from .tasks import advance_run

            try:
                advance_run.apply_async((self.run.pk,), eta=min(deadlines))
            except Exception:  # the sweeper wakes a run whose person's deadline has passed
                log.warning("run %s: could not schedule its wake-up (broker away)", self.run.pk)
        return "waiting"

    def _cache_key(self, act: Activation, node_type, rendered: dict[str, Any]) -> str:
        """Same node type, same rendered config, same model: the same step."""
        import hashlib

        model = rendered.get("model") or (settings.DEFAULT_MODEL if settings.OPENAI_API_KEY else "demo")
        material = json.dumps({"type": node_type.type, "config": rendered, "model": model, "base": settings.OPENAI_BASE_URL},
                              sort_keys=True, default=str)
        return hashlib.sha256(material.encode()).hexdigest()

    def _run_inline(self, act: Activation, node_type, ctx: NodeContext, rendered, started_at, cache_key: str = "") -> list[Activation]:
        try:
            result = node_type().run(rendered, ctx)
        except (NodeFailed, WorkflowError) as exc:
            return self._fail_step(act, node_type.type, rendered, exc.message, 1, started_at)
        except Exception as exc:  # a bug in a node type must still fail the step clearly
            log.exception("node %s crashed", act.node)
            return self._fail_step(act, node_type.type, rendered, f"internal error in {node_type.type} node: {exc}", 1, started_at)
        return self._succeed(act, node_type.type, rendered, result, 1, started_at, existing=False, cache_key=cache_key)

    def _land(self, landed: _Flight | dict) -> list[Activation]:
        if isinstance(landed, dict):
            return self._land_remote(landed)
        flight = landed
        if self.in_flight.get((flight.act.node, flight.act.key)) is not flight:
            return []  # already landed (a remote result came first)
        self.in_flight.pop((flight.act.node, flight.act.key))
        future = flight.task
        if future.cancelled():
            return []
        exc = future.exception()
        if isinstance(exc, execution.AttemptsExhausted):
            return self._fail_step(flight.act, flight.node_type, flight.rendered, exc.message, exc.attempts, flight.started_at, existing=True)
        if exc is not None:
            log.error("node %s crashed: %s", flight.act.node, "".join(traceback.format_exception(exc)))
            return self._fail_step(flight.act, flight.node_type, flight.rendered, f"internal error: {exc}", 1, flight.started_at, existing=True)
        result, attempts = future.result()
        return self._succeed(flight.act, flight.node_type, flight.rendered, result, attempts, flight.started_at, existing=True,
                             cache_key=flight.cache_key)

    def _land_remote(self, payload: dict) -> list[Activation]:
        flight = self.in_flight.pop((payload["node"], payload["key"]), None)
        if flight is None:
            return []  # a duplicate, or a step this run no longer waits for
        self._cancel_flights([flight])  # it may also have been relaunched here; the first result wins
        self.executor_of[(payload["node"], payload["key"])] = payload.get("executor", "")
        if not payload["ok"]:
            return self._fail_step(flight.act, flight.node_type, flight.rendered, payload["error"], payload["attempts"], flight.started_at, existing=True)
        result = execution.result_from_payload(payload)
        return self._succeed(flight.act, flight.node_type, flight.rendered, result, payload["attempts"], flight.started_at, existing=True,
                             cache_key=flight.cache_key)

    def _succeed(self, act: Activation, node_type: str, rendered, result: NodeResult, attempts: int, started_at, *, existing: bool,
                 cache_key: str = "", reused: str = "") -> list[Activation]:
        finished_at = timezone.now()
        # What a node returns is recorded, sent and shown: make it valid Unicode first (engine/values.py).
        rendered = values.encodable(rendered)
        result.output, result.set_vars = values.encodable(result.output), values.encodable(result.set_vars)
        self.steps += 1
        self.tokens += result.usage.tokens
        self.cost += result.usage.cost_usd
        # The ports taken, explicitly: what replay feeds back to the scheduler.
        ports = sorted(set(result.ports)) if result.ports is not None else sorted({e.port for e in self.graph.out_edges[act.node]})
        self.recorder.step_finished(
            node=act.node, key=act.key, node_type=node_type, status="succeeded", rendered=rendered, output=result.output,
            ports=ports, set_vars=result.set_vars, error="", attempts=attempts, usage=result.usage, model=result.model,
            demo=result.demo, started_at=started_at, finished_at=finished_at, existing=existing,
            executor=self.executor_of.pop((act.node, act.key), LOCAL_EXECUTOR), cache_key=cache_key, reused=reused,
        )
        self.events.append(
            events.event(
                events.STEP_FINISHED, self.run.pk, node=act.node, key=act.key, node_type=node_type, status="succeeded",
                input=rendered if not existing else None, output=result.output, ports=ports,
                usage={"tokens_in": result.usage.tokens_in, "tokens_out": result.usage.tokens_out, "cost_usd": result.usage.cost_usd},
                model=result.model, demo=result.demo, attempts=attempts, reused=reused or None,
                duration_ms=round((finished_at - started_at).total_seconds() * 1000, 2),
                run_usage={"tokens": self.tokens, "cost_usd": self.cost, "steps": self.steps},
            )
        )
        ready = self.scheduler.finish(act, output=result.output, ports=ports, set_vars=result.set_vars)
        self._check_budgets(act.node)
        if not any(edge.port in ports for edge in self.graph.out_edges[act.node]):
            ending = self.graph.types[act.node].unhandled_ending(result.output, ports)
            if ending:
                name = self.graph.nodes[act.node].name or act.node
                raise RunStopped("failed", f"step '{name}' ({act.node}): {ending}", act.node, "unhandled_ending")
        return ready

    def _fail_step(self, act: Activation, node_type: str, rendered, message: str, attempts: int, started_at,
                   existing: bool = False) -> list[Activation]:
        """Record a failed step. It fails the run (RunStopped), unless it runs in
        a fan-out item whose fan-out says `on_item_error: skip | collect`: then
        only that item ends, and what became ready is returned."""
        rendered, message = values.encodable(rendered), values.encodable_text(str(message))
        self.recorder.step_finished(
            node=act.node, key=act.key, node_type=node_type, status="failed", rendered=rendered, output=None, ports=[], set_vars=None,
            error=message, attempts=attempts, usage=Usage(), model="", demo=False, started_at=started_at, finished_at=timezone.now(), existing=existing,
        )
        duration_ms = round((timezone.now() - started_at).total_seconds() * 1000, 2)
        self.events.append(events.event(events.STEP_FAILED, self.run.pk, node=act.node, key=act.key, error=message, attempts=attempts,
                                        input=rendered, duration_ms=duration_ms))
        if self.scheduler.item_error_policy(act) != "fail":
            return self.scheduler.fail_item(act, message)
        name = self.graph.nodes[act.node].name or act.node
        raise RunStopped("failed", f"step '{name}' ({act.node}) failed: {message}", act.node, "step_failed")

    def _record_skips(self) -> None:
        skipped = self.scheduler.drain_skipped()
        if not skipped:
            return
        self.recorder.steps_skipped([(a.node, a.key, self.graph.types[a.node].type) for a in skipped])
        self.events += [events.event(events.STEP_SKIPPED, self.run.pk, node=act.node, key=act.key) for act in skipped]

    def _abort_in_flight(self, reason: str) -> None:
        self.to_launch = []
        self._cancel_flights(list(self.in_flight.values()))
        for flight in list(self.in_flight.values()):
            self.events.append(events.event(events.STEP_CANCELLED, self.run.pk, node=flight.act.node, key=flight.act.key))
        self.recorder.steps_cancelled([(f.act.node, f.act.key) for f in self.in_flight.values()], reason)
        self.in_flight.clear()

    # ------------------------------------------------------------------ the end

    def _run_output(self) -> Any:
        reached = {n: self.scheduler.outputs_of(n) for n, t in self.graph.types.items() if t.sets_run_output and self.scheduler.reached(n)}
        if not reached:
            return None
        if len(reached) == 1:
            return next(iter(reached.values()))
        return reached

    def _failed_ending(self) -> dict[str, Any] | None:
        """The error of a run that reached an output marked `outcome: failed`, else None."""
        for node, node_type in self.graph.types.items():
            if not (node_type.sets_run_output and self.scheduler.reached(node)):
                continue
            if self.graph.configs[node].get("outcome") != "failed":
                continue
            value = self.scheduler.outputs_of(node)
            name = self.graph.nodes[node].name or node
            detail = value.get("error") if isinstance(value, dict) and isinstance(value.get("error"), str) else ""
            message = f"the run ended at '{name}' ({node}), an output marked as a failed ending" + (f": {detail}" if detail else "")
            return {"message": message, "node": node, "reason": "outcome"}
        return None

    def _finish(self, status: str, output: Any = None, error: dict | None = None, turn: dict | None = None) -> str:
        self.stopping = True
        if self.listener is not None:
            try:
                redis_client.client().delete(execution.results_key(self.run.pk))
            except RedisError:
                pass  # it expires
        if error:
            error = {k: v for k, v in error.items() if v is not None}
        output, error = values.encodable(output), values.encodable(error)
        # The run's last events are numbered and stored in the transaction that
        # ends it, so a final run's log always ends with run.finished (a worker
        # killed just after the end used to take it along, unpublished); what
        # was emitted before is stored first, to keep the order.
        self.publisher.flush()
        self.events.append(
            events.event(
                events.RUN_FINISHED, self.run.pk, status=status, output=output, error=error,
                usage={"tokens": self.tokens, "cost_usd": self.cost, "steps": self.steps},
                duration_ms=round((time.monotonic() - self.started) * 1000, 1),
            )
        )
        final, self.events = self.events, []
        self.recorder.finish(status=status, output=output, error=error, tokens=self.tokens, cost=self.cost, steps=self.steps, turn=turn,
                             events=final)
        if self.chunks_sent or self.resumed:
            try:
                execution.forget_chunks(self.run.pk)
            except OperationalError:  # kept rows are harmless: deleted with the run
                log.warning("run %s: could not delete its chunks' rows", self.run.pk)
        self._cancel_children()
        self._wake_parent()
        self.publisher.emit_many(final)  # already numbered and stored: only sent live from here
        self.publisher.flush()
        return status
