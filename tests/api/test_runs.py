"""Runs through the API: POST /api/workflows/{id}/runs/ starts one, GET
/api/runs/{id}/ (and /steps/) shows it, POST /api/runs/{id}/cancel/ stops it,
GET /api/workflows/{id}/runs/ is the history.

A run is started inside the request's transaction and handed to the worker on
commit, so the tests on `db` see a run that stays queued; the ones that watch
a run finish use the real Celery worker (`worker`, transactional)."""
from __future__ import annotations

import time

import pytest
from django.utils import timezone

from editor.models import Run, Step
from tests.conftest import wait_for_run
from tests.fake_openai import Reply

from .builders import llm_graph, minimal_graph, saved_workflow


@pytest.fixture
def acme_workflow(personas):
    return saved_workflow(personas["acme"], personas["alice"], name="Digest")


@pytest.fixture
def llm_workflow(personas):
    return saved_workflow(personas["acme"], personas["alice"], graph=llm_graph(), name="Writer")


def start(client, workflow, body=None):
    return client.post(f"/api/workflows/{workflow.pk}/runs/", body if body is not None else {"input": {"topic": "owls"}}, format="json")


def finished_run(workflow, status=Run.Status.SUCCEEDED) -> Run:
    """A run as the engine leaves it, without running the engine."""
    version = workflow.latest_version
    now = timezone.now()
    return Run.objects.create(
        workflow=workflow, version=version, graph=version.graph, team=workflow.team, input={"topic": "owls"},
        status=status, output="owls", started_at=now, finished_at=now,
    )


def wait_for_step(run_id: int, node_id: str, status: str, timeout: float = 10) -> Step:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        step = Step.objects.filter(run_id=run_id, node_id=node_id, status=status).first()
        if step is not None:
            return step
        time.sleep(0.02)
    raise AssertionError(f"step {node_id} of run {run_id} was not {status} within {timeout} s")


# ----------------------------------------------------------------- start


def test_start_returns_the_queued_run(personas, client_for, acme_workflow):
    r = start(client_for(personas["bob"]), acme_workflow)

    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "queued" and body["version"] == 1
    run = Run.objects.get(pk=body["id"])
    assert run.input == {"topic": "owls"} and run.triggered_by == personas["bob"] and run.trigger == "api"


def test_start_an_older_version(personas, client_for, acme_workflow):
    client = client_for(personas["alice"])
    graph = minimal_graph()
    graph["nodes"][1]["config"]["value"] = "v2 {{ input.topic }}"
    assert client.put(f"/api/workflows/{acme_workflow.pk}/", {"graph": graph, "base_version": 1}, format="json").json()["version"] == 2

    r = start(client, acme_workflow, {"input": {"topic": "owls"}, "version": 1})

    assert r.status_code == 201
    run = Run.objects.get(pk=r.json()["id"])
    assert run.version.number == 1 and run.graph["nodes"][1]["config"]["value"] == "{{ input.topic }}"


def test_a_missing_required_input_names_it(personas, client_for, acme_workflow):
    r = start(client_for(personas["alice"]), acme_workflow, {"input": {"count": 3}})

    assert r.status_code == 400
    assert r.json()["error"] == "input.topic: required input is missing"
    assert not Run.objects.exists()


def test_a_body_without_input_is_checked_as_an_empty_input(personas, client_for, acme_workflow):
    r = client_for(personas["alice"]).post(f"/api/workflows/{acme_workflow.pk}/runs/")

    assert r.status_code == 400
    assert "input.topic" in r.json()["error"]


def test_an_input_of_the_wrong_type_names_the_field(personas, client_for, acme_workflow):
    r = start(client_for(personas["alice"]), acme_workflow, {"input": {"topic": "owls", "count": "three"}})

    assert r.status_code == 400
    assert r.json()["error"].startswith("input.count: ")
    assert "'three' is not of type 'integer'" in r.json()["error"]
    assert not Run.objects.exists()


def test_every_wrong_input_is_named(personas, client_for, acme_workflow):
    r = start(client_for(personas["alice"]), acme_workflow, {"input": {"topic": 7, "count": "three"}})

    assert r.status_code == 400
    assert [problem.split(":")[0] for problem in r.json()["fields"]] == ["input.count", "input.topic"]


@pytest.mark.parametrize("value", [["owls"], "owls", 3])
def test_an_input_that_is_not_an_object_is_refused(personas, client_for, acme_workflow, value):
    r = start(client_for(personas["alice"]), acme_workflow, {"input": value})

    assert r.status_code == 400
    assert r.json()["error"].startswith("input: must be a JSON object")


def test_a_body_that_is_not_an_object_is_refused(personas, client_for, acme_workflow):
    r = start(client_for(personas["alice"]), acme_workflow, [{"topic": "owls"}])

    assert r.status_code == 400
    assert "JSON object" in r.json()["error"]


def test_a_version_that_does_not_exist_is_refused(personas, client_for, acme_workflow):
    r = start(client_for(personas["alice"]), acme_workflow, {"input": {"topic": "owls"}, "version": 9})

    assert r.status_code == 400
    assert r.json()["error"] == f"version: workflow {acme_workflow.pk} has no version 9"
    assert not Run.objects.exists()


def test_a_viewer_cannot_start_a_run(personas, client_for, acme_workflow):
    r = start(client_for(personas["carol"]), acme_workflow)

    assert r.status_code == 403
    assert "viewer" in r.json()["error"]
    assert not Run.objects.exists()


def test_an_outsider_cannot_start_a_run(personas, client_for, acme_workflow):
    assert start(client_for(personas["mallory"]), acme_workflow).status_code == 404
    assert not Run.objects.exists()


# ----------------------------------------------------------------- read


def test_a_viewer_reads_runs(personas, client_for, acme_workflow):
    run = finished_run(acme_workflow)
    carol = client_for(personas["carol"])

    detail = carol.get(f"/api/runs/{run.pk}/")
    history = carol.get(f"/api/workflows/{acme_workflow.pk}/runs/")

    assert detail.status_code == 200
    assert detail.json()["status"] == "succeeded" and detail.json()["output"] == "owls"
    assert [r["id"] for r in history.json()] == [run.pk]


def test_another_teams_run_does_not_exist_for_you(personas, client_for, acme_workflow):
    run = finished_run(acme_workflow)
    mallory = client_for(personas["mallory"])

    assert mallory.get(f"/api/runs/{run.pk}/").status_code == 404
    assert mallory.get(f"/api/runs/{run.pk}/steps/").status_code == 404
    assert mallory.get(f"/api/workflows/{acme_workflow.pk}/runs/").status_code == 404
    assert mallory.get("/api/runs/").json() == []


def test_run_list_shows_the_runs_of_your_teams(personas, client_for, acme_workflow):
    acme_run = finished_run(acme_workflow)
    own = finished_run(saved_workflow(personas["mallory"].personal_team, personas["mallory"]))

    assert [r["id"] for r in client_for(personas["bob"]).get("/api/runs/").json()] == [acme_run.pk]
    assert [r["id"] for r in client_for(personas["mallory"]).get("/api/runs/").json()] == [own.pk]


def test_history_lists_runs_newest_first(personas, client_for, acme_workflow):
    client = client_for(personas["alice"])
    ids = [start(client, acme_workflow, {"input": {"topic": topic}}).json()["id"] for topic in ("a", "b", "c")]

    r = client.get(f"/api/workflows/{acme_workflow.pk}/runs/")

    assert r.status_code == 200
    assert [run["id"] for run in r.json()] == list(reversed(ids))
    assert [run["input"]["topic"] for run in r.json()] == ["c", "b", "a"]
    assert {run["status"] for run in r.json()} == {"queued"}


# ----------------------------------------------------------------- cancel


def test_history_pages_through_every_run_without_gaps_or_repeats(personas, client_for, acme_workflow):
    made = [finished_run(acme_workflow, Run.Status.FAILED if i % 3 == 0 else Run.Status.SUCCEEDED).pk for i in range(7)]
    client = client_for(personas["carol"])
    seen, before, pages = [], None, 0
    while True:
        query = f"?limit=3&before={before}" if before else "?limit=3"
        r = client.get(f"/api/workflows/{acme_workflow.pk}/runs/{query}")
        assert r.status_code == 200
        seen += [run["id"] for run in r.json()]
        pages += 1
        before = r.headers.get("X-Next-Before")
        if before is None:
            break
        finished_run(acme_workflow)  # a run arriving meanwhile does not shift the pages
    assert pages == 3 and seen == sorted(made, reverse=True)
    failed = client.get(f"/api/runs/?status=failed&limit=500").json()
    assert [run["id"] for run in failed] == sorted((pk for i, pk in enumerate(made) if i % 3 == 0), reverse=True)


@pytest.mark.parametrize("query, field", [("limit=0", "limit"), ("limit=ten", "limit"), ("limit=501", "limit"),
                                          ("before=-1", "before"), ("status=done", "status")])
def test_bad_paging_parameters_are_named(personas, client_for, acme_workflow, query, field):
    r = client_for(personas["carol"]).get(f"/api/runs/?{query}")
    assert r.status_code == 400 and field in r.json()["error"], r.content


def test_cancel_a_queued_run(personas, client_for, acme_workflow):
    client = client_for(personas["bob"])
    run_id = start(client, acme_workflow).json()["id"]

    r = client.post(f"/api/runs/{run_id}/cancel/")

    assert r.status_code == 202
    assert r.json()["status"] == "cancelled"
    run = Run.objects.get(pk=run_id)
    assert run.status == "cancelled" and run.finished_at is not None
    assert run.error["message"] == "cancelled by a user"


def test_cancel_a_finished_run_is_a_conflict(personas, client_for, acme_workflow):
    run = finished_run(acme_workflow)

    r = client_for(personas["alice"]).post(f"/api/runs/{run.pk}/cancel/")

    assert r.status_code == 409
    assert "already succeeded" in r.json()["error"]
    run.refresh_from_db()
    assert run.status == "succeeded" and not run.cancel_requested


def test_a_viewer_cannot_cancel(personas, client_for, acme_workflow):
    run_id = start(client_for(personas["alice"]), acme_workflow).json()["id"]

    r = client_for(personas["carol"]).post(f"/api/runs/{run_id}/cancel/")

    assert r.status_code == 403
    assert Run.objects.get(pk=run_id).status == "queued"


def test_an_outsider_cannot_cancel(personas, client_for, acme_workflow):
    run_id = start(client_for(personas["alice"]), acme_workflow).json()["id"]

    r = client_for(personas["mallory"]).post(f"/api/runs/{run_id}/cancel/")

    assert r.status_code == 404
    run = Run.objects.get(pk=run_id)
    assert run.status == "queued" and not run.cancel_requested


# ----------------------------------------------------------------- on the worker


def test_a_run_on_the_demo_model_finishes_with_output_usage_and_steps(worker, personas, client_for, llm_workflow, settings):
    settings.OPENAI_API_KEY = ""  # no key: the offline demo model answers
    client = client_for(personas["bob"])

    created = start(client, llm_workflow)
    assert created.status_code == 201 and created.json()["status"] == "queued"
    wait_for_run(created.json()["id"])
    r = client_for(personas["carol"]).get(f"/api/runs/{created.json()['id']}/")

    assert r.status_code == 200
    run = r.json()
    assert run["status"] == "succeeded", run["error"]
    assert run["error"] is None
    assert run["demo"] is True
    assert run["output"].startswith("[demo] On Write one line about owls")
    assert run["version"] == 1 and run["triggered_by"] == "bob" and run["input"] == {"topic": "owls"}
    assert run["started_at"] and run["finished_at"]
    steps = {step["node_id"]: step for step in run["steps"]}
    assert list(steps) == ["start", "write", "out"]
    write = steps["write"]
    assert write["status"] == "succeeded" and write["key"] and write["attempts"] == 1
    assert write["demo"] is True and write["model"] == "demo"
    assert write["output"] == run["output"]
    assert write["input"]["prompt"] == "Write one line about owls"
    assert write["usage"]["tokens_in"] > 0 and write["usage"]["tokens_out"] > 0
    assert write["duration_ms"] >= 0
    assert steps["start"]["demo"] is False and steps["start"]["output"] == {"topic": "owls"}
    assert all(s["status"] == "succeeded" and s["attempts"] == 1 and s["duration_ms"] is not None for s in steps.values())
    assert run["usage"]["steps"] == 3
    assert run["usage"]["tokens"] == write["usage"]["tokens_in"] + write["usage"]["tokens_out"]


def test_steps_endpoint_lists_the_steps_in_order(worker, personas, client_for, llm_workflow, settings):
    settings.OPENAI_API_KEY = ""
    client = client_for(personas["alice"])
    run_id = start(client, llm_workflow).json()["id"]
    wait_for_run(run_id)

    r = client.get(f"/api/runs/{run_id}/steps/")

    assert r.status_code == 200
    assert [(s["node_id"], s["status"]) for s in r.json()] == [("start", "succeeded"), ("write", "succeeded"), ("out", "succeeded")]
    assert r.json() == client.get(f"/api/runs/{run_id}/").json()["steps"]


def test_a_run_on_a_real_provider_is_not_marked_demo(worker, personas, client_for, llm_workflow, fake_llm):
    client = client_for(personas["alice"])
    run_id = start(client, llm_workflow).json()["id"]
    wait_for_run(run_id)

    run = client.get(f"/api/runs/{run_id}/").json()

    assert run["status"] == "succeeded", run["error"]
    assert run["demo"] is False
    assert run["output"] == "fake reply to: Write one line about owls"
    assert {s["node_id"]: s["model"] for s in run["steps"]}["write"] == "fake-model"


def test_cancel_a_running_run_stops_it(worker, personas, client_for, llm_workflow, fake_llm):
    fake_llm.script.append(Reply(text="too late", delay_s=5))  # the model is slow to answer
    client = client_for(personas["bob"])
    run_id = start(client, llm_workflow).json()["id"]
    wait_for_step(run_id, "write", "running")

    asked = time.monotonic()
    r = client.post(f"/api/runs/{run_id}/cancel/")
    run = wait_for_run(run_id, timeout=5)
    took = time.monotonic() - asked

    assert r.status_code == 202
    assert r.json()["status"] in ("running", "cancelled")
    assert run.status == "cancelled"
    assert took < 2, f"cancel took {took:.1f} s"
    detail = client.get(f"/api/runs/{run_id}/").json()
    assert detail["status"] == "cancelled" and detail["error"]["reason"] == "cancelled"
    assert detail["output"] is None
    assert {s["node_id"]: s["status"] for s in detail["steps"]}["write"] == "cancelled"
    # Cancelling again is a conflict: it is over.
    assert client.post(f"/api/runs/{run_id}/cancel/").status_code == 409


def test_starting_a_run_reads_the_database_once(personas, acme_workflow):
    """POST /runs/ is the busiest write: the workflow, its latest version, its team and the
    caller's role come in one SELECT (the API token is remembered, TOKEN_CACHE_S), then
    the run and its activity line are inserted."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=personas['bob']).key}")
    assert start(client, acme_workflow).status_code == 201  # the token is remembered from here on
    with CaptureQueriesContext(connection) as queries:
        r = start(client, acme_workflow)
    assert r.status_code == 201 and r.json()["version"] == 1
    verbs = [q["sql"].split()[0] for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    assert verbs == ["SELECT", "INSERT", "INSERT"], queries.captured_queries
