"""engine/llm.py through the real `openai` client against the fake server."""
from __future__ import annotations

import asyncio

import pytest

from engine import llm
from engine.errors import NodeFailed
from tests.fake_openai import Reply


def run(coro):
    """Run a call on a loop of its own, closing the loop's client before the loop ends."""
    async def then_close():
        try:
            return await coro
        finally:
            await llm.close_clients()

    return asyncio.run(then_close())


def complete(server, messages=None, **kwargs):
    target = llm.ModelTarget(model="fake-model", base_url=server.base_url, api_key="sk-test")
    deltas: list[str] = []
    result = run(llm.complete(target, messages or [{"role": "user", "content": "hello"}], on_delta=deltas.append, **kwargs))
    return result, deltas


def test_streams_deltas_and_counts_usage_and_cost(fake_llm):
    fake_llm.script.append(Reply(text="one two three four"))
    result, deltas = complete(fake_llm)
    assert result.text == "one two three four"
    assert deltas == ["one ", "two ", "three ", "four"]
    assert result.tokens_out == 4 and result.tokens_in == 1
    # fake-model is priced at $1 / $2 per million tokens in engine/pricing.py
    assert result.cost_usd == pytest.approx((1 * 1 + 4 * 2) / 1_000_000)
    assert fake_llm.requests[0]["stream"] is True
    assert fake_llm.requests[0]["stream_options"] == {"include_usage": True}


def test_json_schema_is_sent_as_structured_output_and_validated(fake_llm):
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    fake_llm.script.append(Reply(text='{"n": 3}'))
    result, _ = complete(fake_llm, json_schema=schema)
    assert result.value == {"n": 3}
    assert fake_llm.requests[0]["response_format"]["json_schema"]["schema"] == schema


def test_invalid_json_reply_is_repaired_with_the_validation_error(fake_llm):
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    fake_llm.script.extend([Reply(text='{"n": "three"}'), Reply(text='{"n": 3}')])
    result, _ = complete(fake_llm, json_schema=schema)
    assert result.value == {"n": 3}
    assert result.repairs == 1
    repair_turn = fake_llm.requests[1]["messages"][-1]["content"]
    assert "does not match the schema at n" in repair_turn


def test_invalid_json_after_the_repair_cap_fails_clearly(fake_llm):
    schema = {"type": "object", "required": ["n"]}
    fake_llm.script.extend([Reply(text="not json")] * 3)
    with pytest.raises(NodeFailed) as failure:
        complete(fake_llm, json_schema=schema, max_repairs=2)
    assert "still invalid after 2 repair attempts" in failure.value.message
    assert "not valid JSON" in failure.value.message
    assert len(fake_llm.requests) == 3


@pytest.mark.parametrize("status,words", [(429, "rate limited"), (500, "provider error 500"), (503, "provider error 503")])
def test_transient_errors_are_retryable(fake_llm, status, words):
    fake_llm.script.append(Reply(status=status))
    with pytest.raises(NodeFailed) as failure:
        complete(fake_llm)
    assert failure.value.retryable
    assert words in failure.value.message


def test_a_refused_request_is_not_retryable(fake_llm):
    fake_llm.script.append(Reply(status=401))
    with pytest.raises(NodeFailed) as failure:
        complete(fake_llm)
    assert not failure.value.retryable
    assert "401" in failure.value.message


def test_a_slow_answer_times_out_as_retryable(fake_llm, settings):
    settings.LLM_TIMEOUT_S = 0.3
    llm._clients.clear()  # the timeout is set when a client is made
    fake_llm.script.append(Reply(text="late", delay_s=1.0))
    with pytest.raises(NodeFailed) as failure:
        complete(fake_llm)
    llm._clients.clear()
    assert failure.value.retryable
    assert "did not answer within 0.3 s" in failure.value.message


def test_unreachable_endpoint_names_it(settings):
    target = llm.ModelTarget(model="fake-model", base_url="http://127.0.0.1:9/v1", api_key="sk")
    with pytest.raises(NodeFailed) as failure:
        run(llm.complete(target, [{"role": "user", "content": "x"}]))
    assert failure.value.retryable
    assert "127.0.0.1:9" in failure.value.message


def test_demo_model_without_a_key_is_deterministic_and_schema_valid(settings):
    settings.OPENAI_API_KEY = ""
    settings.DEMO_TOKEN_DELAY_MS = 0
    target = llm.default_target(None)
    assert target.demo
    schema = {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "string"}, "minItems": 2}}, "required": ["items"]}
    first = asyncio.run(llm.complete(target, [{"role": "user", "content": "plan"}], json_schema=schema))
    again = asyncio.run(llm.complete(target, [{"role": "user", "content": "plan"}], json_schema=schema))
    assert first.value == again.value
    assert len(first.value["items"]) >= 2 and first.demo and first.cost_usd == 0
    deltas: list[str] = []
    text = asyncio.run(llm.complete(target, [{"role": "user", "content": "Write a haiku"}], on_delta=deltas.append))
    assert text.text.startswith("[demo]") and len(deltas) > 5 and "".join(deltas) == text.text


def test_concurrent_calls_through_one_client_each_send_their_own_request(fake_llm):
    # The client builds an endpoint's request once; every call sends a copy with its own body.
    fake_llm.responder = lambda body: Reply(text="re: " + body["messages"][-1]["content"])
    target = llm.ModelTarget(model="fake-model", base_url=fake_llm.base_url, api_key="sk-test")

    async def many():
        return await asyncio.gather(*(llm.complete(target, [{"role": "user", "content": f"item {i}"}]) for i in range(20)))

    results = run(many())
    assert [r.text for r in results] == [f"re: item {i}" for i in range(20)]
    assert sorted(r["messages"][-1]["content"] for r in fake_llm.requests) == sorted(f"item {i}" for i in range(20))
