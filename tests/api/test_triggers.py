"""Publishing and the Triggers API; webhooks end to end on the real worker.

    POST /api/workflows/{id}/publish/ | unpublish/
    GET/POST /api/workflows/{id}/triggers/, GET/PATCH/DELETE …/{tid}/, POST …/{tid}/rotate/
    POST /hooks/<token>/"""
from __future__ import annotations

import json
import time

import pytest
from django.test import Client

from editor import triggers
from editor.models import Run, Trigger
from tests.fake_openai import Reply

from .builders import llm_graph, minimal_graph, saved_workflow


@pytest.fixture
def workflow(personas):
    return saved_workflow(personas["acme"], personas["alice"], name="Digest")


def publish(client, workflow, **body):
    return client.post(f"/api/workflows/{workflow.pk}/publish/", body, format="json")


def webhook(client, workflow, **config):
    r = client.post(f"/api/workflows/{workflow.pk}/triggers/", {"type": "webhook", **config}, format="json")
    assert r.status_code == 201, r.content
    return r.json()


def call(url: str, body=b'{"topic": "owls"}', **headers) -> tuple[int, dict, dict]:
    path = url.split("://", 1)[1].split("/", 1)[1]
    r = Client().post("/" + path, data=body, content_type="application/json", headers=headers)
    return r.status_code, r.json(), r


# ----------------------------------------------------------------- publishing


def test_publish_defaults_to_the_latest_version_and_shows_on_the_workflow(personas, client_for, workflow):
    bob = client_for(personas["bob"])
    r = publish(bob, workflow)
    assert r.status_code == 200 and r.json() == {"published_version": 1}
    assert bob.get(f"/api/workflows/{workflow.pk}/").json()["published_version"] == 1
    listed = {w["id"]: w for w in bob.get("/api/workflows/").json()}
    assert listed[workflow.pk]["published_version"] == 1
    assert bob.post(f"/api/workflows/{workflow.pk}/unpublish/").json() == {"published_version": None}
    assert bob.get(f"/api/workflows/{workflow.pk}/").json()["published_version"] is None


def test_publish_an_unknown_version_names_it(personas, client_for, workflow):
    r = publish(client_for(personas["alice"]), workflow, version=7)
    assert r.status_code == 400 and "no version 7" in r.json()["error"]


def test_viewers_cannot_publish_and_outsiders_do_not_see_the_workflow(personas, client_for, workflow):
    assert publish(client_for(personas["carol"]), workflow).status_code == 403
    assert publish(client_for(personas["mallory"]), workflow).status_code == 404
    assert client_for(personas["mallory"]).get(f"/api/workflows/{workflow.pk}/triggers/").status_code == 404


# ----------------------------------------------------------------- triggers API


def test_webhook_trigger_has_an_unguessable_url_and_viewers_do_not_see_it(personas, client_for, workflow):
    created = webhook(client_for(personas["bob"]), workflow)
    assert created["respond"] == "output" and created["timeout_s"] == 30 and created["signing"] is False
    assert "/hooks/" in created["url"] and len(created["url"].rstrip("/").rsplit("/", 1)[1]) >= 40
    assert "secret" not in created
    seen = client_for(personas["carol"]).get(f"/api/workflows/{workflow.pk}/triggers/{created['id']}/").json()
    assert seen["url"] is None and seen["type"] == "webhook"
    assert client_for(personas["carol"]).post(f"/api/workflows/{workflow.pk}/triggers/", {"type": "webhook"}, format="json").status_code == 403


def test_bad_trigger_settings_are_named(personas, client_for, workflow):
    alice = client_for(personas["alice"])
    url = f"/api/workflows/{workflow.pk}/triggers/"
    cases = [
        ({"type": "carrier-pigeon"}, "type"),
        ({"type": "webhook", "respond": "later"}, "respond"),
        ({"type": "webhook", "timeout_s": "soon"}, "timeout_s"),
        ({"type": "webhook", "colour": "red"}, "colour"),
        ({"type": "schedule", "every_s": 2}, "every_s"),
        ({"type": "schedule", "cron": "every day"}, "cron"),
        ({"type": "schedule", "cron": "0 9 * * *", "timezone": "Mars/Olympus"}, "timezone"),
        ({"type": "schedule"}, "cron"),
    ]
    for body, field in cases:
        r = alice.post(url, body, format="json")
        assert r.status_code == 400, body
        assert r.json()["error"].startswith(field), (body, r.json())


def test_schedule_shows_its_next_five_fires(personas, client_for, workflow):
    alice = client_for(personas["alice"])
    r = alice.post(f"/api/workflows/{workflow.pk}/triggers/",
                   {"type": "schedule", "cron": "30 9 * * 1", "timezone": "Europe/Paris", "input": {"topic": "owls"}}, format="json")
    assert r.status_code == 201, r.content
    fires = r.json()["next_fires"]
    assert len(fires) == 5
    from datetime import datetime
    from zoneinfo import ZoneInfo

    local = [datetime.fromisoformat(f).astimezone(ZoneInfo("Europe/Paris")) for f in fires]
    assert all((t.weekday(), t.hour, t.minute) == (0, 9, 30) for t in local)
    r = alice.patch(f"/api/workflows/{workflow.pk}/triggers/{r.json()['id']}/", {"every_s": 60}, format="json")
    assert r.status_code == 200 and r.json()["every_s"] == 60 and "cron" not in r.json()


def test_delete_a_trigger(personas, client_for, workflow):
    alice = client_for(personas["alice"])
    created = webhook(alice, workflow)
    assert alice.delete(f"/api/workflows/{workflow.pk}/triggers/{created['id']}/").status_code == 204
    assert alice.get(f"/api/workflows/{workflow.pk}/triggers/").json() == []


# ----------------------------------------------------------------- webhooks (real worker)


@pytest.fixture
def published(personas, client_for, worker):
    workflow = saved_workflow(personas["acme"], personas["alice"], name="Digest")
    alice = client_for(personas["alice"])
    assert publish(alice, workflow).status_code == 200
    return workflow, alice


def test_webhook_answers_with_the_output_of_the_published_version(published):
    workflow, alice = published
    hook = webhook(alice, workflow)
    # A draft saved after publishing changes nothing in production.
    draft = minimal_graph()
    draft["nodes"][1]["config"]["value"] = "DRAFT {{ input.topic }}"
    assert alice.put(f"/api/workflows/{workflow.pk}/", {"graph": draft, "base_version": 1}, format="json").status_code == 200
    code, data, _ = call(hook["url"])
    assert code == 200, data
    assert data["status"] == "succeeded" and data["output"] == "owls"
    run = Run.objects.get(pk=data["run"])
    assert run.version.number == 1 and run.trigger == "webhook"
    history = alice.get(f"/api/workflows/{workflow.pk}/runs/?trigger=webhook").json()
    assert [r["id"] for r in history] == [run.pk] and history[0]["trigger_id"] == hook["id"]
    assert alice.get(f"/api/workflows/{workflow.pk}/runs/?trigger=schedule").json() == []


def test_webhook_of_an_unpublished_workflow_is_a_409(published):
    workflow, alice = published
    hook = webhook(alice, workflow)
    alice.post(f"/api/workflows/{workflow.pk}/unpublish/")
    code, data, _ = call(hook["url"])
    assert code == 409 and "no published version" in data["error"]
    assert not Run.objects.filter(workflow=workflow).exists()


def test_webhook_input_is_checked_against_the_inputs_schema(published):
    workflow, alice = published
    hook = webhook(alice, workflow)
    code, data, _ = call(hook["url"], body=b'{"count": 3}')
    assert code == 400 and "topic" in data["error"]
    code, data, _ = call(hook["url"], body=b"not json")
    assert code == 400 and "JSON" in data["error"]


def test_accepted_answers_202_at_once(published):
    workflow, alice = published
    hook = webhook(alice, workflow, respond="accepted")
    code, data, _ = call(hook["url"])
    # 202 at once, without waiting for the run; a worker that is already up may finish it before the answer is built.
    assert code == 202 and data["status"] in ("queued", "running", "succeeded") and isinstance(data["run"], int)


def test_a_slow_run_answers_202_after_timeout_and_goes_on(personas, client_for, worker, fake_llm):
    workflow = saved_workflow(personas["acme"], personas["alice"], graph=llm_graph(), name="Slow")
    alice = client_for(personas["alice"])
    publish(alice, workflow)
    fake_llm.script.append(Reply(text="late but fine", delay_s=2.0))
    hook = webhook(alice, workflow, timeout_s=0.5)
    started = time.monotonic()
    code, data, _ = call(hook["url"])
    assert code == 202 and data["status"] in ("queued", "running") and data["url"].endswith(f"/api/runs/{data['run']}/")
    assert time.monotonic() - started < 1.8
    from tests.conftest import wait_for_run

    assert wait_for_run(data["run"]).output == "late but fine"


def test_a_webhook_still_answers_with_the_output_without_its_redis_wake_up(personas, client_for, worker, fake_llm, monkeypatch):
    """The wake-up comes from watching the run's event log in Redis; without
    it (Redis away, the event lost) the row, read every second, still answers:
    Redis is a cache, the database decides."""
    from editor import hooks

    workflow = saved_workflow(personas["acme"], personas["alice"], graph=llm_graph(), name="No wake-up")
    alice = client_for(personas["alice"])
    publish(alice, workflow)
    fake_llm.script.append(Reply(text="found it anyway", delay_s=0.3))
    monkeypatch.setattr(hooks, "POLL_S", 3600.0)  # the watcher never looks
    code, data, _ = call(webhook(alice, workflow)["url"])
    assert code == 200 and data["status"] == "succeeded" and data["output"] == "found it anyway"


def test_a_failed_run_answers_422_with_its_error(personas, client_for, worker, fake_llm):
    workflow = saved_workflow(personas["acme"], personas["alice"], graph=llm_graph(), name="Broken")
    alice = client_for(personas["alice"])
    publish(alice, workflow)
    for _ in range(5):
        fake_llm.script.append(Reply(status=400))
    code, data, _ = call(webhook(alice, workflow)["url"])
    assert code == 422 and data["status"] == "failed" and data["error"]["message"] and isinstance(data["run"], int)


def test_signed_webhook(published):
    workflow, alice = published
    hook = webhook(alice, workflow, signing=True)
    secret = hook["secret"]
    assert secret.startswith("whsec_")
    assert "secret" not in alice.get(f"/api/workflows/{workflow.pk}/triggers/{hook['id']}/").json()
    body = b'{"topic": "owls"}'
    now = str(int(time.time()))
    good = "sha256=" + triggers.sign(secret, now, body)
    code, data, _ = call(hook["url"], body=body)
    assert code == 401 and "X-Orchestrator-Signature" in data["error"]
    code, data, _ = call(hook["url"], body=body, **{"X-Orchestrator-Timestamp": now, "X-Orchestrator-Signature": "sha256=00"})
    assert code == 401 and "does not match" in data["error"]
    stale = str(int(time.time()) - 301)
    code, data, _ = call(hook["url"], body=body, **{"X-Orchestrator-Timestamp": stale,
                                                    "X-Orchestrator-Signature": "sha256=" + triggers.sign(secret, stale, body)})
    assert code == 401 and "stale" in data["error"]
    code, data, _ = call(hook["url"], body=body, **{"X-Orchestrator-Timestamp": now, "X-Orchestrator-Signature": good})
    assert code == 200 and data["output"] == "owls"


def test_idempotency_key_returns_the_first_run_and_starts_no_second(published):
    workflow, alice = published
    hook = webhook(alice, workflow)
    first = call(hook["url"], **{"Idempotency-Key": "order-42"})
    again = call(hook["url"], body=b'{"topic": "cats"}', **{"Idempotency-Key": "order-42"})
    other = call(hook["url"], **{"Idempotency-Key": "order-43"})
    assert first[0] == again[0] == 200
    assert again[1]["run"] == first[1]["run"] and again[1]["output"] == "owls"
    assert other[1]["run"] != first[1]["run"]
    assert Run.objects.filter(workflow=workflow).count() == 2


def test_rate_limit_answers_429_with_retry_after(published):
    workflow, alice = published
    hook = webhook(alice, workflow, respond="accepted", rate_limit_per_min=2)
    assert call(hook["url"])[0] == 202
    assert call(hook["url"])[0] == 202
    code, data, response = call(hook["url"])
    assert code == 429 and 1 <= int(response["Retry-After"]) <= 61 and "2 requests a minute" in data["error"]
    assert Run.objects.filter(workflow=workflow).count() == 2


def test_default_rate_limit_serves_150_runs_a_second():
    from django.conf import settings

    assert settings.WEBHOOK_RATE_LIMIT_PER_MIN >= 150 * 60


def test_body_over_the_limit_is_413(published, settings):
    workflow, alice = published
    settings.WEBHOOK_MAX_BODY_BYTES = 100
    hook = webhook(alice, workflow, respond="accepted")
    code, data, _ = call(hook["url"], body=json.dumps({"topic": "x" * 200}).encode())
    assert code == 413 and "100 bytes" in data["error"]


def test_rotated_and_unknown_tokens_are_404(published):
    workflow, alice = published
    hook = webhook(alice, workflow, signing=True)
    rotated = alice.post(f"/api/workflows/{workflow.pk}/triggers/{hook['id']}/rotate/").json()
    assert rotated["url"] != hook["url"] and rotated["secret"] != hook["secret"]
    code, data, _ = call(hook["url"])
    assert code == 404 and data == {"error": "not found"}
    code, data, _ = call(hook["url"].rsplit("/", 2)[0] + "/nonsense/")
    assert code == 404 and data == {"error": "not found"}
    assert Trigger.objects.get(pk=hook["id"]).get_secret() == rotated["secret"]
