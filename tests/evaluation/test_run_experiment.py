"""An experiment end to end: the API starts it, the real worker runs every
trial as a real run against the fake model server, scores, and finishes."""
from __future__ import annotations

import time

import pytest

from editor.models import Run
from evaluation.models import Experiment, Trial
from tests.fake_openai import Reply

from .builders import CAPITALS, capitals, experiment_body, llm_workflow

pytestmark = pytest.mark.slow


def answer_correctly_only_when_asked(body) -> Reply:
    """The fake model: names the capital for variant B's prompt, waffles for A's."""
    prompt = body["messages"][-1]["content"]
    country = next((c for c in CAPITALS if c in prompt), None)
    if prompt.startswith("Answer correctly") and country:
        return Reply(text=f"The capital of {country} is {CAPITALS[country]}.")
    return Reply(text="It is a large city with many museums.")


def wait_for_experiment(pk: int, timeout: float = 60) -> Experiment:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        experiment = Experiment.objects.get(pk=pk)
        if experiment.is_done:
            return experiment
        time.sleep(0.05)
    raise AssertionError(f"experiment {pk} still {Experiment.objects.get(pk=pk).status} after {timeout} s")


def max_overlap(runs) -> int:
    """The most runs that were in flight (created, not yet finished) at one moment."""
    events = sorted([(r.created_at, 1) for r in runs] + [(r.finished_at, -1) for r in runs], key=lambda e: (e[0], e[1]))
    current = peak = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


def test_two_prompt_variants_over_three_cases_twice(worker, personas, client_for, fake_llm):
    fake_llm.responder = answer_correctly_only_when_asked
    fake_llm.latency_s = 0.05
    workflow = llm_workflow(personas["acme"], personas["alice"])
    dataset = capitals(personas["acme"])
    client = client_for(personas["bob"])
    created = client.post("/api/experiments/", experiment_body(dataset, workflow), format="json")
    assert created.status_code == 201, created.data

    experiment = wait_for_experiment(created.data["id"])
    assert experiment.status == "finished", experiment.error
    trials = list(experiment.trials.select_related("variant", "run"))
    assert len(trials) == 12 and all(t.status == Trial.Status.SCORED and t.run is not None for t in trials)
    assert all(t.run.trigger == "experiment" and t.run.status == "succeeded" for t in trials)
    assert {t.score for t in trials if t.variant.label == "B"} == {1.0}
    assert {t.score for t in trials if t.variant.label == "A"} == {0.0}
    assert all(t.latency_ms is not None and t.tokens > 0 for t in trials)
    runs = Run.objects.filter(pk__in=[t.run_id for t in trials])
    assert max_overlap(runs) <= 2  # max_parallel

    report = client.get(f"/api/experiments/{experiment.pk}/").data
    assert report["progress"] == {"done": 12, "running": 0, "total": 12}
    assert report["stats"]["win_rates"] == {"A": 0.0, "B": 1.0}
    assert report["stats"]["ties"] == 0 and report["stats"]["leader"] == "B"
    assert report["stats"]["confidence"] == "HIGH"
    comparison = report["stats"]["comparisons"][0]
    assert comparison["p_value"] == pytest.approx(0.25)  # 3 of 3 decided cases: 2 × (1/2)^3
    assert comparison["interval"] == [1.0, 1.0]
    assert [row["winner"] for row in report["cases"]] == ["B", "B", "B"]
    assert report["variants"][1]["summary"]["mean_tokens"] > 0


def test_cancel_stops_an_experiment_and_the_runs_it_started(worker, personas, client_for, fake_llm):
    fake_llm.latency_s = 2.0  # every model call is slow: runs are in flight when cancel lands
    workflow = llm_workflow(personas["acme"], personas["alice"])
    dataset = capitals(personas["acme"])
    client = client_for(personas["alice"])
    created = client.post("/api/experiments/", experiment_body(dataset, workflow, repeats=1), format="json")
    pk = created.data["id"]
    deadline = time.monotonic() + 20
    while not Trial.objects.filter(experiment_id=pk, status=Trial.Status.RUNNING).exists():
        assert time.monotonic() < deadline, "no trial started"
        time.sleep(0.05)
    response = client.post(f"/api/experiments/{pk}/cancel/")
    assert response.status_code == 202 and response.data["status"] == "cancelled"

    run_ids = list(Trial.objects.filter(experiment_id=pk, run__isnull=False).values_list("run_id", flat=True))
    deadline = time.monotonic() + 10
    while Run.objects.filter(pk__in=run_ids).exclude(status__in=list(Run.FINISHED)).exists():
        assert time.monotonic() < deadline, "a run of the cancelled experiment kept running"
        time.sleep(0.05)
    assert set(Run.objects.filter(pk__in=run_ids).values_list("status", flat=True)) == {"cancelled"}
    time.sleep(0.5)  # the coordinator notices within a poll and starts nothing more
    assert Trial.objects.filter(experiment_id=pk, run__isnull=False).count() == len(run_ids) <= 2
    assert Experiment.objects.get(pk=pk).status == "cancelled"


def test_a_dead_coordinators_experiment_is_resumed_without_repeating_done_trials(worker, personas, fake_llm):
    """A worker died mid-experiment: its lease went stale; a new task resumes
    from the recorded trials and runs only what is missing."""
    from datetime import timedelta

    from django.utils import timezone

    from evaluation.models import Variant
    from evaluation.tasks import run_experiment

    fake_llm.responder = answer_correctly_only_when_asked
    workflow = llm_workflow(personas["acme"], personas["alice"])
    dataset = capitals(personas["acme"], count=2)
    experiment = Experiment.objects.create(
        team=personas["acme"], name="Interrupted", dataset=dataset, scorer={"type": "contains"}, created_by=personas["alice"],
        status="running", coordinator="dead-worker", heartbeat_at=timezone.now() - timedelta(minutes=5),
    )
    for position, (label, prompt) in enumerate([("A", "Answer briefly: {{ input.topic }}"), ("B", "Answer correctly: {{ input.topic }}")]):
        graph = workflow.latest_version.graph
        graph = {**graph, "nodes": [({**n, "config": {**n["config"], "prompt": prompt}} if n["id"] == "write" else n) for n in graph["nodes"]]}
        Variant.objects.create(experiment=experiment, label=label, position=position, workflow=workflow,
                               version=workflow.latest_version, graph=graph, prompt_overrides={"write": prompt})
    first_case = dataset.cases.first()
    done = Trial.objects.create(experiment=experiment, variant=experiment.variants.get(label="B"), case=first_case,
                                status=Trial.Status.SCORED, score=1.0, passed=True)

    run_experiment.delay(experiment.pk)
    experiment = wait_for_experiment(experiment.pk)
    assert experiment.status == "finished"
    assert experiment.trials.count() == 4
    done.refresh_from_db()
    assert done.run_id is None  # not run again
    assert Run.objects.filter(trigger="experiment").count() == 3
    assert experiment.trials.get(variant__label="B", case=dataset.cases.last()).score == 1.0


def test_a_live_coordinator_is_not_doubled(db, personas):
    from django.utils import timezone

    from evaluation.runner import ExperimentRunner

    dataset = capitals(personas["acme"], count=1)
    experiment = Experiment.objects.create(team=personas["acme"], name="Busy", dataset=dataset, scorer={"type": "contains"},
                                           status="running", coordinator="alive", heartbeat_at=timezone.now())
    assert ExperimentRunner(experiment.pk).execute() == "busy"
    assert not experiment.trials.exists()
