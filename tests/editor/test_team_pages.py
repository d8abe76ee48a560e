"""The server-rendered team pages: Teams, Credentials, the workflow list's
team spaces, and New workflow in a chosen team. Another team's pages are 404."""
from __future__ import annotations

from django.test import Client

from editor.models import Membership, Team
from tests.api.builders import saved_workflow


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_teams_and_credentials_pages_are_for_members(personas):
    acme = personas["acme"]
    assert browser(personas["carol"]).get("/teams/").status_code == 200
    assert browser(personas["carol"]).get(f"/teams/{acme.pk}/").status_code == 200
    page = browser(personas["carol"]).get(f"/teams/{acme.pk}/credentials/")
    assert page.status_code == 200 and b"ask alice" in page.content and b"Add a credential" not in page.content
    assert b"Add a credential" in browser(personas["alice"]).get(f"/teams/{acme.pk}/credentials/").content
    assert browser(personas["mallory"]).get(f"/teams/{acme.pk}/").status_code == 404
    assert browser(personas["mallory"]).get(f"/teams/{acme.pk}/credentials/").status_code == 404


def test_the_workflow_list_filters_by_team_and_shows_each_rows_team(personas):
    saved_workflow(personas["acme"], personas["alice"], name="Acme digest")
    saved_workflow(personas["bob"].personal_team, personas["bob"], name="Bob's own")
    bob = browser(personas["bob"])

    everything = bob.get("/").content.decode()
    only_acme = bob.get(f"/?team={personas['acme'].pk}").content.decode()

    assert "Acme digest" in everything and "Bob&#x27;s own" in everything and "All my teams" in everything
    assert "Acme digest" in only_acme and "Bob&#x27;s own" not in only_acme


def test_new_workflow_lands_in_the_picked_team_if_i_may_edit_there(personas):
    import json
    import re

    def boot_team(client, query):
        html = client.get(f"/workflows/new/{query}").content.decode()
        return json.loads(re.search(r'<script id="boot" type="application/json">(.*?)</script>', html, re.S).group(1))["workflow"]["team"]

    acme = personas["acme"]
    assert boot_team(browser(personas["bob"]), f"?team={acme.pk}") == acme.pk
    # a viewer of Acme, or an outsider, gets their personal team instead
    assert boot_team(browser(personas["carol"]), f"?team={acme.pk}") == personas["carol"].personal_team.pk
    assert boot_team(browser(personas["mallory"]), f"?team={acme.pk}") == personas["mallory"].personal_team.pk


def test_the_admin_lists_teams_members_invitations_activity_and_credentials_without_keys(personas):
    from django.contrib.auth import get_user_model

    from editor.models import Credential

    admin = get_user_model().objects.create_superuser("root", password="x")
    credential = Credential(team=personas["acme"], name="oa")
    credential.set_api_key("sk-admin-must-not-see")
    credential.save()
    client = browser(admin)
    for model in ("team", "invitation", "activity", "workflow", "credential"):
        assert client.get(f"/admin/editor/{model}/").status_code == 200, model
    detail = client.get(f"/admin/editor/credential/{credential.pk}/change/")
    assert detail.status_code == 200 and b"sk-admin-must-not-see" not in detail.content
    assert client.get(f"/admin/editor/team/{personas['acme'].pk}/change/").status_code == 200
