"""The agent node: a think–act–observe loop through real tool calling (the
openai client against the fake server, or the demo model), with guardrails
the engine enforces and a `limit` port that is never the success port."""
from __future__ import annotations

import asyncio
import json

import pytest

from engine.tools import ToolError, calculate
from tests.fake_openai import Reply


def agent_graph(**config):
    return {"format": "orchestrator.workflow/v1", "name": "agent", "settings": {"max_steps": 20},
            "nodes": [{"id": "start", "type": "start"},
                      {"id": "think", "type": "agent", "config": {"goal": "{{ input.goal }}", **config}},
                      {"id": "answer", "type": "output", "config": {"value": "{{ nodes.think.output.answer }}"}},
                      {"id": "stopped", "type": "output", "config": {"value": {"limit": "{{ nodes.think.output.reason }}"}}}],
            "edges": [{"source": "start", "target": "think"},
                      {"source": "think", "source_port": "done", "target": "answer"},
                      {"source": "think", "source_port": "limit", "target": "stopped"}]}


def test_it_calls_a_tool_observes_and_answers(run_graph, fake_llm):
    fake_llm.script.extend([
        Reply(text="I should compute it.", tool_calls=[{"name": "calculator", "arguments": {"expression": "(17 + 4) * 2"}}]),
        Reply(text="The answer is 42."),
    ])
    run = run_graph(agent_graph(tools=["calculator"]), {"goal": "What is (17 + 4) * 2?"})
    assert run.status == "succeeded", run.error
    assert run.output == "The answer is 42."
    step = run.steps.get(node_id="think")
    trace = step.output["trace"]
    assert trace[0]["tool"] == "calculator" and trace[0]["observation"] == {"expression": "(17 + 4) * 2", "result": 42}
    assert trace[0]["thought"] == "I should compute it."
    # The observation went back to the model as a tool message.
    second = fake_llm.requests[1]["messages"]
    assert second[-1]["role"] == "tool" and json.loads(second[-1]["content"])["result"] == 42
    assert fake_llm.requests[0]["tools"][0]["function"]["name"] == "calculator"


def test_bad_arguments_and_forbidden_tools_are_observations_not_crashes(run_graph, fake_llm):
    fake_llm.script.extend([
        Reply(tool_calls=[{"name": "calculator", "arguments": {"expr": "1+1"}}]),
        Reply(tool_calls=[{"name": "shell", "arguments": {"cmd": "rm -rf /"}}]),
        Reply(text="Giving up politely."),
    ])
    run = run_graph(agent_graph(tools=["calculator"]), {"goal": "x"})
    assert run.status == "succeeded" and run.output == "Giving up politely."
    trace = run.steps.get(node_id="think").output["trace"]
    assert "arguments do not match calculator's schema" in trace[0]["observation"]["error"]
    assert "tool 'shell' is not allowed here; allowed: calculator" == trace[1]["observation"]["error"]


def test_the_iteration_limit_goes_out_through_limit(run_graph, fake_llm):
    fake_llm.responder = lambda body: Reply(tool_calls=[{"name": "current_time", "arguments": {"timezone": f"UTC"}}]) if len(body["messages"]) < 3 \
        else Reply(tool_calls=[{"name": "calculator", "arguments": {"expression": str(len(body["messages"]))}}])
    run = run_graph(agent_graph(tools=["calculator", "current_time"], max_iterations=3), {"goal": "loop forever"})
    assert run.status == "succeeded"
    assert run.output == {"limit": "max_iterations: 3 turns without an answer"}
    assert run.steps.get(node_id="answer").status == "skipped"


def test_a_repeated_identical_call_is_stuck(run_graph, fake_llm):
    fake_llm.responder = lambda body: Reply(tool_calls=[{"name": "calculator", "arguments": {"expression": "1+1"}}])
    run = run_graph(agent_graph(tools=["calculator"], max_iterations=10), {"goal": "x"})
    assert run.output == {"limit": "stuck: it repeated the same tool call"}


def test_the_token_budget_is_enforced(run_graph, fake_llm):
    fake_llm.responder = lambda body: Reply(text="thinking " * 30, tool_calls=[{"name": "calculator", "arguments": {"expression": f"{len(body['messages'])}*2"}}])
    run = run_graph(agent_graph(tools=["calculator"], max_iterations=10, max_tokens=40), {"goal": "x"})
    assert run.output["limit"].startswith("max_tokens:")


def test_the_demo_model_plays_an_agent(run_graph, settings):
    settings.OPENAI_API_KEY = ""
    settings.DEMO_TOKEN_DELAY_MS = 0
    run = run_graph(agent_graph(tools=["calculator", "current_time"]), {"goal": "How much is 12 * 7 + 1?"})
    assert run.status == "succeeded", run.error
    trace = run.steps.get(node_id="think").output["trace"]
    assert trace[0]["observation"]["result"] == 85
    assert "85" in run.output and run.steps.get(node_id="think").demo


def test_another_workflow_is_a_tool(run_graph, fake_llm, personas):
    from editor import services

    child = services.create_workflow(team=personas["acme"], user=personas["alice"], graph={
        "format": "orchestrator.workflow/v1", "name": "double", "description": "doubles n",
        "inputs": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
        "nodes": [{"id": "start", "type": "start"}, {"id": "out", "type": "output", "config": {"value": "{{ input.n * 2 }}"}}],
        "edges": [{"source": "start", "target": "out"}]})
    fake_llm.script.extend([Reply(tool_calls=[{"name": f"workflow_{child.pk}", "arguments": {"n": 21}}]), Reply(text="done")])
    run = run_graph(agent_graph(workflows=[child.pk]), {"goal": "double 21"})
    assert run.status == "succeeded", run.error
    assert run.steps.get(node_id="think").output["trace"][0]["observation"] == {"output": 42}
    tool = fake_llm.requests[0]["tools"][0]["function"]
    assert tool["parameters"]["required"] == ["n"] and "doubles n" in tool["description"]


@pytest.mark.parametrize("expression,value", [("2 ** 10", 1024), ("sqrt(16) + abs(-2)", 6), ("7 // 2", 3), ("1 / 4", 0.25)])
def test_the_calculator_is_exact(expression, value):
    assert calculate(expression) == value


@pytest.mark.parametrize("expression", ["__import__('os')", "().__class__", "open('x')", "9 ** 99999", "1/0", "a + 1"])
def test_the_calculator_refuses_anything_but_arithmetic(expression):
    with pytest.raises(ToolError):
        calculate(expression)
