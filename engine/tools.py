"""Tools an agent may call: the built-in ones, other workflows of the team,
and HTTP endpoints declared on the node. Each has a name, a description, a
JSON Schema of its arguments, and an async call returning a JSON value.
Arguments are checked against the schema before the call; a tool's failure
is an observation for the agent, not a crash."""
from __future__ import annotations

import ast
import dataclasses
import math
import operator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jmespath
import jsonschema

from . import net, templating
from .nodes.base import NodeContext
from . import patterns


class ToolError(Exception):
    """A tool could not do what was asked; the message goes back to the agent."""


@dataclass
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    call: Callable[[dict[str, Any], NodeContext], Awaitable[Any]]

    def definition(self) -> dict[str, Any]:
        """The OpenAI function-tool definition."""
        return {"type": "function", "function": {"name": self.name, "description": self.description, "parameters": self.parameters}}

    async def invoke(self, arguments: Any, ctx: NodeContext) -> Any:
        error = jsonschema.exceptions.best_match(patterns.validator(self.parameters).iter_errors(arguments))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(arguments)"
            raise ToolError(f"arguments do not match {self.name}'s schema at {where}: {error.message}")
        return await self.call(arguments, ctx)


# ----------------------------------------------------------------- calculator

_OPERATORS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow, ast.USub: operator.neg, ast.UAdd: operator.pos,
}
_FUNCTIONS = {"sqrt": math.sqrt, "abs": abs, "round": round, "min": min, "max": max, "log": math.log, "exp": math.exp,
              "sin": math.sin, "cos": math.cos, "tan": math.tan}
_CONSTANTS = {"pi": math.pi, "e": math.e}


def calculate(expression: str) -> float | int:
    """Safe arithmetic: numbers, + - * / // % **, parentheses and a few math functions. No names, no attributes."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        raise ToolError(f"not an arithmetic expression: {expression!r}") from exc

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Pow) and abs(right) > 1000:
                raise ToolError("exponent too large")
            try:
                return _OPERATORS[type(node.op)](left, right)
            except ZeroDivisionError as exc:
                raise ToolError("division by zero") from exc
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](walk(node.operand))
        if isinstance(node, ast.Name) and node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS and not node.keywords:
            return _FUNCTIONS[node.func.id](*[walk(arg) for arg in node.args])
        raise ToolError(f"not allowed in a calculation: {ast.dump(node)[:60]}")

    result = walk(tree)
    if isinstance(result, float) and result.is_integer() and abs(result) < 1e15:
        return int(result)
    return result


async def _calculator(args: dict[str, Any], ctx: NodeContext) -> Any:
    return {"expression": args["expression"], "result": calculate(args["expression"])}


async def _json_query(args: dict[str, Any], ctx: NodeContext) -> Any:
    try:
        return {"result": jmespath.search(args["query"], args["data"])}
    except jmespath.exceptions.JMESPathError as exc:
        raise ToolError(f"bad JMESPath query {args['query']!r}: {exc}") from exc


async def _current_time(args: dict[str, Any], ctx: NodeContext) -> Any:
    name = args.get("timezone") or "UTC"
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ToolError(f"unknown time zone {name!r}; use an IANA name such as Europe/Paris") from exc
    now = datetime.now(timezone.utc).astimezone(zone)
    return {"timezone": name, "iso": now.isoformat(timespec="seconds"), "weekday": now.strftime("%A")}


async def _http_fetch(args: dict[str, Any], ctx: NodeContext) -> Any:
    try:
        response = await net.request(args.get("method", "GET"), args["url"], timeout_s=20)
    except net.NetError as exc:
        raise ToolError(exc.message) from exc
    return {"status": response.status, "content_type": response.content_type, "body": response.text()[:4000]}


BUILTIN: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool("calculator", "Evaluate an arithmetic expression exactly (numbers, + - * / // % **, sqrt, abs, round, min, max, log, exp).",
             {"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"], "additionalProperties": False},
             _calculator),
        Tool("json_query", "Query JSON data with a JMESPath expression (e.g. items[?price > `10`].name).",
             {"type": "object", "properties": {"data": {}, "query": {"type": "string"}}, "required": ["data", "query"], "additionalProperties": False},
             _json_query),
        Tool("current_time", "The current date and time, in UTC or a given IANA time zone.",
             {"type": "object", "properties": {"timezone": {"type": "string"}}, "additionalProperties": False},
             _current_time),
        Tool("http_fetch", "Fetch a public URL (GET by default); private and internal addresses are refused.",
             {"type": "object", "properties": {"url": {"type": "string"}, "method": {"enum": ["GET", "HEAD"]}}, "required": ["url"],
              "additionalProperties": False},
             _http_fetch),
    )
}


def workflow_tool(workflow_id: int, name: str, description: str, inputs: dict[str, Any]) -> Tool:
    """Another workflow of the team as a tool: its inputs schema is the tool's parameters."""

    async def call(args: dict[str, Any], ctx: NodeContext) -> Any:
        from .errors import NodeFailed
        from .nodes.subworkflow import SubworkflowNode

        # Each call of the tool within the agent's step is its own child run,
        # numbered in call order, so a re-executed step finds its children again.
        calls = ctx.__dict__.setdefault("_workflow_tool_calls", {})
        calls[name] = calls.get(name, 0) + 1
        call_ctx = dataclasses.replace(ctx, key=f"{ctx.key}/{name}#{calls[name]}")
        try:
            result = await SubworkflowNode().arun({"workflow": workflow_id, "version": None, "inputs": args}, call_ctx)
        except NodeFailed as exc:
            raise ToolError(exc.message) from exc
        return {"output": result.output}

    return Tool(name, description or f"Run workflow {workflow_id}", inputs or {"type": "object"}, call)


def http_tool(spec: dict[str, Any]) -> Tool:
    """An HTTP endpoint declared on the node; `url` and `body` are templates over `args`."""

    async def call(args: dict[str, Any], ctx: NodeContext) -> Any:
        scope = {"args": templating.Scope("args", args)}
        url = templating.render(spec["url"], scope, node=ctx.node_id, field=f"http_tools.{spec['name']}.url")
        body = templating.render(spec.get("body"), scope, node=ctx.node_id, field=f"http_tools.{spec['name']}.body")
        import json

        content = None if body is None else (body if isinstance(body, str) else json.dumps(body)).encode()
        headers = {"Content-Type": "application/json"} if content is not None and not isinstance(body, str) else {}
        try:
            response = await net.request(spec.get("method", "GET"), url, headers=headers, content=content, timeout_s=20)
        except net.NetError as exc:
            raise ToolError(exc.message) from exc
        return {"status": response.status, "body": response.text()[:4000]}

    return Tool(spec["name"], spec.get("description", ""), spec.get("parameters") or {"type": "object"}, call)


def mcp_tool_name(server: str, tool: str) -> str:
    """A function name the model accepts (^[A-Za-z0-9_-]{1,64}$) for mcp:<server>/<tool>."""
    import re

    return ("mcp_" + re.sub(r"[^A-Za-z0-9_-]", "_", f"{server}__{tool}"))[:64]


def mcp_tool(name: str, server, remote) -> Tool:
    """A tool of a registered MCP server, called through the official SDK (engine/mcp_tools.py)."""

    async def call(args: dict[str, Any], ctx: NodeContext) -> Any:
        from . import mcp_tools

        try:
            ok, result = await mcp_tools.call_tool(server.name, server.url, server.headers, remote.name, args)
        except mcp_tools.MCPToolError as exc:
            raise ToolError(str(exc)) from exc
        if not ok:
            raise ToolError(f"{remote.name}: {result}")
        return {"result": result}

    description = f"[MCP {server.name}] {remote.description}"[:1000]
    return Tool(name, description, remote.input_schema or {"type": "object"}, call)
