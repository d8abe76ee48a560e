"""Tools of a team's MCP servers for agent nodes, through the official `mcp`
SDK's client over streamable HTTP — the only transport: a workflow never
starts a local process (stdio servers are how Flowise's CVE-2025-59528 and
CVE-2026-40933 ran commands), so a server is a URL, nothing else.

The server record (URL, decrypted headers) comes from the product through
engine/product.py. Before each connection the URL's host is checked with the
http node's address rules (engine/net.py: no loopback or private addresses
unless HTTP_NODE_ALLOWED_HOSTS allows them). A server's tool list is cached
for MCP_TOOLS_CACHE_S seconds per process, so an agent's turns and a fan-out
of agents do not list the tools again and again."""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from . import net

REF = re.compile(r"^mcp:(?P<server>[A-Za-z0-9_-]{1,60})/(?P<tool>\*|[A-Za-z0-9_.\-/]{1,128})$")


class MCPToolError(Exception):
    pass


@dataclass(frozen=True)
class RemoteTool:
    server: str
    name: str
    description: str
    input_schema: dict[str, Any]


_cache: dict[tuple[str, str, str], tuple[float, list[RemoteTool]]] = {}


async def _checked(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MCPToolError(f"MCP server URL {url!r} must be http:// or https://")
    try:
        await net.check(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except net.NetError as exc:
        raise MCPToolError(f"MCP server {url}: {exc.message}") from exc


def _client(url: str, headers: dict[str, str]):
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300))
    return http, Client(streamable_http_client(url, http_client=http))


async def list_tools(server: str, url: str, headers: dict[str, str]) -> list[RemoteTool]:
    # Keyed by the credentials too: two teams' servers at one URL may see different tools.
    key = (server, url, json.dumps(headers, sort_keys=True))
    hit = _cache.get(key)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    await _checked(url)
    http, client = _client(url, headers)
    try:
        async with http, client:
            listed = await client.list_tools()
    except Exception as exc:  # a server that is down or speaks no MCP: the agent's step fails with why
        raise MCPToolError(f"MCP server '{server}' ({url}) did not list its tools: {exc}") from exc
    tools = [RemoteTool(server, t.name, t.description or "", dict(t.input_schema or {"type": "object"})) for t in listed.tools]
    _cache[key] = (time.monotonic() + settings.MCP_TOOLS_CACHE_S, tools)
    return tools


async def call_tool(server: str, url: str, headers: dict[str, str], tool: str, arguments: dict[str, Any]) -> tuple[bool, Any]:
    """(ok, result): the structured content when there is some, else the text."""
    await _checked(url)
    http, client = _client(url, headers)
    try:
        async with http, client:
            result = await client.call_tool(tool, arguments)
    except Exception as exc:
        raise MCPToolError(f"MCP server '{server}' failed calling {tool}: {exc}") from exc
    text = "\n".join(getattr(block, "text", "") for block in result.content if getattr(block, "type", "") == "text")
    if result.is_error:
        return False, text or "the tool reported an error"
    if result.structured_content is not None:
        return True, result.structured_content
    try:
        return True, json.loads(text)  # many servers send JSON as text
    except ValueError:
        return True, text
