"""POST /api/datasets/{id}/import/: cases from CSV, JSON Lines or JSON, all or
none, every problem named by its line and field."""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from evaluation import case_import

from .builders import capitals

pytestmark = pytest.mark.django_db

SCHEMA = {"type": "object", "properties": {"topic": {"type": "string"}, "year": {"type": "integer"}}, "required": ["topic"]}


@pytest.fixture
def dataset(personas):
    dataset = capitals(personas["acme"], count=1)
    dataset.input_schema = SCHEMA
    dataset.save()
    return dataset


def upload(client, dataset, name: str, text: str | bytes, **extra):
    data = text.encode() if isinstance(text, str) else text
    return client.post(f"/api/datasets/{dataset.pk}/import/", {"file": SimpleUploadedFile(name, data), **extra}, format="multipart")


def test_a_csv_file_becomes_cases_with_typed_inputs_tags_and_json_cells(personas, client_for, dataset):
    csv_text = ('topic,input.year,expected,rubric,tags\n'
                'Peru,1821,Lima,Names Lima.,geography;south america\n'
                '"Chile, the long one",,"[""Santiago"", ""Santiago de Chile""]",,\n')
    response = upload(client_for(personas["bob"]), dataset, "capitals.csv", csv_text)
    assert response.status_code == 201, response.data
    assert response.data["added"] == 2 and response.data["case_count"] == 3
    peru, chile = response.data["cases"]
    assert peru["input"] == {"topic": "Peru", "year": 1821} and peru["expected"] == "Lima"
    assert peru["tags"] == ["geography", "south america"] and peru["rubric"] == "Names Lima."
    assert chile["input"] == {"topic": "Chile, the long one"} and chile["expected"] == ["Santiago", "Santiago de Chile"]


def test_every_bad_row_is_named_by_line_and_field_and_nothing_is_added(personas, client_for, dataset):
    csv_text = ("topic,year,expected\n"
                "Peru,1821,Lima\n"
                ",1990,nowhere\n"            # line 3: no topic
                "Fiji,soon,Suva\n"           # line 4: year is not an integer
                "Chad,1960,{not json\n")     # line 5: a broken JSON cell
    response = upload(client_for(personas["alice"]), dataset, "cases.csv", csv_text)
    assert response.status_code == 400
    assert response.data["fields"] == [
        "line 3, input: 'topic' is a required property (the dataset's input_schema)",
        "line 4, input.year: 'soon' is not an integer (the dataset's input_schema)",
        "line 5, expected: starts like JSON but is not valid JSON (Expecting property name enclosed in double quotes); quote it as text or fix it",
    ]
    assert dataset.cases.count() == 1


def test_json_lines_and_pasted_json_name_the_broken_line(personas, client_for, dataset):
    alice = client_for(personas["alice"])
    lines = '{"input": {"topic": "Peru"}, "expected": "Lima"}\n\n{"input": {"topic": "Fiji"}, "expected": "Suva"}\n'
    assert upload(alice, dataset, "more.jsonl", lines).data["added"] == 2
    broken = upload(alice, dataset, "more.jsonl", '{"input": {"topic": "Chad"}}\n{"input": {"topic": "Mali"}\n')
    assert broken.status_code == 400 and broken.data["error"].startswith("line 2: not valid JSON")
    pasted = alice.post(f"/api/datasets/{dataset.pk}/import/", {"format": "json", "text": '[\n  {"input": {"topic": "Togo"}},\n  {"input": {"topic": 7}}\n]'}, format="json")
    assert pasted.status_code == 400 and pasted.data["error"] == "line 3, input.topic: 7 is not of type 'string' (the dataset's input_schema)"
    fine = alice.post(f"/api/datasets/{dataset.pk}/import/", {"format": "json", "text": '[{"input": {"topic": "Togo"}, "tags": ["west africa"]}]'}, format="json")
    assert fine.status_code == 201 and fine.data["cases"][0]["tags"] == ["west africa"]
    assert [c.input["topic"] for c in dataset.cases.all()] == ["France", "Peru", "Fiji", "Togo"]


@pytest.mark.parametrize(
    "name, text, extra, message",
    [
        ("cases.txt", "topic\nPeru\n", {}, "file: cannot tell the format of 'cases.txt'"),
        ("cases.csv", "topic\nPeru\n", {"format": "xlsx"}, "format: 'xlsx' is not one of csv, jsonl, json"),
        ("cases.csv", "", {}, "the file holds no cases"),
        ("cases.csv", "topic,expected\n", {}, "the file holds no cases (only a header row)"),
        ("cases.csv", "expected,rubric\nLima,x\n", {}, "line 1: no input column"),
        ("cases.csv", "topic,input.topic\nPeru,Peru\n", {}, "line 1: column 'topic' appears twice"),
        ("cases.csv", "topic,expected\nPeru,Lima,extra\n", {}, "line 2: 3 cells but the header names 2 columns"),
        ("cases.csv", b"topic\n\xff\xfe\n", {}, "file: line 2 is not UTF-8 text"),
        ("cases.jsonl", '"just a string"\n', {}, "line 1: must be an object with an `input`"),
    ],
)
def test_unusable_files_are_refused_with_a_400_saying_why(personas, client_for, dataset, name, text, extra, message):
    response = upload(client_for(personas["alice"]), dataset, name, text, **extra)
    assert response.status_code == 400
    assert message in response.data["error"]
    assert dataset.cases.count() == 1


def test_imports_are_bounded_in_size_and_rows(personas, client_for, dataset, monkeypatch):
    alice = client_for(personas["alice"])
    monkeypatch.setattr(case_import, "MAX_BYTES", 100)
    big = upload(alice, dataset, "big.csv", "topic\n" + "Peru\n" * 40)
    assert big.status_code == 400 and "an import takes at most" in big.data["error"]
    monkeypatch.setattr(case_import, "MAX_BYTES", 2 * 1024 * 1024)
    monkeypatch.setattr(case_import, "MAX_ROWS", 3)
    many = upload(alice, dataset, "many.csv", "topic\n" + "Peru\n" * 4)
    assert many.status_code == 400 and many.data["error"] == "line 5: more than 3 cases in one import; split the file"
    assert dataset.cases.count() == 1


def test_without_a_file_or_text_the_request_says_what_to_send(personas, client_for, dataset):
    response = client_for(personas["alice"]).post(f"/api/datasets/{dataset.pk}/import/", {"format": "csv"}, format="json")
    assert response.status_code == 400 and "send a file (multipart, field `file`)" in response.data["error"]


def test_viewers_and_outsiders_cannot_import(personas, client_for, dataset):
    assert upload(client_for(personas["carol"]), dataset, "c.csv", "topic\nPeru\n").status_code == 403
    assert upload(client_for(personas["mallory"]), dataset, "c.csv", "topic\nPeru\n").status_code == 404
    assert dataset.cases.count() == 1


def test_a_list_of_cases_is_bounded_too(personas, client_for, dataset, monkeypatch):
    from evaluation import services

    monkeypatch.setattr(services, "MAX_CASES_AT_ONCE", 2)
    response = client_for(personas["alice"]).post(f"/api/datasets/{dataset.pk}/cases/", [{"input": {"topic": "x"}}] * 3, format="json")
    assert response.status_code == 400 and "3 cases in one request; send at most 2" in response.data["error"]
