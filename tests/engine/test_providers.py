"""engine/providers.py: a team's model credential resolved for a model call,
read once for the calls that need it together, and not again within
ENGINE_CREDENTIAL_CACHE_S."""
from __future__ import annotations

import asyncio

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from editor.models import Credential
from engine import providers


@pytest.fixture
def fresh_cache():
    providers._resolved.clear()
    yield
    providers._resolved.clear()


@pytest.mark.django_db(transaction=True)
def test_a_hundred_calls_starting_together_read_the_credential_once(personas, fresh_cache, monkeypatch):
    credential = Credential(team=personas["acme"], name="fast", base_url="http://127.0.0.1:9/v1", default_model="m1")
    credential.set_api_key("sk-team")
    credential.save()
    reads = []
    real = providers._resolve
    monkeypatch.setattr(providers, "_resolve", lambda *args: reads.append(args) or real(*args))

    async def fan_out():
        return await asyncio.gather(*(providers.resolve(personas["acme"].pk, "fast", None) for _ in range(100)))

    targets = asyncio.run(fan_out())
    assert len(reads) == 1
    assert {(t.base_url, t.api_key, t.model) for t in targets} == {("http://127.0.0.1:9/v1", "sk-team", "m1")}
    with CaptureQueriesContext(connection) as queries:  # and the next call is answered from memory
        asyncio.run(fan_out())
    assert len(reads) == 1 and not queries.captured_queries


@pytest.mark.django_db(transaction=True)
def test_a_missing_credential_fails_every_call_that_named_it(personas, fresh_cache):
    from engine.errors import NodeFailed

    async def two_calls():
        return await asyncio.gather(*(providers.resolve(personas["acme"].pk, "nope", None) for _ in range(2)), return_exceptions=True)

    failures = asyncio.run(two_calls())
    assert all(isinstance(f, NodeFailed) and "no credential named 'nope'" in str(f) for f in failures)
