"""/api/experiments/: creating (every bad input), reading, cancelling, rights.
The worker is not running here: a created experiment stays queued."""
from __future__ import annotations

import pytest

from editor import services as editor_services
from editor.models import Run, Team
from evaluation.models import Experiment, Trial
from tests.api.builders import minimal_graph, saved_workflow

from .builders import PROMPT_B, capitals, experiment_body, finished_experiment, llm_workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(personas):
    workflow = llm_workflow(personas["acme"], personas["alice"])
    return {"dataset": capitals(personas["acme"]), "workflow": workflow}


def test_an_editor_creates_an_experiment_of_two_prompt_variants(personas, client_for, acme):
    response = client_for(personas["bob"]).post("/api/experiments/", experiment_body(acme["dataset"], acme["workflow"]), format="json")
    assert response.status_code == 201, response.data
    assert response.data["status"] == "queued"
    assert response.data["progress"] == {"done": 0, "running": 0, "total": 12}  # 2 variants × 3 cases × 2 repeats
    experiment = Experiment.objects.get(pk=response.data["id"])
    a, b = experiment.variants.all()
    assert (a.label, b.label) == ("A", "B") and b.version == acme["workflow"].latest_version
    # B's graph is the version's graph with the `write` node's prompt replaced, and nothing else.
    write = next(n for n in b.graph["nodes"] if n["id"] == "write")
    assert write["config"]["prompt"] == PROMPT_B
    assert acme["workflow"].latest_version.graph["nodes"][1]["config"]["prompt"].startswith("Write one line")


def test_version_picks_an_older_version(personas, client_for, acme):
    workflow = acme["workflow"]
    graph = workflow.latest_version.graph | {"description": "v2"}
    editor_services.save_workflow(workflow, user=personas["alice"], graph=graph, name=None, description=None)
    body = experiment_body(acme["dataset"], workflow, variants=[
        {"label": "v1", "workflow": workflow.pk, "version": 1}, {"label": "v2", "workflow": workflow.pk}])
    response = client_for(personas["alice"]).post("/api/experiments/", body, format="json")
    assert response.status_code == 201
    assert [(v["label"], v["version"]) for v in response.data["variants"]] == [("v1", 1), ("v2", 2)]


def _variants(workflow, *extra):
    return [{"label": "A", "workflow": workflow.pk}, *extra]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d, w: {"name": ""}, "name: required"),
        (lambda d, w: {"dataset": "capitals"}, "dataset: must be a dataset id"),
        (lambda d, w: {"dataset": 999999}, "dataset: no dataset 999999 in your teams"),
        (lambda d, w: {"variants": _variants(w)}, "variants: at least two are needed"),
        (lambda d, w: {"variants": "A,B"}, "variants: at least two are needed"),
        (lambda d, w: {"variants": _variants(w, {"label": "A", "workflow": w.pk})}, "variants[1].label: 'A' is used twice"),
        (lambda d, w: {"variants": _variants(w, {"workflow": w.pk})}, "variants[1].label: required"),
        (lambda d, w: {"variants": _variants(w, {"label": "B", "workflow": 999999})}, "variants[1].workflow: no workflow 999999 in your teams"),
        (lambda d, w: {"variants": _variants(w, {"label": "B"})}, "variants[1].workflow: must be a workflow id"),
        (lambda d, w: {"variants": _variants(w, {"label": "B", "workflow": w.pk, "version": 9})}, "variants[1].version: workflow"),
        (lambda d, w: {"variants": _variants(w, {"label": "B", "workflow": w.pk, "model": "x"})}, "variants[1].model: unknown key"),
        (lambda d, w: {"variants": _variants(w, {"label": "B", "workflow": w.pk, "prompt_overrides": {"ghost": "hi"}})},
         "variants[1].prompt_overrides.ghost: the workflow has no node 'ghost'"),
        (lambda d, w: {"variants": _variants(w, {"label": "B", "workflow": w.pk, "prompt_overrides": {"out": "hi"}})},
         "variants[1].prompt_overrides.out: node 'out' is of type output, which has no prompt"),
        (lambda d, w: {"variants": _variants(w, {"label": "B", "workflow": w.pk, "prompt_overrides": {"write": ""}})},
         "variants[1].prompt_overrides.write: must be a non-empty prompt string"),
        (lambda d, w: {"variants": _variants(w, {"label": "B", "workflow": w.pk, "prompt_overrides": {"write": "{{ input.topic "}})},
         "variants[1]: the workflow is invalid"),
        (lambda d, w: {"scorer": {"type": "vibes"}}, "scorer.type: 'vibes' is not a scorer"),
        (lambda d, w: {"scorer": None}, "scorer: must be an object"),
        (lambda d, w: {"scorer": {"type": "regex", "pattern": "(("}}, "scorer.pattern: not a valid regular expression"),
        (lambda d, w: {"repeats": 0}, "repeats: must be a whole number from 1 to 20"),
        (lambda d, w: {"repeats": "2"}, "repeats: must be a whole number"),
        (lambda d, w: {"max_parallel": 100}, "max_parallel: must be a whole number from 1 to 50"),
        (lambda d, w: {"budget": 1}, "budget: unknown key"),
    ],
)
def test_bad_experiment_bodies_name_the_field(personas, client_for, acme, change, message):
    body = experiment_body(acme["dataset"], acme["workflow"], **change(acme["dataset"], acme["workflow"]))
    response = client_for(personas["alice"]).post("/api/experiments/", body, format="json")
    assert response.status_code == 400, response.data
    assert message in response.data["error"]
    assert not Experiment.objects.exists()


def test_a_scorer_that_compares_with_expected_needs_it_on_every_case(personas, client_for, acme):
    acme["dataset"].cases.create(input={"topic": "Atlantis"})
    response = client_for(personas["alice"]).post("/api/experiments/", experiment_body(acme["dataset"], acme["workflow"]), format="json")
    assert response.status_code == 400 and "contains compares with each case's expected value" in response.data["error"]


def test_an_empty_dataset_is_refused(personas, client_for, acme):
    acme["dataset"].cases.all().delete()
    response = client_for(personas["alice"]).post("/api/experiments/", experiment_body(acme["dataset"], acme["workflow"]), format="json")
    assert response.status_code == 400 and "has no cases" in response.data["error"]


def test_a_case_that_does_not_fit_the_workflow_inputs_is_refused_before_any_run(personas, client_for, acme):
    acme["dataset"].cases.create(input={"country": "Peru"}, expected="Lima")
    response = client_for(personas["alice"]).post("/api/experiments/", experiment_body(acme["dataset"], acme["workflow"]), format="json")
    assert response.status_code == 400
    assert "variants[0].workflow: case" in response.data["error"] and "input.topic: required input is missing" in response.data["error"]
    assert not Run.objects.exists()


def test_every_workflow_must_be_in_the_datasets_team(personas, client_for, acme):
    # alice's personal workflow: she can see it, but it is not in Acme.
    own = saved_workflow(personas["alice"].personal_team, personas["alice"], minimal_graph(), name="Personal")
    body = experiment_body(acme["dataset"], acme["workflow"], variants=_variants(acme["workflow"], {"label": "B", "workflow": own.pk}))
    response = client_for(personas["alice"]).post("/api/experiments/", body, format="json")
    assert response.status_code == 400
    assert response.data["error"].startswith(f"variants[1].workflow: workflow {own.pk} (Personal) belongs to another team")


def test_another_teams_dataset_or_workflow_is_not_found(personas, client_for, acme):
    mallory = client_for(personas["mallory"])
    own = saved_workflow(personas["mallory"].personal_team, personas["mallory"], minimal_graph())
    response = mallory.post("/api/experiments/", experiment_body(acme["dataset"], own), format="json")
    assert response.status_code == 400 and f"dataset: no dataset {acme['dataset'].pk} in your teams" in response.data["error"]
    own_dataset = capitals(personas["mallory"].personal_team)
    response = mallory.post("/api/experiments/", experiment_body(own_dataset, acme["workflow"]), format="json")
    assert response.status_code == 400 and f"variants[0].workflow: no workflow {acme['workflow'].pk} in your teams" in response.data["error"]


def test_a_viewer_cannot_start_an_experiment(personas, client_for, acme):
    response = client_for(personas["carol"]).post("/api/experiments/", experiment_body(acme["dataset"], acme["workflow"]), format="json")
    assert response.status_code == 403 and "viewer" in response.data["error"]
    assert not Experiment.objects.exists()


def test_the_report_has_progress_summary_stats_and_cases(personas, client_for):
    experiment = finished_experiment(personas["acme"], personas["alice"], {"A": [0.0, 0.0, 1.0], "B": [1.0, 1.0, 1.0]})
    data = client_for(personas["carol"]).get(f"/api/experiments/{experiment.pk}/").data
    assert data["status"] == "finished" and data["progress"] == {"done": 6, "running": 0, "total": 6}
    assert data["stats"]["win_rates"] == {"A": 0.0, "B": pytest.approx(2 / 3)}
    assert data["stats"]["ties"] == 1 and data["stats"]["leader"] == "B" and data["stats"]["confidence"] == "HIGH"
    assert data["stats"]["comparisons"][0]["p_value"] == pytest.approx(0.5)
    b = data["variants"][1]["summary"]
    assert b["mean_latency_ms"] == 200 and b["mean_tokens"] == 20 and b["mean_cost_usd"] == pytest.approx(0.002)
    assert [row["winner"] for row in data["cases"]] == ["B", "B", None]
    assert [e["id"] for e in client_for(personas["carol"]).get("/api/experiments/").data] == [experiment.pk]


def test_an_outsider_cannot_see_or_cancel_an_experiment(personas, client_for):
    experiment = finished_experiment(personas["acme"], personas["alice"], {"A": [1.0], "B": [0.0]}, status="running")
    mallory = client_for(personas["mallory"])
    assert mallory.get("/api/experiments/").data == []
    assert mallory.get(f"/api/experiments/{experiment.pk}/").status_code == 404
    assert mallory.post(f"/api/experiments/{experiment.pk}/cancel/").status_code == 404
    assert mallory.delete(f"/api/experiments/{experiment.pk}/").status_code == 404
    assert client_for(personas["carol"]).post(f"/api/experiments/{experiment.pk}/cancel/").status_code == 403
    assert Experiment.objects.get(pk=experiment.pk).status == "running"


def test_cancel_stops_the_experiment_and_its_runs_in_flight(personas, client_for, acme):
    experiment = finished_experiment(personas["acme"], personas["alice"], {"A": [1.0], "B": [0.0]}, status="running")
    variant = experiment.variants.first()
    run = editor_services.start_run(workflow=variant.workflow, version=variant.version, graph=variant.graph, team=personas["acme"],
                                    user=personas["alice"], run_input={"topic": "Peru"}, trigger="experiment")
    case = experiment.dataset.cases.create(input={"topic": "Peru"}, expected="Lima")
    Trial.objects.create(experiment=experiment, variant=variant, case=case, status=Trial.Status.RUNNING, run=run)
    pending = Trial.objects.create(experiment=experiment, variant=experiment.variants.last(), case=case)
    response = client_for(personas["bob"]).post(f"/api/experiments/{experiment.pk}/cancel/")
    assert response.status_code == 202 and response.data["status"] == "cancelled"
    run.refresh_from_db()
    assert run.status == "cancelled"  # queued: stopped at once
    pending.refresh_from_db()
    assert pending.status == "cancelled"
    again = client_for(personas["bob"]).post(f"/api/experiments/{experiment.pk}/cancel/")
    assert again.status_code == 409 and "already cancelled" in again.data["error"]


def test_a_finished_experiment_can_be_deleted_but_not_a_running_one(personas, client_for):
    running = finished_experiment(personas["acme"], personas["alice"], {"A": [1.0], "B": [0.0]}, status="running")
    alice = client_for(personas["alice"])
    assert alice.delete(f"/api/experiments/{running.pk}/").status_code == 409
    Experiment.objects.filter(pk=running.pk).update(status="finished")
    assert alice.delete(f"/api/experiments/{running.pk}/").status_code == 204
    assert not Experiment.objects.exists() and Team.objects.filter(pk=personas["acme"].pk).exists()


def test_progress_links_each_case_to_its_runs_without_the_statistics(personas, client_for):
    from editor.models import Run
    from evaluation.models import Trial

    experiment = finished_experiment(personas["acme"], personas["alice"], {"A": [1.0, 0.0], "B": [0.0, 1.0]}, status="running")
    first = Trial.objects.filter(experiment=experiment).order_by("case_id", "variant__position").first()
    variant = first.variant
    run = Run.objects.create(workflow=variant.workflow, version=variant.version, graph=variant.graph, team=experiment.team, input={})
    Trial.objects.filter(pk=first.pk).update(run=run, status=Trial.Status.RUNNING)
    data = client_for(personas["carol"]).get(f"/api/experiments/{experiment.pk}/progress/").data
    assert data["status"] == "running" and data["done"] is False and "stats" not in data
    assert data["progress"] == {"done": 3, "running": 1, "total": 4}
    case = data["cases"][0]
    assert case["case"] == first.case_id
    assert case["trials"][0] == {"variant": "A", "repeat": 0, "status": "running", "run": run.pk, "run_url": f"/runs/{run.pk}/",
                                 "score": 1.0, "passed": True, "error": ""}
    assert [t["variant"] for t in case["trials"]] == ["A", "B"]
    # The full report carries the same links per case; an outsider gets neither.
    report = client_for(personas["carol"]).get(f"/api/experiments/{experiment.pk}/").data
    assert report["cases"][0]["trials"][0]["run_url"] == f"/runs/{run.pk}/"
    assert client_for(personas["mallory"]).get(f"/api/experiments/{experiment.pk}/progress/").status_code == 404
