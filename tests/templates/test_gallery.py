"""The gallery page (/templates/) and its server-drawn graph previews."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from django.test import Client

from editor.gallery import back_edges, preview_svg
from editor.models import Workflow
from editor.workflow_templates import all_templates, template

SVG = "{http://www.w3.org/2000/svg}"


def small_loop() -> dict:
    return {
        "name": "Loop <&> demo",
        "nodes": [
            {"id": "start", "type": "start", "position": {"x": 0, "y": 0}},
            {"id": "retry", "type": "loop", "name": "Retry", "position": {"x": 0, "y": 120}},
            {"id": "work", "type": "llm", "name": "A very long name that does not fit in a box", "position": {"x": 0, "y": 240}},
            {"id": "done", "type": "output", "position": {"x": 220, "y": 360}},
            {"id": "memo", "type": "note", "position": {"x": 500, "y": 0}, "config": {"text": "hi"}},
        ],
        "edges": [
            {"source": "start", "target": "retry"},
            {"source": "retry", "source_port": "next", "target": "work"},
            {"source": "work", "target": "retry"},
            {"source": "retry", "source_port": "done", "target": "done"},
        ],
    }


def test_back_edges_are_the_edges_that_close_a_cycle():
    assert back_edges(small_loop()) == {2}
    assert back_edges({"nodes": [], "edges": []}) == set()


def test_preview_draws_a_box_per_node_and_dashes_the_loop_back_edge():
    svg = preview_svg(small_loop())
    root = ET.fromstring(svg)  # well-formed, names escaped
    nodes = root.findall(f"{SVG}g")
    assert [g.get("data-node") for g in nodes] == ["start", "retry", "work", "done"]  # the note is left out
    assert [g.get("class") for g in nodes] == ["node start", "node loop", "node llm", "node output"]
    edges = root.findall(f"{SVG}path")
    assert len(edges) == 4
    assert [e.get("class") for e in edges].count("edge back") == 1
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts[1] == "Retry" and texts[2].endswith("…") and len(texts[2]) == 24
    assert texts[0] == "start"  # unnamed nodes show their id
    assert 'aria-label="Graph of Loop &lt;&amp;&gt; demo"' in svg


def test_preview_view_box_holds_every_node():
    svg = preview_svg(small_loop())
    x, y, w, h = map(float, re.search(r'viewBox="([^"]+)"', svg).group(1).split())
    assert x < 0 and y < 0 and x + w >= 220 + 172 and y + h >= 360 + 40


def test_preview_of_an_empty_graph():
    assert "<svg" in preview_svg({"nodes": [], "edges": []})


@pytest.mark.parametrize("t", all_templates(), ids=lambda t: t["slug"])
def test_every_template_previews_as_valid_svg(t):
    root = ET.fromstring(preview_svg(t["graph"]))
    assert len(root.findall(f"{SVG}g")) == t["node_count"]
    loops = [n for n in t["graph"]["nodes"] if n["type"] == "loop"]
    assert len([p for p in root.findall(f"{SVG}path") if p.get("class") == "edge back"]) == len(loops)


@pytest.fixture
def alice_browser(personas):
    client = Client()
    client.force_login(personas["alice"])
    return client


def test_the_gallery_page_shows_a_card_per_template(alice_browser):
    r = alice_browser.get("/templates/")
    assert r.status_code == 200
    html = r.content.decode()
    for t in all_templates():
        assert f'id="template-{t["slug"]}"' in html
        assert f'action="/templates/{t["slug"]}/use/"' in html
    assert html.count("<svg") == len(all_templates())
    assert "css/gallery.css" in html and 'href="/templates/"' in html
    assert "csrfmiddlewaretoken" in html


def test_the_gallery_needs_a_sign_in(db):
    r = Client().get("/templates/")
    assert r.status_code == 302 and "/login/" in r["Location"]


def test_use_this_template_creates_the_workflow_and_opens_it(personas):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas["alice"])
    page = client.get("/templates/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    r = client.post("/templates/routing/use/", {"csrfmiddlewaretoken": token})
    workflow = Workflow.objects.get(template_slug="routing")
    assert r.status_code == 302 and r["Location"] == f"/workflows/{workflow.pk}/"
    assert workflow.team == personas["alice"].personal_team
    assert workflow.latest_version.graph["nodes"] == template("routing")["graph"]["nodes"]


def test_use_in_a_team_where_you_only_view_is_refused_with_a_message(personas):
    client = Client()
    client.force_login(personas["carol"])
    r = client.post("/templates/routing/use/", {"team": personas["acme"].pk}, follow=True)
    assert not Workflow.objects.filter(team=personas["acme"]).exists()
    assert "viewer" in r.content.decode()


def test_use_of_an_unknown_template(alice_browser):
    r = alice_browser.post("/templates/nope/use/", follow=True)
    assert "no template" in r.content.decode()
    assert not Workflow.objects.exists()
