"""Deciding what runs next: a deterministic state machine over the graph.

Edges carry signals, *taken* or *not taken*, in order. An ordinary node fires
when every incoming edge holds a signal; it runs if at least one was taken and
is skipped otherwise, sending *not taken* on (dead-path elimination).

A loop fires on its way in, then once per iteration when every edge back to
it has signalled: again if one was taken, otherwise the loop is finished.
Signals on edges that leave a loop's body (its `done` port included) wait
until the loop finishes, and only the last one of each edge goes on: what
follows a loop runs once, after it, on its final values.

A fan-out opens one child frame per item; a frame ends when nothing in it is
running, and the join fires when every item's frame has ended. A step that
fails inside an item, under a fan-out whose `on_item_error` is "skip" or
"collect", ends that item only: the step sends *not taken* on (what follows it
in the item is skipped) and the item's result is left out of the join's list
("skip") or is `{"error", "item"}` ("collect"). Only the innermost fan-out's
policy applies; under "fail" the runner ends the run as before.

Signals and frame closings go through work queues rather than recursion, so
long chains and wide fan-outs need no deep stack.

The scheduler never executes a node and never touches storage: `finish()` is
fed the recorded result of each activation and returns what became ready. Fed
the same graph and the same recorded steps in the same order, it reaches the
same state: `Scheduler.replay()` is how a run resumes after a worker dies.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable

from .graph import Graph
from .templating import NodesScope, Scope


@dataclass(frozen=True)
class Activation:
    node: str
    frame: str  # "" for the top level; "fan#1[3]/" inside item 3 of fan's 1st activation
    number: int  # the node's activation count within its frame
    iteration: int = 0  # for a loop node: the iteration this firing starts

    @property
    def key(self) -> str:
        return f"{self.frame}{self.number}"


@dataclass
class _FanoutState:
    fanout: str
    number: int
    items: list[Any]
    max_parallel: int
    next_index: int = 0
    running: int = 0
    done: int = 0
    results: list[Any] = field(default_factory=list)
    policy: str = "fail"  # on_item_error


@dataclass
class _Frame:
    key: str
    parent: "_Frame | None" = None
    fanout: str | None = None  # the fan-out that opened this frame
    state: _FanoutState | None = None
    index: int | None = None
    item: Any = None
    signals: dict[int, deque[bool]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    loop_iteration: dict[str, int] = field(default_factory=dict)
    join_inputs: dict[str, bool] = field(default_factory=dict)  # source -> taken, for the closing join
    loop_open: dict[str, bool] = field(default_factory=dict)  # loop -> entered and not yet finished
    exit_buffer: dict[str, dict[int, tuple[bool, int]]] = field(default_factory=dict)  # loop -> edge -> (last signal, hop)
    active: int = 0  # running activations + open fan-outs
    error: str | None = None  # the first step failure of this item, under a fan-out that tolerates them


_LEFT_OUT = object()  # the result of a failed item under on_item_error "skip"


class ReplayMismatch(Exception):
    """A recorded step does not match what the graph would have run."""


class Scheduler:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.root = _Frame("")
        self.frames: dict[str, _Frame] = {"": self.root}
        self.running: dict[tuple[str, str], Activation] = {}
        self.incoming: dict[tuple[str, str], dict[str, Any]] = {}
        self.join_items: dict[tuple[str, str], list[Any]] = {}
        self.skipped: list[Activation] = []  # skips since the last drain, for recording
        self._ready: list[Activation] = []
        self._fanouts: dict[tuple[str, str], _FanoutState] = {}
        self._signals: deque[tuple[_Frame, Any, bool, int]] = deque()
        self._to_settle: deque[_Frame] = deque()
        self._edges = graph.edges_by_index
        # Edges leaving a loop body are held before anything else is delivered,
        # so a loop that finishes on this very signal already holds them.
        self._out = {n: sorted(edges, key=lambda e: e.index not in graph.exit_loops) for n, edges in graph.out_edges.items()}

    # ------------------------------------------------------------------ public

    def begin(self) -> list[Activation]:
        self._activate(self.root, self.graph.start)
        return self._take_ready()

    def finish(self, act: Activation, *, output: Any, ports: list[str] | None, set_vars: dict[str, Any] | None = None) -> list[Activation]:
        """Record a succeeded activation; return the activations it made ready."""
        frame = self.frames[act.frame]
        self.running.pop((act.node, act.key), None)
        self.incoming.pop((act.node, act.key), None)
        self.join_items.pop((act.node, act.key), None)
        frame.outputs[act.node] = output
        if set_vars:
            frame.vars.update(set_vars)
        node_type = self.graph.types[act.node]
        if node_type.fires_per_input and isinstance(output, dict) and isinstance(output.get("iteration"), int):
            # A loop reports the iterations it actually ran (a final `done` firing is not one).
            frame.loop_iteration[act.node] = output["iteration"]
        frame.active -= 1
        if node_type.opens_fanout:
            self._open_fanout(frame, act, list(output or []))
        else:
            for edge in self._out[act.node]:
                self._send(frame, edge, ports is None or edge.port in ports)
        self._to_settle.append(frame)
        self._drain()
        return self._take_ready()

    def item_error_policy(self, act: Activation) -> str:
        """What a failure of `act` does: "fail" (the run fails), or the
        "skip"/"collect" of the fan-out item it runs in."""
        frame = self.frames.get(act.frame)
        if frame is None or frame.fanout is None:
            return "fail"
        return self.graph.configs[frame.fanout].get("on_item_error") or "fail"

    def fail_item(self, act: Activation, error: str) -> list[Activation]:
        """Record a failed activation inside a fan-out item that tolerates
        failures: the item ends with the error, what follows in it is skipped."""
        frame = self.frames[act.frame]
        if frame.error is None:
            frame.error = error
        self.running.pop((act.node, act.key), None)
        self.incoming.pop((act.node, act.key), None)
        self.join_items.pop((act.node, act.key), None)
        frame.active -= 1
        if self.graph.types[act.node].opens_fanout:
            self._skip(frame, self.graph.fanout_join[act.node])  # a nested fan-out that failed opens no items
        else:
            for edge in self._out[act.node]:
                self._send(frame, edge, False)
        self._to_settle.append(frame)
        self._drain()
        return self._take_ready()

    def drain_skipped(self) -> list[Activation]:
        skipped, self.skipped = self.skipped, []
        return skipped

    @property
    def finished(self) -> bool:
        return self.root.active == 0 and not self._ready

    def outputs_of(self, node: str) -> Any:
        return self.root.outputs.get(node)

    def reached(self, node: str) -> bool:
        return node in self.root.outputs

    def context(self, act: Activation, run_input: dict[str, Any], run_info: dict[str, Any],
                extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """The template scope of an activation: input, nodes, vars, loop, item/index, run (and `extra`, e.g. conversation)."""
        chain = self._chain(self.frames[act.frame])
        outputs = NodesScope("nodes", chain[0].outputs)
        variables: dict[str, Any] = {}
        loops: dict[str, int] = {}
        for frame in chain:
            if frame is not chain[0]:
                outputs.update(frame.outputs)
            variables.update(frame.vars)
            loops.update(frame.loop_iteration)
        scope: dict[str, Any] = {
            "input": Scope("input", run_input),
            "nodes": outputs,
            "vars": Scope("vars", variables),
            "loops": Scope("loops", {n: {"iteration": i} for n, i in loops.items()}),
            "run": Scope("run", run_info),
            **(extra or {}),
        }
        loop = self.graph.enclosing_loop.get(act.node)
        if loop is not None and loop in loops:
            scope["loop"] = Scope("loop", {"iteration": loops[loop], "id": loop})
        innermost = chain[-1]
        if innermost.fanout is not None:
            scope["item"] = innermost.item
            scope["index"] = innermost.index
        return scope

    def incoming_of(self, act: Activation) -> dict[str, Any]:
        return self.incoming.get((act.node, act.key), {})

    def join_items_of(self, act: Activation) -> list[Any]:
        return self.join_items.get((act.node, act.key), [])

    def fanout_progress(self) -> list[dict[str, Any]]:
        return [
            {"fanout": s.fanout, "frame": frame_key, "total": len(s.items), "done": s.done, "running": s.running}
            for (frame_key, _), s in self._fanouts.items()
        ]

    @classmethod
    def replay(cls, graph: Graph, steps: Iterable[dict[str, Any]]) -> tuple["Scheduler", list[Activation]]:
        """Rebuild the state from recorded succeeded steps (in recorded order),
        and the failed steps a fan-out tolerated (`"failed": True`, with their
        `error`); return the scheduler and the activations still to run."""
        scheduler = cls(graph)
        pending = {(a.node, a.key): a for a in scheduler.begin()}
        for step in steps:
            act = pending.pop((step["node_id"], step["key"]), None)
            if act is None:
                raise ReplayMismatch(f"recorded step {step['node_id']} [{step['key']}] is not one the graph would run now")
            if step.get("failed"):
                if scheduler.item_error_policy(act) == "fail":
                    pending[(act.node, act.key)] = act  # not tolerated (the graph changed): it runs again
                    continue
                became_ready = scheduler.fail_item(act, step.get("error") or "failed")
            else:
                became_ready = scheduler.finish(act, output=step["output"], ports=step["ports"], set_vars=step.get("set_vars"))
            for ready in became_ready:
                pending[(ready.node, ready.key)] = ready
        scheduler.drain_skipped()
        return scheduler, list(pending.values())

    # ------------------------------------------------------------------ signals

    def _send(self, frame: _Frame, edge, taken: bool, hop: int = 0) -> None:
        self._signals.append((frame, edge, taken, hop))

    def _drain(self) -> None:
        while self._signals or self._to_settle:
            while self._signals:
                self._deliver(*self._signals.popleft())
            if self._to_settle:
                self._settle(self._to_settle.popleft())

    def _deliver(self, frame: _Frame, edge, taken: bool, hop: int) -> None:
        exited = self.graph.exit_loops.get(edge.index, ())
        if hop < len(exited):
            # Leaving a loop's body: held until that loop finishes; the last signal wins.
            frame.exit_buffer.setdefault(exited[hop], {})[edge.index] = (taken, hop)
            return
        if frame.fanout is not None and edge.target == self.graph.fanout_join[frame.fanout]:
            # The end of an item's branch: remembered for the item's result.
            frame.join_inputs[edge.source] = frame.join_inputs.get(edge.source, False) or taken
            return
        frame.signals.setdefault(edge.index, deque()).append(taken)
        self._try_fire(frame, edge.target)

    def _try_fire(self, frame: _Frame, node: str) -> None:
        node_type = self.graph.types[node]
        in_edges = self.graph.in_edges[node]
        if node_type.closes_fanout:
            return  # a join fires when its fan-out's items are all done
        if node_type.fires_per_input:
            self._try_fire_loop(frame, node, in_edges)
            return
        if not all(frame.signals.get(e.index) for e in in_edges):
            return
        taken_sources = {}
        for edge in in_edges:
            if frame.signals[edge.index].popleft():
                taken_sources[edge.source] = self._output_in_chain(frame, edge.source)
        if taken_sources:
            self._activate(frame, node, incoming=taken_sources)
        else:
            self._skip(frame, node)

    def _try_fire_loop(self, frame: _Frame, loop: str, in_edges) -> None:
        backs = [e for e in in_edges if e.index in self.graph.back_edges]
        for edge in in_edges:
            if edge.index in self.graph.back_edges:
                continue
            queue = frame.signals.get(edge.index)
            while queue:
                frame.loop_open[loop] = True
                if queue.popleft():
                    frame.loop_iteration[loop] = 1
                    self._activate(frame, loop, iteration=1)
                else:
                    self._skip(frame, loop)  # the way in was not taken
        while backs and all(frame.signals.get(e.index) for e in backs):
            again = [frame.signals[e.index].popleft() for e in backs]
            if not frame.loop_open.get(loop):
                continue
            if any(again):
                iteration = frame.loop_iteration.get(loop, 0) + 1
                frame.loop_iteration[loop] = iteration
                self._activate(frame, loop, iteration=iteration)
            else:
                # The iteration ended without coming back: the loop is finished.
                frame.loop_open[loop] = False
                held = frame.exit_buffer.pop(loop, {})
                for index, (taken, hop) in held.items():
                    self._send(frame, self._edges[index], taken, hop + 1)

    def _activate(self, frame: _Frame, node: str, *, iteration: int = 0, incoming: dict[str, Any] | None = None, join_items: list[Any] | None = None) -> None:
        number = frame.counts.get(node, 0) + 1
        frame.counts[node] = number
        act = Activation(node, frame.key, number, iteration)
        self.running[(node, act.key)] = act
        if incoming:
            self.incoming[(node, act.key)] = incoming
        if join_items is not None:
            self.join_items[(node, act.key)] = join_items
        frame.active += 1
        self._ready.append(act)

    def _skip(self, frame: _Frame, node: str) -> None:
        number = frame.counts.get(node, 0) + 1
        frame.counts[node] = number
        self.skipped.append(Activation(node, frame.key, number))
        node_type = self.graph.types[node]
        if node_type.opens_fanout:
            # Nothing enters the region; its join is skipped in this frame.
            self._skip(frame, self.graph.fanout_join[node])
            return
        for edge in self._out[node]:
            self._send(frame, edge, False)

    # ------------------------------------------------------------------ fan-outs

    def _open_fanout(self, frame: _Frame, act: Activation, items: list[Any]) -> None:
        state = _FanoutState(act.node, act.number, items, self.graph.configs[act.node].get("max_parallel") or max(1, len(items)))
        state.policy = self.graph.configs[act.node].get("on_item_error") or "fail"
        state.results = [None] * len(items)
        self._fanouts[(frame.key, act.node)] = state
        frame.active += 1  # open until the join fires
        self._start_items(frame, state)

    def _start_items(self, frame: _Frame, state: _FanoutState) -> None:
        while state.running < state.max_parallel and state.next_index < len(state.items):
            index = state.next_index
            state.next_index += 1
            state.running += 1
            child = _Frame(
                key=f"{frame.key}{state.fanout}#{state.number}[{index}]/",
                parent=frame,
                fanout=state.fanout,
                state=state,
                index=index,
                item=state.items[index],
            )
            self.frames[child.key] = child
            for edge in self.graph.out_edges[state.fanout]:
                self._send(child, edge, True)
            self._to_settle.append(child)  # checked once its entry signals are delivered
        if state.done == len(state.items):
            self._close_fanout(frame, state)

    def _settle(self, frame: _Frame) -> None:
        """Close an item's frame once nothing runs in it; start the next item or close the fan-out."""
        if frame.fanout is None or frame.active != 0 or self.frames.get(frame.key) is not frame:
            return
        state = frame.state
        state.results[frame.index] = self._item_result(frame)
        state.done += 1
        state.running -= 1
        del self.frames[frame.key]
        self._start_items(frame.parent, state)

    def _close_fanout(self, frame: _Frame, state: _FanoutState) -> None:
        if self._fanouts.pop((frame.key, state.fanout), None) is None:
            return
        frame.active -= 1
        results = [r for r in state.results if r is not _LEFT_OUT]
        self._activate(frame, self.graph.fanout_join[state.fanout], join_items=results)

    def _item_result(self, frame: _Frame) -> Any:
        if frame.error is not None:
            if frame.state.policy == "skip":
                return _LEFT_OUT
            return {"error": frame.error, "item": frame.item}
        taken = [source for source, was_taken in frame.join_inputs.items() if was_taken]
        values = {source: (frame.item if source == frame.fanout else frame.outputs.get(source)) for source in taken}
        if not values:
            return None
        if len(values) == 1:
            return next(iter(values.values()))
        return values

    # ------------------------------------------------------------------ helpers

    def _take_ready(self) -> list[Activation]:
        ready, self._ready = self._ready, []
        return ready

    @staticmethod
    def _chain(frame: _Frame) -> list[_Frame]:
        chain = []
        current: _Frame | None = frame
        while current is not None:
            chain.append(current)
            current = current.parent
        return list(reversed(chain))

    def _output_in_chain(self, frame: _Frame, node: str) -> Any:
        current: _Frame | None = frame
        while current is not None:
            if node in current.outputs:
                return current.outputs[node]
            current = current.parent
        return None
