"""Run history filters: GET /api/workflows/{id}/runs/?status=&trigger=&version=&q=&since=&until=,
?workflow= on /api/runs/, and unknown filters refused with 400 naming them."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from editor import services
from editor.models import Run

from .builders import minimal_graph, saved_workflow


@pytest.fixture
def history(personas):
    workflow = saved_workflow(personas["acme"], personas["alice"], graph=minimal_graph(), name="Filters")
    v1 = workflow.latest_version
    saved, _ = services.save_workflow(workflow, user=personas["alice"], graph={**minimal_graph(), "description": "v2"}, name=None,
                                      description=None, base_version=1)
    v2 = saved.latest_version
    assert v2.number == 2
    other = saved_workflow(personas["acme"], personas["alice"], graph=minimal_graph(), name="Other")

    def run(wf, version, status, trigger, topic, age_days=0):
        r = Run.objects.create(workflow=wf, version=version, graph=version.graph, team=wf.team, input={"topic": topic},
                               status=status, trigger=trigger)
        Run.objects.filter(pk=r.pk).update(created_at=timezone.now() - timedelta(days=age_days))
        return r.pk

    ids = {
        "manual_ok": run(workflow, v1, "succeeded", "manual", "Owls at night"),
        "exp_ok": run(workflow, v1, "succeeded", "experiment", "bats"),
        "manual_failed": run(workflow, v2 or v1, "failed", "manual", "moths", age_days=10),
        "other": run(other, other.latest_version, "succeeded", "manual", "owls elsewhere"),
    }
    return workflow, other, ids, v2


def ids_of(response):
    assert response.status_code == 200, response.data
    return {r["id"] for r in response.json()}


def test_workflow_runs_filter_by_status_trigger_version_text_and_date(history, personas, client_for):
    workflow, _, ids, v2 = history
    client = client_for(personas["alice"])
    base = f"/api/workflows/{workflow.pk}/runs/"
    assert ids_of(client.get(base)) == {ids["manual_ok"], ids["exp_ok"], ids["manual_failed"]}
    assert ids_of(client.get(base + "?status=failed")) == {ids["manual_failed"]}
    assert ids_of(client.get(base + "?trigger=manual")) == {ids["manual_ok"], ids["manual_failed"]}
    assert ids_of(client.get(base + "?q=OWLS")) == {ids["manual_ok"]}
    assert ids_of(client.get(base + "?exclude_trigger=experiment")) == {ids["manual_ok"], ids["manual_failed"]}
    assert ids_of(client.get(base + "?exclude_trigger=experiment,manual")) == set()
    assert ids_of(client.get(base + "?trigger=manual&status=succeeded")) == {ids["manual_ok"]}
    since = (timezone.now() - timedelta(days=2)).date().isoformat()
    assert ids_of(client.get(base + f"?since={since}")) == {ids["manual_ok"], ids["exp_ok"]}
    assert ids_of(client.get(base + f"?until={since}")) == {ids["manual_failed"]}
    today = timezone.localdate().isoformat()  # "until" a day includes that whole day
    assert ids_of(client.get(base + f"?until={today}")) == {ids["manual_ok"], ids["exp_ok"], ids["manual_failed"]}
    assert ids_of(client.get(base + f"?since={today}&until={today}")) == {ids["manual_ok"], ids["exp_ok"]}
    assert ids_of(client.get(base + f"?version={v2.number}")) == {ids["manual_failed"]}
    assert ids_of(client.get(base + "?version=1")) == {ids["manual_ok"], ids["exp_ok"]}


def test_runs_list_accepts_workflow_and_refuses_unknown_filters(history, personas, client_for):
    workflow, other, ids, _ = history
    client = client_for(personas["alice"])
    assert ids_of(client.get(f"/api/runs/?workflow={other.pk}")) == {ids["other"]}
    r = client.get("/api/runs/?wokflow=1")
    assert r.status_code == 400 and "wokflow" in str(r.data)
    r = client.get(f"/api/workflows/{workflow.pk}/runs/?workflow={other.pk}")
    assert r.status_code == 400 and "workflow" in str(r.data)
    assert client.get(f"/api/workflows/{workflow.pk}/runs/?since=yesterday").status_code == 400
    assert client.get(f"/api/workflows/{workflow.pk}/runs/?version=x").status_code == 400


def test_filters_never_show_another_teams_runs(history, personas, client_for):
    workflow, _, _, _ = history
    assert client_for(personas["mallory"]).get(f"/api/workflows/{workflow.pk}/runs/?q=owls").status_code == 404
    assert ids_of(client_for(personas["mallory"]).get(f"/api/runs/?workflow={workflow.pk}")) == set()
