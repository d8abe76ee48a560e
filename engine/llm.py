"""The one module that speaks to model providers, through the `openai` client
against any OpenAI-compatible endpoint, or to the offline demo model when no key
is configured. Streaming, usage, JSON output validated against a schema with
repair turns, and transient errors reported as retryable."""
from __future__ import annotations

import asyncio
import atexit
import weakref
import json
from dataclasses import dataclass
from typing import Any, Callable

import httpx2  # the openai client's HTTP library
import jsonschema
import openai
from django.conf import settings
from openai._models import FinalRequestOptions

from . import demo_model
from .errors import NodeFailed
from .pricing import cost_usd
from . import patterns


@dataclass(frozen=True)
class ModelTarget:
    """Where a call goes. `demo` means the offline demo model answers."""

    model: str
    base_url: str = ""
    api_key: str = ""
    demo: bool = False


@dataclass
class Completion:
    text: str
    value: Any  # the parsed JSON when a schema was asked for, else the text
    tokens_in: int
    tokens_out: int
    cost_usd: float
    model: str
    demo: bool
    repairs: int = 0


@dataclass(frozen=True)
class _Endpoint:
    """An openai client and the chat-completions request it builds, built once.

    The client builds a request the same way every time for one endpoint and
    key: its URL, auth and default headers and timeouts; only the body
    differs. Building it (options model, header merging, URL parsing, auth
    hooks) was ~60 % of a call's CPU, and a fan-out's calls are built one
    after another on one event loop, so the last of a hundred left ~50 ms
    after the first. So it is built once per endpoint by the client itself and
    each call sends a copy with its own body through the client's own HTTP
    client; status errors are made by the client (`_make_status_error_from_response`),
    so they are the same openai exceptions as before."""

    client: openai.AsyncOpenAI
    url: httpx2.URL
    headers: tuple[tuple[str, str], ...]
    extensions: dict[str, Any]

    def request(self, body: dict[str, Any]) -> httpx2.Request:
        headers = list(self.headers)
        if self.client._idempotency_header:  # none for OpenAI's client today; each request its own if it gets one
            headers.append((self.client._idempotency_header, self.client._idempotency_key()))
        return httpx2.Request("POST", self.url, headers=headers, content=json.dumps(body).encode(), extensions=self.extensions)


# Per event loop (a client is bound to the loop it was made on), by endpoint.
_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], _Endpoint]]" = weakref.WeakKeyDictionary()


async def _endpoint(target: ModelTarget) -> _Endpoint:
    # One client per event loop and endpoint keeps connections warm across a
    # fan-out's calls. Its HTTP transport is aiohttp (the client's `aiohttp`
    # extra): half the CPU per call of the default one, measured on a fan-out
    # of a hundred calls (bench/engine.py), which is what bounds its wall time.
    loop = asyncio.get_running_loop()
    per_loop = _clients.get(loop)
    if per_loop is None:
        per_loop = _clients[loop] = {}
    key = (target.base_url, target.api_key)
    endpoint = per_loop.get(key)
    if endpoint is None:
        client = openai.AsyncOpenAI(
            api_key=target.api_key,
            base_url=target.base_url or None,
            max_retries=0,  # the engine retries with backoff and counts attempts
            timeout=settings.LLM_TIMEOUT_S,
            http_client=openai.DefaultAioHttpClient(timeout=settings.LLM_TIMEOUT_S),
        )
        # The client's own steps for a request (AsyncAPIClient.request), once.
        options = await client._prepare_options(FinalRequestOptions.construct(method="post", url="/chat/completions", json_data={}))
        template = client._build_request(options)
        await client._prepare_request(template)
        headers = tuple((k, v) for k, v in template.headers.multi_items() if k.lower() != "content-length")
        endpoint = per_loop.setdefault(key, _Endpoint(client, template.url, headers, dict(template.extensions)))
        if endpoint.client is not client:  # made meanwhile by another call
            await client.close()
    return endpoint


async def _send(endpoint: _Endpoint, body: dict[str, Any]) -> httpx2.Response:
    """POST the body; the response unread (streamed). Errors as the client raises them."""
    request = endpoint.request(body)
    try:
        response = await endpoint.client._client.send(request, stream=True)
    except httpx2.TimeoutException as exc:
        raise openai.APITimeoutError(request=request) from exc
    except Exception as exc:
        raise openai.APIConnectionError(request=request) from exc
    if response.status_code >= 400:
        try:
            await response.aread()
        finally:
            await response.aclose()
        raise endpoint.client._make_status_error_from_response(response)
    return response


async def close_clients() -> None:
    """Close the running loop's clients: for a short-lived loop, before it ends."""
    for endpoint in _clients.pop(asyncio.get_running_loop(), {}).values():
        await endpoint.client.close()


@atexit.register
def _close_at_exit() -> None:
    """Long-lived loops (a worker's I/O loop) close their connections as the
    process exits, rather than leaving them to a garbage collector that
    complains about them into closed log streams."""
    for loop in list(_clients.keys()):
        if loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(close_clients(), loop).result(2)
            except Exception:  # exiting anyway
                pass


def list_models(base_url: str, api_key: str, timeout_s: float = 15.0) -> list[str]:
    """The model ids an OpenAI-compatible endpoint lists (`GET {base_url}/models`):
    what a credential's key can use. Raises NodeFailed with the provider's own
    words when the key or the URL does not work."""
    client = openai.OpenAI(api_key=api_key or "none", base_url=base_url or None, max_retries=0, timeout=timeout_s)
    try:
        page = client.models.list()
        return sorted({m.id for m in page.data})
    except openai.AuthenticationError as exc:
        raise NodeFailed(f"the provider refused the key (401): {_provider_message(exc)}") from None
    except openai.PermissionDeniedError as exc:
        raise NodeFailed(f"the provider refused the key (403): {_provider_message(exc)}") from None
    except openai.APIStatusError as exc:
        raise NodeFailed(f"{base_url or 'the provider'} answered {exc.status_code} to GET /models: {_provider_message(exc)}") from None
    except openai.APITimeoutError:
        raise NodeFailed(f"{base_url or 'the provider'} did not answer within {timeout_s:g} s") from None
    except openai.APIConnectionError as exc:
        raise NodeFailed(f"cannot reach {base_url or 'the provider'}: {exc.__cause__ or exc}") from None
    finally:
        client.close()


def _provider_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return str(exc)[:300]


def default_target(model: str | None) -> ModelTarget:
    """The provider from OPENAI_API_KEY/OPENAI_BASE_URL, or the demo model without a key."""
    if not settings.OPENAI_API_KEY:
        return ModelTarget(model=demo_model.DEMO_MODEL_NAME, demo=True)
    return ModelTarget(model=model or settings.DEFAULT_MODEL, base_url=settings.OPENAI_BASE_URL, api_key=settings.OPENAI_API_KEY)


def _schema_instruction(schema: dict[str, Any]) -> str:
    return "Reply with only a JSON value (no prose, no code fences) that matches this JSON Schema:\n" + json.dumps(schema)


def _parse_json(text: str, schema: dict[str, Any]) -> tuple[Any, str | None]:
    cleaned = text.strip()
    if cleaned.startswith("```"):
        cleaned = cleaned.strip("`")
        cleaned = cleaned[cleaned.find("\n") + 1 :] if "\n" in cleaned else cleaned
    try:
        value = json.loads(cleaned)
    except json.JSONDecodeError as exc:
        return None, f"the reply is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    error = jsonschema.exceptions.best_match(patterns.validator(schema).iter_errors(value))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return None, f"the reply does not match the schema at {where}: {error.message}"
    return value, None


async def complete(
    target: ModelTarget,
    messages: list[dict[str, str]],
    *,
    json_schema: dict[str, Any] | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    max_repairs: int = 2,
    on_delta: Callable[[str], None] = lambda text: None,
    on_restart: Callable[[str], None] = lambda reason: None,
) -> Completion:
    """One model answer; with a schema, validated and repaired up to `max_repairs` times."""
    messages = list(messages)
    if json_schema is not None:
        messages.insert(0, {"role": "system", "content": _schema_instruction(json_schema)})
    tokens_in = tokens_out = 0
    for repair in range(max_repairs + 1):
        if target.demo:
            text, t_in, t_out = await demo_model.stream_reply(
                messages, json_schema=json_schema, on_delta=on_delta, delay_s=settings.DEMO_TOKEN_DELAY_MS / 1000
            )
        else:
            text, t_in, t_out, _ = await _stream_openai(target, messages, json_schema, temperature, max_tokens, on_delta)
        tokens_in += t_in
        tokens_out += t_out
        if json_schema is None:
            value, problem = text, None
        else:
            value, problem = _parse_json(text, json_schema)
        if problem is None:
            return Completion(
                text=text,
                value=value,
                tokens_in=tokens_in,
                tokens_out=tokens_out,
                cost_usd=cost_usd(target.model, tokens_in, tokens_out),
                model=target.model,
                demo=target.demo,
                repairs=repair,
            )
        if repair < max_repairs:
            on_restart(f"repair {repair + 1}: {problem}")
            messages += [
                {"role": "assistant", "content": text},
                {"role": "user", "content": f"Your reply was rejected: {problem}. Reply again with only the corrected JSON."},
            ]
    raise NodeFailed(f"model reply still invalid after {max_repairs} repair attempts: {problem}")


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the model wrote it (it may be invalid)


@dataclass
class ToolTurn:
    """One turn of a tool-using conversation: text, the tools the model called, usage."""

    text: str
    tool_calls: list[ToolCall]
    tokens_in: int
    tokens_out: int
    cost_usd: float
    model: str
    demo: bool

    def as_message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.text or None}
        if self.tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in self.tool_calls
            ]
        return message


async def tool_turn(
    target: ModelTarget,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    *,
    temperature: float | None = None,
    on_delta: Callable[[str], None] = lambda text: None,
) -> ToolTurn:
    """One model turn offered `tools` (OpenAI function-tool definitions): text and/or tool calls."""
    if target.demo:
        text, calls, t_in, t_out = await demo_model.tool_turn(messages, tools, on_delta=on_delta, delay_s=settings.DEMO_TOKEN_DELAY_MS / 1000)
        tool_calls = [ToolCall(c["id"], c["name"], c["arguments"]) for c in calls]
    else:
        text, t_in, t_out, tool_calls = await _stream_openai(target, messages, None, temperature, None, on_delta, tools=tools or None)
    return ToolTurn(text, tool_calls, t_in, t_out, cost_usd(target.model, t_in, t_out), target.model, target.demo)


async def _stream_openai(
    target: ModelTarget,
    messages: list[dict[str, Any]],
    json_schema: dict[str, Any] | None,
    temperature: float | None,
    max_tokens: int | None,
    on_delta: Callable[[str], None],
    tools: list[dict[str, Any]] | None = None,
) -> tuple[str, int, int, list[ToolCall]]:
    kwargs: dict[str, Any] = {"model": target.model, "messages": messages, "stream": True, "stream_options": {"include_usage": True}}
    if tools:
        kwargs["tools"] = tools
    if temperature is not None:
        kwargs["temperature"] = temperature
    if max_tokens is not None:
        kwargs["max_tokens"] = max_tokens
    if json_schema is not None:
        kwargs["response_format"] = {"type": "json_schema", "json_schema": {"name": "reply", "schema": json_schema, "strict": False}}
    endpoint = await _endpoint(target)
    try:
        try:
            text, usage, calls = await _stream(endpoint, kwargs, on_delta)
        except openai.BadRequestError as exc:
            if "response_format" not in kwargs or "response_format" not in str(exc):
                raise
            # The endpoint has no structured outputs: the schema instruction and
            # our own validation still hold the reply to the schema.
            kwargs.pop("response_format")
            text, usage, calls = await _stream(endpoint, kwargs, on_delta)
    except openai.RateLimitError as exc:
        raise NodeFailed(f"rate limited by {target.base_url or 'the provider'} (429): {_detail(exc)}", retryable=True) from exc
    except openai.InternalServerError as exc:
        raise NodeFailed(f"provider error {exc.status_code}: {_detail(exc)}", retryable=True) from exc
    except openai.APITimeoutError as exc:
        if _refused(exc):
            raise NodeFailed(f"cannot reach the model endpoint {target.base_url or 'api.openai.com'}: {exc.__cause__}", retryable=True) from exc
        raise NodeFailed(f"the model did not answer within {settings.LLM_TIMEOUT_S:g} s", retryable=True) from exc
    except openai.APIConnectionError as exc:
        raise NodeFailed(f"cannot reach the model endpoint {target.base_url or 'api.openai.com'}: {exc}", retryable=True) from exc
    except httpx2.TransportError as exc:  # the connection broke while the reply streamed
        raise NodeFailed(f"the connection to {target.base_url or 'api.openai.com'} broke during the reply: {exc or type(exc).__name__}",
                         retryable=True) from exc
    except openai.APIStatusError as exc:
        raise NodeFailed(f"the model endpoint refused the request ({exc.status_code}): {_detail(exc)}") from exc
    tool_calls = [ToolCall(c["id"] or f"call_{i}", c["name"], c["arguments"] or "{}") for i, c in sorted(calls.items())]
    if usage is not None:
        return text, usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0, tool_calls
    # No usage reported: estimate (about four characters a token) rather than count nothing.
    prompt_chars = sum(len(str(m.get("content") or "")) for m in messages)
    return text, max(1, prompt_chars // 4), max(1, len(text) // 4), tool_calls


async def _stream(endpoint: _Endpoint, kwargs: dict[str, Any], on_delta: Callable[[str], None]):
    """The reply's text, usage and tool calls, read from the raw event stream.

    The chunks are parsed as plain JSON rather than into the client's typed
    models: same wire protocol, same client and errors, about a fifth less CPU
    per call — which is what a fan-out of a hundred calls spends its time on.
    `chat.completions.create` would also first walk its forty typed
    parameters through a request transform (a third of a call's CPU), which
    changes nothing for plain JSON like ours."""
    parts: list[str] = []
    calls: dict[int, dict[str, str]] = {}  # tool calls arrive in pieces, by index
    usage = None
    response = await _send(endpoint, kwargs)
    try:
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            chunk = json.loads(data)
            if chunk.get("error"):
                raise NodeFailed(f"the provider broke off the reply: {chunk['error'].get('message', chunk['error'])}", retryable=True)
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                text = delta.get("content")
                if text:
                    parts.append(text)
                    on_delta(text)
                for piece in delta.get("tool_calls") or []:
                    call = calls.setdefault(piece.get("index", 0), {"id": "", "name": "", "arguments": ""})
                    call["id"] = piece.get("id") or call["id"]
                    function = piece.get("function") or {}
                    call["name"] += function.get("name") or ""
                    call["arguments"] += function.get("arguments") or ""
    finally:
        await response.aclose()
    return "".join(parts), usage, calls


def _refused(exc: BaseException) -> bool:
    """Whether a "timeout" was really a refused, failed or dropped connection:
    the aiohttp transport reports every connection error as a connect timeout."""
    import aiohttp

    seen = exc
    while seen is not None:
        if isinstance(seen, (aiohttp.ClientConnectionError, ConnectionError)) and not isinstance(seen, asyncio.TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _detail(exc: openai.APIStatusError | openai.APIError) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
    return str(getattr(exc, "message", exc))
