"""engine/scheduler.py: the execution rules of DESIGN.md, one test per rule,
run with plain data through the synchronous driver in builders.py."""
from __future__ import annotations

import pytest

from engine.graph import validate
from engine.scheduler import ReplayMismatch, Scheduler

from .builders import Driver, doc, drive, e, lifo, load, n, path

S, K = "succeeded", "skipped"


# --------------------------------------------------------------------------- shapes


def evaluator_optimizer():
    """The evaluator–optimizer of DESIGN.md: generate → evaluate → approved? → back, at most 3 times."""
    return load(
        [
            n("start", "start"),
            n("retry", "loop", max_iterations=3),
            n("generate", "llm", prompt="Write code for: {{ input.spec }}\nFeedback: {{ nodes.evaluate.output | default('none') }}"),
            n("evaluate", "llm", prompt="Review against the spec, reply APPROVED or list issues:\n{{ nodes.generate.output }}"),
            n("approved", "condition", expression="nodes.evaluate.output.strip() == 'APPROVED'"),
            n("done", "output", value="{{ nodes.generate.output }}"),
        ],
        [
            e("start", "retry"),
            e("retry", "generate", "next"),
            e("generate", "evaluate"),
            e("evaluate", "approved"),
            e("approved", "done", "true"),
            e("approved", "retry", "false"),
            e("retry", "done", "done"),
        ],
    )


def fanout_over(items, *, max_parallel=10, worker="llm"):
    """start → each (fan-out) → work → collect (join) → out; max_parallel=None leaves the default."""
    work = n("work", "llm", prompt="{{ index }}:{{ item }}") if worker == "llm" else n("work", "transform", value="{{ index }}:{{ item }}")
    return load(
        [
            n("start", "start"),
            n("each", "fanout", items=items, **({} if max_parallel is None else {"max_parallel": max_parallel})),
            work,
            n("collect", "join"),
            n("out", "output", value="{{ nodes.collect.output }}"),
        ],
        path("start", "each", "work", "collect", "out"),
    )


def branch(expression="input.go"):
    """start → gate (condition) → true: yes1 → yes2 → yes_out, false: no1 → no2 → no_out."""
    return load(
        [
            n("start", "start"),
            n("gate", "condition", expression=expression),
            n("yes1", "transform", value="yes"),
            n("yes2", "transform", value="{{ nodes.yes1.output }}!"),
            n("yes_out", "output", value="{{ nodes.yes2.output }}"),
            n("no1", "transform", value="no"),
            n("no2", "transform", value="{{ nodes.no1.output }}!"),
            n("no_out", "output", value="{{ nodes.no2.output }}"),
        ],
        [e("start", "gate"), e("gate", "yes1", "true"), e("gate", "no1", "false"), *path("yes1", "yes2", "yes_out"), *path("no1", "no2", "no_out")],
    )


# --------------------------------------------------------------------------- order and parallelism


def test_a_linear_chain_runs_in_order():
    graph = load(
        [n("start", "start"), n("a", "transform", value="{{ input.x + 1 }}"), n("b", "transform", value="{{ nodes.a.output * 10 }}"), n("out", "output", value="{{ nodes.b.output }}")],
        path("start", "a", "b", "out"),
    )
    trace = drive(graph, input={"x": 1})
    assert trace.steps == [("start", "1", S), ("a", "1", S), ("b", "1", S), ("out", "1", S)]
    assert trace.outputs[("start", "1")] == {"x": 1}
    assert trace.output == 20


def test_parallel_branches_are_ready_at_once():
    graph = load(
        [n("start", "start"), n("a", "llm", prompt="a"), n("b", "llm", prompt="b"), n("m", "merge")],
        [e("start", "a"), e("start", "b"), e("a", "m"), e("b", "m")],
    )
    scheduler = Scheduler(graph)
    [start] = scheduler.begin()
    assert (start.node, start.key) == ("start", "1")
    ready = scheduler.finish(start, output={}, ports=["out"])
    assert sorted(act.node for act in ready) == ["a", "b"]
    a, b = sorted(ready, key=lambda act: act.node)
    assert scheduler.finish(b, output="B", ports=["out"]) == []  # the merge waits for a
    assert not scheduler.finished
    [merge] = scheduler.finish(a, output="A", ports=["out"])
    assert merge.node == "m"
    assert scheduler.incoming_of(merge) == {"a": "A", "b": "B"}
    assert scheduler.finish(merge, output={}, ports=["out"]) == []
    assert scheduler.finished


def test_parallel_model_calls_are_in_flight_together():
    graph = load(
        [n("start", "start"), n("a", "llm", prompt="a"), n("b", "llm", prompt="b"), n("c", "llm", prompt="c"), n("m", "merge")],
        [e("start", "a"), e("start", "b"), e("start", "c"), e("a", "m"), e("b", "m"), e("c", "m")],
    )
    trace = drive(graph)
    assert [sorted(act.node for act in flight) for flight in trace.in_flight] == [["a", "b", "c"], ["b", "c"], ["c"]]
    assert trace.outputs[("m", "1")] == {"a": "a", "b": "b", "c": "c"}


# --------------------------------------------------------------------------- dead-path elimination


def test_a_condition_takes_one_branch_and_the_skip_propagates():
    trace = drive(branch(), input={"go": True})
    assert trace.steps == [
        ("start", "1", S),
        ("gate", "1", S),
        ("no1", "1", K),
        ("no2", "1", K),
        ("no_out", "1", K),
        ("yes1", "1", S),
        ("yes2", "1", S),
        ("yes_out", "1", S),
    ]
    assert trace.output == "yes!"  # one output reached: its value, not keyed


def test_the_other_branch_when_the_condition_is_false():
    trace = drive(branch(), input={"go": False})
    assert trace.ran("no_out") == ["1"] and trace.skipped("yes_out") == ["1"]
    assert trace.skipped("yes1") == ["1"] and trace.skipped("yes2") == ["1"]
    assert trace.output == "no!"


def test_a_node_after_both_branches_runs_with_one_taken_input():
    graph = load(
        [
            n("start", "start"),
            n("gate", "condition", expression="input.go"),
            n("a", "transform", value="A"),
            n("b", "transform", value="B"),
            n("after", "transform", value="{{ nodes.a.output | default('-') }}{{ nodes.b.output | default('-') }}"),
        ],
        [e("start", "gate"), e("gate", "a", "true"), e("gate", "b", "false"), e("a", "after"), e("b", "after")],
    )
    trace = drive(graph, input={"go": False})
    assert trace.skipped("a") == ["1"]
    assert trace.ran("after") == ["1"]
    assert trace.outputs[("after", "1")] == "-B"


def test_a_node_with_no_taken_input_is_skipped():
    graph = load(
        [
            n("start", "start"),
            n("gate", "condition", expression="input.go"),
            n("a", "transform"),
            n("b1", "transform"),
            n("b2", "transform"),
            n("x", "transform"),
            n("y", "transform"),
        ],
        [e("start", "gate"), e("gate", "a", "true"), e("gate", "b1", "false"), e("gate", "b2", "false"), e("b1", "x"), e("b2", "x"), e("x", "y")],
    )
    trace = drive(graph, input={"go": True})
    assert trace.skipped("x") == ["1"] and trace.skipped("y") == ["1"]
    assert trace.ran("x") == [] and trace.ran("a") == ["1"]
    assert sorted(node for node, _, status in trace.steps if status == K) == ["b1", "b2", "x", "y"]


# --------------------------------------------------------------------------- loops


def test_a_loop_that_never_approves_stops_at_its_cap_and_leaves_through_done():
    trace = drive(evaluator_optimizer(), {"evaluate": "Issues: none of it works"}, input={"spec": "sort a list"})
    assert trace.ran("generate") == ["1", "2", "3"]
    assert trace.ran("evaluate") == ["1", "2", "3"]
    assert trace.ran("done") == ["1"]  # reached once, after the loop finished
    assert not [step for step in trace.steps if step[0] == "done" and step[2] == "skipped"]  # not once per iteration
    assert trace.outputs_of("retry")[-1] == {"iteration": 3, "reason": "max_iterations"}
    prompts = trace.outputs_of("generate")  # the echo model replies with its prompt
    assert prompts[0].endswith("Feedback: none")
    assert prompts[1].endswith("Feedback: Issues: none of it works")
    assert trace.output == prompts[2]


def test_a_loop_exits_early_on_approval():
    trace = drive(evaluator_optimizer(), {"evaluate": ["Issues: too slow", "APPROVED\n"]}, input={"spec": "sort a list"})
    assert trace.ran("generate") == ["1", "2"]
    assert trace.ran("retry") == ["1", "2"]  # never fired again
    assert trace.ran("done") == ["1"]
    assert trace.output == trace.outputs_of("generate")[1]


def loop_with_body(max_iterations=3, **loop_config):
    return load(
        [
            n("start", "start"),
            n("repeat", "loop", max_iterations=max_iterations, **loop_config),
            n("body", "transform", value="{{ vars.count | default(0) + 1 }}", set_var="count"),
            n("seen", "transform", value="{{ loop.iteration }}"),
            n("out", "output", value={"count": "{{ vars.count | default(0) }}", "iterations": "{{ loops.repeat.iteration }}"}),
        ],
        [e("start", "repeat"), e("repeat", "body", "next"), e("body", "seen"), e("seen", "repeat"), e("repeat", "out", "done")],
    )


def test_loop_iteration_in_scope_counts_1_to_n():
    trace = drive(loop_with_body(max_iterations=4))
    assert trace.outputs_of("seen") == [1, 2, 3, 4]
    assert [scope["loop"]["iteration"] for (node, _), scope in trace.scopes.items() if node == "body"] == [1, 2, 3, 4]
    assert trace.outputs_of("repeat") == [{"iteration": i} for i in (1, 2, 3, 4)] + [{"iteration": 4, "reason": "max_iterations"}]
    # after the loop, loops.<id>.iteration is the iterations that ran, not the firings
    assert trace.output == {"count": 4, "iterations": 4}


def test_a_while_expression_stops_the_loop():
    trace = drive(loop_with_body(max_iterations=10, **{"while": "vars.count | default(0) < 2"}))
    assert trace.ran("body") == ["1", "2"]
    assert trace.outputs_of("repeat")[-1] == {"iteration": 2, "reason": "while"}
    assert trace.output == {"count": 2, "iterations": 2}


def test_a_while_expression_false_at_once_skips_the_body():
    trace = drive(loop_with_body(max_iterations=10, **{"while": "false"}))
    assert trace.ran("body") == [] and trace.skipped("body") == ["1"] and trace.skipped("seen") == ["1"]
    assert trace.ran("out") == ["1"] and trace.output == {"count": 0, "iterations": 0}


def test_nested_loops_restart_the_inner_counter_each_outer_iteration():
    graph = load(
        [
            n("start", "start"),
            n("outer", "loop", max_iterations=2),
            n("inner", "loop", max_iterations=3),
            n("cell", "transform", value="{{ [loops.outer.iteration, loop.iteration] }}"),
            n("row_done", "transform", value="{{ loop.iteration }}"),
            n("out", "output", value="{{ nodes.cell.output }}"),
        ],
        [
            e("start", "outer"),
            e("outer", "inner", "next"),
            e("inner", "cell", "next"),
            e("cell", "inner"),
            e("inner", "row_done", "done"),
            e("row_done", "outer"),
            e("outer", "out", "done"),
        ],
    )
    trace = drive(graph)
    assert trace.outputs_of("cell") == [[1, 1], [1, 2], [1, 3], [2, 1], [2, 2], [2, 3]]
    assert trace.outputs_of("row_done") == [1, 2]  # the outer loop's iteration, seen after the inner loop
    assert len(trace.ran("inner")) == 8  # 4 firings per outer iteration: 3 × next, 1 × done
    assert trace.output == [2, 3]


# --------------------------------------------------------------------------- fan-outs


def test_a_fanout_runs_one_worker_per_item_with_item_and_index():
    trace = drive(fanout_over("{{ input.words }}"), input={"words": ["a", "b", "c", "d", "e"]})
    assert trace.ran("work") == [f"each#1[{i}]/1" for i in range(5)]
    assert trace.outputs_of("collect") == [["0:a", "1:b", "2:c", "3:d", "4:e"]]
    assert trace.output == ["0:a", "1:b", "2:c", "3:d", "4:e"]


def test_join_keeps_item_order_when_items_finish_in_reverse():
    trace = drive(fanout_over("{{ input.words }}"), input={"words": ["a", "b", "c", "d", "e"]}, pick=lifo)
    assert trace.ran("work") == [f"each#1[{i}]/1" for i in (4, 3, 2, 1, 0)]
    assert trace.output == ["0:a", "1:b", "2:c", "3:d", "4:e"]


@pytest.mark.parametrize("pick", ["fifo", "lifo"])
def test_max_parallel_bounds_the_items_in_flight(pick):
    from . import builders

    trace = drive(fanout_over("{{ range(5) | list }}", max_parallel=2), pick=getattr(builders, pick))
    assert len(trace.ran("work")) == 5
    assert trace.peak_in_flight("work") == 2
    assert all(sum(act.node == "work" for act in flight) <= 2 for flight in trace.in_flight)
    assert trace.output == ["0:0", "1:1", "2:2", "3:3", "4:4"]


def test_by_default_every_item_of_a_fanout_is_in_flight_at_once():
    trace = drive(fanout_over("{{ range(150) | list }}", max_parallel=None))
    assert len(trace.ran("work")) == 150
    assert trace.peak_in_flight("work") == 150


def test_an_empty_fanout_goes_straight_to_the_join():
    trace = drive(fanout_over("{{ [] }}"))
    assert trace.steps == [("start", "1", S), ("each", "1", S), ("collect", "1", S), ("out", "1", S)]
    assert trace.output == []


def test_a_fanout_over_an_object_runs_per_key():
    trace = drive(fanout_over("{{ input.scores }}", worker="transform"), input={"scores": {"x": 1, "y": 2}})
    assert trace.output == ["0:{'key': 'x', 'value': 1}", "1:{'key': 'y', 'value': 2}"]


def test_nested_fanouts_give_a_list_of_lists():
    graph = load(
        [
            n("start", "start"),
            n("rows", "fanout", items="{{ [[1, 2, 3], [4, 5, 6]] }}"),
            n("cells", "fanout", items="{{ item }}"),
            n("leaf", "llm", prompt="{{ item * 10 }}"),
            n("row", "join"),
            n("table", "join"),
            n("out", "output", value="{{ nodes.table.output }}"),
        ],
        path("start", "rows", "cells", "leaf", "row", "table", "out"),
    )
    trace = drive(graph, {"leaf": lambda ctx, config: int(config["prompt"])}, pick=lifo)
    assert len(trace.ran("leaf")) == 6
    assert set(trace.ran("leaf")) == {f"rows#1[{r}]/cells#1[{c}]/1" for r in range(2) for c in range(3)}
    assert sorted(trace.outputs_of("row")) == [[10, 20, 30], [40, 50, 60]]
    assert trace.output == [[10, 20, 30], [40, 50, 60]]


def test_a_fanout_region_with_a_condition_collects_the_taken_branch():
    graph = load(
        [
            n("start", "start"),
            n("each", "fanout", items="{{ [0, 1, 2, 3] }}"),
            n("even", "condition", expression="item % 2 == 0"),
            n("yes", "transform", value="even {{ item }}"),
            n("no", "transform", value="odd {{ item }}"),
            n("collect", "join"),
            n("out", "output", value="{{ nodes.collect.output }}"),
        ],
        [e("start", "each"), e("each", "even"), e("even", "yes", "true"), e("even", "no", "false"), e("yes", "collect"), e("no", "collect"), e("collect", "out")],
    )
    trace = drive(graph)
    assert trace.output == ["even 0", "odd 1", "even 2", "odd 3"]
    assert trace.skipped("no") == ["each#1[0]/1", "each#1[2]/1"]
    assert trace.skipped("yes") == ["each#1[1]/1", "each#1[3]/1"]


def test_a_skipped_fanout_skips_its_join_and_what_follows():
    graph = load(
        [
            n("start", "start"),
            n("gate", "condition", expression="input.go"),
            n("each", "fanout", items="{{ [1, 2] }}"),
            n("work", "transform", value="{{ item }}"),
            n("collect", "join"),
            n("after", "transform", value="{{ nodes.collect.output }}"),
            n("other", "output", value="other"),
        ],
        [e("start", "gate"), e("gate", "each", "true"), e("gate", "other", "false"), *path("each", "work", "collect", "after")],
    )
    trace = drive(graph, input={"go": False})
    assert [(node, status) for node, _, status in trace.steps if node in ("each", "work", "collect", "after")] == [
        ("each", K),
        ("collect", K),
        ("after", K),
    ]
    assert trace.output == "other"


# --------------------------------------------------------------------------- merge, switch, variables


def test_merge_outputs_the_taken_branches_by_node_id():
    graph = load(
        [n("start", "start"), n("a", "transform", value=1), n("b", "transform", value=[2]), n("m", "merge"), n("out", "output", value="{{ nodes.m.output }}")],
        [e("start", "a"), e("start", "b"), e("a", "m"), e("b", "m"), e("m", "out")],
    )
    assert drive(graph).output == {"a": 1, "b": [2]}


def test_merge_after_a_condition_has_only_the_taken_branch():
    graph = load(
        [
            n("start", "start"),
            n("gate", "condition", expression="input.go"),
            n("a", "transform", value="A"),
            n("b", "transform", value="B"),
            n("m", "merge"),
            n("out", "output", value="{{ nodes.m.output }}"),
        ],
        [e("start", "gate"), e("gate", "a", "true"), e("gate", "b", "false"), e("a", "m"), e("b", "m"), e("m", "out")],
    )
    assert drive(graph, input={"go": True}).output == {"a": "A"}
    assert drive(graph, input={"go": False}).output == {"b": "B"}


@pytest.mark.parametrize("value, route", [(20, "big"), (5, "small"), (-1, "default")])
def test_a_switch_routes_to_the_first_true_case_or_default(value, route):
    graph = load(
        [
            n("start", "start"),
            n("size", "switch", cases=[{"port": "big", "expression": "input.n > 10"}, {"port": "small", "expression": "input.n > 0"}]),
            n("big", "output", value="big"),
            n("small", "output", value="small"),
            n("default", "output", value="default"),
        ],
        [e("start", "size"), e("size", "big", "big"), e("size", "small", "small"), e("size", "default", "default")],
    )
    trace = drive(graph, input={"n": value})
    assert trace.outputs[("size", "1")] == route
    assert trace.output == route
    assert sorted(node for node, _, status in trace.steps if status == K) == sorted({"big", "small", "default"} - {route})


def test_a_transform_sets_a_variable_seen_downstream():
    graph = load(
        [
            n("start", "start"),
            n("double", "transform", value="{{ input.n * 2 }}", set_var="x"),
            n("other", "transform", value="unrelated"),
            n("use", "transform", value="{{ vars.x + 1 }}"),
            n("out", "output", value="{{ vars }}"),
        ],
        path("start", "double", "other", "use", "out"),
    )
    trace = drive(graph, input={"n": 4})
    assert trace.outputs[("use", "1")] == 9
    assert trace.output == {"x": 8}


def test_several_outputs_reached_are_keyed_by_node_id():
    graph = load(
        [n("start", "start"), n("one", "output", value=1), n("two", "output", value="{{ input.n }}")],
        [e("start", "one"), e("start", "two")],
    )
    assert drive(graph, input={"n": 2}).output == {"one": 1, "two": 2}


# --------------------------------------------------------------------------- replay


def everything():
    """Fan-out, loop, condition, variables and model calls in one graph, for replay."""
    return load(
        [
            n("start", "start"),
            n("plan", "llm", prompt="plan {{ input.task }}"),
            n("each", "fanout", items="{{ nodes.plan.output }}", max_parallel=2),
            n("work", "llm", prompt="{{ index }}:{{ item }}"),
            n("collect", "join"),
            n("note", "transform", value="{{ nodes.collect.output | length }}", set_var="parts"),
            n("retry", "loop", max_iterations=3),
            n("draft", "llm", prompt="{{ nodes.collect.output | join(',') }} #{{ loop.iteration }} of {{ vars.parts }}"),
            n("good", "condition", expression="loop.iteration >= 2"),
            n("done", "output", value="{{ nodes.draft.output }}"),
        ],
        [
            *path("start", "plan", "each", "work", "collect", "note", "retry"),
            e("retry", "draft", "next"),
            e("draft", "good"),
            e("good", "retry", "false"),
            e("good", "done", "true"),
            e("retry", "done", "done"),
        ],
    )


ANSWERS = {"plan": lambda ctx, config: ["a", "b", "c"]}


def test_an_uninterrupted_drive_of_the_replay_graph():
    trace = drive(everything(), ANSWERS, input={"task": "t"})
    assert trace.output == "0:a,1:b,2:c #2 of 3"
    assert len(trace.records) == 15


@pytest.mark.parametrize("cut", range(15))
def test_replay_resumes_exactly_where_a_run_stopped(cut):
    graph = everything()
    full = drive(graph, ANSWERS, input={"task": "t"})
    half = drive(graph, ANSWERS, input={"task": "t"}, stop_after=cut)
    assert len(half.records) == cut

    scheduler, pending = Scheduler.replay(graph, half.records)
    assert sorted((a.node, a.key) for a in pending) == sorted((a.node, a.key) for a in half.pending)
    assert scheduler.drain_skipped() == []  # replay does not report skips again

    rest = Driver(graph, ANSWERS, input={"task": "t"}, scheduler=scheduler).resume(pending).run()
    assert rest.output == full.output
    key = lambda r: (r["node_id"], r["key"])  # noqa: E731
    assert sorted(half.records + rest.records, key=key) == sorted(full.records, key=key)


def test_replay_of_a_finished_run_has_nothing_pending():
    graph = everything()
    full = drive(graph, ANSWERS, input={"task": "t"})
    scheduler, pending = Scheduler.replay(graph, full.records)
    assert pending == [] and scheduler.finished
    assert scheduler.outputs_of("done") == full.output


def test_replay_with_a_step_that_does_not_belong_raises():
    graph = everything()
    records = drive(graph, ANSWERS, input={"task": "t"}).records
    with pytest.raises(ReplayMismatch, match="done"):
        Scheduler.replay(graph, [records[0], {"node_id": "done", "key": "1", "output": "x", "ports": []}])
    with pytest.raises(ReplayMismatch):
        Scheduler.replay(graph, [records[0], {**records[1], "key": "2"}])
    with pytest.raises(ReplayMismatch):
        Scheduler.replay(graph, [records[0], records[0]])  # the same step twice


# --------------------------------------------------------------------------- bugs found


def test_a_loop_body_node_also_fed_from_before_the_loop():
    nodes = [
        n("start", "start"),
        n("prep", "transform", value="p"),
        n("repeat", "loop", max_iterations=3),
        n("body", "transform", value="{{ nodes.prep.output }}{{ loop.iteration }}"),
        n("out", "output", value="{{ nodes.body.output }}"),
    ]
    edges = [e("start", "prep"), e("prep", "repeat"), e("repeat", "body", "next"), e("prep", "body"), e("body", "repeat"), e("repeat", "out", "done")]
    errors = [err for err in validate(doc(nodes, edges)) if err.severity == "error"]
    assert [err.code for err in errors] == ["loop_body"]
    assert "prep → body enters the body of loop 'repeat' from outside" in errors[0].message
    assert "connect 'prep' to the loop node instead" in errors[0].message


def test_a_node_after_a_loop_that_also_reads_from_before_it():
    nodes = [
        n("start", "start"),
        n("prep", "transform", value="p"),
        n("repeat", "loop", max_iterations=3),
        n("body", "transform", value="{{ loop.iteration }}"),
        n("final", "output", value="{{ nodes.body.output }}"),
    ]
    edges = [e("start", "prep"), e("prep", "repeat"), e("repeat", "body", "next"), e("body", "repeat"), e("prep", "final"), e("repeat", "final", "done")]
    if any(err.severity == "error" for err in validate(doc(nodes, edges))):
        return  # rejected at save time, with a message: acceptable
    trace = drive(load(nodes, edges))
    assert trace.ran("final") == ["1"] and trace.steps[-1][0] == "final"  # once, after the loop
    assert trace.output == 3


def test_a_fanout_wired_straight_to_its_join_with_many_items():
    graph = load(
        [n("start", "start"), n("each", "fanout", items="{{ range(1000) | list }}"), n("collect", "join"), n("out", "output", value="{{ nodes.collect.output | length }}")],
        path("start", "each", "collect", "out"),
    )
    assert drive(graph).output == 1000
