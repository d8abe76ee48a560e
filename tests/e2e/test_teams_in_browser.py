"""A team in the browser alone: an owner creates a team and invites a
colleague with a link; the colleague signs up through it, opens the shared
workflow and sees the owner there; the owner makes them an editor and their
page lets them edit at once, with nobody reloading anything."""
from __future__ import annotations

import re

import pytest

from editor import services
from editor.models import Team
from editor.workflow_templates import all_templates

from .conftest import real_password, shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_invite_sign_up_share_presence_and_a_live_role_change(browser, live_daphne, transactional_db, personas):
    server = f"http://{live_daphne}"
    alice = personas["alice"]
    real_password(alice, "alice-password")
    owner_context = browser.new_context(viewport={"width": 1280, "height": 800})
    owner = owner_context.new_page()
    sign_in(owner, live_daphne, "alice", "alice-password")

    # The owner creates a team on the Teams page.
    owner.get_by_role("link", name="Teams", exact=True).click()
    owner.get_by_label("New team").fill("Research")
    owner.get_by_role("button", name="Create team").click()
    owner.locator("#team-name", has_text="Research").wait_for()
    team = Team.objects.get(name="Research")
    template = next(t for t in all_templates() if t["slug"] == "prompt-chaining")
    workflow = services.create_workflow(team=team, user=alice, graph=template["graph"], name="Shared chain")

    # … and invites a colleague as a viewer: a link to copy.
    owner.get_by_role("button", name="Invite…").click()
    dialog = owner.get_by_role("dialog")
    dialog.get_by_label("Role", exact=True).select_option("viewer")
    dialog.get_by_role("button", name="Create link").click()
    link = owner.get_by_test_id("invite-url")
    link.wait_for()
    url = link.input_value()
    assert re.fullmatch(rf"{re.escape(server)}/invite/[\w-]+/", url), url
    shot(owner, "teams-01-invite-link")
    dialog.get_by_role("button", name="Close").click()

    # The owner opens the shared workflow (a second tab of the same session).
    owner_wf = owner_context.new_page()
    owner_wf.goto(f"{server}/workflows/{workflow.pk}/")
    owner_wf.locator(".react-flow__node").first.wait_for()

    # The colleague has no account: they sign up through the link and land in the team.
    colleague_context = browser.new_context(viewport={"width": 1280, "height": 800})
    colleague = colleague_context.new_page()
    colleague.goto(url)
    colleague.get_by_role("heading", name="Join Research").wait_for()
    colleague.get_by_label("Username").fill("dave")
    colleague.get_by_label("Password", exact=True).fill("a-long-pass-phrase-9")
    colleague.get_by_label("Password again").fill("a-long-pass-phrase-9")
    colleague.get_by_role("button", name="Create account and join").click()
    colleague.wait_for_url(re.compile(rf".*/\?team={team.pk}$"))
    assert team.memberships.get(user__username="dave").role == "viewer"

    # They open the shared workflow: the owner is there; they may only look, and are told whom to ask.
    colleague.get_by_role("link", name="Shared chain").click()
    colleague.wait_for_url(re.compile(rf".*/workflows/{workflow.pk}/.*"))
    presence = colleague.get_by_test_id("presence")
    presence.get_by_text("alice").wait_for(timeout=10000)
    assert "ask alice" in colleague.get_by_test_id("read-only").text_content()
    assert colleague.get_by_test_id("save").is_disabled()
    # … and the owner sees them arrive.
    owner_wf.get_by_test_id("presence").get_by_text("dave").wait_for(timeout=10000)
    shot(colleague, "teams-02-viewer-sees-owner")

    # The owner makes them an editor on the Teams page …
    owner.bring_to_front()
    owner.reload()
    owner.get_by_label("Role of dave").select_option("editor")
    owner.get_by_test_id("activity").get_by_text("changed dave's role from viewer to editor").wait_for(timeout=10000)

    # … and the colleague's open page lets them edit, without a reload.
    colleague.get_by_test_id("read-only").wait_for(state="detached", timeout=10000)
    colleague.get_by_text("Your role is now editor").wait_for()
    colleague.get_by_role("tab", name="Workflow").click()
    run_button = colleague.get_by_role("button", name=re.compile(r"\bRun$"))
    assert run_button.count() == 0 or run_button.first.is_enabled()
    shot(colleague, "teams-03-editor-live")

    # Now an editor, they change something; the owner saves v2 meanwhile: they hear of it at once,
    # and can look at the owner's change and merge before their own save is refused.
    colleague.get_by_role("button", name="Layout").click()
    colleague.get_by_test_id("unsaved").wait_for()
    owner_wf.get_by_test_id("presence").locator(".presence-user.editing", has_text="dave").wait_for(timeout=10000)
    graph = workflow.latest_version.graph
    graph["description"] = "Now with a sharper outline."
    graph["nodes"] = [dict(n, name="Outline (sharper)") if n["id"] == "outline" else n for n in graph["nodes"]]
    # Through the API, as the owner's own client would (the live server sends the news).
    import json
    import urllib.request

    from rest_framework.authtoken.models import Token

    token = Token.objects.get_or_create(user=alice)[0].key
    request = urllib.request.Request(f"{server}/api/workflows/{workflow.pk}/", method="PUT",
                                     data=json.dumps({"graph": graph, "base_version": 1, "message": "sharper outline"}).encode(),
                                     headers={"Authorization": f"Token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.load(response)["version"] == 2
    banner = colleague.get_by_test_id("teammate-saved")
    banner.get_by_text("alice saved v2").wait_for(timeout=10000)
    banner.get_by_role("button", name="See their change and merge").click()
    colleague.get_by_test_id("conflict-dialog").wait_for()
    assert "outline" in colleague.get_by_test_id("conflict-dialog").text_content()
    shot(colleague, "teams-03b-teammate-saved-merge")

    # The owner's team page recorded all of it.
    activity = owner.get_by_test_id("activity").text_content()
    assert "dave joined through an invitation as viewer" in activity and "alice created an invitation as viewer" in activity
    owner_context.close()
    colleague_context.close()


def test_store_test_and_pick_a_credential_then_move_the_workflow(page, live_daphne, transactional_db, personas, fake_openai_server):
    from tests.api.builders import llm_graph

    server = f"http://{live_daphne}"
    alice, acme = personas["alice"], personas["acme"]
    real_password(alice, "alice-password")
    fake_openai_server.reset()
    fake_openai_server.accepted_keys = {"sk-good"}
    workflow = services.create_workflow(team=acme, user=alice, graph=llm_graph(name="Writer"), name="Writer")
    sign_in(page, live_daphne, "alice", "alice-password")

    # The owner stores a model credential on the team's Credentials page and tests it.
    page.goto(f"{server}/teams/{acme.pk}/credentials/")
    page.get_by_label("Name").fill("fake")
    page.get_by_label("API key").fill("sk-good")
    page.get_by_label("Base URL").fill(fake_openai_server.base_url)
    page.get_by_label("Default model").fill("fake-model")
    page.get_by_role("button", name="Add credential").click()
    row = page.locator("tr[data-credential=fake]")
    row.wait_for()
    assert "sk-good" not in page.content()
    row.get_by_role("button", name="Test").click()
    page.get_by_test_id("test-fake").get_by_text("works: 2 models").wait_for(timeout=10000)
    shot(page, "teams-04-credentials")

    # On the llm node the credential is a picker, and the model field offers the provider's models.
    page.goto(f"{server}/workflows/{workflow.pk}/")
    page.locator('.react-flow__node[data-id="write"] .gnode-name').click()
    page.get_by_role("tab", name="Node").click()
    panel = page.get_by_test_id("config-panel")
    picker = panel.get_by_label("Credential", exact=True)
    picker.wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=config-panel] select option')].some(o => o.value === 'fake')", timeout=10000)
    picker.select_option("fake")
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=config-panel] datalist option')].map(o => o.value).join(',') === 'fake-model,fake-model-large'", timeout=10000)
    page.get_by_test_id("save").click()
    page.wait_for_function("() => !document.querySelector('[data-testid=unsaved]')", timeout=10000)
    assert workflow.latest_version.graph["nodes"][1]["config"]["credential"] == "fake"
    shot(page, "teams-05-credential-picker")

    # From the list, the owner moves it to her personal team; its versions go with it.
    page.goto(f"{server}/?team={acme.pk}")
    row = page.locator(f"tr[data-workflow='{workflow.pk}']")
    row.locator("summary").click()
    row.get_by_label("Target team for Writer").select_option(str(alice.personal_team.pk))
    row.get_by_role("button", name="Move to team…").click()
    page.wait_for_url(re.compile(rf".*/\?team={alice.personal_team.pk}$"))
    page.get_by_role("link", name="Writer").wait_for()
    workflow.refresh_from_db()
    assert workflow.team_id == alice.personal_team.pk and workflow.versions.count() == 2
    fake_openai_server.reset()
