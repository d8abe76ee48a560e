"""Golden runs of the templates built on agents, people, sub-workflows,
conversations and judges: each runs through the real engine (a real Celery
worker on Redis) on the offline demo model, or on the fake model server with
scripted replies where the shape needs control, and the recorded steps and
runs show the pattern's shape."""
from __future__ import annotations

import copy
import json
import time

import pytest

from editor.models import Conversation, Run
from editor.workflow_templates import template
from tests.conftest import wait_for_run
from tests.fake_openai import Reply
from tests.templates.test_golden import all_overlap, prompt_of, ran, resolved, run_template, steps


@pytest.fixture
def demo(settings):
    settings.OPENAI_API_KEY = ""
    settings.DEMO_TOKEN_DELAY_MS = 0


@pytest.fixture
def paced_demo(settings):
    settings.OPENAI_API_KEY = ""
    settings.DEMO_TOKEN_DELAY_MS = 8


def start(run_graph, slug: str, graph: dict | None = None, **overrides) -> Run:
    """Start a template without waiting (for runs that wait for a person)."""
    t = template(slug)
    return run_graph(resolved(graph or t["graph"]), {**t["example_input"], **overrides}, wait=False)


def wait_for_status(run_id: int, status: str, timeout: float = 20) -> Run:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = Run.objects.get(pk=run_id)
        if run.status == status:
            return run
        assert not run.is_finished, f"run {run_id} finished ({run.status}: {run.error}) instead of becoming {status}"
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} is {Run.objects.get(pk=run_id).status}, not {status}")


def endless_tool_calls(body):
    """A model that never answers: a new calculation every turn (never the same call twice, so it is not 'stuck')."""
    return Reply(text="Still checking.", tool_calls=[{"name": "calculator", "arguments": {"expression": f"{len(body['messages'])} + 1"}}])


# ----------------------------------------------------------------- tool use


def test_tool_use_calls_the_calculator_with_the_questions_expression(run_graph, demo):
    run = run_template(run_graph, "tool-use")
    assert run.status == "succeeded", run.error
    trace = ran(run, "agent")[0].output["trace"]
    assert trace[0]["tool"] == "calculator" and json.loads(trace[0]["arguments"]) == {"expression": "3 * 19 + 7"}
    assert run.output["tools_used"] == ["calculator"]
    assert run.output["tool_results"] == [{"expression": "3 * 19 + 7", "result": 64}]
    assert "64" in run.output["agent_answer"]
    # The integrator answered from the tool results.
    assert '"result": 64' in ran(run, "integrate")[0].input["prompt"]
    assert not ran(run, "failed")


def test_tool_use_leaves_through_limit_at_max_iterations_when_the_model_never_stops(run_graph, fake_llm):
    fake_llm.responder = endless_tool_calls
    run = run_template(run_graph, "tool-use")
    assert run.status == "succeeded", run.error
    agent = ran(run, "agent")[0]
    assert agent.ports == ["limit"]
    assert run.output["reason"] == "max_iterations: 5 turns without an answer" and run.output["iterations"] == 5
    assert "stopped without an answer" in run.output["error"] and run.output["partial"] == "Still checking."
    assert len(fake_llm.requests) == 5
    assert not ran(run, "integrate") and not ran(run, "answer")


# ----------------------------------------------------------------- autonomous agent


def test_autonomous_agent_answers_within_its_guardrails_on_the_demo_model(run_graph, demo):
    run = run_template(run_graph, "autonomous-agent")
    assert run.status == "succeeded", run.error
    assert run.output["status"] == "answered" and "18" in run.output["answer"]
    assert ran(run, "agent")[0].output["trace"][0]["observation"]["result"] == 18
    assert {s.node_id for s in steps(run) if s.status == "skipped"} >= {"escalate", "escalated", "rejected", "unanswered"}


def test_autonomous_agent_escalates_at_its_iteration_limit_and_a_person_accepts(run_graph, fake_llm, personas, client_for):
    fake_llm.responder = endless_tool_calls
    run = wait_for_status(start(run_graph, "autonomous-agent").pk, "waiting")
    agent = run.steps.get(node_id="agent")
    assert agent.ports == ["limit"] and agent.output["reason"] == "max_iterations: 6 turns without an answer"
    assert not run.steps.filter(node_id="answer", status="succeeded").exists()
    question = run.steps.get(node_id="escalate")
    assert question.status == "waiting" and "max_iterations: 6 turns" in question.input["prompt"]
    assert "Still checking." in question.input["prompt"]
    response = client_for(personas["bob"]).post(f"/api/runs/{run.pk}/answer/", {"node": "escalate", "decision": "approve", "comment": "good enough"},
                                                format="json")
    assert response.status_code == 202, response.content
    run = wait_for_run(run.pk)
    assert run.status == "succeeded", run.error
    assert run.output == {"status": "escalated", "answer": "Still checking.", "reason": "max_iterations: 6 turns without an answer",
                          "approved_by": "bob", "comment": "good enough"}


def test_autonomous_agent_escalation_rejected_fails_clearly(run_graph, fake_llm, personas, client_for):
    fake_llm.responder = endless_tool_calls
    run = wait_for_status(start(run_graph, "autonomous-agent").pk, "waiting")
    assert client_for(personas["alice"]).post(f"/api/runs/{run.pk}/answer/", {"node": "escalate", "decision": "reject"}, format="json").status_code == 202
    run = wait_for_run(run.pk)
    # The run says how it ended: failed, at the "Rejected" output, whose value is kept.
    assert run.status == "failed"
    assert run.error["reason"] == "outcome" and run.error["node"] == "rejected"
    assert "alice rejected the partial result" in run.error["message"]
    assert run.output["status"] == "failed" and run.output["error"].startswith("alice rejected the partial result")


def test_autonomous_agent_escalation_nobody_answers_times_out_to_a_failure(run_graph, fake_llm):
    fake_llm.responder = endless_tool_calls
    graph = copy.deepcopy(template("autonomous-agent")["graph"])
    next(n for n in graph["nodes"] if n["id"] == "escalate")["config"]["timeout_s"] = 0.5
    run = wait_for_status(start(run_graph, "autonomous-agent", graph).pk, "waiting")
    run = wait_for_run(run.pk, timeout=20)
    assert run.status == "failed" and run.error["node"] == "unanswered"
    assert run.output["status"] == "failed" and run.output["error"].startswith("Nobody answered the escalation in time")
    assert run.steps.get(node_id="escalate").output["decision"] == "timeout"
    assert not ran(run, "escalated") and not ran(run, "rejected")


# ----------------------------------------------------------------- complex system


def classify_as(case: str):
    def respond(body):
        if "Classify the user's message" in prompt_of(body):
            return Reply(json.dumps({"case": case, "reason": f"it is a {case} request"}))
        return None  # the fake server answers the rest from the request (schema-valid JSON)
    return respond


@pytest.mark.parametrize("case,workflow", [("billing", "support-billing"), ("technical", "support-technical")])
def test_complex_system_runs_exactly_one_sub_workflow_per_intent(run_graph, fake_llm, case, workflow):
    fake_llm.responder = classify_as(case)
    run = run_template(run_graph, "complex-system")
    assert run.status == "succeeded", run.error
    children = list(Run.objects.filter(parent_run=run))
    assert len(children) == 1
    child = children[0]
    assert (child.workflow.template_slug, child.parent_node, child.status) == (workflow, case, "succeeded")
    assert run.output["intent"] == case and run.output["reply"] == child.output["reply"] and child.output["team"] == case
    assert run.output["classification"] == {"case": case, "reason": f"it is a {case} request"}
    assert {n for n in ("billing", "technical", "general") if ran(run, n)} == {case}


def test_complex_system_fallback_answers_without_a_sub_workflow(run_graph, fake_llm):
    fake_llm.responder = classify_as("general")
    run = run_template(run_graph, "complex-system", request="Do you have a nice logo?")
    assert run.status == "succeeded", run.error
    assert not Run.objects.filter(parent_run=run).exists()
    assert run.output["intent"] == "general" and ran(run, "general") and not ran(run, "billing") and not ran(run, "technical")


def test_complex_system_on_the_demo_model_takes_one_route(run_graph, demo):
    run = run_template(run_graph, "complex-system")
    assert run.status == "succeeded", run.error
    intent = ran(run, "intent")[0].output["case"]
    assert run.output["intent"] == intent
    assert Run.objects.filter(parent_run=run).count() == (0 if intent == "general" else 1)


# ----------------------------------------------------------------- conversations


def open_chat(client, team, slug: str) -> int:
    workflow = client.post(f"/api/templates/{slug}/use/", {"team": team.pk}, format="json")
    assert workflow.status_code == 201, workflow.content
    response = client.post("/api/conversations/", {"workflow": workflow.json()["id"]}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def say(client, conversation_id: int, text: str) -> Run:
    response = client.post(f"/api/conversations/{conversation_id}/messages/", {"text": text}, format="json")
    assert response.status_code == 201, response.content
    run = wait_for_run(response.json()["id"])
    assert run.status == "succeeded", run.error
    return run


def profile_model(body):
    """The state manager reports what the prompt tells it (message or known state); the reply is fixed."""
    prompt = prompt_of(body)
    if "Update what we know about the user" in prompt:
        return Reply(json.dumps({"user_name": "Dana" if "Dana" in prompt else "", "user_goal": "a trip to Lisbon" if "Lisbon" in prompt else "",
                                 "facts": ["vegetarian"] if "vegetarian" in prompt else [], "phase": "discovery"}))
    return Reply("Nice to meet you. Which dates in May?")


def test_stateful_conversation_remembers_the_first_message_and_answers_with_the_history(worker, fake_llm, personas, client_for):
    fake_llm.responder = profile_model
    client = client_for(personas["bob"])
    conversation_id = open_chat(client, personas["acme"], "stateful-conversation")
    first = say(client, conversation_id, "Hi, I'm Dana. I'm vegetarian and I'm planning a trip to Lisbon in May.")
    profile = {"user_name": "Dana", "user_goal": "a trip to Lisbon", "facts": ["vegetarian"], "phase": "discovery"}
    assert Conversation.objects.get(pk=conversation_id).state == profile
    assert "Conversation so far:\nuser: Hi, I'm Dana" in ran(first, "reply")[0].input["prompt"]  # no history yet
    second = say(client, conversation_id, "Which neighbourhood should I stay in?")
    assert second.output["reply"] == "Nice to meet you. Which dates in May?"
    # The second turn's state manager read the stored state; the reply's prompt holds the history.
    assert '"user_name": "Dana"' in ran(second, "track")[0].input["prompt"]
    prompt = ran(second, "reply")[0].input["prompt"]
    assert "user: Hi, I'm Dana. I'm vegetarian" in prompt and "assistant: Nice to meet you." in prompt
    assert prompt.rstrip().endswith("user: Which neighbourhood should I stay in?")
    data = client.get(f"/api/conversations/{conversation_id}/").json()
    assert data["turns"] == 2 and data["state"] == profile


def test_context_summarization_summarizes_every_fourth_turn_and_trims_the_history(worker, demo, personas, client_for):
    client = client_for(personas["alice"])
    conversation_id = open_chat(client, personas["acme"], "context-summarization")
    for turn in (1, 2, 3):
        run = say(client, conversation_id, f"Message number {turn} about the offsite.")
        conversation = Conversation.objects.get(pk=conversation_id)
        assert not ran(run, "summarize") and conversation.summary == "" and len(conversation.history) == 2 * turn
    fourth = say(client, conversation_id, "Message number 4 about the offsite.")
    summary = ran(fourth, "summarize")[0]
    assert "user: Message number 1 about the offsite." in summary.input["prompt"]  # it summarized the whole history
    conversation = Conversation.objects.get(pk=conversation_id)
    assert conversation.summary == summary.output and conversation.summary
    assert len(conversation.history) == 4 and conversation.history[-2]["content"] == "Message number 4 about the offsite."
    assert summary.output in ran(fourth, "reply")[0].input["prompt"]
    fifth = say(client, conversation_id, "Message number 5 about the offsite.")
    assert not ran(fifth, "summarize")
    # Later turns reply from the stored summary and the recent messages, not the whole history.
    prompt = ran(fifth, "reply")[0].input["prompt"]
    assert conversation.summary in prompt and "Message number 1 about" not in prompt.split("Recent messages:")[1]


def test_context_summarization_summarizes_early_when_the_history_is_large(worker, demo, personas, client_for):
    client = client_for(personas["alice"])
    conversation_id = open_chat(client, personas["acme"], "context-summarization")
    say(client, conversation_id, "Here are the notes: " + "the venue needs a projector and vegetarian food. " * 140)
    second = say(client, conversation_id, "What did I ask for?")
    assert ran(second, "summarize")  # turn 2, but the history passed 1,500 tokens
    assert len(Conversation.objects.get(pk=conversation_id).history) == 4


# ----------------------------------------------------------------- A/B testing


def test_ab_testing_runs_both_variants_side_by_side_and_reports_the_judges_winner(run_graph, paced_demo):
    run = run_template(run_graph, "ab-testing")
    assert run.status == "succeeded", run.error
    a, b = ran(run, "variant_a")[0], ran(run, "variant_b")[0]
    assert all_overlap([a, b]), "the variants ran one after another"
    judge = ran(run, "judge")[0]
    assert judge.started_at >= max(a.finished_at, b.finished_at)
    assert run.output["winner"] == judge.output["winner"] in ("A", "B", "tie")
    assert run.output["reason"] == judge.output["reason"] and "/experiments/" in run.output["next"]


def test_ab_testing_judge_sees_both_answers_and_names_the_winner(run_graph, fake_llm):
    def respond(body):
        prompt = prompt_of(body)
        if "Compare two answers" in prompt:
            return Reply(json.dumps({"winner": "B", "reason": "the steps are easier to follow"}))
        return Reply("answer A" if "three short sentences" in prompt else "answer B", delay_s=0.3)
    fake_llm.responder = respond
    run = run_template(run_graph, "ab-testing")
    assert run.output["winner"] == "B" and run.output["reason"] == "the steps are easier to follow"
    assert (run.output["a"], run.output["b"]) == ("answer A", "answer B")
    judged = ran(run, "judge")[0].input["prompt"]
    assert "Answer A:\nanswer A" in judged and "Answer B:\nanswer B" in judged
    assert all_overlap([ran(run, "variant_a")[0], ran(run, "variant_b")[0]])
