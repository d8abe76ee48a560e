"""The workflow list in a real browser: search, filter by tag, sort, rename,
edit tags, duplicate, and delete behind a dialog that says what it takes."""
from __future__ import annotations

import pytest

from editor import services
from editor.models import Run, Workflow

from tests.api.builders import minimal_graph

from .conftest import real_password, shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def rows(page) -> list[str]:
    return page.locator("table.list tr[data-workflow] a.wf-name").all_text_contents()


def test_find_rename_tag_duplicate_and_delete_from_the_list(page, live_daphne, transactional_db, personas):
    alice, acme = personas["alice"], personas["acme"]
    real_password(alice, "alice-password")
    for name in ("Billing helper", "Weekly digest", "Triage"):
        services.create_workflow(team=acme, user=alice, graph=minimal_graph(name=name))
    digest = Workflow.objects.get(name="Weekly digest")
    Run.objects.create(workflow=digest, version=digest.latest_version, graph=digest.latest_version.graph, team=acme, input={}, status="succeeded")
    sign_in(page, live_daphne, "alice", "alice-password")
    page.goto(f"http://{live_daphne}/?team={acme.pk}")

    # Sort by name, then search.
    page.get_by_label("Sort workflows").select_option("name")
    page.wait_for_url("**sort=name**")
    assert rows(page) == ["Billing helper", "Triage", "Weekly digest"]
    page.get_by_label("Search workflows").fill("digest")
    page.get_by_label("Search workflows").press("Enter")
    page.wait_for_url("**q=digest**")
    assert rows(page) == ["Weekly digest"]

    # Tag it from the list; the tag filter then offers it and finds it.
    row = page.locator(f"tr[data-workflow='{digest.pk}']")
    row.get_by_label("Actions for Weekly digest").click()
    row.get_by_role("button", name="Edit tags…").click()
    row.get_by_label("Tags of Weekly digest, separated by commas").fill("News, prod")
    row.get_by_role("button", name="Save tags").click()
    page.locator(f"tr[data-workflow='{digest.pk}'] a.tag").first.wait_for()
    assert page.locator(f"tr[data-workflow='{digest.pk}'] a.tag").all_text_contents() == ["news", "prod"]
    page.get_by_test_id("clear-filters").click()
    page.get_by_label("Filter by tag").select_option("prod")
    page.wait_for_url("**tag=prod**")
    assert rows(page) == ["Weekly digest"]

    # Rename: the input stops at the API's limit.
    row = page.locator(f"tr[data-workflow='{digest.pk}']")
    row.get_by_label("Actions for Weekly digest").click()
    row.get_by_role("button", name="Rename…").click()
    box = row.get_by_label("New name for Weekly digest")
    assert box.get_attribute("maxlength") == "200"
    box.fill("Monday digest")
    row.get_by_role("button", name="Rename", exact=True).click()
    page.locator("a.wf-name", has_text="Monday digest").wait_for()
    digest.refresh_from_db()
    assert digest.name == "Monday digest" and digest.tags == ["news", "prod"]

    # Duplicate: the copy has a name of its own and the tags.
    page.locator(f"tr[data-workflow='{digest.pk}']").get_by_label("Actions for Monday digest").click()
    page.locator(f"tr[data-workflow='{digest.pk}']").get_by_role("button", name="Duplicate").click()
    page.locator("a.wf-name", has_text="Monday digest (copy)").wait_for()
    assert rows(page) == ["Monday digest", "Monday digest (copy)"]  # still sorted by name, still filtered by tag
    shot(page, "20-workflow-list-filtered")

    # Delete asks first and says what goes with it; Cancel keeps it.
    row = page.locator(f"tr[data-workflow='{digest.pk}']")
    row.get_by_label("Actions for Monday digest").click()
    row.get_by_role("button", name="Delete…").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    assert "Delete Monday digest?" in dialog.text_content()
    assert "2 versions and 1 run" in dialog.text_content()  # the rename saved v2: the name is in the document
    shot(page, "21-workflow-delete-dialog")
    dialog.get_by_role("button", name="Cancel").click()
    assert Workflow.objects.filter(pk=digest.pk).exists()
    row.get_by_label("Actions for Monday digest").click()
    row.get_by_role("button", name="Delete…").click()
    page.get_by_test_id("confirm-delete").click()
    row.wait_for(state="detached")
    assert not Workflow.objects.filter(pk=digest.pk).exists()
    assert not Run.objects.filter(workflow_id=digest.pk).exists()


def test_a_viewer_sees_no_rename_or_delete(page, live_daphne, transactional_db, personas):
    carol, acme = personas["carol"], personas["acme"]
    real_password(carol, "carol-password")
    wf = services.create_workflow(team=acme, user=personas["alice"], graph=minimal_graph(name="Shared"))
    sign_in(page, live_daphne, "carol", "carol-password")
    page.goto(f"http://{live_daphne}/?team={acme.pk}")
    row = page.locator(f"tr[data-workflow='{wf.pk}']")
    row.get_by_label("Actions for Shared").click()
    assert row.get_by_role("button", name="Rename…").count() == 0
    assert row.get_by_role("button", name="Delete…").count() == 0
    assert "Only an owner of Acme deletes it." in row.text_content()
