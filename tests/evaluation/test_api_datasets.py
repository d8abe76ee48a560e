"""/api/datasets/ and /api/datasets/{id}/cases/."""
from __future__ import annotations

import pytest

from evaluation.models import Dataset

from .builders import capitals, finished_experiment

pytestmark = pytest.mark.django_db


def test_an_editor_creates_a_dataset_with_cases_in_the_team(personas, client_for):
    response = client_for(personas["bob"]).post("/api/datasets/", {
        "name": "Support tickets", "team": personas["acme"].pk,
        "input_schema": {"type": "object", "required": ["ticket"]},
        "cases": [{"input": {"ticket": "refund please"}, "expected": "refund", "tags": ["billing"]}],
    }, format="json")
    assert response.status_code == 201, response.data
    assert response.data["case_count"] == 1 and response.data["cases"][0]["tags"] == ["billing"]
    listed = client_for(personas["carol"]).get("/api/datasets/").data  # a viewer sees it
    assert [(d["name"], d["case_count"]) for d in listed] == [("Support tickets", 1)]


def test_without_a_team_the_dataset_goes_to_the_personal_team(personas, client_for):
    response = client_for(personas["mallory"]).post("/api/datasets/", {"name": "Mine"}, format="json")
    assert response.status_code == 201
    assert Dataset.objects.get(pk=response.data["id"]).team == personas["mallory"].personal_team


@pytest.mark.parametrize(
    "body, message",
    [
        ({}, "name: required"),
        ({"name": "  "}, "name: required"),
        ({"name": "x", "colour": "red"}, "colour: unknown key"),
        ({"name": "x", "input_schema": {"type": "nonsense"}}, "input_schema: not a valid JSON Schema"),
        ({"name": "x", "team": "acme"}, "team: must be a team id"),
        ({"name": "x", "cases": [{"input": "France"}]}, "cases[0].input: must be a JSON object"),
        ({"name": "x", "cases": [{"expected": "Paris"}]}, "cases[0].input: required"),
    ],
)
def test_bad_dataset_bodies_name_the_field(personas, client_for, body, message):
    response = client_for(personas["alice"]).post("/api/datasets/", body, format="json")
    assert response.status_code == 400
    assert message in response.data["error"]
    assert not Dataset.objects.exists()


def test_a_dataset_in_someone_elses_team_cannot_be_created(personas, client_for):
    response = client_for(personas["mallory"]).post("/api/datasets/", {"name": "x", "team": personas["acme"].pk}, format="json")
    assert response.status_code == 400 and "team: you are not a member" in response.data["error"]


def test_a_viewer_cannot_create_change_or_delete(personas, client_for):
    carol = client_for(personas["carol"])
    assert carol.post("/api/datasets/", {"name": "x", "team": personas["acme"].pk}, format="json").status_code == 403
    dataset = capitals(personas["acme"])
    assert carol.patch(f"/api/datasets/{dataset.pk}/", {"name": "y"}, format="json").status_code == 403
    assert carol.post(f"/api/datasets/{dataset.pk}/cases/", {"input": {"topic": "Peru"}}, format="json").status_code == 403
    assert carol.delete(f"/api/datasets/{dataset.pk}/").status_code == 403
    assert carol.get(f"/api/datasets/{dataset.pk}/").status_code == 200


def test_another_teams_dataset_does_not_exist_for_an_outsider(personas, client_for):
    dataset = capitals(personas["acme"])
    mallory = client_for(personas["mallory"])
    assert mallory.get("/api/datasets/").data == []
    for response in (
        mallory.get(f"/api/datasets/{dataset.pk}/"),
        mallory.patch(f"/api/datasets/{dataset.pk}/", {"name": "mine"}, format="json"),
        mallory.delete(f"/api/datasets/{dataset.pk}/"),
        mallory.get(f"/api/datasets/{dataset.pk}/cases/"),
        mallory.post(f"/api/datasets/{dataset.pk}/cases/", {"input": {}}, format="json"),
    ):
        assert response.status_code == 404
    assert Dataset.objects.get(pk=dataset.pk).name == "Capitals"


def test_cases_are_added_one_or_many_at_a_time(personas, client_for):
    dataset = capitals(personas["acme"], count=1)
    alice = client_for(personas["alice"])
    one = alice.post(f"/api/datasets/{dataset.pk}/cases/", {"input": {"topic": "Peru"}, "expected": "Lima"}, format="json")
    assert one.status_code == 201 and one.data["expected"] == "Lima"
    many = alice.post(f"/api/datasets/{dataset.pk}/cases/", [{"input": {"topic": "Chile"}}, {"input": {"topic": "Fiji"}, "rubric": "Suva"}], format="json")
    assert many.status_code == 201 and [c["input"]["topic"] for c in many.data] == ["Chile", "Fiji"]
    assert [c["input"]["topic"] for c in alice.get(f"/api/datasets/{dataset.pk}/cases/").data] == ["France", "Peru", "Chile", "Fiji"]


@pytest.mark.parametrize(
    "body, message",
    [
        ("France", "case: must be an object"),
        ([], "cases: send a case object or a non-empty list"),
        ({"input": {"topic": "x"}, "tags": "geo"}, "case.tags: must be a list of strings"),
        ({"input": {"topic": "x"}, "rubric": 3}, "case.rubric: must be a string"),
        ({"input": {"topic": "x"}, "answer": "y"}, "case.answer: unknown key"),
        ([{"input": {"topic": "ok"}}, {"input": {"topic": 7}}], "cases[1].input.topic: 7 is not of type 'string'"),
    ],
)
def test_bad_cases_are_refused_all_or_none_naming_the_field(personas, client_for, body, message):
    dataset = capitals(personas["acme"], count=1)
    dataset.input_schema = {"type": "object", "properties": {"topic": {"type": "string"}}}
    dataset.save()
    response = client_for(personas["alice"]).post(f"/api/datasets/{dataset.pk}/cases/", body, format="json")
    assert response.status_code == 400
    assert message in response.data["error"]
    assert dataset.cases.count() == 1


def test_a_case_is_edited_and_deleted(personas, client_for):
    dataset = capitals(personas["acme"], count=2)
    first = dataset.cases.first()
    alice = client_for(personas["alice"])
    response = alice.patch(f"/api/datasets/{dataset.pk}/cases/{first.pk}/", {"expected": "Paris, France"}, format="json")
    assert response.status_code == 200 and response.data["expected"] == "Paris, France"
    assert alice.patch(f"/api/datasets/{dataset.pk}/cases/{first.pk}/", {"input": []}, format="json").status_code == 400
    assert alice.delete(f"/api/datasets/{dataset.pk}/cases/{first.pk}/").status_code == 204
    assert dataset.cases.count() == 1


def test_a_dataset_with_experiments_is_not_deleted_under_them(personas, client_for):
    experiment = finished_experiment(personas["acme"], personas["alice"], {"A": [1.0], "B": [0.0]})
    response = client_for(personas["alice"]).delete(f"/api/datasets/{experiment.dataset_id}/")
    assert response.status_code == 409 and f"experiment {experiment.pk}" in response.data["error"]


def test_a_case_with_results_is_not_deleted_under_them_and_later_cases_stay_out_of_the_report(personas, client_for):
    experiment = finished_experiment(personas["acme"], personas["alice"], {"A": [1.0], "B": [0.0]})
    case = experiment.dataset.cases.get()
    alice = client_for(personas["alice"])
    response = alice.delete(f"/api/datasets/{experiment.dataset_id}/cases/{case.pk}/")
    assert response.status_code == 409 and f"results in experiment {experiment.pk}" in response.data["error"]
    assert experiment.trials.count() == 2
    alice.post(f"/api/datasets/{experiment.dataset_id}/cases/", {"input": {"topic": "Peru"}}, format="json")
    report = alice.get(f"/api/experiments/{experiment.pk}/").data
    assert [row["case"] for row in report["cases"]] == [case.pk]  # the new case was never part of it
