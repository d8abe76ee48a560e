"""A fuzz pass over the whole API from its own OpenAPI schema (issue 10):
schemathesis generates requests for every operation, sent as each persona
with an API token, and no response may be a 5xx or take over a second.

Bounded so that it takes about a minute on 2 cores: a few examples per
operation (FUZZ_EXAMPLES), no shrinking, derandomized (the same cases every
run, so a failure reproduces)."""
from __future__ import annotations

import os
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings

from orchestrator_site.wsgi import application

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture
def tokens(personas):
    from rest_framework.authtoken.models import Token

    from tests.api.builders import saved_workflow

    saved_workflow(personas["acme"], personas["alice"])  # something to read, update and run
    return {name: Token.objects.get_or_create(user=personas[name])[0].key for name in ("alice", "carol", "mallory")}


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_request_is_a_server_error(case, tokens, transactional_db):
    for persona, key in tokens.items():
        started = time.monotonic()
        response = case.call(headers={"Authorization": f"Token {key}"})
        elapsed = time.monotonic() - started
        assert response.status_code < 500, f"{persona}: {case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
        assert elapsed < 1.5, f"{persona}: {case.method} {case.formatted_path} took {elapsed:.2f} s"
