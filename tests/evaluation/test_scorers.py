"""evaluation/scorers.py: each scorer on outputs a workflow really produces."""
from __future__ import annotations

import pytest

from evaluation import scorers
from evaluation.models import TestCase
from tests.fake_openai import Reply


def case(expected=None, rubric="", input=None) -> TestCase:
    return TestCase(input=input or {"topic": "capitals"}, expected=expected, rubric=rubric)


def grade(output, expected=None, **config):
    kind = config.pop("kind")
    return scorers.grade(output, case(expected), {"type": kind, **config})


def test_exact_compares_stripped_strings_and_json_values():
    assert grade("  Paris\n", "Paris", kind="exact")[:2] == (1.0, True)
    score, passed, detail = grade("paris", "Paris", kind="exact")
    assert (score, passed) == (0.0, False) and "expected Paris" in detail
    assert grade("paris", "Paris", kind="exact", case_sensitive=False)[0] == 1.0
    assert grade('{"a": 1}', {"a": 1}, kind="exact")[0] == 1.0  # JSON text against a JSON value
    assert grade({"a": 2}, {"a": 1}, kind="exact")[0] == 0.0


def test_contains_scores_the_share_of_expected_strings_found():
    assert grade("The capital is PARIS.", "paris", kind="contains")[0] == 1.0
    score, passed, detail = grade("Paris and Lyon", ["Paris", "Lyon", "Nice"], kind="contains")
    assert score == pytest.approx(2 / 3) and passed is False and "'Nice'" in detail
    assert grade("PARIS", "paris", kind="contains", case_sensitive=True)[0] == 0.0


def test_regex_uses_the_pattern_option_or_the_expected_value():
    assert grade("Order #12345 shipped", kind="regex", pattern=r"#\d{5}\b")[0] == 1.0
    assert grade("no order", kind="regex", pattern=r"#\d{5}")[:2] == (0.0, False)
    assert grade("ID: ab-12", r"[a-z]{2}-\d+", kind="regex")[0] == 1.0
    assert grade("HELLO", kind="regex", pattern="hello", ignore_case=True)[0] == 1.0
    assert scorers.check_config({"type": "regex", "pattern": "("}) == [
        "scorer.pattern: not a valid regular expression (missing ): ( (patterns run on RE2: no backreferences or look-around))"]


def test_json_schema_accepts_valid_json_text_and_names_the_invalid_place():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    assert grade('{"n": 3}', kind="json_schema", schema=schema)[0] == 1.0
    assert grade("```json\n{\"n\": 3}\n```", kind="json_schema", schema=schema)[0] == 1.0
    score, _, detail = grade('{"n": "three"}', kind="json_schema", schema=schema)
    assert score == 0.0 and "at n" in detail
    assert grade("not json", kind="json_schema", schema=schema)[0] == 0.0
    assert scorers.check_config({"type": "json_schema"}) == ["scorer.schema: required; a JSON Schema object the output must match"]


def test_numeric_finds_the_number_and_applies_the_tolerance():
    assert grade("The answer is 41.9 apples", 42, kind="numeric", tolerance=0.2)[0] == 1.0
    score, _, detail = grade("The answer is 41", 42, kind="numeric", tolerance=0.5)
    assert score == 0.0 and "1 away from 42" in detail
    assert grade(105, 100, kind="numeric", tolerance=0.05, relative=True)[0] == 1.0
    assert grade("no digits", 1, kind="numeric")[0] == 0.0
    assert scorers.check_config({"type": "numeric", "tolerance": -1}) == ["scorer.tolerance: must be a number ≥ 0, not -1"]


def test_config_errors_name_the_field():
    assert scorers.check_config({"type": "bleu"})[0].startswith("scorer.type: 'bleu' is not a scorer; choose one of exact")
    assert scorers.check_config("exact") == ['scorer: must be an object such as {"type": "exact"}']
    assert scorers.check_config({"type": "exact", "pattern": "x"})[0].startswith("scorer.pattern: unknown option")
    assert scorers.check_config({"type": "exact", "threshold": 2}) == ["scorer.threshold: must be a number from 0 to 1, not 2"]


def test_llm_judge_asks_the_model_with_the_rubric_and_uses_its_score(fake_llm):
    fake_llm.script.append(Reply(text='{"score": 0.8, "reason": "names Paris but rambles"}'))
    judged = case(expected="Paris", rubric="Names Paris, in one sentence.")
    score, passed, detail = scorers.grade("It is Paris, the city of ...", judged, {"type": "llm_judge"})
    assert (score, passed) == (0.8, True)
    assert detail == "judge: names Paris but rambles"
    prompt = fake_llm.requests[-1]["messages"][-1]["content"]
    assert "Names Paris, in one sentence." in prompt and "It is Paris, the city of" in prompt
    assert fake_llm.requests[-1]["response_format"]["json_schema"]["schema"] == scorers.JUDGE_SCHEMA


def test_llm_judge_threshold_decides_passed(fake_llm):
    fake_llm.script.append(Reply(text='{"score": 0.3, "reason": "wrong city"}'))
    score, passed, _ = scorers.grade("Lyon", case(rubric="Names Paris"), {"type": "llm_judge", "threshold": 0.25})
    assert score == 0.3 and passed is True


def test_llm_judge_works_on_the_offline_demo_model(settings):
    settings.OPENAI_API_KEY = ""
    settings.DEMO_TOKEN_DELAY_MS = 0
    score, passed, detail = scorers.grade("anything", case(rubric="Is it good?"), {"type": "llm_judge"})
    assert 0.0 <= score <= 1.0 and detail.startswith("judge: ")
