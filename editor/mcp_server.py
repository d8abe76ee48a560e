"""`/mcp/`: published workflows as MCP tools, over streamable HTTP, with the
official `mcp` SDK's low-level server.

- Auth: `Authorization: Bearer <API token>` (the same tokens as the REST API);
  anything else is a 401 before the SDK sees the request.
- tools/list: one tool per workflow that has an enabled `mcp` trigger, is
  published, and whose team the token's user is an owner or editor of. The
  name is stable (`<slug>_<id>`), the description is the workflow's, the
  input schema is the workflow's `inputs`.
- tools/call: runs the published version (trigger `mcp`), sends a progress
  notification each time a step finishes, and returns the output as text plus
  structured content; a run that fails is a tool error with its message.

Stateless mode: every POST is served on its own, so any daphne process can
answer any call (several web processes share the port). The SDK's session
manager needs a running task group; daphne does not run ASGI lifespan, so it
is started on the first request of each process."""
from __future__ import annotations

import asyncio
import json
from typing import Any

from asgiref.sync import sync_to_async
from mcp import types
from mcp.server import Server, ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from engine import events

USER_SCOPE_KEY = "orchestrator.user_id"


def _user_id(ctx: ServerRequestContext) -> int:
    request = ctx.request
    return request.scope[USER_SCOPE_KEY]


def _tool_workflows(user_id: int):
    from django.db.models import Q

    from . import access
    from .models import Trigger, Workflow

    return (Workflow.objects.filter(team__memberships__user_id=user_id, team__memberships__role__in=access.WRITE_ROLES,
                                    published_version__isnull=False)
            .filter(Q(triggers__type=Trigger.Type.MCP, triggers__enabled=True))
            .select_related("published_version", "team").distinct().order_by("pk"))


def _list(user_id: int) -> list[types.Tool]:
    from .triggers import mcp_tool_name

    tools = []
    for workflow in _tool_workflows(user_id):
        schema = workflow.published_version.graph.get("inputs") or {"type": "object", "properties": {}}
        tools.append(types.Tool(name=mcp_tool_name(workflow), description=workflow.description or workflow.name, input_schema=schema))
    return tools


def _start(user_id: int, name: str, arguments: dict[str, Any]) -> tuple[int | None, int, str | None]:
    """(run id, steps in the graph, error) for a call of tool `name`."""
    from django.contrib.auth import get_user_model

    from .models import Trigger
    from .services import ServiceError
    from .triggers import mcp_tool_name, start_published_run

    workflow = next((w for w in _tool_workflows(user_id) if mcp_tool_name(w) == name), None)
    if workflow is None:
        return None, 0, f"unknown tool '{name}': call tools/list for the tools this token may use"
    trigger = Trigger.objects.select_related("workflow__published_version", "workflow__team").filter(workflow=workflow, type=Trigger.Type.MCP).first()
    try:
        run = start_published_run(trigger, arguments, user=get_user_model().objects.get(pk=user_id))
    except ServiceError as exc:
        return None, 0, exc.message
    nodes = [n for n in workflow.published_version.graph.get("nodes", []) if n.get("type") != "note"]
    return run.pk, len(nodes), None


def _state(run_id: int):
    from .models import Run

    return Run.objects.filter(pk=run_id).values_list("status", "output", "error").first()


async def _follow(ctx: ServerRequestContext, run_id: int, total: int) -> tuple[str, Any, Any]:
    """Report progress as steps finish until the run has finished. Join the
    run's group first, then read what was published before (the run's event
    log in Redis); sequence numbers drop what is seen twice."""
    from channels.layers import get_channel_layer

    from engine.streaming import read_log

    from .models import Run

    layer = get_channel_layer()
    channel = await layer.new_channel()
    group = events.group_name(run_id)
    await layer.group_add(group, channel)
    seen = 0
    done = 0

    async def report(batch: list[dict[str, Any]]) -> None:
        nonlocal seen, done
        for event in batch:
            if event.get("seq", 0) <= seen:
                continue
            seen = event.get("seq", seen)
            if event.get("type") == events.STEP_FINISHED:
                done += 1
                await ctx.session.report_progress(done, max(total, done), f"{event.get('node')} finished")

    try:
        await report(await read_log(run_id))
        state = await sync_to_async(_state)(run_id)
        while state[0] not in Run.FINISHED:
            try:
                message = await asyncio.wait_for(layer.receive(channel), timeout=1.0)
            except asyncio.TimeoutError:
                message = {}
            await report(message.get("events", []))
            if message.get("type") == "run.status" or any(e.get("type") == events.RUN_FINISHED for e in message.get("events", [])) or not message:
                state = await sync_to_async(_state)(run_id)
        await asyncio.sleep(0.05)
        await report(await read_log(run_id, after=seen))  # the last steps' events may trail the run's row
    finally:
        await layer.group_discard(group, channel)
    return state


async def list_tools(ctx: ServerRequestContext, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
    return types.ListToolsResult(tools=await sync_to_async(_list)(_user_id(ctx)))


async def call_tool(ctx: ServerRequestContext, params: types.CallToolRequestParams) -> types.CallToolResult:
    run_id, total, error = await sync_to_async(_start)(_user_id(ctx), params.name, dict(params.arguments or {}))
    if run_id is None:
        return types.CallToolResult(content=[types.TextContent(text=error)], is_error=True)
    status, output, run_error = await _follow(ctx, run_id, total)
    if status != "succeeded":
        message = (run_error or {}).get("message") or f"run {run_id} {status}"
        return types.CallToolResult(content=[types.TextContent(text=f"run {run_id} {status}: {message}")], is_error=True,
                                    structured_content={"run": run_id, "status": status, "error": run_error})
    text = output if isinstance(output, str) else json.dumps(output, default=str)
    return types.CallToolResult(content=[types.TextContent(text=text)], structured_content={"run": run_id, "output": output})


server: Server = Server("orchestrator", version="1", instructions="Published Orchestrator workflows, one tool each.",
                        on_list_tools=list_tools, on_call_tool=call_tool)


class MCPApp:
    """The ASGI app mounted at /mcp/: Bearer auth, then the SDK's transport."""

    def __init__(self) -> None:
        self._manager: StreamableHTTPSessionManager | None = None
        self._ready: asyncio.Event | None = None

    async def _started(self) -> StreamableHTTPSessionManager:
        if self._ready is None:
            self._ready = asyncio.Event()
            self._manager = StreamableHTTPSessionManager(app=server, stateless=True, json_response=False)
            asyncio.get_running_loop().create_task(self._run(self._manager, self._ready))
        await self._ready.wait()
        return self._manager

    @staticmethod
    async def _run(manager: StreamableHTTPSessionManager, ready: asyncio.Event) -> None:
        async with manager.run():
            ready.set()
            await asyncio.Event().wait()  # for the life of the process

    async def __call__(self, scope, receive, send) -> None:
        from .tokens import token_and_user

        header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        scheme, _, key = header.partition(" ")
        found = await sync_to_async(token_and_user)(key.strip()) if scheme.lower() == "bearer" and key.strip() else None
        if found is None:
            await _deny(send, "send Authorization: Bearer <API token> (POST /api/auth/token/ gives one)")
            return
        scope = dict(scope, path="/mcp/")  # /mcp and /mcp/ are the same endpoint
        scope[USER_SCOPE_KEY] = found[0].pk
        manager = await self._started()
        await manager.handle_request(scope, receive, send)


async def _deny(send, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": 401,
                "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b'Bearer realm="orchestrator"')]})
    await send({"type": "http.response.body", "body": body})


application = MCPApp()
