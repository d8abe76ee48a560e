"""engine/graph.py: parsing and validation of format v1, one test per rule.

Every error must name the node or edge it belongs to and say how to fix it,
so each test checks the message as well as the rule."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.graph import InvalidWorkflow, validate
from engine.graph import load as load_doc

from .builders import doc, e, load, n, path

TEMPLATES = Path(__file__).resolve().parents[2] / "editor" / "workflow_templates"


def problems(nodes, edges=(), **extra):
    """Blocking errors of a document built from terse specs."""
    return [err for err in validate(doc(nodes, edges, **extra)) if err.severity == "error"]


def only_error(nodes, edges=(), **extra):
    found = problems(nodes, edges, **extra)
    assert len(found) == 1, [err.message for err in found]
    return found[0]


def linear(*middle):
    """start → middle... → out, for tests that vary one node."""
    nodes = [n("start", "start"), *middle, n("out", "output")]
    return nodes, path("start", *[m["id"] for m in middle], "out")


def test_a_minimal_workflow_is_valid():
    assert validate(doc(*linear(n("t", "transform", value="{{ input }}")))) == []
    graph = load(*linear(n("t", "transform", value="x")))
    assert graph.start == "start"
    assert [(edge.source, edge.target) for edge in graph.edges] == [("start", "t"), ("t", "out")]


# --------------------------------------------------------------------------- the document


@pytest.mark.parametrize("raw,kind", [([], "an array"), ("a workflow", "a string"), (None, "null"), (3, "a number")])
def test_a_document_must_be_an_object(raw, kind):
    [err] = validate(raw)
    assert err.code == "format"
    assert err.message.endswith(f"must be a JSON object, not {kind}")  # JSON's words, not Python's


def test_missing_format_says_what_to_set():
    raw = doc(*linear())
    del raw["format"]
    [err] = validate(raw)
    assert err.field == "format"
    assert '"format": "orchestrator.workflow/v1"' in err.message


def test_unknown_format_is_refused():
    [err] = validate(doc(*linear(), format="comfyui/workflow"))
    assert "'comfyui/workflow' is not a workflow format" in err.message
    assert "expected 'orchestrator.workflow/v1'" in err.message


def test_newer_format_is_refused_not_half_read():
    [err] = validate(doc(*linear(), format="orchestrator.workflow/v2"))
    assert err.field == "format"
    assert "newer" in err.message and "upgrade Orchestrator" in err.message
    with pytest.raises(InvalidWorkflow, match="newer"):
        load_doc(doc(*linear(), format="orchestrator.workflow/v2"))


def test_unknown_top_level_key_is_rejected():
    [err] = validate(doc(*linear(), colour="blue"))
    assert err.field == "colour"
    assert "unknown key 'colour'" in err.message and "remove it" in err.message


def test_unknown_node_key_names_the_node():
    nodes, edges = linear(n("t", "transform"))
    nodes[1]["colour"] = "red"
    [err] = validate(doc(nodes, edges))
    assert err.node == "t"
    assert "nodes[1].colour" in err.message and "unknown key 'colour'" in err.message


def test_unknown_edge_key_names_the_edge():
    nodes, edges = linear()
    edges[0]["weight"] = 2
    [err] = validate(doc(nodes, edges))
    assert err.edge == 0
    assert "unknown key 'weight'" in err.message


def test_missing_required_field_is_named():
    raw = doc(*linear())
    del raw["nodes"]
    [err] = validate(raw)
    assert err.field == "nodes" and "required field is missing" in err.message


# --------------------------------------------------------------------------- nodes and edges


def test_duplicate_ids():
    err = only_error([n("start", "start"), n("a", "transform"), n("a", "transform")], path("start", "a"))
    assert err.code == "duplicate_id" and err.node == "a"
    assert "'a'" in err.message and "give each node its own id" in err.message


def test_edge_from_a_missing_node():
    err = only_error([n("start", "start"), n("out", "output")], [e("start", "out"), e("ghost", "out")])
    assert err.edge == 1
    assert "source 'ghost' is not a node" in err.message and "remove the edge or add the node" in err.message


def test_edge_to_a_missing_node():
    err = only_error([n("start", "start"), n("out", "output")], [e("start", "out"), e("start", "ghost")])
    assert err.edge == 1
    assert "target 'ghost' is not a node" in err.message and "remove the edge or add the node" in err.message


def test_unknown_node_type_lists_the_known_ones():
    err = only_error([n("start", "start"), n("x", "telepathy")], path("start", "x"))
    assert err.code == "unknown_type" and err.node == "x" and err.field == "type"
    assert "unknown node type 'telepathy'" in err.message
    assert "use one of:" in err.message and "llm" in err.message and "transform" in err.message


def test_unknown_source_port_lists_the_ports():
    err = only_error(
        [n("start", "start"), n("c", "condition", expression="true"), n("out", "output")],
        [e("start", "c"), e("c", "out", port="maybe")],
    )
    assert err.edge == 1
    assert "no output port 'maybe'" in err.message and "'true', 'false'" in err.message


def test_missing_source_port_on_a_multi_port_node():
    err = only_error(
        [n("start", "start"), n("c", "condition", expression="true"), n("out", "output")],
        [e("start", "c"), e("c", "out")],
    )
    assert err.edge == 1
    assert "'c' has several outputs" in err.message and "set source_port to 'true' or 'false'" in err.message


def test_edge_into_start():
    err = only_error([n("start", "start"), n("t", "transform")], [e("start", "t"), e("t", "start")])
    assert err.edge == 1
    assert "'start' (start) takes no input" in err.message and "connect to another node" in err.message


def test_edge_from_a_node_to_itself():
    err = only_error([n("start", "start"), n("t", "transform")], [e("start", "t"), e("t", "t")])
    assert err.edge == 1 and "cannot connect to itself" in err.message and "loop node" in err.message


def test_the_same_connection_twice():
    err = only_error([n("start", "start"), n("t", "transform")], [e("start", "t"), e("start", "t")])
    assert err.edge == 1 and "appears twice" in err.message


def test_missing_start():
    err = only_error([n("t", "transform"), n("out", "output")], path("t", "out"))
    assert err.code == "start"
    assert "no start node" in err.message and "add one" in err.message


def test_two_starts():
    err = only_error([n("start", "start"), n("start2", "start"), n("out", "output")], [e("start", "out"), e("start2", "out")])
    assert err.node == "start2"
    assert "exactly one start node" in err.message and "remove this one" in err.message


def test_note_nodes_are_allowed_but_cannot_be_connected():
    nodes, edges = linear(n("memo", "note", text="remember"))
    # a note standing alone is fine
    assert problems([*nodes], [e("start", "out")]) == []
    found = problems(nodes, edges)
    assert [err.edge for err in found] == [0, 1]
    assert all("'memo' is a note; it lives on the canvas only and cannot be connected" in err.message for err in found)


# --------------------------------------------------------------------------- cycles and loops


def test_a_cycle_without_a_loop_is_rejected_and_named():
    err = only_error(
        [n("start", "start"), n("a", "transform"), n("b", "transform")],
        [e("start", "a"), e("a", "b"), e("b", "a")],
    )
    assert err.code == "cycle" and err.node == "a"
    assert "cycle a → b → a does not pass through a loop node" in err.message
    assert "add a loop node" in err.message


def test_a_longer_cycle_is_named_in_order():
    err = only_error(
        [n("start", "start"), n("a", "transform"), n("b", "transform"), n("c", "transform")],
        [e("start", "a"), e("a", "b"), e("b", "c"), e("c", "a")],
    )
    assert "cycle a → b → c → a " in err.message


def test_a_cycle_through_a_loop_is_accepted():
    graph = load(
        [n("start", "start"), n("retry", "loop", max_iterations=3), n("body", "transform"), n("out", "output")],
        [e("start", "retry"), e("retry", "body", "next"), e("body", "retry"), e("retry", "out", "done")],
    )
    back = [edge for edge in graph.edges if edge.index in graph.back_edges]
    assert [(edge.source, edge.target) for edge in back] == [("body", "retry")]
    assert graph.loop_body["retry"] == {"body"}
    assert graph.enclosing_loop["body"] == "retry"


def test_a_loop_with_two_entries_is_rejected():
    err = only_error(
        [n("start", "start"), n("a", "transform"), n("b", "transform"), n("retry", "loop", max_iterations=2), n("body", "transform")],
        [e("start", "a"), e("start", "b"), e("a", "retry"), e("b", "retry"), e("retry", "body", "next"), e("body", "retry")],
    )
    assert err.code == "loop" and err.node == "retry"
    assert "entered from a, b" in err.message and "put a merge node before it" in err.message


def test_a_loop_without_a_back_edge_is_only_a_warning():
    found = validate(doc([n("start", "start"), n("retry", "loop", max_iterations=2), n("out", "output")], [e("start", "retry"), e("retry", "out", "next")]))
    [warning] = found
    assert warning.severity == "warning" and warning.node == "retry"
    assert "no edge back to it" in warning.message


# --------------------------------------------------------------------------- fan-outs


def fanout_nodes(*extra):
    return [n("start", "start"), n("f", "fanout", items="{{ [1, 2] }}"), n("w", "transform", value="{{ item }}"), n("j", "join"), *extra]


def test_a_fanout_region_is_found():
    graph = load(fanout_nodes(n("out", "output")), path("start", "f", "w", "j", "out"))
    assert graph.fanout_join == {"f": "j"} and graph.join_fanout == {"j": "f"}
    assert graph.region["f"] == {"w"}
    assert graph.home["w"] == "f" and graph.home["j"] is None and graph.home["out"] is None


def test_fanout_without_join():
    err = only_error(fanout_nodes()[:3] + [n("out", "output")], path("start", "f", "w", "out"))
    assert err.node == "f"
    assert "fan-out 'f' has no join" in err.message and "end each of its branches at a join node" in err.message


def test_fanout_reaching_two_joins():
    err = only_error(
        fanout_nodes(n("w2", "transform"), n("j2", "join")),
        [e("start", "f"), e("f", "w"), e("w", "j"), e("f", "w2"), e("w2", "j2")],
    )
    assert err.node == "f"
    assert "reaches several joins (j, j2)" in err.message and "exactly one join" in err.message


def test_an_edge_leaving_a_fanout_region():
    found = problems(
        fanout_nodes(n("out", "output"), n("leak", "output")),
        [*path("start", "f", "w", "j", "out"), e("w", "leak")],
    )
    [err] = found
    assert err.code == "fanout_region" and err.node == "leak"
    assert "inside fan-out 'f' but does not lead to its join 'j'" in err.message
    assert "edges may not leave a fan-out region" in err.message


def test_an_edge_entering_a_fanout_region_from_outside():
    err = only_error(
        fanout_nodes(n("out", "output")),
        [*path("start", "f", "w", "j", "out"), e("start", "w")],
    )
    assert err.code == "fanout_region" and err.node == "w" and err.edge == 4
    assert "start → w enters fan-out 'f''s region from outside" in err.message
    assert "only the fan-out node leads into its region" in err.message


def test_a_join_without_a_fanout():
    err = only_error(*linear(n("j", "join")))
    assert err.node == "j"
    assert "join 'j' closes no fan-out" in err.message and "put a fan-out node before" in err.message


# --------------------------------------------------------------------------- config


def test_loop_without_max_iterations():
    err = only_error(*linear(n("retry", "loop")))
    assert err.code == "config" and err.node == "retry" and err.field == "config.max_iterations"
    assert "node 'retry', config.max_iterations: required" in err.message


def test_llm_without_prompt():
    err = only_error(*linear(n("gen", "llm")))
    assert err.node == "gen" and err.field == "config.prompt"
    assert "required" in err.message


def test_unknown_config_key():
    err = only_error(*linear(n("gen", "llm", prompt="hi", temprature=0.2)))
    assert err.node == "gen" and err.field == "config.temprature"
    assert "a llm node has no 'temprature' setting" in err.message


def test_config_value_out_of_range():
    err = only_error(*linear(n("retry", "loop", max_iterations=0)))
    assert err.node == "retry" and err.field == "config.max_iterations"


def test_switch_case_ports_must_be_unique():
    err = only_error(
        *linear(n("s", "switch", cases=[{"port": "a", "expression": "true"}, {"port": "a", "expression": "false"}]))
    )
    assert err.node == "s" and "repeated: a" in err.message


# --------------------------------------------------------------------------- templates and references


def test_template_syntax_error_names_node_and_field():
    err = only_error(*linear(n("gen", "llm", prompt="Hello {{ input.name ")))
    assert err.code == "template" and err.node == "gen" and err.field == "prompt"
    assert err.message.startswith("node 'gen', field 'prompt': syntax error on line 1")


def test_expression_syntax_error_names_node_and_field():
    nodes = [n("start", "start"), n("c", "condition", expression="input.x ==="), n("out", "output")]
    err = only_error(nodes, [e("start", "c"), e("c", "out", "true")])
    assert err.node == "c" and err.field == "expression" and "syntax error" in err.message


def test_switch_case_expression_errors_name_the_case():
    nodes = [n("start", "start"), n("s", "switch", cases=[{"port": "a", "expression": "1 +"}]), n("out", "output")]
    err = only_error(nodes, [e("start", "s"), e("s", "out", "a")])
    assert err.node == "s" and err.field == "cases[0].expression"


def test_reference_to_a_missing_node():
    err = only_error(*linear(n("gen", "llm", prompt="{{ nodes.ghost.output }}")))
    assert err.code == "reference" and err.node == "gen" and err.field == "prompt"
    assert "refers to nodes.ghost, but there is no node 'ghost'" in err.message


def test_reference_by_subscript_is_checked_too():
    err = only_error(*linear(n("gen", "llm", prompt="{{ nodes['ghost'].output }}")))
    assert "no node 'ghost'" in err.message


def test_reference_to_a_node_that_is_not_upstream():
    nodes = [n("start", "start"), n("a", "transform", value="{{ nodes.b.output }}"), n("b", "transform"), n("out", "output")]
    err = only_error(nodes, path("start", "a", "b", "out"))
    assert err.node == "a" and err.field == "value"
    assert "refers to nodes.b, which does not run before it" in err.message
    assert "connect 'b' upstream of 'a'" in err.message


def test_reference_to_a_parallel_branch_is_not_upstream():
    nodes = [n("start", "start"), n("a", "transform"), n("b", "transform", value="{{ nodes.a.output }}")]
    err = only_error(nodes, [e("start", "a"), e("start", "b")])
    assert err.node == "b" and "does not run before it" in err.message


def test_reference_through_a_loop_back_edge_counts_as_upstream():
    # The generator reads the evaluator's feedback, which reaches it through the back-edge.
    graph = load(
        [
            n("start", "start"),
            n("retry", "loop", max_iterations=3),
            n("gen", "llm", prompt="{{ nodes.judge.output | default('none') }}"),
            n("judge", "llm", prompt="{{ nodes.gen.output }}"),
        ],
        [e("start", "retry"), e("retry", "gen", "next"), e("gen", "judge"), e("judge", "retry")],
    )
    assert graph.loop_body["retry"] == {"gen", "judge"}


def test_reference_into_a_fanout_region_from_outside_suggests_the_join():
    nodes = fanout_nodes(n("out", "output", value="{{ nodes.w.output }}"))
    err = only_error(nodes, path("start", "f", "w", "j", "out"))
    assert err.node == "out" and err.field == "value"
    assert "nodes.w runs once per item of fan-out 'f'" in err.message
    assert "use nodes.j.output" in err.message


def test_reference_from_inside_a_region_to_outside_is_fine():
    nodes = [n("start", "start"), n("pre", "transform", value=1), n("f", "fanout", items="{{ [1] }}"), n("w", "transform", value="{{ nodes.pre.output + item }}"), n("j", "join")]
    assert problems(nodes, path("start", "pre", "f", "w", "j")) == []


def test_unreachable_node_is_a_warning_not_an_error():
    nodes, edges = linear()
    found = validate(doc([*nodes, n("island", "transform")], edges))
    [warning] = found
    assert warning.severity == "warning" and warning.code == "unreachable" and warning.node == "island"
    assert "cannot be reached from the start node" in warning.message and "connect it or delete it" in warning.message
    # and it does not block loading
    assert "island" in load([*nodes, n("island", "transform")], edges).nodes


# --------------------------------------------------------------------------- inputs


def test_inputs_that_are_not_a_json_schema():
    [err] = validate(doc(*linear(), inputs={"type": "strnig"}))
    assert err.field == "inputs" and "not a valid JSON Schema" in err.message


def test_inputs_must_describe_an_object():
    [err] = validate(doc(*linear(), inputs={"type": "array"}))
    assert err.field == "inputs" and '"type": "object"' in err.message


def test_errors_serialise_without_empty_fields():
    err = only_error(*linear(n("retry", "loop")))
    assert err.as_dict() == {"code": "config", "message": err.message, "node": "retry", "field": "config.max_iterations", "severity": "error"}


def test_load_raises_with_every_blocking_error():
    with pytest.raises(InvalidWorkflow) as caught:
        load([n("start", "start"), n("a", "telepathy"), n("b", "llm")], path("start", "a"))
    assert {err.node for err in caught.value.errors} == {"a", "b"}


# --------------------------------------------------------------------------- shipped templates


@pytest.mark.parametrize("name", ["evaluator-optimizer", "orchestrator-workers", "prompt-chaining"])
def test_shipped_templates_are_valid(name):
    raw = json.loads((TEMPLATES / f"{name}.json").read_text())
    assert validate(raw) == []
    graph = load_doc(raw)
    assert graph.start == "start"


def test_a_note_reusing_an_earlier_id_is_a_duplicate():
    err = only_error([n("start", "start"), n("a", "transform"), n("a", "note")], [])
    assert err.code == "duplicate_id" and err.node == "a"


@pytest.mark.parametrize("second", ["transform", "note"])
def test_a_note_first_then_the_same_id_is_a_duplicate(second):
    # Ids must be unique on the canvas too, whatever the order of the nodes.
    found = problems([n("start", "start"), n("a", "note"), n("a", second)], [])
    assert [err.code for err in found] == ["duplicate_id"]
    assert found[0].node == "a"
