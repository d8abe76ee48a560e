"""Builders for evaluation tests: a dataset with cases, a saved llm workflow,
an experiment body, and a finished experiment written straight to the
database (for the page and report tests that need no worker).

    dataset = capitals(personas["acme"])                  # 3 cases, expected = the capital
    body = experiment_body(dataset, workflow)             # A (the version) vs B (a prompt variant)
"""
from __future__ import annotations

from typing import Any

from evaluation.models import Dataset, Experiment, TestCase, Trial, Variant
from tests.api.builders import llm_graph, saved_workflow

CAPITALS = {"France": "Paris", "Japan": "Tokyo", "Kenya": "Nairobi"}
PROMPT_A = "Answer briefly: the capital of {{ input.topic }}"
PROMPT_B = "Answer correctly: the capital of {{ input.topic }}"


def capitals(team, user=None, count: int = 3) -> Dataset:
    dataset = Dataset.objects.create(team=team, name="Capitals", created_by=user)
    for country, capital in list(CAPITALS.items())[:count]:
        TestCase.objects.create(dataset=dataset, input={"topic": country}, expected=capital, rubric=f"Names {capital}.")
    return dataset


def llm_workflow(team, user):
    return saved_workflow(team, user, llm_graph(), name="Capital finder")


def experiment_body(dataset_, workflow, **changes: Any) -> dict[str, Any]:
    body = {
        "name": "Brief vs correct",
        "dataset": dataset_.pk,
        "variants": [
            {"label": "A", "workflow": workflow.pk, "prompt_overrides": {"write": PROMPT_A}},
            {"label": "B", "workflow": workflow.pk, "prompt_overrides": {"write": PROMPT_B}},
        ],
        "scorer": {"type": "contains"},
        "repeats": 2,
        "max_parallel": 2,
    }
    body.update(changes)
    return body


def finished_experiment(team, user, scores: dict[str, list[float]], status: str = "finished") -> Experiment:
    """An experiment whose trials are already scored: `scores[label][i]` is case i's score (one repeat)."""
    workflow = llm_workflow(team, user)
    dataset = capitals(team, user, count=len(next(iter(scores.values()))))
    experiment = Experiment.objects.create(team=team, name="Prompt shoot-out", dataset=dataset, scorer={"type": "contains"},
                                           status=status, created_by=user)
    cases = list(dataset.cases.all())
    for position, (label, values) in enumerate(scores.items()):
        variant = Variant.objects.create(experiment=experiment, label=label, position=position, workflow=workflow,
                                         version=workflow.latest_version, graph=workflow.latest_version.graph)
        for case, score in zip(cases, values):
            Trial.objects.create(experiment=experiment, variant=variant, case=case, status=Trial.Status.SCORED,
                                 score=score, passed=score >= 1, latency_ms=100 + 100 * position, tokens=10 * (position + 1),
                                 cost_usd=0.001 * (position + 1), output="x")
    return experiment
