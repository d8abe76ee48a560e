"""Generated and mutated format-v1 documents thrown at validate, save and
import (issue 10): every answer is a 2xx or a 4xx with a message, none takes
more than a second, and the process does not grow.

The documents start from the gallery's templates (real, valid workflows) and
are mutated by Hypothesis: a value anywhere replaced by generated JSON or by
a hostile template, a key dropped, a node duplicated. Bounded: FUZZ_EXAMPLES
(default 60) examples, derandomized."""
from __future__ import annotations

import copy
import json
import os
import resource
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

TEMPLATES = sorted((Path(__file__).resolve().parents[2] / "editor" / "workflow_templates").glob("*.json"))
DOCUMENTS = [json.loads(p.read_text()) for p in TEMPLATES]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))

HOSTILE = [
    "{{ [0]*10**7 }}", "{{ 'a'*10**8 }}", "[0]*2*10**6", "{{ lipsum(10**6) }}", "{{ 'x'|center(10**9) }}",
    "{{ '%999999999d' % 1 }}", "{{ " + "(" * 200 + "1" + ")" * 200 + " }}", "9" * 5000, "{{ '\\ud800' }}", "\ud800",
    "{% for a in range(10**5) %}{% for b in range(10**5) %}{% endfor %}{% endfor %}", "{{ lipsum }}", "{{ x.__class__ }}",
    "(a+)+$", "{{", "{% if %}", "\x00", "\r\n", "a" * 10_000,
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30) | st.sampled_from(HOSTILE),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


def _set(doc, path, new):
    if not path:
        return new
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return doc


def _drop(doc, path):
    if not path:
        return doc
    target = doc
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return doc


@st.composite
def documents(draw):
    doc = copy.deepcopy(draw(st.sampled_from(DOCUMENTS)))
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_paths(doc))
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "hostile", "drop", "duplicate"]))
        try:
            if action == "replace":
                doc = _set(doc, path, draw(json_values))
            elif action == "hostile":
                doc = _set(doc, path, draw(st.sampled_from(HOSTILE)))
            elif action == "drop":
                doc = _drop(doc, path)
            elif isinstance(doc, dict) and isinstance(doc.get("nodes"), list) and doc["nodes"]:
                doc["nodes"].append(copy.deepcopy(draw(st.sampled_from(doc["nodes"]))))
        except (KeyError, IndexError, TypeError):
            pass
    return doc


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.fixture
def alice(personas, client_for):
    return client_for(personas["alice"])


def test_mutated_documents_never_break_the_server(alice):
    before = _rss_mb()
    slowest = []

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(documents())
    def check(doc):
        for url, body in (("/api/workflows/validate/", {"graph": doc}), ("/api/workflows/", {"graph": doc}), ("/api/workflows/import/", doc)):
            started = time.monotonic()
            r = alice.post(url, body, format="json")
            elapsed = time.monotonic() - started
            slowest.append(elapsed)
            assert r.status_code < 500, (url, r.status_code, r.content[:300])
            if r.status_code >= 400:
                assert r.json().get("error"), (url, r.content[:300])
            assert elapsed < 1.0, f"{url} took {elapsed:.2f} s"

    check()
    grown = _rss_mb() - before
    assert grown < 300, f"the process grew by {grown:.0f} MB"
