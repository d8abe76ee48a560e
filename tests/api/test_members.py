"""/api/teams/{id}/members/: who is in a team, adding, role changes, removing
and leaving. The last owner is never lost."""
from __future__ import annotations

from django.contrib.auth import get_user_model

from editor.models import Activity, Membership


def members_url(team, user=None) -> str:
    return f"/api/teams/{team.pk}/members/" + (f"{user.pk}/" if user is not None else "")


def test_any_member_sees_the_members(personas, client_for):
    r = client_for(personas["carol"]).get(members_url(personas["acme"]))

    assert r.status_code == 200
    rows = r.json()
    assert [(m["user"]["username"], m["role"]) for m in rows] == [("alice", "owner"), ("bob", "editor"), ("carol", "viewer")]
    assert rows[0]["user"] == {"id": personas["alice"].pk, "username": "alice"} and rows[0]["joined_at"]


def test_an_outsider_gets_404_for_every_members_endpoint(personas, client_for):
    mallory = client_for(personas["mallory"])
    acme = personas["acme"]
    assert mallory.get(members_url(acme)).status_code == 404
    assert mallory.post(members_url(acme), {"username": "mallory", "role": "owner"}, format="json").status_code == 404
    assert mallory.patch(members_url(acme, personas["bob"]), {"role": "viewer"}, format="json").status_code == 404
    assert mallory.delete(members_url(acme, personas["bob"])).status_code == 404
    assert not acme.memberships.filter(user=personas["mallory"]).exists()


def test_the_owner_adds_an_existing_user(personas, client_for):
    r = client_for(personas["alice"]).post(members_url(personas["acme"]), {"username": "mallory", "role": "viewer"}, format="json")

    assert r.status_code == 201, r.content
    assert r.json()["user"]["username"] == "mallory" and r.json()["role"] == "viewer"
    assert personas["acme"].memberships.get(user=personas["mallory"]).role == "viewer"
    entry = Activity.objects.get(team=personas["acme"], action="member.added")
    assert entry.actor == personas["alice"] and "mallory" in entry.summary


def test_adding_is_for_owners_only(personas, client_for):
    for who in ("bob", "carol"):
        r = client_for(personas[who]).post(members_url(personas["acme"]), {"username": "mallory", "role": "editor"}, format="json")
        assert r.status_code == 403 and "alice" in r.json()["error"]
    assert not personas["acme"].memberships.filter(user=personas["mallory"]).exists()


def test_adding_an_unknown_user_or_a_member_again_is_refused(personas, client_for):
    alice = client_for(personas["alice"])
    unknown = alice.post(members_url(personas["acme"]), {"username": "nobody", "role": "editor"}, format="json")
    again = alice.post(members_url(personas["acme"]), {"username": "bob", "role": "viewer"}, format="json")
    bad_role = alice.post(members_url(personas["acme"]), {"username": "mallory", "role": "admin"}, format="json")

    assert unknown.status_code == 400 and unknown.json()["error"].startswith("username:") and "invitation" in unknown.json()["error"]
    assert again.status_code == 409 and "already a member" in again.json()["error"]
    assert bad_role.status_code == 400 and bad_role.json()["error"].startswith("role:")
    assert personas["acme"].memberships.get(user=personas["bob"]).role == "editor"


def test_nobody_can_be_added_to_a_personal_team(personas, client_for):
    r = client_for(personas["alice"]).post(members_url(personas["alice"].personal_team), {"username": "bob", "role": "editor"}, format="json")

    assert r.status_code == 409 and "personal" in r.json()["error"]


def test_the_owner_changes_a_role(personas, client_for):
    r = client_for(personas["alice"]).patch(members_url(personas["acme"], personas["carol"]), {"role": "editor"}, format="json")

    assert r.status_code == 200 and r.json()["role"] == "editor"
    assert personas["acme"].memberships.get(user=personas["carol"]).role == "editor"
    assert "from viewer to editor" in Activity.objects.get(action="member.role_changed").summary


def test_an_editor_cannot_change_roles_not_even_their_own(personas, client_for):
    bob = client_for(personas["bob"])
    assert bob.patch(members_url(personas["acme"], personas["bob"]), {"role": "owner"}, format="json").status_code == 403
    assert bob.patch(members_url(personas["acme"], personas["carol"]), {"role": "editor"}, format="json").status_code == 403
    assert personas["acme"].memberships.get(user=personas["bob"]).role == "editor"


def test_the_last_owner_cannot_be_demoted(personas, client_for):
    r = client_for(personas["alice"]).patch(members_url(personas["acme"], personas["alice"]), {"role": "editor"}, format="json")

    assert r.status_code == 409
    assert "last owner" in r.json()["error"]
    assert personas["acme"].memberships.get(user=personas["alice"]).role == "owner"


def test_with_a_second_owner_the_first_may_step_down(personas, client_for):
    alice = client_for(personas["alice"])
    assert alice.patch(members_url(personas["acme"], personas["bob"]), {"role": "owner"}, format="json").status_code == 200
    assert alice.patch(members_url(personas["acme"], personas["alice"]), {"role": "editor"}, format="json").status_code == 200
    assert personas["acme"].memberships.get(user=personas["alice"]).role == "editor"


def test_the_owner_removes_a_member(personas, client_for):
    r = client_for(personas["alice"]).delete(members_url(personas["acme"], personas["bob"]))

    assert r.status_code == 204
    assert not personas["acme"].memberships.filter(user=personas["bob"]).exists()
    assert client_for(personas["bob"]).get(f"/api/teams/{personas['acme'].pk}/").status_code == 404
    assert Activity.objects.get(action="member.removed").summary == "alice removed bob from the team"


def test_a_member_leaves_by_removing_themself(personas, client_for):
    r = client_for(personas["carol"]).delete(members_url(personas["acme"], personas["carol"]))

    assert r.status_code == 204
    assert not personas["acme"].memberships.filter(user=personas["carol"]).exists()
    assert Activity.objects.get(action="member.removed").summary == "carol left the team"


def test_a_member_cannot_remove_someone_else(personas, client_for):
    r = client_for(personas["bob"]).delete(members_url(personas["acme"], personas["carol"]))

    assert r.status_code == 403
    assert personas["acme"].memberships.filter(user=personas["carol"]).exists()


def test_the_last_owner_cannot_leave_or_be_removed(personas, client_for):
    r = client_for(personas["alice"]).delete(members_url(personas["acme"], personas["alice"]))

    assert r.status_code == 409
    assert "last owner" in r.json()["error"]
    assert Membership.objects.filter(team=personas["acme"], user=personas["alice"], role="owner").exists()


def test_removing_someone_not_in_the_team_is_404(personas, client_for):
    stranger = get_user_model().objects.create_user("stranger", password="x")
    assert client_for(personas["alice"]).delete(members_url(personas["acme"], stranger)).status_code == 404
