"""Odd WebSocket handshakes over a real daphne (issue 10, findings 6 and 8):
junk in ?after= and unknown paths end with a clean close code, token clients
without an Origin are let in, and foreign origins (a different port too) are
refused."""
from __future__ import annotations

import json

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from editor.models import Run
from tests.api.builders import saved_workflow

pytestmark = pytest.mark.slow


@pytest.fixture
def finished(transactional_db, personas):
    workflow = saved_workflow(personas["acme"], personas["alice"])
    now = timezone.now()
    return Run.objects.create(workflow=workflow, version=workflow.latest_version, graph=workflow.latest_version.graph,
                              team=workflow.team, input={"topic": "owls"}, status="succeeded", output="owls",
                              started_at=now, finished_at=now)


def token(user) -> str:
    return Token.objects.get_or_create(user=user)[0].key


def close_code(url: str, headers: dict) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        with connect(url, additional_headers=headers, open_timeout=10) as ws:
            ws.recv(timeout=10)
    return closed.value.rcvd.code


@pytest.mark.parametrize("after", ["abc", "1e3", "9" * 4400, "-1", "%00"])
def test_junk_after_is_a_clean_close(live_daphne, finished, personas, after):
    url = f"ws://{live_daphne}/ws/runs/{finished.pk}/?token={token(personas['alice'])}&after={after}"
    assert close_code(url, {"Origin": f"http://{live_daphne}"}) == 4400
    # the server is fine afterwards, and a good socket gets its snapshot
    with connect(f"ws://{live_daphne}/ws/runs/{finished.pk}/?token={token(personas['alice'])}&after=0",
                 additional_headers={"Origin": f"http://{live_daphne}"}, open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"


@pytest.mark.parametrize("path", ["/ws/runs/-1/", "/ws/runs/abc/", "/ws/nothing/", "/ws/runs/" + "9" * 5000 + "/"])
def test_an_unknown_path_is_a_clean_close(live_daphne, finished, personas, path):
    url = f"ws://{live_daphne}{path}?token={token(personas['alice'])}"
    assert close_code(url, {"Origin": f"http://{live_daphne}"}) == 4404


def test_a_token_client_without_origin_is_let_in(live_daphne, finished, personas):
    with connect(f"ws://{live_daphne}/ws/runs/{finished.pk}/?token={token(personas['alice'])}", open_timeout=10) as ws:
        snapshot = json.loads(ws.recv(timeout=10))
    assert snapshot["type"] == "snapshot" and snapshot["run"]["status"] == "succeeded"


@pytest.mark.parametrize("origin", ["http://evil.example", "http://{host}:1", "null", "http://{host}.evil.example"])
def test_a_foreign_origin_is_refused(live_daphne, finished, personas, origin):
    host = live_daphne.split(":")[0]
    with pytest.raises(InvalidStatus) as refused:
        with connect(f"ws://{live_daphne}/ws/runs/{finished.pk}/?token={token(personas['alice'])}",
                     additional_headers={"Origin": origin.format(host=host)}, open_timeout=10):
            pass
    assert refused.value.response.status_code == 403


def test_a_huge_frame_closes_the_socket(live_daphne, finished, personas):
    with connect(f"ws://{live_daphne}/ws/runs/{finished.pk}/?token={token(personas['alice'])}", open_timeout=10, max_size=None) as ws:
        json.loads(ws.recv(timeout=10))
        ws.send("x" * 100_000)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == 4413


def test_a_frame_that_is_not_json_is_ignored(live_daphne, finished, personas):
    with connect(f"ws://{live_daphne}/ws/runs/{finished.pk}/?token={token(personas['alice'])}", open_timeout=10) as ws:
        json.loads(ws.recv(timeout=10))
        ws.send("not json")
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=10)) == {"type": "pong"}
