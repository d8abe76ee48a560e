"""The offline demo model: answers without a key or a network, deterministically
(the same prompt gives the same reply), streamed a word at a time at a pace a
person can watch. Replies are schema-valid JSON when a schema is asked for.

It is a stand-in for a model's weights, nothing more: every step it answers is
marked `demo` in the API and the UI."""
from __future__ import annotations

import asyncio
import hashlib
import json
import re
from typing import Any, Callable

DEMO_MODEL_NAME = "demo"

_SENTENCES = [
    "The key idea is to keep each step small and checkable.",
    "Start from the requirement, then make every assumption explicit.",
    "A short example makes the intent clear to the next reader.",
    "Edge cases come first: empty input, very large input, and invalid input.",
    "Each part has one job and a name that says what it does.",
    "The result is verified against the original request before it is returned.",
    "Trade-offs are stated plainly so a reviewer can disagree with them.",
    "Where data is missing, the answer says so instead of guessing.",
]
_ISSUES = [
    "Issues: 1. The edge case of empty input is not handled. 2. The explanation lacks an example.",
    "Issues: 1. Error handling is missing. 2. Names could be clearer.",
]
_WORDS = ["alpha", "beta", "gamma", "delta", "summary", "analysis", "plan", "review", "draft", "result"]
REVISED_MARK = "Revised to address the feedback."


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def reply_text(messages: list[dict[str, str]]) -> str:
    prompt = "\n".join(m.get("content") or "" for m in messages if m.get("role") != "system")
    seed = _seed(prompt)
    if "APPROVED" in prompt:
        # An evaluator: approve a revised draft, send a first draft back with issues,
        # so the evaluator-optimizer demo visibly iterates and then converges.
        return "APPROVED" if REVISED_MARK in prompt else _ISSUES[seed % len(_ISSUES)]
    subject = _subject(prompt)
    sentences = [_SENTENCES[(seed >> (3 * i)) % len(_SENTENCES)] for i in range(3)]
    revised = _has_feedback(prompt)
    lead = f"[demo] On {subject}: " if subject else "[demo] "
    text = lead + " ".join(dict.fromkeys(sentences))
    return text + (" " + REVISED_MARK if revised else "")


def _subject(prompt: str) -> str:
    first = next((line.strip() for line in prompt.splitlines() if line.strip()), "")
    first = re.sub(r"\s+", " ", first).rstrip(":;,. ")
    return (first[:77] + "...") if len(first) > 80 else first


def _has_feedback(prompt: str) -> bool:
    match = re.search(r"feedback:\s*(.+)", prompt, re.I)
    return bool(match and match.group(1).strip().lower() not in {"none", "", "n/a"})


def example_for_schema(schema: dict[str, Any], seed: int, path: str = "") -> Any:
    """A deterministic instance of a JSON Schema (the subset models are asked for)."""
    if not isinstance(schema, dict):
        return None
    if "const" in schema:
        return schema["const"]
    if "enum" in schema and schema["enum"]:
        return schema["enum"][seed % len(schema["enum"])]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return example_for_schema(schema[key][0], seed, path)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(part)
        return example_for_schema(merged, seed, path)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    local = _seed(f"{seed}:{path}")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: example_for_schema(sub, seed, f"{path}.{name}") for name, sub in props.items()}
    if kind == "array":
        low = schema.get("minItems", 0)
        high = schema.get("maxItems", max(low, 3))
        count = max(low, min(high, 3))
        return [example_for_schema(schema.get("items", {}), seed, f"{path}[{i}]") for i in range(count)]
    if kind == "integer":
        low = int(schema.get("minimum", 1))
        high = int(schema.get("maximum", low + 9))
        return low + local % (high - low + 1)
    if kind == "number":
        low = float(schema.get("minimum", 0))
        high = float(schema.get("maximum", low + 10))
        return round(low + (local % 1000) / 1000 * (high - low), 2)
    if kind == "boolean":
        return bool(local % 2)
    if kind == "null":
        return None
    name = path.rsplit(".", 1)[-1].strip("[]0123456789") or "value"
    text = f"{name} {_WORDS[local % len(_WORDS)]} {local % 100}".strip()
    if schema.get("format") == "date":
        return "2026-01-01"
    min_len = schema.get("minLength", 0)
    max_len = schema.get("maxLength")
    text = text.ljust(min_len, "x")
    return text[:max_len] if max_len else text


def reply_json(messages: list[dict[str, str]], schema: dict[str, Any]) -> str:
    prompt = "\n".join(m.get("content") or "" for m in messages)
    return json.dumps(example_for_schema(schema, _seed(prompt)))


async def stream_reply(
    messages: list[dict[str, str]],
    *,
    json_schema: dict[str, Any] | None,
    on_delta: Callable[[str], None],
    delay_s: float,
) -> tuple[str, int, int]:
    """Stream the demo reply; return (text, tokens_in, tokens_out)."""
    text = reply_json(messages, json_schema) if json_schema is not None else reply_text(messages)
    pieces = re.findall(r"\S+\s*|\s+", text)
    for piece in pieces:
        on_delta(piece)
        if delay_s:
            await asyncio.sleep(delay_s)
    tokens_in = sum(len((m.get("content") or "").split()) for m in messages)
    return text, tokens_in, len(pieces)


_ARITHMETIC = re.compile(r"\(?\s*-?\d+(?:\.\d+)?(?:\s*[-+*/%]\s*\(?\s*-?\d+(?:\.\d+)?\s*\)?)+")


async def tool_turn(
    messages: list[dict], tools: list[dict], *, on_delta: Callable[[str], None], delay_s: float
) -> tuple[str, list[dict], int, int]:
    """The demo model as an agent: it calls one fitting tool, then answers from
    what the tool returned. Deterministic, like everything the demo model does."""
    names = [t["function"]["name"] for t in tools]
    observations = [m for m in messages if m.get("role") == "tool"]
    task = next((m.get("content") or "" for m in messages if m.get("role") == "user"), "")
    tokens_in = sum(len(str(m.get("content") or "").split()) for m in messages)
    if not observations and tools:
        call = _pick_tool(task, tools, names)
        if call is not None:
            thought = f"[demo] I will use {call['name']} for this."
            for piece in re.findall(r"\S+\s*", thought):
                on_delta(piece)
                if delay_s:
                    await asyncio.sleep(delay_s)
            return thought, [call], tokens_in, len(thought.split()) + 5
    result = observations[-1]["content"] if observations else ""
    text = f"[demo] Done. The tool returned {result}." if observations else reply_text(messages)
    for piece in re.findall(r"\S+\s*|\s+", text):
        on_delta(piece)
        if delay_s:
            await asyncio.sleep(delay_s)
    return text, [], tokens_in, len(text.split())


def _pick_tool(task: str, tools: list[dict], names: list[str]) -> dict | None:
    match = _ARITHMETIC.search(task)
    if "calculator" in names and match:
        return {"id": "call_demo_1", "name": "calculator", "arguments": json.dumps({"expression": match.group(0).strip()})}
    if "current_time" in names and re.search(r"\b(time|date|today|now)\b", task, re.I):
        return {"id": "call_demo_1", "name": "current_time", "arguments": json.dumps({})}
    tool = tools[0]["function"]
    arguments = example_for_schema(tool.get("parameters") or {"type": "object"}, _seed(task))
    return {"id": "call_demo_1", "name": tool["name"], "arguments": json.dumps(arguments)}
