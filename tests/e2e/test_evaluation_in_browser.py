"""Evaluation without curl, in a real browser: create a dataset, add cases by
form, by pasted JSON and by a CSV file (a bad file's problems named by line),
create an experiment of two prompt variants, watch its progress while the real
worker runs it against the fake model, read the verdict, open a case's run."""
from __future__ import annotations

import re

import pytest

from evaluation.models import Dataset, Experiment
from tests.api.builders import llm_graph
from tests.evaluation.builders import CAPITALS
from tests.fake_openai import Reply

from editor import services

from .conftest import real_password, shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCHEMA = '{"type": "object", "properties": {"topic": {"type": "string"}}, "required": ["topic"]}'


def capital_only_when_asked_correctly(body) -> Reply:
    prompt = body["messages"][-1]["content"]
    country = next((c for c in CAPITALS if c in prompt), None)
    if prompt.startswith("Answer correctly") and country:
        return Reply(text=f"The capital of {country} is {CAPITALS[country]}.")
    return Reply(text="It is a large city with many museums.")


def test_a_dataset_and_an_experiment_created_and_run_in_the_browser(page, live_daphne, worker, personas, fake_llm):
    fake_llm.responder = capital_only_when_asked_correctly
    fake_llm.latency_s = 0.4  # slow enough to see the progress move
    alice = personas["alice"]
    real_password(alice, "alice-password")
    workflow = services.create_workflow(team=alice.personal_team, user=alice, graph=llm_graph(), name="Capital finder")
    base = f"http://{live_daphne}"
    sign_in(page, live_daphne, "alice", "alice-password")

    # A dataset, with an input schema.
    page.get_by_role("link", name="Datasets").first.click()
    page.get_by_label("Name").fill("Capitals")
    page.get_by_label("Input schema").fill(SCHEMA)
    page.get_by_role("button", name="Create dataset").click()
    page.wait_for_url(re.compile(r".*/datasets/\d+/$"))
    dataset = Dataset.objects.get(name="Capitals")
    assert dataset.input_schema["required"] == ["topic"]

    # One case by the form: the schema's field is a field of its own.
    one = page.locator("#add-form")
    one.get_by_label("topic", exact=True).fill("France")
    one.get_by_label("Expected", exact=True).fill("Paris")
    one.get_by_label("Tags", exact=True).fill("europe, easy")
    one.get_by_role("button", name="Add case").click()
    page.get_by_text("Added 1 case.").wait_for()
    rows = page.locator("#case-rows tr")
    assert rows.count() == 1 and "France" in rows.first.text_content() and "europe" in rows.first.text_content()

    # Pasted JSON.
    page.get_by_role("tab", name="Paste JSON").click()
    page.get_by_label(re.compile("Cases as JSON")).fill('[{"input": {"topic": "Japan"}, "expected": "Tokyo"}]')
    page.get_by_role("button", name="Add pasted cases").click()
    page.get_by_text("Added 1 case.").wait_for()

    # A CSV file with two bad rows: nothing added, each problem named by line and field.
    page.get_by_role("tab", name="Upload CSV / JSONL").click()
    upload = page.locator("#add-upload")
    upload.get_by_label(re.compile("A .csv, .jsonl or .json file")).set_input_files(
        {"name": "capitals.csv", "mimeType": "text/csv", "buffer": b"topic,expected\nKenya,Nairobi\n,Lima\nPeru,{oops\n"})
    upload.get_by_role("button", name="Upload").click()
    alert = upload.get_by_role("alert")
    alert.wait_for()
    assert "line 3, input: 'topic' is a required property" in alert.text_content()
    assert "line 4, expected: starts like JSON but is not valid JSON" in alert.text_content()
    assert dataset.cases.count() == 2
    shot(page, "eval-01-import-errors")
    upload.get_by_label(re.compile("A .csv, .jsonl or .json file")).set_input_files(
        {"name": "capitals.csv", "mimeType": "text/csv", "buffer": b"topic,expected\nKenya,Nairobi\n"})
    upload.get_by_role("button", name="Upload").click()
    page.get_by_text("Added 1 case.").wait_for()
    page.locator("#case-rows tr").nth(2).wait_for()
    assert [c.input["topic"] for c in dataset.cases.all()] == ["France", "Japan", "Kenya"]

    # Edit a case in place.
    page.get_by_role("button", name=f"Edit case {dataset.cases.get(input__topic='Japan').pk}").click()
    page.locator("#case-rows").get_by_role("textbox", name="Expected").fill("Tokyo, Japan")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Tokyo, Japan").wait_for()
    shot(page, "eval-02-dataset")

    # The experiment: A the saved prompt, B a prompt variant; contains; one at a time.
    page.get_by_role("link", name="New experiment on it").click()
    page.wait_for_url(re.compile(rf".*/experiments/new/\?dataset={dataset.pk}$"))
    page.get_by_label("Name").fill("Saved vs correct")
    variant_b = page.locator("fieldset.variant").nth(1)
    variant_b.get_by_label(re.compile("Replace the prompt of Writer")).check()
    variant_b.get_by_role("textbox", name=re.compile("Prompt of Writer")).fill("Answer correctly: the capital of {{ input.topic }}")
    page.get_by_label("Parallel runs").fill("1")
    assert "2 variants × 3 cases × 1 repeat = 6 runs." in page.locator("#trial-count").text_content()
    shot(page, "eval-03-new-experiment")
    page.get_by_role("button", name="Start experiment").click()
    page.wait_for_url(re.compile(r".*/experiments/\d+/$"))
    experiment = Experiment.objects.get(name="Saved vs correct")
    assert experiment.max_parallel == 1 and experiment.variants.get(label="B").prompt_overrides == {
        "write": "Answer correctly: the capital of {{ input.topic }}"}
    assert experiment.variants.get(label="A").prompt_overrides == {}

    # Progress moves while it runs, without reloading the page…
    page.evaluate("window.__samePage = true")
    page.wait_for_function("() => /^[1-5] \\/ 6 trials done$/.test(document.querySelector('[data-testid=experiment-progress]').textContent)", timeout=30000)
    assert page.evaluate("window.__samePage === true")
    page.locator("td.trials a.trial").first.wait_for()
    shot(page, "eval-04-running")
    # …and at the end the page shows the verdict.
    page.wait_for_function("() => /finished/.test(document.querySelector('[data-testid=experiment-status]')?.textContent || '')", timeout=60000)
    assert "6 / 6 trials done" in page.get_by_test_id("experiment-progress").text_content()
    assert re.search(r"B\s+leads", page.locator(".verdict .headline").text_content())
    shot(page, "eval-05-finished")

    # Each case links to its runs: B's run for the first case opens on the canvas.
    first_case = page.locator("table.cases tbody tr").first
    links = first_case.locator("td.trials a.trial")
    assert [links.nth(i).text_content() for i in range(links.count())] == ["A·1", "B·1"]
    run_id = int(re.search(r"/runs/(\d+)/", links.nth(1).get_attribute("href")).group(1))
    assert experiment.trials.get(run_id=run_id).variant.label == "B"
    links.nth(1).click()
    page.wait_for_url(re.compile(rf".*/workflows/{workflow.pk}/\?run={run_id}$"))  # /runs/{id}/ opens the run on the canvas
    page.wait_for_function("() => /succeeded/i.test(document.querySelector('[data-testid=run-status]')?.textContent || '')", timeout=20000)
    assert "The capital of France is Paris." in page.get_by_test_id("run-output").text_content()
    shot(page, "eval-06-run")

    # A dataset that holds results is not deleted under them; the page says why.
    page.goto(f"{base}/datasets/{dataset.pk}/")
    page.get_by_role("button", name="Delete dataset").click()
    assert "holds the results of 1 experiment" in page.locator("#dataset-error").text_content()
    assert Dataset.objects.filter(pk=dataset.pk).exists()
    # Deleting the experiment (confirmed) frees it; its runs stay in the workflow's history.
    page.get_by_role("link", name="Saved vs correct").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete experiment").click()
    page.wait_for_url(f"{base}/experiments/")
    assert not Experiment.objects.filter(pk=experiment.pk).exists() and workflow.runs.count() == 6


def test_a_case_and_an_unused_dataset_are_deleted_after_confirmation(page, live_daphne, worker, personas):
    alice = personas["alice"]
    real_password(alice, "alice-password")
    dataset = Dataset.objects.create(team=alice.personal_team, name="Scratch", created_by=alice)
    keep, drop = (dataset.cases.create(input={"topic": t}) for t in ("Chad", "Mali"))
    sign_in(page, live_daphne, "alice", "alice-password")
    page.goto(f"http://{live_daphne}/datasets/{dataset.pk}/")
    page.get_by_role("button", name=f"Delete case {drop.pk}").click()
    dialog = page.locator("#confirm-dialog")
    assert f"Delete case {drop.pk}?" in dialog.text_content()
    dialog.get_by_role("button", name="Keep it").click()
    assert dataset.cases.count() == 2
    page.get_by_role("button", name=f"Delete case {drop.pk}").click()
    dialog.get_by_role("button", name="Delete").click()
    page.wait_for_function("() => document.querySelectorAll('#case-rows tr').length === 1")
    assert list(dataset.cases.values_list("pk", flat=True)) == [keep.pk]
    page.get_by_role("button", name="Delete dataset").click()
    assert "Its 1 case go with it" in dialog.text_content()
    dialog.get_by_role("button", name="Delete").click()
    page.wait_for_url(f"http://{live_daphne}/datasets/")
    assert not Dataset.objects.filter(pk=dataset.pk).exists()


def test_a_viewer_reads_a_dataset_but_gets_no_forms(page, live_daphne, worker, personas):
    carol = personas["carol"]
    real_password(carol, "carol-password")
    dataset = Dataset.objects.create(team=personas["acme"], name="Shared", created_by=personas["alice"])
    dataset.cases.create(input={"topic": "Peru"}, expected="Lima")
    sign_in(page, live_daphne, "carol", "carol-password")
    page.goto(f"http://{live_daphne}/datasets/{dataset.pk}/")
    page.locator("#case-rows tr[data-case]").wait_for()
    assert "Lima" in page.locator("#case-rows").text_content()
    assert page.get_by_test_id("read-only").is_visible()
    assert page.get_by_role("button", name=re.compile("Edit|Delete|Add")).count() == 0


def test_a_case_added_before_the_pages_first_load_answers_stays_in_the_table(page, live_daphne, transactional_db, personas):
    """The reported 'No cases yet' after adding a case: the page's first load of
    the dataset, answered last, drew the empty table over the one the add had
    just loaded. Held here on purpose until the case is added."""
    alice = personas["alice"]
    real_password(alice, "alice-password")
    dataset = Dataset.objects.create(team=alice.personal_team, name="Race", created_by=alice,
                                     input_schema={"type": "object", "properties": {"topic": {"type": "string"}}, "required": ["topic"]})
    sign_in(page, live_daphne, "alice", "alice-password")
    held = []
    page.route(re.compile(rf".*/api/datasets/{dataset.pk}/$"), lambda route: held.append(route) if not held else route.continue_())
    page.goto(f"http://{live_daphne}/datasets/{dataset.pk}/")
    for _ in range(50):
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the page did not load its dataset"
    first_load = held[0].fetch()  # the empty dataset, as it was before the add

    one = page.locator("#add-form")
    one.get_by_label("topic", exact=True).fill("Chad")
    one.get_by_role("button", name="Add case").click()
    page.get_by_text("Added 1 case.").wait_for()
    with page.expect_response(re.compile(rf".*/api/datasets/{dataset.pk}/$")):
        held[0].fulfill(response=first_load)  # the stale answer arrives last
    page.wait_for_timeout(300)
    assert page.locator("#case-rows tr[data-case]").count() == 1, page.locator("#case-rows").text_content()
    assert "No cases yet" not in page.locator("#case-rows").text_content()
