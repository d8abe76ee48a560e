"""Golden runs: every shipped template runs through the real engine (a real
Celery worker on Redis) on the offline demo model, or on the fake model server
with scripted replies where the shape needs control, and the recorded steps
show the pattern's shape: what ran, how often, in which order, what overlapped."""
from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

from editor.models import Team
from editor.workflow_templates import all_templates, resolve_references, template
from tests.fake_openai import Reply

SLUGS = [t["slug"] for t in all_templates()]


@pytest.fixture
def demo(settings):
    """The offline demo model, at full speed."""
    settings.OPENAI_API_KEY = ""
    settings.DEMO_TOKEN_DELAY_MS = 0


@pytest.fixture
def paced_demo(settings):
    """The demo model slowed to a few ms a word, so concurrent steps visibly overlap."""
    settings.OPENAI_API_KEY = ""
    settings.DEMO_TOKEN_DELAY_MS = 8


def run_template(run_graph, slug: str, graph: dict | None = None, **overrides):
    t = template(slug)
    return run_graph(resolved(graph or t["graph"]), {**t["example_input"], **overrides}, timeout=60)


def resolved(graph: dict) -> dict:
    """The graph with its calls to other templates made workflows of team Acme, where `run_graph` runs."""
    acme = Team.objects.get(name="Acme")
    return resolve_references(graph, team=acme, user=acme.memberships.get(role="owner").user)


def steps(run, node_id: str | None = None):
    qs = run.steps.order_by("started_at", "seq", "id")
    return [s for s in qs if node_id is None or s.node_id == node_id]


def ran(run, node_id: str) -> list:
    return [s for s in steps(run, node_id) if s.status == "succeeded"]


def overlap(a, b) -> bool:
    return a.started_at < b.finished_at and b.started_at < a.finished_at


def all_overlap(items) -> bool:
    """Some instant lies inside every interval: they all ran at once."""
    return max(s.started_at for s in items) < min(s.finished_at for s in items)


def prompt_of(body: dict) -> str:
    return "\n".join(m.get("content") or "" for m in body["messages"])


# ----------------------------------------------------------------- every template


@pytest.mark.parametrize("slug", SLUGS)
def test_every_template_runs_to_completion_on_the_demo_model(run_graph, demo, slug):
    run = run_template(run_graph, slug)
    assert run.status == "succeeded", (slug, run.error)
    assert run.output is not None
    assert not [s for s in steps(run) if s.status == "failed"]
    assert all(s.demo for s in steps(run) if s.node_id in _llm_nodes(slug) and s.status == "succeeded")


def _llm_nodes(slug: str) -> set[str]:
    return {n["id"] for n in template(slug)["graph"]["nodes"] if n["type"] == "llm"}


# ----------------------------------------------------------------- per pattern


def test_orchestrator_workers_runs_one_worker_per_subtask_concurrently_then_one_synthesis(run_graph, paced_demo):
    run = run_template(run_graph, "orchestrator-workers")
    assert run.status == "succeeded", run.error
    planned = ran(run, "plan")[0].output["subtasks"]
    workers = ran(run, "worker")
    assert len(workers) == len(planned) >= 2
    assert all_overlap(workers), "the workers ran one after another"
    synthesis = ran(run, "synthesize")
    assert len(synthesis) == 1 and synthesis[0].started_at >= max(w.finished_at for w in workers)


def test_evaluator_optimizer_stops_at_approval(run_graph, demo):
    run = run_template(run_graph, "evaluator-optimizer")
    assert run.status == "succeeded", run.error
    # The demo evaluator sends the first draft back and approves the revision.
    assert [s.output for s in ran(run, "evaluate")][-1] == "APPROVED"
    assert len(ran(run, "generate")) == 2 and run.output["approved"] is True


def test_evaluator_optimizer_stops_at_its_cap_when_never_approved(run_graph, fake_llm):
    fake_llm.responder = lambda body: Reply("Issues: still wrong.") if "APPROVED" in prompt_of(body) else None
    run = run_template(run_graph, "evaluator-optimizer")
    assert run.status == "succeeded", run.error
    assert len(ran(run, "generate")) == 3 and len(ran(run, "evaluate")) == 3
    assert run.output["approved"] is False and run.output["iterations"] == 3


def test_prompt_chaining_runs_its_stages_in_order(run_graph, demo):
    run = run_template(run_graph, "prompt-chaining")
    order = [s.node_id for s in steps(run) if s.status == "succeeded"]
    assert order.index("outline") < order.index("gate") < order.index("draft") < order.index("polish")
    assert "article" in run.output


def test_prompt_chaining_gate_stops_a_bad_outline(run_graph, fake_llm):
    fake_llm.script.append(Reply("too short"))
    run = run_template(run_graph, "prompt-chaining")
    assert run.output == {"error": "the outline was too short to continue", "outline": "too short"}
    assert not ran(run, "draft") and not ran(run, "polish")


def test_prompt_generation_runs_the_generated_prompt(run_graph, fake_llm):
    fake_llm.script.extend([Reply("You are a triage assistant. Name the category, the urgency 1-3, then draft a reply."), Reply("billing, 3, Sorry!")])
    run = run_template(run_graph, "prompt-generation")
    assert run.output["result"] == "billing, 3, Sorry!"
    executed = prompt_of(fake_llm.requests[1])
    assert executed.startswith("You are a triage assistant.") and "charged twice" in executed


def test_prompt_optimization_revises_the_prompt_until_the_scores_reach_the_target(run_graph, fake_llm):
    low = json.dumps({"accuracy": 2, "completeness": 3, "format": 4, "improvements": ["name the audience"]})
    high = json.dumps({"accuracy": 5, "completeness": 4, "format": 5, "improvements": []})
    fake_llm.script.extend([Reply("out 1"), Reply(low), Reply("Summarize for end users: ..."), Reply("out 2"), Reply(high)])
    run = run_template(run_graph, "prompt-optimization")
    assert run.output["reached_target"] is True and run.output["rounds"] == 2
    assert run.output["prompt"] == "Summarize for end users: ..."
    assert prompt_of(fake_llm.requests[3]).startswith("Summarize for end users: ...")  # round 2 ran the revised prompt


def test_prompt_optimization_gives_a_best_effort_at_its_cap(run_graph, fake_llm):
    low = json.dumps({"accuracy": 1, "completeness": 1, "format": 1, "improvements": ["everything"]})
    fake_llm.responder = lambda body: Reply(low) if "Score this output" in prompt_of(body) else None
    run = run_template(run_graph, "prompt-optimization")
    assert len(ran(run, "execute")) == 3 and len(ran(run, "score")) == 3
    assert run.output["reached_target"] is False and run.output["rounds"] == 3


def test_planner_executor_executes_the_planned_steps_in_order(run_graph, demo):
    run = run_template(run_graph, "planner-executor")
    assert run.status == "succeeded", run.error
    planned = [s["title"] for s in ran(run, "plan")[0].output["steps"]]
    executed = ran(run, "execute")
    assert len(executed) == len(planned) >= 2
    assert [s.output for s in ran(run, "current")] == ran(run, "plan")[0].output["steps"]
    for earlier, later in zip(executed, executed[1:]):
        assert earlier.finished_at <= later.started_at  # one at a time
    assert [r["step"] for r in ran(run, "record")[-1].output] == planned
    assert "deliverable" in run.output


def test_specialist_collaboration_consults_all_specialists_in_parallel_then_synthesizes(run_graph, paced_demo):
    run = run_template(run_graph, "specialist-collaboration")
    assert run.status == "succeeded", run.error
    specialists = [ran(run, n)[0] for n in ("technical", "business", "domain")]
    assert all_overlap(specialists)
    assert ran(run, "synthesize")[0].started_at >= max(s.finished_at for s in specialists)
    assert ran(run, "coordinate")[0].finished_at <= min(s.started_at for s in specialists)


def test_generate_critique_revise_validates_the_revision(run_graph, demo):
    run = run_template(run_graph, "generate-critique-revise")
    assert run.status == "succeeded", run.error
    order = [s.node_id for s in steps(run) if s.status == "succeeded" and s.node_id in {"generate", "critique", "revise", "validate"}]
    assert order == ["generate", "critique", "revise", "validate"]
    assert run.output["validated"] is True and run.output["cycles"] == 1


def test_generate_critique_revise_gives_up_after_three_cycles(run_graph, fake_llm):
    fake_llm.responder = lambda body: Reply("Requirement 4 fails: too long.") if "reply with exactly APPROVED" in prompt_of(body) else None
    run = run_template(run_graph, "generate-critique-revise")
    assert [len(ran(run, n)) for n in ("generate", "critique", "revise", "validate")] == [1, 3, 3, 3]
    assert run.output["validated"] is False and run.output["open_issues"] == "Requirement 4 fails: too long."
    # From the second cycle on, the critic sees why the validator refused.
    assert "too long" in ran(run, "critique")[1].input["prompt"]


def test_ensemble_evaluation_solves_in_parallel_and_picks_the_recommended_answer(run_graph, paced_demo):
    run = run_template(run_graph, "ensemble-evaluation")
    assert run.status == "succeeded", run.error
    solvers = [ran(run, f"solver_{i}")[0] for i in (1, 2, 3)]
    assert all_overlap(solvers)
    assert len({s.output for s in solvers}) == 3  # independent answers
    evaluation = ran(run, "evaluate")[0].output
    if evaluation["confidence"] == "LOW":
        assert run.output["needs_review"] is True
    else:
        assert run.output["answer"] == solvers[evaluation["recommended"] - 1].output


def test_ensemble_evaluation_flags_disagreement_for_review(run_graph, fake_llm):
    verdict = {"agreements": [], "differences": ["12 vs 10 workers"], "confidence": "LOW", "recommended": 1, "justification": "they differ"}
    fake_llm.responder = lambda body: Reply(json.dumps(verdict)) if "Compare three independent solutions" in prompt_of(body) else None
    run = run_template(run_graph, "ensemble-evaluation")
    assert run.output["needs_review"] is True and run.output["differences"] == ["12 vs 10 workers"]
    assert not ran(run, "answer")


# ----------------------------------------------------------------- function calls

# call_1 and call_2 are independent; call_3 needs both; call_4 needs call_3.
PLAN = {"calls": [
    {"function": "get_weather", "arguments": {"city": "Lisbon"}, "depends_on": []},
    {"function": "find_restaurants", "arguments": {"city": "Lisbon"}, "depends_on": []},
    {"function": "pick", "arguments": {}, "depends_on": ["call_1", "call_2"]},
    {"function": "book_table", "arguments": {}, "depends_on": ["call_3", "call_5"]},  # call_5 does not exist: dropped
]}


def _function_call_responder(body):
    prompt = prompt_of(body)
    if "Plan the function calls" in prompt:
        return Reply(json.dumps(PLAN))
    match = re.search(r"^(call_\d): ", prompt, re.M)
    if match:
        return Reply(f'{{"{match.group(1)}": "ok"}}', delay_s=0.3)
    return None


def test_function_calls_run_in_waves_that_respect_depends_on(run_graph, fake_llm):
    fake_llm.responder = _function_call_responder
    run = run_template(run_graph, "function-calls")
    assert run.status == "succeeded", run.error
    calls = {s.output["id"]: s for s in ran(run, "tag")}
    by_id = {}
    for step in ran(run, "call"):
        call_id = re.match(r"(call_\d)", step.input["prompt"]).group(1)
        by_id[call_id] = step
    assert sorted(by_id) == sorted(calls) == ["call_1", "call_2", "call_3", "call_4"]
    assert overlap(by_id["call_1"], by_id["call_2"]), "independent calls did not run in parallel"
    assert by_id["call_3"].started_at >= max(by_id["call_1"].finished_at, by_id["call_2"].finished_at)
    assert by_id["call_4"].started_at >= by_id["call_3"].finished_at
    # call_3 got the results it depends on.
    assert '"call_1": "ok"' in by_id["call_3"].input["prompt"] and '"call_2": "ok"' in by_id["call_3"].input["prompt"]
    assert len(ran(run, "waves")) == 4  # three waves, then done
    assert [len(s.output) for s in ran(run, "wave_results")] == [2, 1, 1]
    assert len(ran(run, "respond")) == 1 and "answer" in run.output


def test_function_calls_on_the_demo_model_respect_the_planned_dependencies(run_graph, paced_demo):
    run = run_template(run_graph, "function-calls")
    assert run.status == "succeeded", run.error
    planned = json.loads(ran(run, "calls")[0].output)
    waves = [[item["id"] for item in json.loads(s.output)] for s in ran(run, "wave")]
    position = {call_id: i for i, wave in enumerate(waves) for call_id in wave}
    assert sorted(position) == sorted(c["id"] for c in planned)
    for call in planned:
        assert all(position[dep] < position[call["id"]] for dep in call["depends_on"])


# ----------------------------------------------------------------- validation chain


def test_validation_chain_repairs_a_rejected_answer_once_then_passes(run_graph, demo):
    run = run_template(run_graph, "validation-chain")
    assert run.status == "succeeded", run.error
    assert len(ran(run, "repair")) == 1 and run.output["valid"] is True and run.output["repairs"] == 1


def test_validation_chain_skips_the_content_check_when_the_format_fails(run_graph, fake_llm):
    long_answer = "word " * 200
    fake_llm.script.extend([Reply(long_answer), Reply("Short and polite answer.")])
    fake_llm.responder = lambda body: Reply("APPROVED") if "reply with exactly APPROVED" in prompt_of(body) else None
    run = run_template(run_graph, "validation-chain")
    assert run.output["valid"] is True and run.output["answer"] == "Short and polite answer."
    assert len(ran(run, "content_check")) == 1  # only the repaired answer reached the reviewer
    assert ran(run, "problems")[0].output.startswith("Format:")


def test_validation_chain_repairs_at_most_three_times_then_fails_clearly(run_graph, fake_llm):
    fake_llm.responder = lambda body: Reply("Contradicts the facts: says 5 days.") if "reply with exactly APPROVED" in prompt_of(body) else None
    run = run_template(run_graph, "validation-chain")
    assert run.status == "succeeded", run.error
    assert len(ran(run, "repair")) == 3
    assert len(ran(run, "content_check")) == 4  # the first answer and each repair
    assert run.output["valid"] is False
    assert "after 3 repairs" in run.output["error"] and "says 5 days" in run.output["problems"]
    assert not ran(run, "valid")


# ----------------------------------------------------------------- routing


@pytest.mark.parametrize("case", ["billing", "technical", "general"])
def test_routing_takes_exactly_one_route(run_graph, fake_llm, case):
    fake_llm.script.append(Reply(json.dumps({"case": case, "reason": "it is about that"})))
    run = run_template(run_graph, "routing")
    handlers = {"billing", "technical", "general"}
    assert {n for n in handlers if ran(run, n)} == {case}
    skipped = {s.node_id for s in steps(run) if s.status == "skipped"}
    assert handlers - {case} <= skipped
    assert run.output["route"] == case and run.output["classification"]["case"] == case
    # The classifier saw the cases it chooses from, described.
    assert "billing: Invoices" in prompt_of(fake_llm.requests[0])


def test_routing_sends_an_answer_that_is_no_case_to_the_general_handler(run_graph, fake_llm):
    not_a_case = Reply(json.dumps({"case": "sales", "reason": "sounds like sales"}))
    fake_llm.script.extend([not_a_case, not_a_case])  # the first answer and its one repair
    run = run_template(run_graph, "routing")
    assert run.output["route"] == "general" and not ran(run, "billing") and not ran(run, "technical")
    assert run.output["classification"]["case"] == "general"


def test_routing_on_the_demo_model_takes_one_route(run_graph, demo):
    run = run_template(run_graph, "routing")
    assert sum(bool(ran(run, n)) for n in ("billing", "technical", "general")) == 1


# ----------------------------------------------------------------- parallelization


def test_parallelization_sections_and_votes_overlap_and_the_majority_decides(run_graph, paced_demo):
    run = run_template(run_graph, "parallelization", voters=5)
    assert run.status == "succeeded", run.error
    sections = [ran(run, n)[0] for n in ("security", "performance", "maintainability")]
    votes = ran(run, "vote")
    assert len(votes) == 5
    assert all_overlap(sections) and all_overlap(votes)
    assert all_overlap(sections + votes[:1])  # the two halves ran side by side
    go = sum(v.output["vote"] == "go" for v in votes)
    assert run.output["votes"] == {"go": go, "no_go": 5 - go, "decision": "go" if go > 2 else "no_go"}
    assert ran(run, "report")[0].started_at >= max(s.finished_at for s in sections + votes)
