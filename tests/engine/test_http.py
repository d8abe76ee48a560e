"""The http node: runs through the real engine against a server this test
starts on loopback (allowed through HTTP_NODE_ALLOWED_HOSTS, as a team would
allow an intranet host), and refusals of private addresses."""
from __future__ import annotations

import asyncio
import json

import pytest

from editor.models import Credential
from engine import graph as graph_module
from engine.nodes.base import NodeContext
from engine.nodes.http import HttpConfig, HttpNode
from tests.engine.test_net import Answer, LocalServer


@pytest.fixture
def server(settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = "127.0.0.1"
    s = LocalServer()
    yield s
    s.stop()


def fetch_graph(config: dict, retry: dict | None = None) -> dict:
    fetch = {"id": "fetch", "type": "http", "config": config}
    if retry:
        fetch["retry"] = retry
    return {
        "format": "orchestrator.workflow/v1", "name": "t", "settings": {"max_steps": 50},
        "nodes": [{"id": "start", "type": "start"}, fetch, {"id": "out", "type": "output", "config": {"value": "{{ nodes.fetch.output }}"}}],
        "edges": [{"source": "start", "target": "fetch"}, {"source": "fetch", "target": "out"}],
    }


def run_node(config: dict, team_id: int | None = None):
    rendered = HttpConfig.model_validate(config).model_dump()
    return asyncio.run(HttpNode().arun(rendered, NodeContext(node_id="fetch", scope={}, team_id=team_id)))


def test_a_templated_get_returns_status_headers_and_parsed_json(run_graph, server):
    server.routes["/users/42"] = Answer(200, {"name": "Ada"}, headers={"X-Trace": "t-1"})
    run = run_graph(fetch_graph({
        "url": server.url + "/users/{{ input.id }}?v=2",
        "query": {"fields": "{{ input.fields }}", "tag": "{{ ['a', 'b'] }}"},
        "headers": {"Accept": "application/json", "X-Team": "{{ input.team }}"},
    }), {"id": 42, "fields": "name", "team": "acme"})
    assert run.status == "succeeded", run.error
    assert run.output["status"] == 200 and run.output["body"] == {"name": "Ada"}
    assert run.output["headers"]["x-trace"] == "t-1"
    seen = server.requests[0]
    assert seen["path"] == "/users/42?v=2&fields=name&tag=a&tag=b" and seen["headers"]["X-Team"] == "acme"
    # What was sent is the step's recorded input, rendered.
    assert run.steps.get(node_id="fetch").input["url"] == server.url + "/users/42?v=2"


def test_a_post_sends_a_json_body_and_a_text_answer_stays_text(run_graph, server):
    server.routes["/orders"] = Answer(201, "created", headers={"Content-Type": "text/plain"})
    run = run_graph(fetch_graph({"method": "POST", "url": server.url + "/orders", "body": {"sku": "{{ input.sku }}", "qty": "{{ input.qty }}"}}),
                    {"sku": "A-1", "qty": 3})
    assert run.status == "succeeded", run.error
    assert run.output["status"] == 201 and run.output["body"] == "created"
    seen = server.requests[0]
    assert seen["method"] == "POST" and json.loads(seen["body"]) == {"sku": "A-1", "qty": 3}
    assert seen["headers"]["Content-Type"] == "application/json"


def test_a_credential_is_sent_as_a_bearer_token_and_never_recorded(run_graph, server, personas):
    credential = Credential(team=personas["acme"], name="crm", kind="http", allowed_hosts=["127.0.0.1"])
    credential.set_api_key("sk-live-very-secret")
    credential.save()
    server.routes["/echo"] = lambda req: Answer(200, {"you_sent": req["headers"].get("Authorization")})
    run = run_graph(fetch_graph({"url": server.url + "/echo", "credential": "crm"}))
    assert run.status == "succeeded", run.error
    assert server.requests[0]["headers"]["Authorization"] == "Bearer sk-live-very-secret"
    step = run.steps.get(node_id="fetch")
    # The server echoed the key; the run's record must not hold it.
    assert "sk-live-very-secret" not in json.dumps([step.input, step.output, run.output])
    assert run.output["body"] == {"you_sent": "Bearer [credential]"}


def test_an_unknown_credential_fails_naming_it(run_graph, server):
    run = run_graph(fetch_graph({"url": server.url + "/x", "credential": "nope"}))
    assert run.status == "failed" and "no credential named 'nope'" in run.error["message"]
    assert server.requests == []


def test_a_client_error_fails_at_once_naming_the_status_and_the_body(run_graph, server):
    server.routes["/missing"] = Answer(404, {"error": "no such user"})
    run = run_graph(fetch_graph({"url": server.url + "/missing"}, retry={"max_attempts": 3, "backoff_s": 0.01}))
    assert run.status == "failed"
    message = run.error["message"]
    assert f"http node 'fetch': GET {server.url}/missing answered 404 Not Found" in message
    assert "no such user" in message
    assert run.steps.get(node_id="fetch").attempts == 1  # a 404 does not get better by asking again


def test_rate_limits_and_server_errors_are_retried(run_graph, server):
    answers = iter([Answer(429, "slow down"), Answer(503, "busy"), Answer(200, {"ok": True})])
    server.routes["/flaky"] = lambda req: next(answers)
    run = run_graph(fetch_graph({"url": server.url + "/flaky"}, retry={"max_attempts": 3, "backoff_s": 0.01}))
    assert run.status == "succeeded", run.error
    assert run.output["body"] == {"ok": True}
    assert run.steps.get(node_id="fetch").attempts == 3


def test_with_fail_on_error_off_the_status_is_the_output(run_graph, server):
    server.routes["/gone"] = Answer(410, {"why": "deleted"})
    run = run_graph(fetch_graph({"url": server.url + "/gone", "fail_on_error": False}))
    assert run.status == "succeeded", run.error
    assert run.output["status"] == 410 and run.output["body"] == {"why": "deleted"}


def test_a_node_aimed_at_a_private_address_fails_the_run_naming_it_and_the_setting(run_graph, settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = "127.0.0.1"
    run = run_graph(fetch_graph({"url": "http://10.0.0.5/admin"}, retry={"max_attempts": 3, "backoff_s": 0.01}))
    assert run.status == "failed"
    assert run.error["node"] == "fetch"
    assert "http node 'fetch': 10.0.0.5 is a private address; add it to HTTP_NODE_ALLOWED_HOSTS to allow it" in run.error["message"]
    assert run.steps.get(node_id="fetch").attempts == 1  # a refusal is not retried


def test_a_name_resolving_to_a_private_address_is_refused_naming_both(monkeypatch, settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = ""
    import socket

    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port))])
    from engine.errors import NodeFailed

    with pytest.raises(NodeFailed) as failed:
        run_node({"url": "http://intranet.local/wiki"})
    assert failed.value.message == ("http node 'fetch': 10.0.0.5 (from intranet.local) is a private address; "
                                    "add it to HTTP_NODE_ALLOWED_HOSTS to allow it")
    assert not failed.value.retryable


def test_a_redirect_from_an_allowed_host_to_a_private_one_is_refused(server):
    from engine.errors import NodeFailed

    server.routes["/login"] = Answer(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    with pytest.raises(NodeFailed, match=r"169\.254\.169\.254 is a link-local address; add it to HTTP_NODE_ALLOWED_HOSTS"):
        run_node({"url": server.url + "/login"})
    assert [r["path"] for r in server.requests] == ["/login"]


@pytest.mark.parametrize(
    "config, complaint",
    [
        ({"url": "http://x", "method": "FETCH"}, "'FETCH' is not an HTTP method"),
        ({"url": "http://x", "credential": "crm", "headers": {"authorization": "Bearer x"}}, "either `credential` or an Authorization header"),
        ({"url": "http://x", "timeout_s": 0}, "timeout_s"),
    ],
)
def test_bad_configs_are_reported_on_the_node_at_save_time(config, complaint):
    errors = graph_module.validate(fetch_graph(config))
    assert any(e.node == "fetch" and complaint in e.message for e in errors), errors


def test_a_model_credential_is_never_sent_by_an_http_node(run_graph, server, personas):
    # Even if the graph never went through a save (a headless run, an old version).
    credential = Credential(team=personas["acme"], name="openai")
    credential.set_api_key("sk-model-key")
    credential.save()
    seen = []
    server.routes["/steal"] = lambda req: seen.append(req["headers"].get("Authorization")) or Answer(200, {})

    run = run_graph(fetch_graph({"url": server.url + "/steal", "credential": "openai"}))

    assert run.status == "failed" and "is a model credential" in run.error["message"]
    assert seen == []


def test_an_http_credential_is_not_sent_to_a_host_it_does_not_name(run_graph, server, personas):
    credential = Credential(team=personas["acme"], name="crm", kind="http", allowed_hosts=["crm.example.com"])
    credential.set_api_key("sk-crm")
    credential.save()
    seen = []
    server.routes["/x"] = lambda req: seen.append(req["headers"].get("Authorization")) or Answer(200, {})

    run = run_graph(fetch_graph({"url": server.url + "/x", "credential": "crm"}))

    assert run.status == "failed" and "may be sent only to crm.example.com" in run.error["message"]
    assert seen == []
