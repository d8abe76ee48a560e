from __future__ import annotations

import json
import time
from typing import Annotated, Any, Literal

from pydantic import Field

from .. import llm, providers, tools as toolbox
from ..db import off_loop
from .base import Config, NodeContext, NodeResult, NodeType, Usage

BuiltinTool = Literal["calculator", "json_query", "current_time", "http_fetch"]
# A tool of a team's registered MCP server: "mcp:<server>/<tool>", or "mcp:<server>/*" for all of its tools.
MCPToolRef = Annotated[str, Field(pattern=r"^mcp:[A-Za-z0-9_-]{1,60}/(\*|[A-Za-z0-9_.\-/]{1,128})$")]


class HttpToolSpec(Config):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
    description: str = ""
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: str = Field(description="A template over the call's arguments, e.g. https://api.example.com/items/{{ args.id }}")
    body: Any = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"}, description="JSON Schema of the arguments.",
                                        json_schema_extra={"x-json-schema": True})


class AgentConfig(Config):
    goal: str = Field(min_length=1, description="The task; `{{ }}` templates.", json_schema_extra={"x-template": True})
    instructions: str | None = Field(default=None, description="Scope and rules: what the agent may and may not do.",
                                     json_schema_extra={"x-template": True})
    tools: list[BuiltinTool | MCPToolRef] = Field(
        default_factory=list, description='Built-in tools it may call, and MCP tools of the team\'s tool servers: "mcp:<server>/<tool>" or "mcp:<server>/*".')
    workflows: list[int] = Field(default_factory=list, description="Ids of team workflows it may run as tools.")
    http_tools: list[HttpToolSpec] = Field(default_factory=list, description="HTTP endpoints it may call, behind the http node's guard.")
    model: str | None = None
    credential: str | None = None
    max_iterations: int = Field(default=6, ge=1, le=50, description="Think–act–observe turns before it stops through `limit`.")
    max_tokens: int | None = Field(default=None, ge=1, description="Token budget for this agent.")
    max_cost_usd: float | None = Field(default=None, ge=0)
    timeout_s: float | None = Field(default=None, gt=0, description="Wall-clock limit for the whole loop.")


class AgentNode(NodeType):
    """A think–act–observe loop through the model's tool calling, with its
    guardrails enforced here, not trusted to the model: iterations, allowed
    tools, token and cost budget, wall-clock time, and a repeated identical
    call counted as being stuck. Any limit goes out through `limit` with the
    reason (wire it to a human step to escalate); an answer through `done`."""

    type = "agent"
    label = "Agent"
    category = "ai"
    description = "An autonomous agent: calls tools in a loop until it can answer; stops through `limit` at its guardrails."
    Config = AgentConfig
    template_fields = ("goal", "instructions")
    is_io = True
    spreadable = False

    @classmethod
    def output_ports(cls, config) -> list[str]:
        return ["done", "limit"]

    def run(self, config, ctx):  # pragma: no cover - io nodes only run async
        raise NotImplementedError

    async def arun(self, config: dict[str, Any], ctx: NodeContext) -> NodeResult:
        target = await providers.resolve(ctx.team_id, config.get("credential"), config.get("model"))
        available = await off_loop(_tools_for)(config, ctx.team_id)
        available.update(await _mcp_tools(config, ctx.team_id))
        definitions = [tool.definition() for tool in available.values()]
        rules = (config.get("instructions") or "").strip()
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": "You are an agent. Use only the tools offered, one step at a time. "
                                          "When you can answer, reply with the answer and call no tool." + (f"\nRules: {rules}" if rules else "")},
            {"role": "user", "content": str(config["goal"])},
        ]
        usage = Usage()
        trace: list[dict[str, Any]] = []
        started = time.monotonic()
        seen_calls: set[tuple[str, str]] = set()
        last_text = ""
        for iteration in range(1, config["max_iterations"] + 1):
            reason = _over_budget(config, usage, started)
            if reason:
                return _limit(reason, iteration - 1, trace, last_text, usage, target)
            ctx.emit_delta(f"\n[think {iteration}] ")
            turn = await llm.tool_turn(target, messages, definitions, on_delta=ctx.emit_delta)
            usage = Usage(usage.tokens_in + turn.tokens_in, usage.tokens_out + turn.tokens_out, usage.cost_usd + turn.cost_usd)
            messages.append(turn.as_message())
            last_text = turn.text
            if not turn.tool_calls:
                trace.append({"iteration": iteration, "kind": "answer", "text": turn.text})
                return NodeResult(output={"answer": turn.text, "iterations": iteration, "trace": trace}, ports=["done"],
                                  usage=usage, model=turn.model, demo=turn.demo)
            for call in turn.tool_calls:
                ctx.emit_delta(f"\n[act] {call.name}({call.arguments})")
                observation, ok = await _observe(call, available, ctx)
                ctx.emit_delta(f"\n[observe] {json.dumps(observation, default=str)[:500]}")
                trace.append({"iteration": iteration, "kind": "tool", "thought": turn.text, "tool": call.name,
                              "arguments": call.arguments, "observation": observation, "ok": ok})
                messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(observation, default=str)})
                signature = (call.name, call.arguments)
                if signature in seen_calls:
                    return _limit("stuck: it repeated the same tool call", iteration, trace, last_text, usage, target)
                seen_calls.add(signature)
        return _limit(f"max_iterations: {config['max_iterations']} turns without an answer", config["max_iterations"], trace, last_text, usage, target)


def _tools_for(config: dict[str, Any], team_id: int | None) -> dict[str, toolbox.Tool]:
    available = {name: toolbox.BUILTIN[name] for name in config.get("tools") or [] if not name.startswith("mcp:")}
    if config.get("workflows"):
        from ..product import product

        for workflow in product().workflows(team_id, list(config["workflows"])):
            name = f"workflow_{workflow.id}"
            available[name] = toolbox.workflow_tool(workflow.id, name, f"{workflow.name}: {workflow.description}"[:500],
                                                    (workflow.graph.get("inputs") if workflow.graph else None) or {"type": "object"})
    for spec in config.get("http_tools") or []:
        available[spec["name"]] = toolbox.http_tool(spec)
    return available


async def _mcp_tools(config: dict[str, Any], team_id: int | None) -> dict[str, toolbox.Tool]:
    """The MCP tools the node names, discovered on their servers (cached briefly, engine/mcp_tools.py)."""
    from .. import mcp_tools
    from ..errors import NodeFailed
    from ..product import product

    wanted: dict[str, set[str]] = {}
    for ref in config.get("tools") or []:
        match = mcp_tools.REF.match(ref)
        if match:
            wanted.setdefault(match["server"], set()).add(match["tool"])
    available: dict[str, toolbox.Tool] = {}
    for server_name, names in wanted.items():
        server = await off_loop(product().tool_server)(team_id, server_name)
        if server is None:
            raise NodeFailed(f"tools: the team has no MCP tool server named '{server_name}' (register it: POST /api/tool-servers/)")
        try:
            remote = await mcp_tools.list_tools(server.name, server.url, server.headers)
        except mcp_tools.MCPToolError as exc:
            raise NodeFailed(f"tools: {exc}") from exc
        found = {t.name: t for t in remote}
        missing = sorted(n for n in names if n != "*" and n not in found)
        if missing:
            raise NodeFailed(f"tools: MCP server '{server_name}' has no tool '{missing[0]}' (it has {', '.join(sorted(found)) or 'none'})")
        for tool in remote:
            if "*" in names or tool.name in names:
                tool_name = toolbox.mcp_tool_name(server_name, tool.name)
                available[tool_name] = toolbox.mcp_tool(tool_name, server, tool)
    return available


async def _observe(call: llm.ToolCall, available: dict[str, toolbox.Tool], ctx: NodeContext) -> tuple[Any, bool]:
    """What the agent sees after a call: the tool's result, or an error it can act on."""
    tool = available.get(call.name)
    if tool is None:
        return {"error": f"tool '{call.name}' is not allowed here; allowed: {', '.join(available) or 'none'}"}, False
    try:
        arguments = json.loads(call.arguments or "{}")
    except json.JSONDecodeError as exc:
        return {"error": f"arguments are not valid JSON: {exc.msg}"}, False
    try:
        return await tool.invoke(arguments, ctx), True
    except toolbox.ToolError as exc:
        return {"error": str(exc)}, False


def _over_budget(config: dict[str, Any], usage: Usage, started: float) -> str | None:
    if config.get("max_tokens") is not None and usage.tokens > config["max_tokens"]:
        return f"max_tokens: {usage.tokens} used of {config['max_tokens']}"
    if config.get("max_cost_usd") is not None and usage.cost_usd > config["max_cost_usd"]:
        return f"max_cost_usd: ${usage.cost_usd:.4f} spent of ${config['max_cost_usd']:g}"
    if config.get("timeout_s") is not None and time.monotonic() - started > config["timeout_s"]:
        return f"timeout: more than {config['timeout_s']:g} s"
    return None


def _limit(reason: str, iterations: int, trace, last_text: str, usage: Usage, target) -> NodeResult:
    return NodeResult(output={"reason": reason, "iterations": iterations, "trace": trace, "partial": last_text},
                      ports=["limit"], usage=usage, model=target.model, demo=target.demo)
