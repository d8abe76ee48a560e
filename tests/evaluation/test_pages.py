"""/experiments/ and /experiments/{id}/: what a person sees in the browser."""
from __future__ import annotations

import re

import pytest
from django.test import Client

from .builders import finished_experiment

pytestmark = pytest.mark.django_db


def browser_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_experiment_page_shows_the_verdict_figures_and_cases(personas):
    experiment = finished_experiment(personas["acme"], personas["alice"], {"A": [0.0, 0.0, 0.0], "B": [1.0, 1.0, 1.0]})
    page = browser_for(personas["carol"]).get(f"/experiments/{experiment.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Prompt shoot-out" in html and "css/evaluation.css" in html
    # The verdict: leader, the pattern's label, and the honest statistics in words.
    assert re.search(r"<strong>B</strong> leads,\s*confidence <span class=\"confidence high\">HIGH</span>", html)
    assert '<dd class="p-value">0.25</dd>' in html
    assert "95 % interval [1.000, 1.000]" in html
    assert "B won 3 of 3 decided cases against A" in html
    # Two inline SVG figures; B's win-rate bar is full width, A's is empty.
    assert html.count("<svg") == 2 and 'aria-label="Win rates"' in html and 'aria-label="Score distributions"' in html
    assert "<title>B: 3 (100%)</title>" in html and "<title>A: 0 (0%)</title>" in html
    assert "B: 3 trials scored 0.9–1.0" in html and "A: 3 trials scored 0.0–0.1" in html
    # Latency, tokens and cost per variant; the per-case table with winners.
    assert "200 ms" in html and "$0.00200" in html
    cases_table = html[html.index('aria-label="Cases"'):]
    assert cases_table.count('<td class="winner"><strong>B</strong></td>') == 3
    assert "location.reload" not in html and '"live": false' in html  # finished: nothing to follow
    assert 'id="delete-experiment"' not in html  # carol is a viewer
    assert 'id="delete-experiment"' in browser_for(personas["bob"]).get(f"/experiments/{experiment.pk}/").content.decode()


def test_a_running_experiment_follows_its_progress_and_an_editor_may_cancel_it(personas):
    experiment = finished_experiment(personas["acme"], personas["alice"], {"A": [1.0], "B": [0.0]}, status="running")
    html = browser_for(personas["alice"]).get(f"/experiments/{experiment.pk}/").content.decode()
    assert "js/experiment.js" in html and "2 / 2 trials done" in html and 'id="cancel-experiment"' in html
    viewer = browser_for(personas["carol"]).get(f"/experiments/{experiment.pk}/").content.decode()
    assert "js/experiment.js" in viewer and 'id="cancel-experiment"' not in viewer


def test_labels_are_escaped_in_the_charts(personas):
    experiment = finished_experiment(personas["acme"], personas["alice"], {"<b>A</b>": [1.0], "B": [0.0]})
    html = browser_for(personas["alice"]).get(f"/experiments/{experiment.pk}/").content.decode()
    assert "<b>A</b>" not in html and "&lt;b&gt;A&lt;/b&gt;" in html


def test_the_list_shows_the_teams_experiments(personas):
    experiment = finished_experiment(personas["acme"], personas["alice"], {"A": [1.0], "B": [0.0]})
    html = browser_for(personas["bob"]).get("/experiments/").content.decode()
    assert f'href="/experiments/{experiment.pk}/"' in html and "Prompt shoot-out" in html
    assert "Prompt shoot-out" not in browser_for(personas["mallory"]).get("/experiments/").content.decode()


def test_outsiders_get_404_and_strangers_the_sign_in_page(personas):
    experiment = finished_experiment(personas["acme"], personas["alice"], {"A": [1.0], "B": [0.0]})
    assert browser_for(personas["mallory"]).get(f"/experiments/{experiment.pk}/").status_code == 404
    anonymous = Client().get(f"/experiments/{experiment.pk}/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")


def test_the_dataset_pages_give_editors_the_forms_and_viewers_the_table(personas):
    from .builders import capitals

    dataset = capitals(personas["acme"])
    listing = browser_for(personas["carol"]).get("/datasets/").content.decode()
    # carol views Acme: she sees its dataset, and may create datasets only in her personal team.
    assert f'href="/datasets/{dataset.pk}/"' in listing
    teams = listing.split('id="dataset-team"')[1].split("</select>")[0]
    assert "Acme" not in teams and "carol" in teams
    assert "Acme" in browser_for(personas["bob"]).get("/datasets/").content.decode().split('id="dataset-team"')[1].split("</select>")[0]
    editor = browser_for(personas["bob"]).get(f"/datasets/{dataset.pk}/").content.decode()
    assert 'id="add-form"' in editor and 'id="delete-dataset"' in editor and f"/experiments/new/?dataset={dataset.pk}" in editor
    viewer = browser_for(personas["carol"]).get(f"/datasets/{dataset.pk}/").content.decode()
    assert 'id="add-form"' not in viewer and 'id="delete-dataset"' not in viewer and "viewer: read only" in viewer
    assert browser_for(personas["mallory"]).get(f"/datasets/{dataset.pk}/").status_code == 404
    assert "Capitals" not in browser_for(personas["mallory"]).get("/datasets/").content.decode()


def test_the_experiment_form_offers_only_datasets_an_editor_may_use(personas):
    from .builders import capitals

    capitals(personas["acme"])
    page = browser_for(personas["bob"]).get("/experiments/new/").content.decode()
    assert 'id="experiment-form"' in page and '"name": "Capitals"' in page and '"input_keys": ["topic"]' in page
    viewer = browser_for(personas["carol"]).get("/experiments/new/").content.decode()
    assert 'id="experiment-form"' not in viewer
    assert "Capitals" not in viewer.split('id="experiment-boot"')[1]  # carol's own personal team has none
    assert 'href="/experiments/new/"' in browser_for(personas["bob"]).get("/experiments/").content.decode()
