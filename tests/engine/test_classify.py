"""The classify node (switch by an LLM classifier): the model's case decides
the branch, through the real openai client to the fake server; an answer that
is not a case goes to the fallback."""
from __future__ import annotations

import json

from engine import graph as graph_module
from tests.fake_openai import Reply

CASES = [
    {"port": "billing", "description": "invoices, payments, refunds"},
    {"port": "tech", "description": "bugs, errors, how to use the product"},
]


def routing_graph(**config) -> dict:
    route = {"id": "route", "type": "classify", "config": {"input": "{{ input.message }}", "cases": CASES, **config}}
    ports = [c["port"] for c in CASES] + [config.get("fallback", "default")]
    nodes = [{"id": "start", "type": "start"}, route]
    edges = [{"source": "start", "target": "route"}]
    for port in ports:
        nodes.append({"id": f"to_{port}", "type": "output", "config": {"value": {"team": port, "why": "{{ nodes.route.output.reason }}"}}})
        edges.append({"source": "route", "source_port": port, "target": f"to_{port}"})
    return {"format": "orchestrator.workflow/v1", "name": "t", "settings": {"max_steps": 50}, "nodes": nodes, "edges": edges}


def test_the_models_case_picks_the_branch(run_graph, fake_llm):
    fake_llm.script.append(Reply(text='{"case": "billing", "reason": "asks about an invoice"}'))
    run = run_graph(routing_graph(instructions="Customers of {{ input.product }}."), {"message": "Where is my invoice?", "product": "Acme Cloud"})
    assert run.status == "succeeded", run.error
    assert run.output == {"team": "billing", "why": "asks about an invoice"}
    statuses = {s.node_id: s.status for s in run.steps.all()}
    assert statuses["to_tech"] == "skipped" and statuses["to_default"] == "skipped"
    step = run.steps.get(node_id="route")
    assert step.output == {"case": "billing", "reason": "asks about an invoice"} and step.tokens_out > 0

    request = fake_llm.requests[0]
    assert request["response_format"]["json_schema"]["schema"]["properties"]["case"]["enum"] == ["billing", "tech", "default"]
    system = "\n".join(m["content"] for m in request["messages"] if m["role"] == "system")
    assert "- billing: invoices, payments, refunds" in system and "Customers of Acme Cloud." in system
    assert request["messages"][-1] == {"role": "user", "content": "Where is my invoice?"}


def test_an_answer_that_is_not_a_case_goes_to_the_fallback(run_graph, fake_llm):
    # The first answer is sent back once for repair; the second is no better.
    fake_llm.script.extend([Reply(text='{"case": "refunds", "reason": "money back"}'), Reply(text="I think it is billing")])
    run = run_graph(routing_graph(fallback="human"), {"message": "I want my money back"})
    assert run.status == "succeeded", run.error
    assert run.output["team"] == "human"
    assert "did not name a case" in run.output["why"]
    assert len(fake_llm.requests) == 2
    assert run.steps.get(node_id="to_billing").status == "skipped"


def test_a_provider_outage_is_retried_not_routed_to_the_fallback(run_graph, fake_llm):
    fake_llm.script.extend([Reply(status=503), Reply(text='{"case": "tech", "reason": "an error message"}')])
    graph = routing_graph()
    graph["nodes"][1]["retry"] = {"max_attempts": 2, "backoff_s": 0.01}
    run = run_graph(graph, {"message": "The app crashes"})
    assert run.status == "succeeded", run.error
    assert run.output["team"] == "tech"
    assert run.steps.get(node_id="route").attempts == 2


def test_the_offline_demo_model_routes_deterministically(run_graph, settings):
    settings.OPENAI_API_KEY = ""
    settings.DEMO_TOKEN_DELAY_MS = 0
    first = run_graph(routing_graph(), {"message": "My card was charged twice"})
    second = run_graph(routing_graph(), {"message": "My card was charged twice"})
    assert first.status == second.status == "succeeded"
    assert first.output["team"] in {"billing", "tech", "default"}
    assert first.output == second.output
    assert first.steps.get(node_id="route").demo


def test_case_ports_and_the_fallback_must_differ_at_save_time():
    errors = graph_module.validate(routing_graph(fallback="tech"))
    assert any(e.node == "route" and "'tech' is the fallback port" in e.message for e in errors), errors


def test_an_edge_from_an_unknown_case_is_refused_at_save_time():
    graph = routing_graph()
    graph["edges"].append({"source": "route", "source_port": "sales", "target": "to_tech"})
    errors = graph_module.validate(graph)
    assert any("has no output port 'sales'" in e.message and "'billing', 'tech', 'default'" in e.message for e in errors), errors


def test_the_node_type_serves_its_schema():
    from engine.nodes import NODE_TYPES

    described = NODE_TYPES["classify"].describe()
    assert described["dynamic_ports"] is True
    assert described["config_schema"]["properties"]["input"]["x-template"] is True
    assert json.dumps(described)  # what GET /api/node-types/ sends
