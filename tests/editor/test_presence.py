"""The presence WebSocket over a real daphne and two (or three) real clients:
who has a workflow open and who edits, a teammate's save as it lands, a role
change felt at once, and nothing for people outside the team."""
from __future__ import annotations

import json
import time

import pytest
from rest_framework.authtoken.models import Token
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from editor import services, teams
from tests.api.builders import minimal_graph, saved_workflow

pytestmark = pytest.mark.slow


def socket(server: str, workflow_id: int, user):
    token = Token.objects.get_or_create(user=user)[0].key
    return connect(f"ws://{server}/ws/workflows/{workflow_id}/presence/?token={token}",
                   additional_headers={"Origin": f"http://{server}"}, open_timeout=10)


def wait_for(ws, predicate, limit_s: float = 10) -> dict:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        message = json.loads(ws.recv(timeout=max(0.05, deadline - time.monotonic())))
        if predicate(message):
            return message
    raise AssertionError("the expected message did not come")


def names(message: dict) -> list[tuple[str, str, bool]]:
    return [(u["username"], u["role"], u["editing"]) for u in message["users"]]


@pytest.fixture
def workflow(transactional_db, personas):
    return saved_workflow(personas["acme"], personas["alice"], name="Digest")


def test_two_teammates_see_each_other_come_edit_and_go(live_daphne, personas, workflow):
    with socket(live_daphne, workflow.pk, personas["alice"]) as alice:
        hello = wait_for(alice, lambda m: m["type"] == "hello")
        assert hello["you"]["username"] == "alice" and hello["you"]["role"] == "owner" and hello["users"] == []

        with socket(live_daphne, workflow.pk, personas["bob"]) as bob:
            assert wait_for(bob, lambda m: m["type"] == "hello")["you"]["role"] == "editor"
            # each learns of the other: bob from alice's answer, alice from bob's announcement
            assert names(wait_for(bob, lambda m: m["type"] == "presence")) == [("alice", "owner", False)]
            assert names(wait_for(alice, lambda m: m["type"] == "presence")) == [("bob", "editor", False)]

            bob.send(json.dumps({"type": "editing", "editing": True}))
            assert names(wait_for(alice, lambda m: m["type"] == "presence" and m["users"][0]["editing"])) == [("bob", "editor", True)]

        assert wait_for(alice, lambda m: m["type"] == "presence")["users"] == []


def test_a_viewer_is_present_but_never_editing(live_daphne, personas, workflow):
    with socket(live_daphne, workflow.pk, personas["alice"]) as alice, socket(live_daphne, workflow.pk, personas["carol"]) as carol:
        wait_for(alice, lambda m: m["type"] == "presence" and m["users"])
        carol.send(json.dumps({"type": "editing", "editing": True}))
        carol.send(json.dumps({"type": "ping"}))
        wait_for(carol, lambda m: m["type"] == "pong")
        alice.send(json.dumps({"type": "ping"}))
        # alice hears nothing of carol editing before her own pong
        message = wait_for(alice, lambda m: m["type"] in ("pong", "presence") and (m["type"] == "pong" or m["users"][0]["editing"]))
        assert message["type"] == "pong"


def test_a_save_reaches_the_teammate_at_once(live_daphne, personas, workflow):
    with socket(live_daphne, workflow.pk, personas["alice"]) as alice, socket(live_daphne, workflow.pk, personas["bob"]) as bob:
        wait_for(alice, lambda m: m["type"] == "presence" and m["users"])
        graph = minimal_graph(name="Digest")
        graph["nodes"][1]["config"]["value"] = "v2 {{ input.topic }}"
        services.save_workflow(workflow, user=personas["bob"], graph=graph, name=None, description=None, message="tighter", base_version=1)

        saved = wait_for(alice, lambda m: m["type"] == "saved")
        assert saved == {"type": "saved", "version": 2, "by": "bob", "mine": False, "message": "tighter"}
        assert wait_for(bob, lambda m: m["type"] == "saved")["mine"] is True


def test_a_role_change_is_felt_live_and_removal_closes_the_socket(live_daphne, personas, workflow):
    acme = personas["acme"]
    with socket(live_daphne, workflow.pk, personas["carol"]) as carol, socket(live_daphne, workflow.pk, personas["alice"]) as alice:
        wait_for(carol, lambda m: m["type"] == "hello")
        wait_for(alice, lambda m: m["type"] == "presence" and m["users"])
        teams.change_role(acme.memberships.get(user=personas["carol"]), user=personas["alice"], role="editor")

        assert wait_for(carol, lambda m: m["type"] == "role") == {"type": "role", "role": "editor", "can_edit": True}
        assert names(wait_for(alice, lambda m: m["type"] == "presence" and m["users"][0]["role"] == "editor")) == [("carol", "editor", False)]

        teams.remove_member(acme.memberships.get(user=personas["carol"]), user=personas["alice"])
        with pytest.raises(ConnectionClosed) as closed:
            wait_for(carol, lambda m: False)
        assert closed.value.rcvd.code == 4404
        assert wait_for(alice, lambda m: m["type"] == "presence")["users"] == []


def test_an_outsider_or_a_stranger_is_turned_away(live_daphne, personas, workflow):
    with socket(live_daphne, workflow.pk, personas["mallory"]) as mallory:
        with pytest.raises(ConnectionClosed) as closed:
            mallory.recv(timeout=10)
        assert closed.value.rcvd.code == 4404
    with connect(f"ws://{live_daphne}/ws/workflows/{workflow.pk}/presence/", additional_headers={"Origin": f"http://{live_daphne}"}) as anonymous:
        with pytest.raises(ConnectionClosed) as closed:
            anonymous.recv(timeout=10)
        assert closed.value.rcvd.code == 4401
