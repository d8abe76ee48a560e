"""Finding and tidying workflows: GET /api/workflows/?q=&tag=&sort=, tags
(PATCH, no new version), rename, duplicate with a distinct name, import of a
workflow whose name is taken, and the list page's search, filter and the
counts its delete confirmation quotes."""
from __future__ import annotations

import pytest

from editor import services
from editor.models import Run, Trigger, Workflow

from .builders import minimal_graph, saved_workflow

LIST = "/api/workflows/"


@pytest.fixture
def three(personas):
    """Three workflows of Acme, updated in the order Billing, alpha digest, Zebra."""
    acme, alice = personas["acme"], personas["alice"]
    made = {}
    for name, tags, description in (("Billing", ["support"], "Answers invoices"), ("alpha digest", ["news", "prod"], ""),
                                    ("Zebra", [], "weekly digest of stripes")):
        wf = saved_workflow(acme, alice, name=name)
        Workflow.objects.filter(pk=wf.pk).update(tags=tags, description=description)
        made[name] = wf
        services.save_workflow(wf, user=alice, graph=None, name=None, description=None)  # bumps updated_at, in this order
    return made


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [w["name"] for w in response.json()]


def test_the_list_sorts_by_name_or_update_and_says_which_sorts_exist(personas, client_for, three):
    bob = client_for(personas["bob"])

    assert names(bob.get(LIST)) == ["Zebra", "alpha digest", "Billing"]  # newest first, as before
    assert names(bob.get(LIST, {"sort": "updated"})) == ["Billing", "alpha digest", "Zebra"]
    assert names(bob.get(LIST, {"sort": "name"})) == ["alpha digest", "Billing", "Zebra"]  # case does not matter
    assert names(bob.get(LIST, {"sort": "-name"})) == ["Zebra", "Billing", "alpha digest"]
    r = bob.get(LIST, {"sort": "size"})
    assert r.status_code == 400 and "sort" in r.json()["error"] and "-updated" in r.json()["error"]


def test_search_matches_name_or_description_and_tag_filters(personas, client_for, three):
    bob = client_for(personas["bob"])

    assert names(bob.get(LIST, {"q": "DIGEST", "sort": "name"})) == ["alpha digest", "Zebra"]  # Zebra by its description
    assert names(bob.get(LIST, {"tag": "prod"})) == ["alpha digest"]
    assert names(bob.get(LIST, {"tag": "Support"})) == ["Billing"]
    assert names(bob.get(LIST, {"tag": "nothing"})) == []
    assert bob.get(LIST).json()[1]["tags"] == ["news", "prod"]


def test_tags_are_cleaned_and_a_tag_change_adds_no_version(personas, client_for, three):
    wf = three["Zebra"]
    versions = wf.versions.count()

    r = client_for(personas["bob"]).patch(f"{LIST}{wf.pk}/", {"tags": [" Stripes ", "weekly", "stripes", ""]}, format="json")

    assert r.status_code == 200, r.content
    assert r.json()["tags"] == ["stripes", "weekly"]
    assert wf.versions.count() == versions
    wf.refresh_from_db()
    assert wf.tags == ["stripes", "weekly"]


@pytest.mark.parametrize("tags, says", [
    ("prod", "must be a list of tags"),
    (["x" * 33], "longer than 32 characters"),
    (["no<script>"], "only letters, digits"),
    ([f"t{i}" for i in range(13)], "at most 12 tags"),
    ([3], "each tag is a text"),
])
def test_a_bad_tag_list_is_a_400_that_says_what_is_wrong(personas, client_for, three, tags, says):
    r = client_for(personas["alice"]).patch(f"{LIST}{three['Zebra'].pk}/", {"tags": tags}, format="json")

    assert r.status_code == 400
    assert "tags" in r.json()["error"] and says in r.json()["error"]


def test_renaming_and_tagging_need_an_editor_and_a_member(personas, client_for, three):
    wf = three["Billing"]

    viewer = client_for(personas["carol"]).patch(f"{LIST}{wf.pk}/", {"name": "Mine"}, format="json")
    outsider = client_for(personas["mallory"]).patch(f"{LIST}{wf.pk}/", {"tags": ["x"]}, format="json")
    renamed = client_for(personas["bob"]).patch(f"{LIST}{wf.pk}/", {"name": "Invoices"}, format="json")

    assert viewer.status_code == 403 and "viewer" in viewer.json()["error"]
    assert outsider.status_code == 404
    assert renamed.status_code == 200 and renamed.json()["name"] == "Invoices"
    assert wf.latest_version.graph["name"] == "Invoices"
    assert client_for(personas["mallory"]).get(LIST, {"q": "Invoices"}).json() == []  # search never reaches another team


def test_a_name_longer_than_the_limit_is_refused_where_it_is_sent(personas, client_for, three):
    r = client_for(personas["bob"]).patch(f"{LIST}{three['Billing'].pk}/", {"name": "n" * 201}, format="json")

    assert r.status_code == 400 and "200" in r.json()["error"]


def test_duplicating_twice_gives_two_distinct_names_and_keeps_the_tags(personas, client_for, three):
    bob = client_for(personas["bob"])
    wf = three["alpha digest"]

    first = bob.post(f"{LIST}{wf.pk}/copy/", {}, format="json")
    second = bob.post(f"{LIST}{wf.pk}/copy/", {}, format="json")

    assert first.status_code == second.status_code == 201
    assert (first.json()["name"], second.json()["name"]) == ("alpha digest (copy)", "alpha digest (copy) (2)")
    assert second.json()["tags"] == ["news", "prod"]
    assert client_for(personas["carol"]).post(f"{LIST}{wf.pk}/copy/", {}, format="json").status_code == 403
    assert client_for(personas["mallory"]).post(f"{LIST}{wf.pk}/copy/", {}, format="json").status_code == 404


def test_an_import_whose_name_is_taken_gets_a_numbered_one(personas, client_for, three):
    bob = client_for(personas["bob"])
    team = personas["acme"].pk

    one = bob.post(f"{LIST}import/", {"graph": minimal_graph(name="Billing"), "team": team}, format="json")
    two = bob.post(f"{LIST}import/", {"graph": minimal_graph(name="billing"), "team": team}, format="json")
    fresh = bob.post(f"{LIST}import/", {"graph": minimal_graph(name="Fresh"), "team": team}, format="json")

    assert [r.json()["name"] for r in (one, two, fresh)] == ["Billing (2)", "billing (3)", "Fresh"]
    assert Workflow.objects.get(pk=one.json()["id"]).latest_version.graph["name"] == "Billing (2)"


def test_only_an_owner_deletes_and_the_delete_takes_versions_runs_and_triggers(personas, client_for, three):
    wf = three["Billing"]
    Run.objects.create(workflow=wf, version=wf.latest_version, graph=wf.latest_version.graph, team=personas["acme"], input={}, status="succeeded")
    Trigger.objects.create(workflow=wf, type="webhook", token="t" * 40)

    assert client_for(personas["bob"]).delete(f"{LIST}{wf.pk}/").status_code == 403
    assert client_for(personas["carol"]).delete(f"{LIST}{wf.pk}/").status_code == 403
    assert client_for(personas["mallory"]).delete(f"{LIST}{wf.pk}/").status_code == 404
    assert client_for(personas["alice"]).delete(f"{LIST}{wf.pk}/").status_code == 204
    assert not Run.objects.filter(workflow_id=wf.pk).exists() and not Trigger.objects.filter(workflow_id=wf.pk).exists()


def test_the_list_page_searches_filters_and_counts_what_a_delete_takes(personas, client, three):
    wf = three["Billing"]
    Run.objects.create(workflow=wf, version=wf.latest_version, graph=wf.latest_version.graph, team=personas["acme"], input={}, status="succeeded")
    client.force_login(personas["alice"])

    page = client.get("/", {"tag": "support"}).content.decode()
    assert "Billing" in page and "Zebra" not in page
    assert f'data-workflow="{wf.pk}" data-name="Billing" data-versions="2" data-runs="1" data-triggers="0"' in page
    assert '<option value="prod">prod</option>' in page  # every tag in use is offered, also while filtered
    assert "Zebra" in client.get("/", {"q": "stripes"}).content.decode()
    nothing = client.get("/", {"q": "unicorn"}).content.decode()
    assert "No workflow matches “unicorn”" in nothing
    assert client.get("/", {"sort": "bogus"}).status_code == 200  # a hand-edited URL falls back to the default order
