"""Executing one network step (attempts, backoff, timeout), wherever it runs:
on the run owner's I/O loop, or on another worker that took part of a
fan-out (`run_remote_steps`, behind the `engine.run_steps` task).

A remote worker executes and streams; it records no step. It stores each
result in the database (engine.models.StepResult) — only then is the result
delivered — and pushes it to the run's result list in Redis as a wake-up;
the owner records it as the step — so a step's effect is still recorded
exactly once, by one writer, and a result once received is never asked of
the model again, whatever Redis loses."""
from __future__ import annotations

import asyncio
import json
import logging
import socket
from dataclasses import dataclass
from typing import Any, Callable


from . import events, ioloop, redis_client
from .db import off_loop
from .errors import NodeFailed, WorkflowError
from .nodes import NODE_TYPES
from .nodes.base import NodeContext, NodeResult, Usage
from .streaming import publisher


log = logging.getLogger(__name__)


class AttemptsExhausted(Exception):
    def __init__(self, message: str, attempts: int):
        super().__init__(message)
        self.message = message
        self.attempts = attempts


async def execute(node, rendered: dict[str, Any], ctx: NodeContext, *, attempts: int, backoff: float, timeout: float | None,
                  on_retry: Callable[[int, str], None]) -> tuple[NodeResult, int]:
    """Run a network node with retries on transient failures; (result, attempts used)."""
    for attempt in range(1, attempts + 1):
        ctx.attempt = attempt
        try:
            coro = node.arun(rendered, ctx)
            result = await (asyncio.wait_for(coro, timeout) if timeout else coro)
            return result, attempt
        except (NodeFailed, asyncio.TimeoutError) as exc:
            retryable = isinstance(exc, asyncio.TimeoutError) or exc.retryable
            message = f"timed out after {timeout:g} s" if isinstance(exc, asyncio.TimeoutError) else exc.message
            if not retryable or attempt == attempts:
                raise AttemptsExhausted(message, attempt) from exc
            on_retry(attempt + 1, message)
            await asyncio.sleep(backoff * (2 ** (attempt - 1)))
        except WorkflowError as exc:
            raise AttemptsExhausted(exc.message, attempt) from exc
    raise AssertionError("unreachable")


def results_key(run_id: int) -> str:
    return f"orchestrator:run:{run_id}:results"


@dataclass
class StepSpec:
    """What a remote worker needs to run a step: the rendered config is
    computed by the owner, so no template scope travels."""

    node: str
    key: str
    node_type: str
    rendered: dict[str, Any]
    attempts: int
    backoff: float
    timeout: float | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def result_payload(spec_node: str, spec_key: str, *, result: NodeResult | None = None, attempts: int, error: str = "",
                   executor: str) -> dict[str, Any]:
    payload: dict[str, Any] = {"node": spec_node, "key": spec_key, "attempts": attempts, "executor": executor, "ok": result is not None}
    if result is not None:
        payload.update(output=result.output, ports=result.ports, set_vars=result.set_vars, model=result.model, demo=result.demo,
                       usage=[result.usage.tokens_in, result.usage.tokens_out, result.usage.cost_usd])
    else:
        payload["error"] = error
    return payload


def result_from_payload(payload: dict[str, Any]) -> NodeResult:
    tokens_in, tokens_out, cost = payload["usage"]
    return NodeResult(output=payload["output"], ports=payload["ports"], set_vars=payload.get("set_vars"),
                      usage=Usage(tokens_in, tokens_out, cost), model=payload.get("model", ""), demo=payload.get("demo", False))


def executor_name(where: str = "") -> str:
    return f"{where or socket.gethostname()}"


# A chunk of a run's steps sent to other workers is claimed by exactly one of
# them, or taken back by the owner: a compare-and-set on its row
# (engine.models.Chunk). Its runner stamps `beat_at` every HEARTBEAT_EVERY_S
# and `progress_at` whenever it stores results; an owner that finds the beat
# older than ENGINE_REMOTE_HEARTBEAT_TTL_S (the runner died), or no progress
# for longer than a step could take (it is stuck, beating or not), takes the
# chunk back and runs what has no stored result yet. A runner that finds the
# chunk is no longer its own stops and stores nothing more.
HEARTBEAT_EVERY_S = 1.0
DELIVER_EVERY_S = 0.05  # results finished meanwhile are stored together


def claim_chunk(run_id: int, chunk: str, token: str) -> bool:
    from django.utils import timezone

    from .models import Chunk

    now = timezone.now()
    return bool(Chunk.objects.filter(run_id=run_id, name=chunk, claimed_by="").update(claimed_by=token, beat_at=now, progress_at=now))


def _still_mine(run_id: int, chunk: str, token: str, progress: bool):
    """Stamp the chunk if it is still claimed by `token`; whether it was."""
    from django.utils import timezone

    from .models import Chunk

    now = timezone.now()
    stamps = {"beat_at": now, "progress_at": now} if progress else {"beat_at": now}
    return bool(Chunk.objects.filter(run_id=run_id, name=chunk, claimed_by=token).update(**stamps))


def store_results(run_id: int, chunk: str, token: str, payloads: list[dict[str, Any]]) -> bool:
    """Store results in one transaction, only while the chunk is still ours
    (checked and stamped first: on PostgreSQL the chunk's row stays locked to
    the commit, so the owner cannot take it back in between). False: it was
    taken back, nothing stored."""
    from django.db import connection, transaction

    from .models import StepResult

    with transaction.atomic():
        if chunk and not _still_mine(run_id, chunk, token, progress=True):
            return False
        quote = connection.ops.quote_name
        columns = ", ".join(quote(c) for c in ("run_id", "node_id", "key", "payload"))
        target = ", ".join(quote(c) for c in ("run_id", "node_id", "key"))
        with connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {quote(StepResult._meta.db_table)} ({columns}) VALUES (%s, %s, %s, %s) "
                               f"ON CONFLICT ({target}) DO NOTHING",
                               [(run_id, p["node"], p["key"], json.dumps(p, default=str)) for p in payloads])
    return True


def stored_results(run_id: int, after_id: int = 0, keys: set[tuple[str, str]] | None = None) -> list[tuple[int, dict[str, Any]]]:
    """(id, payload) of results stored for the run after `after_id`, oldest first (only `keys`, if given)."""
    from .models import StepResult

    rows = StepResult.objects.filter(run_id=run_id, id__gt=after_id).order_by("id").values_list("id", "node_id", "key", "payload")
    return [(pk, json.loads(payload)) for pk, node, key, payload in rows if keys is None or (node, key) in keys]


def forget_chunks(run_id: int) -> None:
    """A run that ended needs none of its chunks' rows or stored results (its steps are recorded)."""
    from .models import Chunk, StepResult

    StepResult.objects.filter(run_id=run_id).delete()
    Chunk.objects.filter(run_id=run_id).delete()


def run_remote_steps(run_id: int, team_id: int | None, specs: list[dict[str, Any]], executor: str, chunk: str = "") -> None:
    """Execute a share of a run's network steps on this worker and deliver each
    result to the owner as it completes. Stops early if the run ends or the
    owner takes the chunk back."""
    import uuid

    token = f"{executor}/{uuid.uuid4().hex[:12]}"
    if chunk and not claim_chunk(run_id, chunk, token):
        return  # the owner took these steps back, or another worker has them
    ioloop.submit(_run_remote(run_id, team_id, [StepSpec(**s) for s in specs], executor, chunk, token)).result()


def _run_finished(run_id: int) -> bool:
    from .models import Run

    return Run.objects.filter(pk=run_id).exclude(status__in=[Run.Status.QUEUED, Run.Status.RUNNING]).exists() or \
        Run.objects.filter(pk=run_id, cancel_requested=True).exists()


async def _run_remote(run_id: int, team_id: int | None, specs: list[StepSpec], executor: str, chunk: str = "", token: str = "") -> None:
    pub = publisher()
    client = redis_client.async_client()
    outbox: list[dict[str, Any]] = []
    ready = asyncio.Event()

    async def one(spec: StepSpec) -> None:
        ctx = NodeContext(
            node_id=spec.node, scope={}, run_id=run_id, team_id=team_id, key=spec.key,
            emit_delta=lambda text: pub.emit_nowait(events.event(events.STEP_DELTA, run_id, node=spec.node, key=spec.key, text=text)),
        )
        node = NODE_TYPES[spec.node_type]()
        try:
            result, attempts = await execute(
                node, spec.rendered, ctx, attempts=spec.attempts, backoff=spec.backoff, timeout=spec.timeout,
                on_retry=lambda attempt, message: pub.emit_nowait(
                    events.event(events.STEP_RETRYING, run_id, node=spec.node, key=spec.key, attempt=attempt, error=message)
                ),
            )
            payload = result_payload(spec.node, spec.key, result=result, attempts=attempts, executor=executor)
        except AttemptsExhausted as exc:
            payload = result_payload(spec.node, spec.key, attempts=exc.attempts, error=exc.message, executor=executor)
        except Exception as exc:  # a crash is reported to the owner, which fails the step clearly
            payload = result_payload(spec.node, spec.key, attempts=1, error=f"internal error on {executor}: {exc}", executor=executor)
        outbox.append(payload)
        ready.set()

    def stop_all() -> None:
        for task in tasks:
            task.cancel()

    async def deliver_once() -> bool:
        """Store what finished, then wake the owner; False if the chunk is no longer ours."""
        batch = list(outbox)
        await pub._flush()  # the steps' tokens are out before their results
        try:
            mine = await off_loop(store_results)(run_id, chunk, token, batch)
        except Exception:  # the database away for a moment: the results wait in the outbox
            log.warning("run %s: could not store %d results of chunk %s yet", run_id, len(batch), chunk, exc_info=True)
            await asyncio.sleep(0.5)
            return True
        del outbox[:len(batch)]
        if not mine:
            log.warning("run %s: chunk %s was taken back by the run's owner; stopping it here", run_id, chunk)
            return False
        try:
            await client.rpush(results_key(run_id), *(json.dumps(p, default=str) for p in batch))
            await client.expire(results_key(run_id), 24 * 3600)
        except Exception:  # only the wake-up is lost: the owner also reads stored results
            log.warning("run %s: stored results not pushed (Redis away); the owner reads them from the database", run_id)
        return True

    async def deliver() -> None:
        while True:
            await ready.wait()
            ready.clear()
            await asyncio.sleep(DELIVER_EVERY_S)
            while outbox:
                if not await deliver_once():
                    stop_all()
                    return

    async def watch() -> None:
        while not all(t.done() for t in tasks):
            await asyncio.sleep(0.5)
            if await off_loop(_run_finished)(run_id):
                stop_all()
                return

    async def beat() -> None:
        """The heartbeat alone, so a slow step cannot miss a beat; a failed
        beat is tried again at the next one; a chunk taken back stops."""
        while True:
            await asyncio.sleep(HEARTBEAT_EVERY_S)
            try:
                mine = await off_loop(_still_mine)(run_id, chunk, token, False)
            except Exception:  # the database away for a moment
                log.warning("run %s: a heartbeat of chunk %s failed", run_id, chunk, exc_info=True)
                continue
            if not mine:
                log.warning("run %s: chunk %s was taken back by the run's owner; stopping it here", run_id, chunk)
                stop_all()
                return

    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(one(spec)) for spec in specs]
    delivery = loop.create_task(deliver())
    helpers = [loop.create_task(watch())] + ([loop.create_task(beat())] if chunk else [])
    try:
        await asyncio.gather(*tasks, return_exceptions=True)
        # Whatever finished is delivered before the task ends (its message is acknowledged then).
        delivery.cancel()
        while outbox:
            if not await deliver_once():
                break
    finally:
        delivery.cancel()
        for helper in helpers:
            helper.cancel()
