"""Executing one network step (attempts, backoff, timeout), wherever it runs:
on the run owner's I/O loop, or on another worker that took part of a
fan-out (`run_remote_steps`, behind the `engine.run_steps` task).

A remote worker executes and streams; it records nothing. It pushes each
result to the run's result list in Redis, and the owner records it — so a
step's effect is still recorded exactly once, by one writer."""
from __future__ import annotations

import asyncio
import json
import logging
import socket
from dataclasses import dataclass
from typing import Any, Callable

from django.conf import settings

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
# them, or taken back by the owner: whoever sets the claim key first runs it.
# Its runner keeps the alive key fresh; an owner that finds a claimed chunk
# with no alive key knows its runner died and runs the steps itself, within
# seconds rather than after the steps' whole time limits.
HEARTBEAT_EVERY_S = 1.0
CLAIM_TTL_S = 24 * 3600


def chunk_keys(run_id: int, chunk: str) -> tuple[str, str]:
    base = f"orchestrator:run:{run_id}:chunk:{chunk}"
    return f"{base}:claim", f"{base}:alive"


def run_remote_steps(run_id: int, team_id: int | None, specs: list[dict[str, Any]], executor: str, chunk: str = "") -> None:
    """Execute a share of a run's network steps on this worker and push each
    result to the owner as it completes. Stops early if the run ends."""
    if chunk:
        claim, alive = chunk_keys(run_id, chunk)
        client = redis_client.client()
        # Alive before claimed: an owner never sees our claim without a heartbeat.
        client.set(alive, 1, px=int(settings.ENGINE_REMOTE_HEARTBEAT_TTL_S * 1000))
        if not client.set(claim, executor, nx=True, ex=CLAIM_TTL_S):
            client.delete(alive)
            return  # the owner took these steps back before we came to them
    ioloop.submit(_run_remote(run_id, team_id, [StepSpec(**s) for s in specs], executor, chunk)).result()


def _run_finished(run_id: int) -> bool:
    from .models import Run

    return Run.objects.filter(pk=run_id).exclude(status__in=[Run.Status.QUEUED, Run.Status.RUNNING]).exists() or \
        Run.objects.filter(pk=run_id, cancel_requested=True).exists()


async def _run_remote(run_id: int, team_id: int | None, specs: list[StepSpec], executor: str, chunk: str = "") -> None:
    pub = publisher()
    client = redis_client.async_client()

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
        await pub._flush()  # the step's tokens are out before its result
        await client.rpush(results_key(run_id), json.dumps(payload, default=str))
        await client.expire(results_key(run_id), 24 * 3600)

    async def watch(tasks: list[asyncio.Task]) -> None:
        while not all(t.done() for t in tasks):
            await asyncio.sleep(0.5)
            if await off_loop(_run_finished)(run_id):
                for task in tasks:
                    task.cancel()
                return

    async def beat() -> None:
        """The heartbeat alone, so a slow database check cannot miss a beat;
        a failed beat is tried again at the next one."""
        alive = chunk_keys(run_id, chunk)[1]
        ttl_ms = int(settings.ENGINE_REMOTE_HEARTBEAT_TTL_S * 1000)
        while True:
            try:
                await client.set(alive, 1, px=ttl_ms)
            except Exception:  # Redis away for a moment
                log.warning("run %s: a heartbeat of chunk %s failed", run_id, chunk, exc_info=True)
            await asyncio.sleep(HEARTBEAT_EVERY_S)

    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(one(spec)) for spec in specs]
    helpers = [loop.create_task(watch(tasks))] + ([loop.create_task(beat())] if chunk else [])
    try:
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for helper in helpers:
            helper.cancel()
