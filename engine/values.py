"""Values the engine stores and sends: always valid JSON and valid Unicode.

A template, a model or an HTTP response can produce a lone UTF-16 surrogate
(`{{ '\\ud800' }}`, or `"\\ud800"` in a JSON body). Python holds it happily,
but it cannot be encoded as UTF-8: PostgreSQL refuses it, and every page that
read it back answered 500. Each value is made encodable once, where the engine
records it: a lone surrogate becomes U+FFFD, the replacement character.
"""
from __future__ import annotations

from typing import Any


def encodable_text(text: str) -> str:
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        # Through UTF-16 so that a surrogate *pair* written as two escapes becomes its character.
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def encodable(value: Any) -> Any:
    """`value` with every string (keys included) made encodable; other values as they are."""
    if isinstance(value, str):
        return encodable_text(value)
    if isinstance(value, list):
        return [encodable(v) for v in value]
    if isinstance(value, tuple):
        return [encodable(v) for v in value]
    if isinstance(value, dict):
        return {encodable_text(k) if isinstance(k, str) else k: encodable(v) for k, v in value.items()}
    return value


_JSON_SCALARS = (str, int, float, bool, type(None))


def json_problem(value: Any, where: str = "the value") -> str | None:
    """Why `value` is not a JSON value (a function, a generator, a set ...), or None."""
    stack = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, _JSON_SCALARS):
            continue
        if isinstance(item, (list, tuple)):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(item))
        elif isinstance(item, dict):
            for k, v in item.items():
                if not isinstance(k, (str, int, float, bool)) and k is not None:
                    return f"{path} has a key that is a {type(k).__name__}, not text"
                stack.append((v, f"{path}.{k}"))
        else:
            kind = "a function" if callable(item) else f"a {type(item).__name__}"
            return f"{path} is {kind}, not a JSON value (a string, number, boolean, list or object); did you forget to call it or `| list`?"
    return None
