"""Step cache (opt-in per node) and pinned outputs: reused, not executed, and shown so."""
from __future__ import annotations


def graph(**node_extra):
    return {"format": "orchestrator.workflow/v1", "name": "c", "settings": {"max_steps": 20},
            "nodes": [{"id": "start", "type": "start"},
                      {"id": "ask", "type": "llm", "config": {"prompt": "summarise {{ input.text }}"}, **node_extra},
                      {"id": "out", "type": "output", "config": {"value": "{{ nodes.ask.output }}"}}],
            "edges": [{"source": "start", "target": "ask"}, {"source": "ask", "target": "out"}]}


def test_an_identical_step_is_reused_from_the_cache(run_graph, fake_llm, client_for, personas):
    first = run_graph(graph(cache=True), {"text": "tides"})
    second = run_graph(graph(cache=True), {"text": "tides"})
    other = run_graph(graph(cache=True), {"text": "moons"})
    assert first.output == second.output == "fake reply to: summarise tides"
    assert len(fake_llm.requests) == 2  # tides once, moons once
    hit = second.steps.get(node_id="ask")
    assert hit.reused == "cache" and hit.tokens_in == hit.tokens_out == 0 and second.cost_usd == 0
    assert other.steps.get(node_id="ask").reused == ""
    shown = client_for(personas["alice"]).get(f"/api/runs/{second.pk}/steps/").json()
    step = next(s for s in shown if s["node_id"] == "ask")
    assert step["reused"] is True and step["reused_from"] == "cache"


def test_without_cache_every_run_calls_the_model(run_graph, fake_llm):
    run_graph(graph(), {"text": "tides"})
    run_graph(graph(), {"text": "tides"})
    assert len(fake_llm.requests) == 2


def test_a_pinned_output_replaces_the_step(run_graph, fake_llm):
    run = run_graph(graph(pin={"output": "pinned text"}), {"text": "tides"})
    assert run.output == "pinned text"
    assert fake_llm.requests == []
    assert run.steps.get(node_id="ask").reused == "pin"


def test_a_pin_can_choose_the_branch(run_graph):
    g = {"format": "orchestrator.workflow/v1", "name": "p",
         "nodes": [{"id": "start", "type": "start"},
                   {"id": "check", "type": "condition", "config": {"expression": "true"}, "pin": {"output": False, "ports": ["false"]}},
                   {"id": "yes", "type": "output", "config": {"value": "yes"}}, {"id": "no", "type": "output", "config": {"value": "no"}}],
         "edges": [{"source": "start", "target": "check"}, {"source": "check", "source_port": "true", "target": "yes"},
                   {"source": "check", "source_port": "false", "target": "no"}]}
    assert run_graph(g).output == "no"
