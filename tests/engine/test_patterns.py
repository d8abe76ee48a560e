"""engine/patterns.py: a user's regular expression runs in linear time
wherever it runs (issue 10, finding 5). `(a+)+$` against 30 characters and a
mismatch takes Python's backtracking `re` about 2**30 steps (minutes); RE2
answers at once."""
from __future__ import annotations

import time

import jsonschema
import pytest

from engine import patterns
from engine.graph import validate as validate_graph
from tests.api.builders import document

EVIL = "(a+)+$"
TEXT = "a" * 30 + "!"

def quick(call):
    started = time.monotonic()
    result = call()
    assert time.monotonic() - started < 0.5
    return result

@pytest.mark.timeout(20)
def test_a_catastrophic_pattern_is_linear_in_a_schema():
    errors = quick(lambda: list(patterns.validator({"type": "string", "pattern": EVIL}).iter_errors(TEXT)))
    assert "does not match" in errors[0].message

@pytest.mark.timeout(20)
def test_a_catastrophic_pattern_is_linear_in_pattern_properties():
    schema = {"type": "object", "patternProperties": {EVIL: {"type": "integer"}}}
    assert quick(lambda: list(patterns.validator(schema).iter_errors({TEXT: 1}))) == []

@pytest.mark.timeout(20)
def test_the_validate_node_uses_re2(run_graph):
    graph = document(
        [
            {"id": "start", "type": "start"},
            {"id": "check", "type": "validate", "config": {"value": "{{ input.text }}", "schema": {"type": "string", "pattern": EVIL}}},
            {"id": "ok", "type": "output", "config": {"value": "ok"}},
            {"id": "bad", "type": "output", "config": {"value": "bad"}},
        ],
        [
            {"source": "start", "target": "check"},
            {"source": "check", "source_port": "valid", "target": "ok"},
            {"source": "check", "source_port": "invalid", "target": "bad"},
        ],
        inputs={"type": "object", "properties": {"text": {"type": "string"}}},
    )
    started = time.monotonic()
    run = run_graph(graph, {"text": TEXT})
    assert run.output == "bad" and time.monotonic() - started < 10

@pytest.mark.timeout(20)
def test_workflow_inputs_are_checked_with_re2(run_graph):

    graph = document(
        [{"id": "start", "type": "start"}, {"id": "out", "type": "output", "config": {"value": "{{ input.text }}"}}],
        [{"source": "start", "target": "out"}],
        inputs={"type": "object", "properties": {"text": {"type": "string", "pattern": EVIL}}},
    )
    from editor import services

    started = time.monotonic()
    with pytest.raises(services.ServiceError, match="does not match"):
        run_graph(graph, {"text": TEXT})
    assert time.monotonic() - started < 5

def test_a_pattern_re2_cannot_run_is_refused_when_saved():
    graph = document(
        [
            {"id": "start", "type": "start"},
            {"id": "check", "type": "validate", "config": {"value": "x", "schema": {"type": "string", "pattern": r"(a)\1"}}},
        ],
        [{"source": "start", "target": "check"}],
        inputs={"type": "object", "properties": {"t": {"type": "string", "pattern": "(?=x)"}}},
    )
    messages = " ".join(e.message for e in validate_graph(graph))
    assert "RE2" in messages

def test_check_schema_names_re2_reason():
    with pytest.raises(jsonschema.SchemaError, match="RE2"):
        patterns.check_schema({"type": "string", "pattern": r"(a)\1"})
    patterns.check_schema({"type": "string", "pattern": r"^\d{3}-[a-z]+$"})

@pytest.mark.timeout(20)
def test_the_regex_scorer_is_linear():
    from evaluation import scorers
    from evaluation.models import TestCase

    score, passed, detail = quick(lambda: scorers.grade(TEXT, TestCase(input={}, expected=None), {"type": "regex", "pattern": EVIL}))
    assert score == 0.0 and "no match" in detail
    # the case's expected value is a pattern too
    score, _, _ = quick(lambda: scorers.grade(TEXT, TestCase(input={}, expected=EVIL), {"type": "regex"}))
    assert score == 0.0
