"""/api/teams/: a user's teams, creating, renaming and deleting one.
Personas: alice owns Acme, bob edits, carol views, mallory is outside."""
from __future__ import annotations

from editor.models import Activity, Membership, Team

from .builders import saved_workflow

URL = "/api/teams/"


def test_the_list_shows_each_team_with_my_role_and_member_count(personas, client_for):
    r = client_for(personas["bob"]).get(URL)

    assert r.status_code == 200
    by_name = {t["name"]: t for t in r.json()}
    assert by_name["Acme"] == {**by_name["Acme"], "id": personas["acme"].pk, "personal": False, "role": "editor", "members": 3}
    assert by_name["bob's team"]["personal"] is True and by_name["bob's team"]["role"] == "owner" and by_name["bob's team"]["members"] == 1
    assert len(r.json()) == 2


def test_an_outsider_does_not_see_the_team(personas, client_for):
    mallory = client_for(personas["mallory"])
    assert [t["name"] for t in mallory.get(URL).json()] == ["mallory's team"]
    assert mallory.get(f"{URL}{personas['acme'].pk}/").status_code == 404


def test_creating_a_team_makes_me_its_owner(personas, client_for):
    r = client_for(personas["carol"]).post(URL, {"name": "Research"}, format="json")

    assert r.status_code == 201, r.content
    assert r.json()["name"] == "Research" and r.json()["role"] == "owner" and r.json()["members"] == 1 and r.json()["personal"] is False
    team = Team.objects.get(pk=r.json()["id"])
    assert team.memberships.get().user == personas["carol"]
    assert Activity.objects.filter(team=team, action="team.created", actor=personas["carol"]).exists()


def test_a_team_needs_a_name(personas, client_for):
    r = client_for(personas["carol"]).post(URL, {"name": "  "}, format="json")
    assert r.status_code == 400 and r.json()["error"].startswith("name:")


def test_the_owner_renames_the_team(personas, client_for):
    r = client_for(personas["alice"]).patch(f"{URL}{personas['acme'].pk}/", {"name": "Acme Corp"}, format="json")

    assert r.status_code == 200 and r.json()["name"] == "Acme Corp"
    assert Activity.objects.filter(team=personas["acme"], action="team.renamed").exists()


def test_an_editor_or_viewer_cannot_rename_it_and_is_told_whom_to_ask(personas, client_for):
    for who in ("bob", "carol"):
        r = client_for(personas[who]).patch(f"{URL}{personas['acme'].pk}/", {"name": "Mine"}, format="json")
        assert r.status_code == 403
        assert "alice" in r.json()["error"]
    assert client_for(personas["mallory"]).patch(f"{URL}{personas['acme'].pk}/", {"name": "Mine"}, format="json").status_code == 404
    personas["acme"].refresh_from_db()
    assert personas["acme"].name == "Acme"


def test_the_owner_deletes_an_empty_team(personas, client_for):
    r = client_for(personas["alice"]).delete(f"{URL}{personas['acme'].pk}/")

    assert r.status_code == 204
    assert not Team.objects.filter(pk=personas["acme"].pk).exists()
    assert not Membership.objects.filter(team_id=personas["acme"].pk).exists()


def test_a_team_with_workflows_is_not_deleted_and_says_what_it_holds(personas, client_for):
    workflow = saved_workflow(personas["acme"], personas["alice"])

    r = client_for(personas["alice"]).delete(f"{URL}{personas['acme'].pk}/")

    assert r.status_code == 409
    assert "1 workflows" in r.json()["error"] and "move" in r.json()["error"].lower()
    assert r.json()["holds"]["workflows"] == 1
    assert Team.objects.filter(pk=personas["acme"].pk).exists() and workflow.versions.exists()


def test_only_an_owner_deletes_a_team(personas, client_for):
    assert client_for(personas["bob"]).delete(f"{URL}{personas['acme'].pk}/").status_code == 403
    assert client_for(personas["carol"]).delete(f"{URL}{personas['acme'].pk}/").status_code == 403
    assert client_for(personas["mallory"]).delete(f"{URL}{personas['acme'].pk}/").status_code == 404
    assert Team.objects.filter(pk=personas["acme"].pk).exists()


def test_a_personal_team_cannot_be_deleted(personas, client_for):
    team = personas["alice"].personal_team
    r = client_for(personas["alice"]).delete(f"{URL}{team.pk}/")

    assert r.status_code == 409
    assert "personal" in r.json()["error"]
    assert Team.objects.filter(pk=team.pk).exists()
