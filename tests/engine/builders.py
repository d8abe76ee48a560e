"""Small builders for engine tests: format-v1 documents from terse specs, and a
synchronous driver that runs the pure Scheduler to completion.

    graph = load(
        [n("start", "start"), n("gen", "llm", prompt="Hi {{ input.name }}"), n("out", "output", value="{{ nodes.gen.output }}")],
        path("start", "gen", "out"),
    )
    trace = drive(graph, {"gen": "hello"}, input={"name": "Ada"})
    trace.output == "hello"

The driver mirrors engine/runner.py (`_loop`, `_context`, `_render`,
`_run_inline`, `_succeed`, `_record_skips`, `_run_output`) without Django,
Redis or a model: cheap node types run their real `run()`; `is_io` nodes (the
`llm` node) are started like the runner starts them (context and rendered
config taken when they become ready) and answered from plain data. Which
in-flight call completes next is the test's choice (`pick`), so tests can make
items finish out of order. The real runner is tested against a real worker
elsewhere; this is for testing the decision function with plain data.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from engine import templating
from engine.format import FORMAT_V1
from engine.graph import Graph
from engine.graph import load as load_graph
from engine.nodes.base import NodeContext, NodeResult
from engine.scheduler import Activation, Scheduler

# --------------------------------------------------------------------------- documents


def n(id: str, type: str, *, name: str | None = None, **config: Any) -> dict[str, Any]:
    """A node. Config keys are keyword arguments; `while` is `**{"while": ...}`."""
    node: dict[str, Any] = {"id": id, "type": type}
    if name is not None:
        node["name"] = name
    if config:
        node["config"] = config
    return node


def e(source: str, target: str, port: str | None = None) -> dict[str, Any]:
    """An edge; `port` is the source port (condition `true`, loop `next`...)."""
    edge: dict[str, Any] = {"source": source, "target": target}
    if port is not None:
        edge["source_port"] = port
    return edge


def path(*ids: str) -> list[dict[str, Any]]:
    """Edges along a chain of node ids through their default port: path("a", "b", "c")."""
    return [e(a, b) for a, b in zip(ids, ids[1:])]


def doc(nodes: list[dict[str, Any]], edges: list[dict[str, Any]] = (), **extra: Any) -> dict[str, Any]:
    """A format-v1 document; `extra` adds or overrides top-level keys."""
    return {"format": FORMAT_V1, "name": "test", "nodes": list(nodes), "edges": list(edges), **extra}


def load(nodes: list[dict[str, Any]], edges: list[dict[str, Any]] = (), **extra: Any) -> Graph:
    """A Graph from terse specs; raises InvalidWorkflow if they are invalid."""
    return load_graph(doc(nodes, edges, **extra))


# --------------------------------------------------------------------------- driver

Answer = Callable[[NodeContext, dict[str, Any]], Any]
Pick = Callable[[list[Activation]], int]


def fifo(in_flight: list[Activation]) -> int:
    """The oldest call completes first."""
    return 0


def lifo(in_flight: list[Activation]) -> int:
    """The newest call completes first: parallel items finish in reverse order."""
    return len(in_flight) - 1


class Stuck(Exception):
    """Nothing runs, nothing is ready, and the scheduler is not finished."""


@dataclass
class Trace:
    """What a drive did, in order."""

    steps: list[tuple[str, str, str]] = field(default_factory=list)  # (node, key, "succeeded" | "skipped")
    outputs: dict[tuple[str, str], Any] = field(default_factory=dict)  # (node, key) -> output
    records: list[dict[str, Any]] = field(default_factory=list)  # succeeded steps as replay reads them
    scopes: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (node, key) -> template scope
    in_flight: list[list[Activation]] = field(default_factory=list)  # the in-flight calls at each completion
    output: Any = None  # the run's output, as the runner computes it
    pending: list[Activation] = field(default_factory=list)  # still to run when a drive stopped early

    def ran(self, node: str) -> list[str]:
        """Keys of the node's activations that ran, in finishing order."""
        return [k for nd, k, status in self.steps if nd == node and status == "succeeded"]

    def skipped(self, node: str) -> list[str]:
        return [k for nd, k, status in self.steps if nd == node and status == "skipped"]

    def outputs_of(self, node: str) -> list[Any]:
        """The node's outputs in finishing order."""
        return [self.outputs[(node, k)] for k in self.ran(node)]

    def peak_in_flight(self, node: str) -> int:
        return max((sum(1 for a in flight if a.node == node) for flight in self.in_flight), default=0)


class Driver:
    """Runs a Scheduler the way engine/runner.py does, synchronously."""

    def __init__(
        self,
        graph: Graph,
        answers: Answer | dict[Any, Any] | None = None,
        *,
        input: dict[str, Any] | None = None,
        pick: Pick = fifo,
        scheduler: Scheduler | None = None,
    ):
        self.graph = graph
        self.answers = answers
        self.input = input or {}
        self.pick = pick
        self.scheduler = scheduler or Scheduler(graph)
        self.run_info = {"id": 1, "workflow": 1}
        self.trace = Trace()
        self.ready: list[Activation] = []
        self.flying: list[tuple[Activation, NodeResult]] = []
        self._lists: dict[Any, Iterable[Any]] = {}

    # ------------------------------------------------------------ the runner's loop

    def begin(self) -> "Driver":
        self.ready = self.scheduler.begin()
        self._record_skips()
        return self

    def resume(self, pending: list[Activation]) -> "Driver":
        """Continue from Scheduler.replay(): its pending activations are started in order."""
        self.ready = list(pending)
        return self

    def run(self, *, stop_after: int | None = None, max_steps: int = 1000) -> Trace:
        """Run to the end, or stop after `stop_after` succeeded steps (the rest is `trace.pending`)."""
        done = 0
        while True:
            while self.ready:
                if stop_after is not None and done >= stop_after:
                    return self._stopped()
                if done >= max_steps:
                    raise AssertionError(f"more than {max_steps} steps: a runaway loop?")
                act = self.ready.pop(0)
                before = len(self.trace.records)
                self.ready += self._start(act)
                done += len(self.trace.records) - before
                self._record_skips()
            if not self.flying:
                if self.scheduler.finished:
                    self.trace.output = self._run_output()
                    return self.trace
                raise Stuck(f"no step is running or ready; steps so far: {self.trace.steps}")
            if stop_after is not None and done >= stop_after:
                return self._stopped()
            if done >= max_steps:
                raise AssertionError(f"more than {max_steps} steps: a runaway loop?")
            self.trace.in_flight.append([a for a, _ in self.flying])
            act, result = self.flying.pop(self.pick([a for a, _ in self.flying]))
            self.ready += self._succeed(act, result)
            done += 1
            self._record_skips()

    def _stopped(self) -> Trace:
        self.trace.pending = [a for a, _ in self.flying] + list(self.ready)
        return self.trace

    # ------------------------------------------------------------ steps

    def _context(self, act: Activation) -> NodeContext:
        return NodeContext(
            node_id=act.node,
            scope=self.scheduler.context(act, self.input, self.run_info),
            activation=act.number,
            iteration=act.iteration,
            incoming=self.scheduler.incoming_of(act),
            join_items=self.scheduler.join_items_of(act),
        )

    def _render(self, act: Activation, ctx: NodeContext) -> dict[str, Any]:
        node_type = self.graph.types[act.node]
        config = dict(self.graph.configs[act.node])
        for name in node_type.template_fields:
            if config.get(name) is not None:
                config[name] = templating.render(config[name], ctx.scope, node=act.node, field=name)
        return config

    def _start(self, act: Activation) -> list[Activation]:
        node_type = self.graph.types[act.node]
        ctx = self._context(act)
        self.trace.scopes[(act.node, act.key)] = ctx.scope
        rendered = self._render(act, ctx)
        if not node_type.is_io:
            return self._succeed(act, node_type().run(rendered, ctx))
        self.flying.append((act, NodeResult(output=self._answer(act, ctx, rendered))))
        return []

    def _succeed(self, act: Activation, result: NodeResult) -> list[Activation]:
        # The ports taken, explicitly, as the runner records them for replay.
        if result.ports is not None:
            ports = sorted(set(result.ports))
        else:
            ports = sorted({edge.port for edge in self.graph.out_edges[act.node]})
        self.trace.steps.append((act.node, act.key, "succeeded"))
        self.trace.outputs[(act.node, act.key)] = result.output
        self.trace.records.append(
            {"node_id": act.node, "key": act.key, "output": result.output, "ports": ports, "set_vars": result.set_vars}
        )
        return self.scheduler.finish(act, output=result.output, ports=ports, set_vars=result.set_vars)

    def _record_skips(self) -> None:
        for act in self.scheduler.drain_skipped():
            self.trace.steps.append((act.node, act.key, "skipped"))

    def _answer(self, act: Activation, ctx: NodeContext, rendered: dict[str, Any]) -> Any:
        answers = self.answers
        if answers is None:
            return rendered.get("prompt")  # an echo: the rendered prompt is the reply
        if callable(answers):
            return answers(ctx, rendered)
        for key in ((act.node, act.key), act.node):
            if key in answers:
                value = answers[key]
                if callable(value):
                    return value(ctx, rendered)
                if isinstance(value, list):
                    # successive activations get successive answers
                    if key not in self._lists:
                        self._lists[key] = iter(value)
                    return next(self._lists[key])
                return value
        return rendered.get("prompt")

    def _run_output(self) -> Any:
        reached = {
            node: self.scheduler.outputs_of(node)
            for node, node_type in self.graph.types.items()
            if node_type.sets_run_output and self.scheduler.reached(node)
        }
        if not reached:
            return None
        if len(reached) == 1:
            return next(iter(reached.values()))
        return reached


def drive(
    graph: Graph,
    answers: Answer | dict[Any, Any] | None = None,
    *,
    input: dict[str, Any] | None = None,
    pick: Pick = fifo,
    stop_after: int | None = None,
) -> Trace:
    """Run a graph to completion (or `stop_after` succeeded steps).

    `answers` replies for `llm` nodes: a callable (ctx, rendered_config) -> output,
    or a dict keyed by (node, key) or node id whose values are a constant, a list
    (one per activation, in starting order) or such a callable. Without an
    answer an llm node replies with its rendered prompt."""
    return Driver(graph, answers, input=input, pick=pick).begin().run(stop_after=stop_after)
