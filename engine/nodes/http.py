from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .. import net, providers
from ..hosts import host_allowed
from ..errors import NodeFailed
from .base import Config, NodeContext, NodeResult, NodeType

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
SNIPPET_CHARS = 300


class HttpConfig(Config):
    method: str = Field(
        default="GET",
        description="GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS; may be a `{{ }}` template.",
        json_schema_extra={"x-template": True, "examples": list(METHODS)},
    )
    url: str = Field(
        min_length=1,
        description="http(s) URL; `{{ }}` templates. Loopback, private and link-local addresses are refused unless HTTP_NODE_ALLOWED_HOSTS allows them.",
        json_schema_extra={"x-template": True},
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers; values are templates.", json_schema_extra={"x-template": True})
    query: dict[str, Any] = Field(default_factory=dict, description="Query parameters added to the URL; values are templates.", json_schema_extra={"x-template": True})
    body: Any = Field(
        default=None,
        description="Request body: JSON whose strings are templates, or a template string. Objects, lists, numbers and booleans are sent as JSON; a string as text (see body_format).",
        json_schema_extra={"x-template": True},
    )
    body_format: Literal["auto", "json", "text"] = Field(
        default="auto", description="`auto`: JSON unless the rendered body is a string; `json` sends a string as a JSON string too; `text` sends it as is."
    )
    credential: str | None = Field(
        default=None,
        description="Name of a team http credential sent as `Authorization: Bearer <key>`, only to the hosts it names (the key never appears in the step's input or output). Model credentials are refused.",
    )
    timeout_s: float = Field(default=30, gt=0, le=600, description="Seconds for the whole exchange, redirects included; a timeout is retried.")
    fail_on_error: bool = Field(
        default=True,
        description="When false, a non-2xx answer is the node's output ({status, headers, body}) instead of a failure; branch on `nodes.<id>.output.status`.",
    )

    @field_validator("method")
    @classmethod
    def _known_method(cls, method: str) -> str:
        if "{{" in method or "{%" in method:
            return method
        if method.upper() not in METHODS:
            raise ValueError(f"'{method}' is not an HTTP method; use one of {', '.join(METHODS)}")
        return method.upper()

    @model_validator(mode="after")
    def _one_authorization(self) -> "HttpConfig":
        if self.credential and any(name.lower() == "authorization" for name in self.headers):
            raise ValueError("set either `credential` or an Authorization header, not both")
        return self


class HttpNode(NodeType):
    type = "http"
    label = "HTTP request"
    category = "data"
    description = (
        "Calls a URL and outputs {status, headers, body}; a JSON answer is parsed. 429, 5xx and timeouts are retried; "
        "other 4xx fail the step. Private, loopback and link-local addresses are refused unless HTTP_NODE_ALLOWED_HOSTS allows them."
    )
    Config = HttpConfig
    template_fields = ("method", "url", "headers", "query", "body")
    is_io = True

    def run(self, config, ctx):  # pragma: no cover - io nodes only run async
        raise NotImplementedError

    async def arun(self, config: dict[str, Any], ctx: NodeContext) -> NodeResult:
        where = f"http node '{ctx.node_id}'"
        method = str(config.get("method") or "GET").upper()
        if method not in METHODS:
            raise NodeFailed(f"{where}: method rendered to '{method}', which is not one of {', '.join(METHODS)}")
        headers = {str(k): _header_value(v) for k, v in (config.get("headers") or {}).items()}
        content = _encode_body(config.get("body"), config.get("body_format", "auto"), headers)
        secret = ""
        if config.get("credential"):
            secret, allowed = await providers.http_secret(ctx.team_id, config["credential"])
            host = net.host_of(str(config["url"]))
            if not host_allowed(host, allowed):
                raise NodeFailed(f"{where}: the credential '{config['credential']}' may be sent only to {', '.join(allowed)}, "
                                 f"not to {host or 'this URL'}; nothing was sent")
            headers["Authorization"] = f"Bearer {secret}"
        if not any(name.lower() == "idempotency-key" for name in headers):
            headers["Idempotency-Key"] = idempotency_key(ctx)
        query = {k: _query_value(v) for k, v in (config.get("query") or {}).items() if v is not None}
        try:
            response = await net.request(method, str(config["url"]), headers=headers, params=query, content=content,
                                         timeout_s=float(config.get("timeout_s") or 30))
        except net.NetError as exc:
            raise NodeFailed(f"{where}: {_redact(exc.message, secret)}", retryable=exc.retryable) from None
        output = _redact({"status": response.status, "headers": response.headers, "body": _parse_body(response)}, secret)
        if 200 <= response.status < 300 or not config.get("fail_on_error", True):
            return NodeResult(output=output)
        snippet = response.text()[:SNIPPET_CHARS].strip()
        message = f"{where}: {method} {response.url} answered {response.status} {response.reason}".rstrip()
        message += f": {_redact(snippet, secret)}" if snippet else ""
        retryable = response.status == 429 or response.status >= 500
        if response.status < 400:
            message += " (a 2xx answer was expected; set fail_on_error: false to take any status)"
        raise NodeFailed(message, retryable=retryable)


def _query_value(value: Any) -> Any:
    """Scalars as they are, a list as a repeated parameter (?tag=a&tag=b), anything else as JSON."""
    if isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, list) and all(isinstance(v, (str, int, float, bool)) for v in value):
        return value
    return json.dumps(value)


def _header_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _encode_body(body: Any, body_format: str, headers: dict[str, str]) -> bytes | None:
    if body is None:
        return None
    has_type = any(name.lower() == "content-type" for name in headers)
    if isinstance(body, str) and body_format != "json":
        if not has_type:
            headers["Content-Type"] = "text/plain; charset=utf-8"
        return body.encode()
    if body_format == "text":
        return (body if isinstance(body, str) else json.dumps(body)).encode()
    if not has_type:
        headers["Content-Type"] = "application/json"
    return json.dumps(body, ensure_ascii=False, default=str).encode()


def _parse_body(response: net.Response) -> Any:
    media = response.content_type.split(";", 1)[0].strip().lower()
    text = response.text()
    if media == "application/json" or media.endswith("+json"):
        try:
            return json.loads(text) if text.strip() else None
        except json.JSONDecodeError:
            return text  # it said JSON and was not: show what came
    return text


def _redact(value: Any, secret: str) -> Any:
    """A server that echoes the request (httpbin and friends) must not put the key in a run's record."""
    if not secret:
        return value
    if isinstance(value, str):
        return value.replace(secret, "[credential]")
    if isinstance(value, list):
        return [_redact(v, secret) for v in value]
    if isinstance(value, dict):
        return {k: _redact(v, secret) for k, v in value.items()}
    return value


def idempotency_key(ctx: NodeContext) -> str:
    """The same for every execution of one step (a retry, a re-execution after
    its worker died, a replay), different for each step, loop iteration and
    fan-out item: (run, node, activation key). A receiver that keeps the keys
    it has seen can drop a repeated request. A header the node sets itself wins."""
    import hashlib

    return hashlib.sha256(f"{ctx.run_id}:{ctx.node_id}:{ctx.key}".encode()).hexdigest()[:40]
