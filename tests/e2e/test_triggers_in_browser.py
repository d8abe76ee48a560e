"""The Triggers tab in a real browser: publish, add a webhook, copy its URL,
call it from outside, and see the run appear in the history without a reload."""
from __future__ import annotations

import re

import httpx2
import pytest

from tests.api.builders import saved_workflow

from .conftest import real_password, shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_publish_copy_the_webhook_url_call_it_and_see_the_run_live(page, live_daphne, worker, personas):
    alice = personas["alice"]
    real_password(alice, "alice-password")
    workflow = saved_workflow(personas["acme"], alice, name="Hooked")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=f"http://{live_daphne}")

    sign_in(page, live_daphne, "alice", "alice-password")
    page.goto(f"http://{live_daphne}/workflows/{workflow.pk}/")
    page.get_by_role("tab", name="Triggers").click()
    panel = page.get_by_test_id("triggers-panel")
    panel.get_by_text("Nothing is published").wait_for()
    panel.get_by_role("button", name="Publish", exact=True).click()
    page.get_by_test_id("published-badge").wait_for()
    assert page.get_by_test_id("published-badge").text_content() == "published v1"
    panel.get_by_role("button", name="Add a webhook").click()
    url_box = page.get_by_test_id("webhook-url")
    url_box.wait_for()
    curl = page.get_by_test_id("curl").text_content()
    assert "curl -sS -X POST" in curl and '"topic":"…"' in curl
    panel.get_by_role("button", name="Copy URL").click()
    panel.get_by_role("button", name="Copied").wait_for()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == url_box.text_content() and re.match(rf"http://{re.escape(live_daphne)}/hooks/[\w-]{{40,}}/$", copied)
    shot(page, "triggers-01-webhook")

    # The world calls it.
    response = httpx2.post(copied, json={"topic": "owls"}, timeout=30)
    assert response.status_code == 200 and response.json()["output"] == "owls"
    run_id = response.json()["run"]
    # The curl example runs as shown.
    import json
    import subprocess

    done = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=60)
    assert json.loads(done.stdout)["output"] == "…", done.stdout + done.stderr

    # The history shows it, with its trigger, without a reload.
    page.get_by_role("tablist", name="Left panel").get_by_role("tab", name="Run").click()
    item = page.get_by_test_id("run-history").get_by_role("button", name=re.compile(rf"#{run_id}\b"))
    item.wait_for(timeout=10000)
    assert "webhook" in item.text_content()
    shot(page, "triggers-02-history")
