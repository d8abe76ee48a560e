"""/mcp/ with a client from the official `mcp` SDK over streamable HTTP,
against daphne serving the real ASGI app and the real worker."""
from __future__ import annotations

import asyncio

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from rest_framework.authtoken.models import Token

from editor import triggers
from editor.models import Run, Trigger
from tests.api.builders import llm_graph, saved_workflow
from tests.fake_openai import Reply


def _tool(personas, name="Owl facts", graph=None, description="Facts about a topic."):
    workflow = saved_workflow(personas["acme"], personas["alice"], graph=graph, name=name)
    workflow.description = description
    workflow.save()
    triggers.publish(workflow, None)
    Trigger.objects.create(workflow=workflow, type="mcp")
    return workflow


async def _session(live_daphne, token: str | None, work):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with Client(streamable_http_client(f"http://{live_daphne}/mcp/", http_client=http)) as client:
            return await work(client)


def test_lists_and_calls_a_published_workflow_with_progress(personas, worker, live_daphne):
    workflow = _tool(personas)
    unpublished = saved_workflow(personas["acme"], personas["alice"], name="Draft only")
    Trigger.objects.create(workflow=unpublished, type="mcp")
    saved_workflow(personas["acme"], personas["alice"], name="No MCP trigger")
    token = Token.objects.create(user=personas["bob"]).key
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done, total, message):
        progress.append((done, total, message))

    async def work(client):
        listed = await client.list_tools()
        result = await client.call_tool(triggers.mcp_tool_name(workflow), {"topic": "owls"}, progress_callback=on_progress)
        return listed, result

    listed, result = asyncio.run(_session(live_daphne, token, work))
    assert [t.name for t in listed.tools] == [f"owl_facts_{workflow.pk}"]
    tool = listed.tools[0]
    assert tool.description == "Facts about a topic." and tool.input_schema["required"] == ["topic"]
    assert result.is_error is False
    assert result.content[0].text == "owls"
    assert result.structured_content["output"] == "owls"
    run = Run.objects.get(pk=result.structured_content["run"])
    assert run.trigger == "mcp" and run.triggered_by == personas["bob"] and run.version.number == 1
    assert [p[0] for p in progress] == [1, 2] and progress[-1][1] == 2


def test_a_failed_run_is_a_tool_error_and_viewers_get_no_tools(personas, worker, live_daphne, fake_llm):
    workflow = _tool(personas, name="Writer", graph=llm_graph())
    for _ in range(5):
        fake_llm.script.append(Reply(status=400))
    bob = Token.objects.create(user=personas["bob"]).key
    carol = Token.objects.create(user=personas["carol"]).key

    async def call(client):
        return await client.call_tool(triggers.mcp_tool_name(workflow), {"topic": "owls"})

    result = asyncio.run(_session(live_daphne, bob, call))
    assert result.is_error is True and "failed" in result.content[0].text

    async def listing(client):
        return await client.list_tools()

    assert asyncio.run(_session(live_daphne, carol, listing)).tools == []


def test_no_token_is_a_401(live_daphne, transactional_db):
    response = httpx2.post(f"http://{live_daphne}/mcp/", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status_code == 401 and "Bearer" in response.json()["error"]
    response = httpx2.post(f"http://{live_daphne}/mcp/", headers={"Authorization": "Bearer nope"}, json={})
    assert response.status_code == 401
