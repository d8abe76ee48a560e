"""Templates that call other templates: `{"$template": "<slug>"}` in a
template file becomes the id of that template's workflow in the user's team —
made first when the team has none, reused when it has — wherever a workflow is
made from a template (the API, the gallery page, load_templates).

Personas: alice owns team Acme, bob edits in it, carol views it."""
from __future__ import annotations

import pytest
from django.core.management import call_command

from editor import services, workflow_templates
from editor.models import Workflow
from editor.workflow_templates import references, resolve_references, template, with_ids

URL = "/api/templates/"


def called_ids(workflow: Workflow) -> dict[str, int]:
    return {n["id"]: n["config"]["workflow"] for n in workflow.latest_version.graph["nodes"] if n["type"] == "subworkflow"}


def made_from(team, slug: str):
    return Workflow.objects.filter(team=team, template_slug=slug)


def test_references_are_found_and_replaced_without_touching_the_rest():
    graph = {"nodes": [{"id": "a", "config": {"workflow": {"$template": "x"}, "inputs": {"keep": {"$template": "y", "other": 1}}}},
                       {"id": "b", "config": {"workflow": {"$template": "x"}}}]}
    assert references(graph) == ["x"]  # an object with more keys is not a reference
    assert with_ids(graph, {"x": 7}) == {"nodes": [{"id": "a", "config": {"workflow": 7, "inputs": {"keep": {"$template": "y", "other": 1}}}},
                                                   {"id": "b", "config": {"workflow": 7}}]}
    assert references(template("complex-system")["graph"]) == ["support-billing", "support-technical"]


def test_the_listing_keeps_the_reference(personas, client_for):
    graph = client_for(personas["alice"]).get(f"{URL}complex-system/").json()["graph"]
    billing = next(n for n in graph["nodes"] if n["id"] == "billing")
    assert billing["config"]["workflow"] == {"$template": "support-billing"}


def test_use_creates_the_called_workflows_first_then_reuses_them(personas, client_for):
    acme, client = personas["acme"], client_for(personas["bob"])
    r = client.post(f"{URL}complex-system/use/", {"team": acme.pk}, format="json")
    assert r.status_code == 201, r.content
    billing, technical = made_from(acme, "support-billing").get(), made_from(acme, "support-technical").get()
    assert called_ids(Workflow.objects.get(pk=r.json()["id"])) == {"billing": billing.pk, "technical": technical.pk}
    assert billing.name == "Support: billing" and billing.latest_version.graph["inputs"]["properties"].keys() == {"request"}
    again = client.post(f"{URL}complex-system/use/", {"team": acme.pk, "name": "Second desk"}, format="json")
    assert again.status_code == 201
    assert made_from(acme, "support-billing").count() == 1 and made_from(acme, "support-technical").count() == 1
    assert called_ids(Workflow.objects.get(pk=again.json()["id"])) == {"billing": billing.pk, "technical": technical.pk}


def test_a_called_workflow_the_team_already_has_is_reused(personas, client_for):
    client = client_for(personas["alice"])
    own = client.post(f"{URL}support-billing/use/").json()["id"]
    r = client.post(f"{URL}complex-system/use/")
    assert called_ids(Workflow.objects.get(pk=r.json()["id"]))["billing"] == own
    assert made_from(personas["alice"].personal_team, "support-billing").count() == 1


def test_a_viewer_gets_nothing_made(personas, client_for):
    r = client_for(personas["carol"]).post(f"{URL}complex-system/use/", {"team": personas["acme"].pk}, format="json")
    assert r.status_code == 403
    assert not Workflow.objects.filter(team=personas["acme"]).exists()


def test_the_gallery_page_resolves_references_too(personas, client):
    client.force_login(personas["alice"])
    response = client.post("/templates/complex-system/use/")
    assert response.status_code == 302
    team = personas["alice"].personal_team
    made = made_from(team, "complex-system").get()
    assert response["Location"].rstrip("/").endswith(str(made.pk))
    assert called_ids(made) == {"billing": made_from(team, "support-billing").get().pk,
                                "technical": made_from(team, "support-technical").get().pk}


def test_load_templates_makes_each_template_once_with_its_calls_resolved(personas):
    call_command("load_templates", user="alice")
    call_command("load_templates", user="alice")  # idempotent
    team = personas["alice"].personal_team
    slugs = list(Workflow.objects.filter(team=team).values_list("template_slug", flat=True))
    assert sorted(slugs) == sorted(t["slug"] for t in workflow_templates.all_templates())
    assert called_ids(made_from(team, "complex-system").get()) == {"billing": made_from(team, "support-billing").get().pk,
                                                                   "technical": made_from(team, "support-technical").get().pk}


def test_an_unknown_template_is_named(personas):
    graph = {"nodes": [{"id": "call", "type": "subworkflow", "config": {"workflow": {"$template": "no-such-template"}}}]}
    with pytest.raises(services.ServiceError, match="calls the template 'no-such-template', which the gallery does not have"):
        resolve_references(graph, team=personas["acme"], user=personas["alice"])


def test_templates_that_call_each_other_in_a_circle_are_refused(personas, monkeypatch):
    calling_itself = {"nodes": [{"id": "call", "type": "subworkflow", "config": {"workflow": {"$template": "ouroboros"}}}]}
    monkeypatch.setattr(workflow_templates, "template", lambda slug: {"graph": calling_itself} if slug == "ouroboros" else None)
    with pytest.raises(services.ServiceError, match="circle: ouroboros → ouroboros"):
        resolve_references(calling_itself, team=personas["acme"], user=personas["alice"], calling=("ouroboros",))
    assert not Workflow.objects.filter(team=personas["acme"]).exists()
