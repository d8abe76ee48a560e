"""The scripted model on the llm node: canned replies picked per fan-out item
or loop iteration, streamed, schema-checked, free, and no model is called."""
from __future__ import annotations

import asyncio

from engine.nodes.base import NodeContext
from engine.nodes.llm import LLMConfig, LLMNode


def wf(nodes, edges):
    return {"format": "orchestrator.workflow/v1", "name": "t", "settings": {"max_steps": 100},
            "nodes": [{"id": "start", "type": "start"}] + nodes, "edges": edges}


def scripted(node_id="ask", prompt="Answer {{ input.q | default('it') }}", **config):
    return {"id": node_id, "type": "llm", "config": {"prompt": prompt, **config}}


def test_a_fanout_gives_each_item_its_own_reply_without_calling_a_model(run_graph, fake_llm):
    graph = wf(
        [{"id": "fan", "type": "fanout", "config": {"items": "{{ ['x', 'y', 'z'] }}"}},
         scripted("work", prompt="Handle {{ item }}", script=["a", "b", "c"]),
         {"id": "join", "type": "join"},
         {"id": "out", "type": "output", "config": {"value": "{{ nodes.join.output }}"}}],
        [{"source": "start", "target": "fan"}, {"source": "fan", "target": "work"}, {"source": "work", "target": "join"},
         {"source": "join", "target": "out"}],
    )
    run = run_graph(graph)
    assert run.status == "succeeded", run.error
    assert run.output == ["a", "b", "c"]
    assert fake_llm.requests == []  # the configured model was never asked
    steps = run.steps.filter(node_id="work")
    assert {s.model for s in steps} == {"scripted"}
    assert all(s.tokens_in == s.tokens_out == 0 and s.cost_usd == 0 and not s.demo for s in steps)
    assert sorted(s.input["script_pick"] for s in steps) == [0, 1, 2]  # the pick is recorded, rendered


def test_a_loop_picks_by_iteration(run_graph, fake_llm):
    graph = wf(
        [{"id": "again", "type": "loop", "config": {"max_iterations": 4}},
         scripted("gen", script=["first", "second", "third"]),
         {"id": "keep", "type": "transform", "config": {"value": "{{ (vars.seen | default([])) + [nodes.gen.output] }}", "set_var": "seen"}},
         {"id": "out", "type": "output", "config": {"value": "{{ vars.seen }}"}}],
        [{"source": "start", "target": "again"}, {"source": "again", "source_port": "next", "target": "gen"},
         {"source": "gen", "target": "keep"}, {"source": "keep", "target": "again"},
         {"source": "again", "source_port": "done", "target": "out"}],
    )
    run = run_graph(graph)
    assert run.status == "succeeded", run.error
    assert run.output == ["first", "second", "third", "first"]  # the script wraps around
    assert fake_llm.requests == []


def test_json_replies_are_values_and_are_checked_against_the_schema(run_graph, fake_llm):
    schema = {"type": "object", "properties": {"score": {"type": "integer", "maximum": 10}}, "required": ["score"]}
    good = wf([scripted(output="json", json_schema=schema, script=[{"score": 7}, '{"score": 3}'], script_pick="{{ input.n }}"),
               {"id": "out", "type": "output", "config": {"value": "{{ nodes.ask.output.score }}"}}],
              [{"source": "start", "target": "ask"}, {"source": "ask", "target": "out"}])
    assert run_graph(good, {"n": 0}).output == 7
    assert run_graph(good, {"n": 1}).output == 3  # JSON text is parsed like a model's reply

    bad = wf([scripted(output="json", json_schema=schema, script=[{"score": 11}]), {"id": "out", "type": "output", "config": {"value": "{{ nodes.ask.output }}"}}],
             [{"source": "start", "target": "ask"}, {"source": "ask", "target": "out"}])
    run = run_graph(bad)
    assert run.status == "failed"
    assert "scripted reply 0 does not match json_schema at score: 11 is greater than the maximum of 10" in run.error["message"]
    assert fake_llm.requests == []


def test_script_strings_are_templates(run_graph):
    graph = wf([scripted(script=["Hello {{ input.name }}, the answer is 42."]),
                {"id": "out", "type": "output", "config": {"value": "{{ nodes.ask.output }}"}}],
               [{"source": "start", "target": "ask"}, {"source": "ask", "target": "out"}])
    run = run_graph(graph, {"name": "Ada"})
    assert run.status == "succeeded" and run.output == "Hello Ada, the answer is 42."


def test_a_pick_that_is_not_a_number_fails_clearly(run_graph):
    graph = wf([scripted(script=["a"], script_pick="{{ input.which }}"), {"id": "out", "type": "output", "config": {"value": "x"}}],
               [{"source": "start", "target": "ask"}, {"source": "ask", "target": "out"}])
    run = run_graph(graph, {"which": "second"})
    assert run.status == "failed" and "script_pick rendered to 'second', not a whole number" in run.error["message"]


def test_the_reply_streams_word_by_word():
    deltas: list[str] = []
    config = LLMConfig.model_validate({"prompt": "p", "script": ["one two  three"], "script_pick": "0"}).model_dump()
    result = asyncio.run(LLMNode().arun(config, NodeContext(node_id="ask", scope={}, emit_delta=deltas.append)))
    assert result.output == "one two  three" and result.model == "scripted"
    assert deltas == ["one ", "two  ", "three"]


def test_without_a_script_the_model_answers(run_graph, fake_llm):
    graph = wf([scripted(prompt="hi"), {"id": "out", "type": "output", "config": {"value": "{{ nodes.ask.output }}"}}],
               [{"source": "start", "target": "ask"}, {"source": "ask", "target": "out"}])
    run = run_graph(graph)
    assert run.output == "fake reply to: hi" and len(fake_llm.requests) == 1
    assert run.steps.get(node_id="ask").model == "fake-model"
