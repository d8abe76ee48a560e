"""Agent nodes calling tools of a registered MCP server: a real MCP server
(the official SDK's MCPServer under uvicorn, streamable HTTP on loopback,
allowed through HTTP_NODE_ALLOWED_HOSTS as a team would allow an internal
host), reached through the official SDK's client from the real worker."""
from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from editor.models import ToolServer
from tests.fake_openai import Reply

from .test_agent import agent_graph

calls: list[dict] = []


def _build_server() -> MCPServer:
    server = MCPServer("weather")

    @server.tool()
    def forecast(city: str) -> dict:
        """The weather tomorrow in a city."""
        calls.append({"city": city})
        if city == "Atlantis":
            raise ToolError("no forecast under the sea")
        return {"city": city, "sky": "sunny", "high_c": 21}

    @server.tool()
    def ping() -> str:
        """Answers pong."""
        return "pong"

    return server


@pytest.fixture(scope="module")
def mcp_server():
    from orchestrator_site.embedded import free_port

    port = free_port()
    app = _build_server().streamable_http_app(host="127.0.0.1")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the MCP test server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/mcp"
    server.should_exit = True
    thread.join(5)


@pytest.fixture
def weather(personas, mcp_server, settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = "127.0.0.1"
    settings.MCP_TOOLS_CACHE_S = 0
    server = ToolServer(team=personas["acme"], name="weather", url=mcp_server)
    server.set_headers({"Authorization": "Bearer weather-key"})
    server.save()
    calls.clear()
    return server


def test_an_agent_calls_a_tool_of_an_mcp_server(run_graph, fake_llm, weather):
    fake_llm.script.extend([
        Reply(text="Let me look.", tool_calls=[{"name": "mcp_weather__forecast", "arguments": {"city": "Lyon"}}]),
        Reply(text="Sunny in Lyon, 21 °C."),
    ])
    run = run_graph(agent_graph(tools=["mcp:weather/forecast"]), {"goal": "Weather in Lyon tomorrow?"})
    assert run.status == "succeeded", run.error
    assert run.output == "Sunny in Lyon, 21 °C."
    assert calls == [{"city": "Lyon"}]
    trace = run.steps.get(node_id="think").output["trace"]
    assert trace[0]["tool"] == "mcp_weather__forecast"
    assert trace[0]["observation"]["result"]["sky"] == "sunny" and trace[0]["ok"] is True
    offered = [t["function"]["name"] for t in fake_llm.requests[0]["tools"]]
    assert offered == ["mcp_weather__forecast"]
    assert "weather tomorrow" in fake_llm.requests[0]["tools"][0]["function"]["description"]


def test_a_wildcard_offers_every_tool_and_a_tool_error_is_an_observation(run_graph, fake_llm, weather):
    fake_llm.script.extend([
        Reply(tool_calls=[{"name": "mcp_weather__forecast", "arguments": {"city": "Atlantis"}}]),
        Reply(text="No forecast there."),
    ])
    run = run_graph(agent_graph(tools=["mcp:weather/*", "calculator"]), {"goal": "Weather in Atlantis?"})
    assert run.status == "succeeded", run.error
    offered = sorted(t["function"]["name"] for t in fake_llm.requests[0]["tools"])
    assert offered == ["calculator", "mcp_weather__forecast", "mcp_weather__ping"]
    trace = run.steps.get(node_id="think").output["trace"]
    assert trace[0]["ok"] is False and "no forecast under the sea" in trace[0]["observation"]["error"]


def test_unknown_servers_and_tools_fail_the_step_with_why(run_graph, fake_llm, weather):
    run = run_graph(agent_graph(tools=["mcp:nowhere/forecast"]), {"goal": "x"})
    assert run.status == "failed" and "no MCP tool server named 'nowhere'" in run.error["message"]
    run = run_graph(agent_graph(tools=["mcp:weather/rain"]), {"goal": "x"})
    assert run.status == "failed" and "has no tool 'rain' (it has forecast, ping)" in run.error["message"]


def test_the_http_nodes_address_rules_apply(run_graph, fake_llm, weather, settings, personas, client_for):
    settings.HTTP_NODE_ALLOWED_HOSTS = ""
    run = run_graph(agent_graph(tools=["mcp:weather/forecast"]), {"goal": "x"})
    assert run.status == "failed" and "loopback" in run.error["message"] and calls == []
    r = client_for(personas["alice"]).post("/api/tool-servers/", {"team": personas["acme"].pk, "name": "local", "url": weather.url},
                                           format="json")
    assert r.status_code == 400 and "loopback" in r.json()["error"]


def test_tool_servers_api_never_returns_headers(personas, client_for, settings, mcp_server):
    settings.HTTP_NODE_ALLOWED_HOSTS = "127.0.0.1"
    alice, bob = client_for(personas["alice"]), client_for(personas["bob"])
    body = {"team": personas["acme"].pk, "name": "weather", "url": mcp_server, "headers": {"Authorization": "Bearer s3cret"}}
    assert bob.post("/api/tool-servers/", body, format="json").status_code == 403
    r = alice.post("/api/tool-servers/", body, format="json")
    assert r.status_code == 201 and r.json()["has_headers"] is True and "s3cret" not in r.content.decode()
    assert "s3cret" not in bob.get("/api/tool-servers/").content.decode()
    assert b"s3cret" not in bytes(ToolServer.objects.get().encrypted_headers)
    assert alice.post("/api/tool-servers/", body, format="json").status_code == 409
    assert alice.post("/api/tool-servers/", {**body, "name": "x", "url": "stdio:///bin/sh"}, format="json").status_code == 400
    assert client_for(personas["mallory"]).get(f"/api/tool-servers/{r.json()['id']}/").status_code == 404
    assert alice.delete(f"/api/tool-servers/{r.json()['id']}/").status_code == 204
