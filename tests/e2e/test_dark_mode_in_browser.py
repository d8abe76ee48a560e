"""Dark mode in a real browser: it follows prefers-color-scheme, the top
bar's switch overrides it (kept across pages and reloads), on the Django
pages and on the canvas. Screenshots of both modes go to test-artifacts/."""
from __future__ import annotations

import pytest

from editor import services
from tests.api.builders import llm_graph

from .conftest import real_password, shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def background(page, selector: str) -> str:
    return page.locator(selector).first.evaluate("e => getComputedStyle(e).backgroundColor")


def theme(page) -> str:
    return page.evaluate("() => document.documentElement.dataset.theme")


def test_dark_mode_follows_the_system_and_the_switch_overrides_it(browser, live_daphne, transactional_db, personas):
    alice = personas["alice"]
    real_password(alice, "alice-password")
    workflow = services.create_workflow(team=alice.personal_team, user=alice, graph=llm_graph(name="Dark and light"))
    context = browser.new_context(viewport={"width": 1280, "height": 720}, color_scheme="dark")
    page = context.new_page()
    try:
        sign_in(page, live_daphne, "alice", "alice-password")

        # The system says dark: so does the page, before anyone touches the switch.
        assert theme(page) == "dark"
        assert background(page, "body") == "rgb(11, 17, 32)"
        assert "Auto" in page.get_by_test_id("theme-switch").text_content()
        shot(page, "30-list-dark")
        page.goto(f"http://{live_daphne}/workflows/{workflow.pk}/")
        page.locator(".react-flow__node").first.wait_for()
        assert background(page, ".react-flow") == "rgb(11, 17, 32)"
        assert background(page, ".gnode") == "rgb(17, 24, 39)"
        shot(page, "31-canvas-dark")

        # The switch: Auto → Dark → Light; the choice survives a reload and another page.
        switch = page.get_by_test_id("theme-switch")
        switch.click()
        assert "Dark" in switch.text_content() and theme(page) == "dark"
        switch.click()
        assert "Light" in switch.text_content() and theme(page) == "light"
        page.reload()
        page.locator(".react-flow__node").first.wait_for()
        assert theme(page) == "light" and background(page, ".gnode") == "rgb(255, 255, 255)"
        shot(page, "32-canvas-light")
        page.goto(f"http://{live_daphne}/")
        assert theme(page) == "light" and background(page, "body") == "rgb(245, 246, 250)"
        shot(page, "33-list-light")
        # Back to following the system.
        page.get_by_test_id("theme-switch").click()
        assert "Auto" in page.get_by_test_id("theme-switch").text_content() and theme(page) == "dark"
    finally:
        context.close()
