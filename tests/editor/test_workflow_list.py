"""editor/workflow_list.py: the rules for tags and for the distinct names of copies."""
from __future__ import annotations

import pytest

from editor.models import Workflow
from editor.workflow_list import NAME_MAX_LENGTH, TagError, clean_tags, distinct_name


def test_tags_are_trimmed_lowered_deduplicated_in_order():
    assert clean_tags(["  Prod ", "news", "PROD", "", "a  b"]) == ["prod", "news", "a b"]
    assert clean_tags(["Überblick", "c++"]) == ["überblick", "c++"]


@pytest.mark.parametrize("tags", [["-lead"], ["a/b"], [None], {"a": 1}])
def test_a_tag_that_cannot_be_stored_is_refused(tags):
    with pytest.raises(TagError):
        clean_tags(tags)


def test_distinct_names_count_up_and_stay_within_the_limit(personas):
    team = personas["acme"]
    long = "x" * NAME_MAX_LENGTH
    for name in ("Digest", "Digest (2)", long):
        Workflow.objects.create(team=team, name=name)

    assert distinct_name(team.pk, "Fresh") == "Fresh"
    assert distinct_name(team.pk, "digest") == "digest (3)"
    assert distinct_name(team.pk, "Digest (2)") == "Digest (3)"
    renamed = distinct_name(team.pk, long)
    assert renamed.endswith(" (2)") and len(renamed) == NAME_MAX_LENGTH
    assert distinct_name(personas["mallory"].personal_team.pk, "Digest") == "Digest"  # another team's names do not count


def test_the_home_pages_recent_runs_leave_an_experiments_runs_out(personas, client):
    from editor.models import Run

    from ..api.builders import minimal_graph, saved_workflow

    workflow = saved_workflow(personas["acme"], personas["alice"], graph=minimal_graph(), name="Recent")
    version = workflow.latest_version

    def run(trigger):
        return Run.objects.create(workflow=workflow, version=version, graph=version.graph, team=workflow.team, input={},
                                  status="succeeded", trigger=trigger).pk

    manual = run("manual")
    experiment = [run("experiment") for _ in range(12)]  # newer than the manual run, and more than the list holds
    client.force_login(personas["alice"])
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert f"/runs/{manual}/" in page
    assert not any(f"/runs/{pk}/" in page for pk in experiment)
