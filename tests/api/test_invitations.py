"""Invitations: an owner makes a link, whoever opens it joins once with its
role (in the API or on the /invite/ page, signing up if need be); a revoked,
expired or used link answers 410."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from editor.models import Activity, Invitation


def inv_url(team, invitation=None) -> str:
    return f"/api/teams/{team.pk}/invitations/" + (f"{invitation['id']}/" if invitation else "")


def accept_url(token: str) -> str:
    return f"/api/invitations/{token}/accept/"


@pytest.fixture
def invitation(personas, client_for):
    r = client_for(personas["alice"]).post(inv_url(personas["acme"]), {"role": "editor", "email": "dave@example.com"}, format="json")
    assert r.status_code == 201, r.content
    return r.json()


@pytest.fixture
def dave(db):
    return get_user_model().objects.create_user("dave", password="dave-password")


def test_the_owner_makes_an_invitation_link(personas, invitation):
    assert set(invitation) >= {"id", "token", "url", "role", "expires_at"}
    assert invitation["role"] == "editor" and len(invitation["token"]) >= 32
    assert invitation["url"].endswith(f"/invite/{invitation['token']}/") and invitation["url"].startswith("http")
    assert invitation["mailed"] is False  # no mail server here: the owner copies the link
    assert Activity.objects.filter(team=personas["acme"], action="invitation.created", actor=personas["alice"]).exists()


def test_pending_invitations_are_listed_for_owners(personas, client_for, invitation):
    r = client_for(personas["alice"]).get(inv_url(personas["acme"]))

    assert r.status_code == 200
    assert [i["id"] for i in r.json()] == [invitation["id"]]
    assert r.json()[0]["email"] == "dave@example.com" and r.json()[0]["created_by"] == "alice"


def test_editors_viewers_and_outsiders_cannot_invite_or_list(personas, client_for):
    acme = personas["acme"]
    for who in ("bob", "carol"):
        client = client_for(personas[who])
        assert client.post(inv_url(acme), {"role": "owner"}, format="json").status_code == 403
        assert client.get(inv_url(acme)).status_code == 403
    mallory = client_for(personas["mallory"])
    assert mallory.post(inv_url(acme), {"role": "owner"}, format="json").status_code == 404
    assert mallory.get(inv_url(acme)).status_code == 404
    assert not Invitation.objects.exists()


def test_a_bad_role_or_email_is_named(personas, client_for):
    alice = client_for(personas["alice"])
    assert alice.post(inv_url(personas["acme"]), {"role": "boss"}, format="json").json()["error"].startswith("role:")
    assert alice.post(inv_url(personas["acme"]), {"role": "viewer", "email": "nope"}, format="json").json()["error"].startswith("email:")


def test_a_personal_team_cannot_be_shared_by_invitation(personas, client_for):
    r = client_for(personas["alice"]).post(inv_url(personas["alice"].personal_team), {"role": "editor"}, format="json")
    assert r.status_code == 409 and "personal" in r.json()["error"]


def test_accepting_joins_the_team_with_the_role(personas, client_for, invitation, dave):
    r = client_for(dave).post(accept_url(invitation["token"]))

    assert r.status_code == 200, r.content
    assert r.json()["team"] == personas["acme"].pk and r.json()["role"] == "editor"
    assert personas["acme"].memberships.get(user=dave).role == "editor"
    assert Activity.objects.filter(team=personas["acme"], action="invitation.accepted", actor=dave).exists()
    # and it is no longer pending
    assert client_for(personas["alice"]).get(inv_url(personas["acme"])).json() == []


def test_a_used_invitation_is_gone(personas, client_for, invitation, dave):
    assert client_for(dave).post(accept_url(invitation["token"])).status_code == 200

    r = client_for(personas["mallory"]).post(accept_url(invitation["token"]))

    assert r.status_code == 410 and "already used" in r.json()["error"]
    assert not personas["acme"].memberships.filter(user=personas["mallory"]).exists()


def test_a_revoked_invitation_is_gone(personas, client_for, invitation, dave):
    r = client_for(personas["alice"]).delete(inv_url(personas["acme"], invitation))
    assert r.status_code == 204
    assert Activity.objects.filter(action="invitation.revoked").exists()

    r = client_for(dave).post(accept_url(invitation["token"]))

    assert r.status_code == 410 and "revoked" in r.json()["error"]
    assert not personas["acme"].memberships.filter(user=dave).exists()


def test_only_owners_revoke(personas, client_for, invitation):
    assert client_for(personas["bob"]).delete(inv_url(personas["acme"], invitation)).status_code == 403
    assert client_for(personas["mallory"]).delete(inv_url(personas["acme"], invitation)).status_code == 404
    assert Invitation.objects.get(pk=invitation["id"]).revoked_at is None


def test_an_expired_invitation_is_gone(personas, client_for, invitation, dave):
    Invitation.objects.filter(pk=invitation["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))

    r = client_for(dave).post(accept_url(invitation["token"]))

    assert r.status_code == 410 and "expired" in r.json()["error"]


def test_an_unknown_token_is_404(personas, client_for, dave):
    assert client_for(dave).post(accept_url("not-a-token")).status_code == 404


def test_accepting_needs_a_signed_in_user(invitation):
    assert APIClient().post(accept_url(invitation["token"])).status_code in (401, 403)


def test_a_member_accepting_again_is_told_and_the_link_stays_usable(personas, client_for, invitation):
    r = client_for(personas["bob"]).post(accept_url(invitation["token"]))

    assert r.status_code == 409 and "already a member" in r.json()["error"]
    assert Invitation.objects.get(pk=invitation["id"]).accepted_at is None


# ----------------------------------------------------------------- the /invite/ page


def test_a_visitor_signs_up_and_joins_in_one_step(personas, invitation):
    browser = Client()
    page = browser.get(f"/invite/{invitation['token']}/")
    assert page.status_code == 200 and b"Join Acme" in page.content and b"Create your account" in page.content

    r = browser.post(f"/invite/{invitation['token']}/", {"action": "signup", "username": "erin", "password1": "a-long-pass-phrase-9", "password2": "a-long-pass-phrase-9"})

    assert r.status_code == 302
    erin = get_user_model().objects.get(username="erin")
    assert personas["acme"].memberships.get(user=erin).role == "editor"
    assert browser.get("/").status_code == 200  # signed in
    assert erin.personal_team is not None


def test_a_refused_signup_leaves_no_account(personas, invitation):
    r = Client().post(f"/invite/{invitation['token']}/", {"action": "signup", "username": "erin", "password1": "a-long-pass-phrase-9", "password2": "different-9"})

    assert r.status_code == 400
    assert not get_user_model().objects.filter(username="erin").exists()


def test_a_signed_in_user_joins_from_the_page(personas, invitation, dave):
    browser = Client()
    browser.force_login(dave)
    assert b"Join Acme as dave" in browser.get(f"/invite/{invitation['token']}/").content

    r = browser.post(f"/invite/{invitation['token']}/", {"action": "join"})

    assert r.status_code == 302
    assert personas["acme"].memberships.filter(user=dave).exists()


def test_the_page_says_why_a_used_link_does_not_work(personas, client_for, invitation, dave):
    client_for(dave).post(accept_url(invitation["token"]))
    page = Client().get(f"/invite/{invitation['token']}/")

    assert page.status_code == 410 and b"already used" in page.content


def test_with_a_mail_server_an_invitation_naming_an_email_is_also_sent(personas, client_for, settings):
    from django.core import mail

    settings.EMAIL_ENABLED = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    r = client_for(personas["alice"]).post(inv_url(personas["acme"]), {"role": "viewer", "email": "erin@example.com"}, format="json")

    assert r.status_code == 201 and r.json()["mailed"] is True
    assert [m.to for m in mail.outbox] == [["erin@example.com"]]
    assert r.json()["url"] in mail.outbox[0].body and "Acme" in mail.outbox[0].subject
