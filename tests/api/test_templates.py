"""/api/templates/: the gallery's templates, and `use` that makes a workflow of
one. Also what every shipped template must have to be in the gallery.

Personas: alice owns team Acme, bob edits in it, carol views it, mallory is an
outsider."""
from __future__ import annotations

import pytest

from editor.models import Workflow
from editor.workflow_templates import all_templates, references, with_ids
from engine.graph import validate
from tests.conftest import wait_for_run

URL = "/api/templates/"
TEMPLATES = all_templates()
SLUGS = [t["slug"] for t in TEMPLATES]

# The patterns of DESIGN.md the current node types express; each has its template.
EXPECTED = {
    "prompt-generation", "prompt-optimization", "planner-executor", "specialist-collaboration", "generate-critique-revise",
    "ensemble-evaluation", "function-calls", "validation-chain", "routing", "parallelization", "prompt-chaining",
    "evaluator-optimizer", "orchestrator-workers", "tool-use", "autonomous-agent", "complex-system", "stateful-conversation",
    "context-summarization", "ab-testing",
}


# ----------------------------------------------------------------- the templates themselves


def test_the_gallery_has_a_template_for_every_expressible_pattern():
    assert EXPECTED <= set(SLUGS)


@pytest.mark.parametrize("t", TEMPLATES, ids=SLUGS)
def test_a_template_is_valid_described_budgeted_and_explained(t):
    # Calls to other templates ({"$template": slug}) become workflow ids when the template is used.
    graph = with_ids(t["graph"], {slug: 1 for slug in references(t["graph"])})
    assert validate(graph) == [], t["slug"]
    assert len(t["description"]) > 150, "say when to use it and what the graph does"
    settings = graph["settings"]
    assert {"max_steps", "max_tokens", "max_cost_usd", "timeout_s"} <= set(settings)
    assert all(settings[k] for k in ("max_steps", "max_tokens", "max_cost_usd", "timeout_s"))
    props = graph["inputs"]["properties"]
    assert props
    for name, spec in props.items():
        assert spec.get("title") and spec.get("description") and "default" in spec, f"input '{name}' needs title, description, default"
    assert t["example_input"] == {name: spec["default"] for name, spec in props.items()}
    notes = [n for n in graph["nodes"] if n["type"] == "note"]
    assert notes and len(notes[0]["config"]["text"]) > 80
    for node in graph["nodes"]:
        assert node.get("position"), f"node '{node['id']}' has no position"
        if node["type"] not in ("start", "note"):
            assert node.get("name"), f"node '{node['id']}' needs a human name"


@pytest.mark.parametrize("t", TEMPLATES, ids=SLUGS)
def test_every_loop_is_capped_and_has_a_way_out(t):
    graph = t["graph"]
    for loop in (n for n in graph["nodes"] if n["type"] == "loop"):
        assert 1 <= loop["config"]["max_iterations"] <= 10
        assert any(e["source"] == loop["id"] and e.get("source_port") == "done" for e in graph["edges"]), f"loop '{loop['id']}' has no done edge"


def test_positions_run_top_to_bottom():
    for t in TEMPLATES:
        nodes = {n["id"]: n for n in t["graph"]["nodes"]}
        for edge in t["graph"]["edges"]:
            source, target = nodes[edge["source"]], nodes[edge["target"]]
            back = target["type"] == "loop" and edge["source"] != "start" and target["position"]["y"] < source["position"]["y"]
            if not back:
                assert target["position"]["y"] >= source["position"]["y"], (t["slug"], edge)


# ----------------------------------------------------------------- list and detail


def test_list_has_every_template_with_its_graph_and_example_input(personas, client_for):
    r = client_for(personas["mallory"]).get(URL)
    assert r.status_code == 200
    body = r.json()
    assert [t["slug"] for t in body] == SLUGS
    first = body[0]
    assert set(first) >= {"slug", "name", "description", "graph", "example_input", "node_count", "patterns"}
    assert first["graph"]["format"] == "orchestrator.workflow/v1"
    assert first["node_count"] == sum(1 for n in first["graph"]["nodes"] if n["type"] != "note")


def test_templates_need_a_signed_in_user(db):
    from rest_framework.test import APIClient

    assert APIClient().get(URL).status_code in (401, 403)


def test_detail_by_slug(personas, client_for):
    r = client_for(personas["alice"]).get(f"{URL}routing/")
    assert r.status_code == 200
    assert r.json()["name"] == "Routing" and r.json()["example_input"]["message"]


def test_an_unknown_slug_is_a_404_that_lists_the_slugs(personas, client_for):
    r = client_for(personas["alice"]).get(f"{URL}no-such-pattern/")
    assert r.status_code == 404
    assert "no-such-pattern" in r.json()["error"] and "routing" in r.json()["error"]
    assert client_for(personas["alice"]).post(f"{URL}no-such-pattern/use/", {}, format="json").status_code == 404


# ----------------------------------------------------------------- use


def test_use_creates_the_workflow_in_the_personal_team_by_default(personas, client_for):
    alice = personas["alice"]
    r = client_for(alice).post(f"{URL}evaluator-optimizer/use/")
    assert r.status_code == 201, r.content
    workflow = Workflow.objects.get(pk=r.json()["id"])
    assert workflow.team == alice.personal_team and workflow.template_slug == "evaluator-optimizer"
    assert workflow.name == "Evaluator–optimizer" and r.json()["version"] == 1
    assert r.json()["graph"]["nodes"] == next(t for t in TEMPLATES if t["slug"] == "evaluator-optimizer")["graph"]["nodes"]


def test_use_in_a_named_team_with_a_name(personas, client_for):
    acme = personas["acme"]
    r = client_for(personas["bob"]).post(f"{URL}routing/use/", {"team": acme.pk, "name": "Support triage"}, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["team"] == acme.pk and r.json()["name"] == "Support triage"
    assert r.json()["graph"]["name"] == "Support triage"


def test_a_viewer_cannot_use_a_template_in_the_team(personas, client_for):
    r = client_for(personas["carol"]).post(f"{URL}routing/use/", {"team": personas["acme"].pk}, format="json")
    assert r.status_code == 403
    assert "viewer" in r.json()["error"]
    assert not Workflow.objects.filter(team=personas["acme"]).exists()


def test_an_outsider_cannot_use_a_template_in_another_team(personas, client_for):
    r = client_for(personas["mallory"]).post(f"{URL}routing/use/", {"team": personas["acme"].pk}, format="json")
    assert r.status_code == 400 and "not a member" in r.json()["error"]


@pytest.mark.parametrize("body,problem", [
    ({"team": "acme"}, "team"),
    ({"name": ""}, "name"),
    ({"colour": "red"}, "colour"),
])
def test_a_bad_use_body_names_the_field(personas, client_for, body, problem):
    r = client_for(personas["alice"]).post(f"{URL}routing/use/", body, format="json")
    assert r.status_code == 400 and problem in r.json()["error"]


def test_a_workflow_made_from_a_template_runs_with_its_example_input(personas, client_for, worker, settings):
    settings.OPENAI_API_KEY = ""
    settings.DEMO_TOKEN_DELAY_MS = 0
    client = client_for(personas["alice"])
    template = client.get(f"{URL}orchestrator-workers/").json()
    workflow = client.post(f"{URL}orchestrator-workers/use/").json()
    r = client.post(f"/api/workflows/{workflow['id']}/runs/", {"input": template["example_input"]}, format="json")
    assert r.status_code == 201, r.content
    run = wait_for_run(r.json()["id"])
    assert run.status == "succeeded", run.error
    assert run.workflow_id == workflow["id"]
