"""The web process's request path (orchestrator_site/asgi_handler.py: the
middleware chain run synchronously, one thread hop a request) through the real
server: headers the middlewares add, errors the views raise, and the async
webhook view waiting for its run while synchronous API calls are served."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

from rest_framework.authtoken.models import Token

from .builders import saved_workflow


def fetch(url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})},
                                     method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_every_response_keeps_the_middlewares_headers(live_daphne):
    status, headers, body = fetch(f"http://{live_daphne}/healthz")
    assert (status, body) == (200, b"ok")
    assert "nonce-" in headers["Content-Security-Policy"] and headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"  # the clickjacking middleware, near the end of the chain
    # An error a view answers (not signed in) goes back out through the same chain.
    status, headers, body = fetch(f"http://{live_daphne}/api/workflows/")
    assert status == 401 and "credentials" in json.loads(body)["error"]
    assert "Content-Security-Policy" in headers


def test_a_webhook_waiting_for_its_run_does_not_hold_up_api_calls(live_daphne, personas, worker):
    alice = personas["alice"]
    workflow = saved_workflow(personas["acme"], alice, name="Echo")
    auth = {"Authorization": f"Token {Token.objects.get_or_create(user=alice)[0].key}"}
    base = f"http://{live_daphne}"
    assert fetch(f"{base}/api/workflows/{workflow.pk}/publish/", b"{}", auth)[0] == 200
    status, _, body = fetch(f"{base}/api/workflows/{workflow.pk}/triggers/", json.dumps({"type": "webhook", "respond": "output"}).encode(), auth)
    assert status == 201, body
    hook = json.loads(body)["url"]
    hook = hook if hook.startswith("http") else base + hook

    answers: list[tuple[int, bytes]] = []

    def call_hook():
        status, _, body = fetch(hook, b'{"topic": "owls"}')
        answers.append((status, body))

    hooks = [threading.Thread(target=call_hook) for _ in range(4)]
    for thread in hooks:
        thread.start()
    # Meanwhile, synchronous views answer (each request has its own thread).
    for _ in range(5):
        assert fetch(f"{base}/api/workflows/{workflow.pk}/", headers=auth)[0] == 200
    for thread in hooks:
        thread.join(60)
    assert len(answers) == 4
    for status, body in answers:
        assert status == 200, body
        assert json.loads(body)["output"] == "owls"

