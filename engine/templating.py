"""The template language: Jinja2 in its immutable sandbox.

- A string whose whole value is one `{{ expression }}` yields the value with
  its type (list, number, object, bool); text mixed with `{{ }}` renders to a
  string.
- Expression fields (conditions, loop `while`, switch cases) are bare
  expressions.
- An undefined name is an error naming the node, the field and the name;
  `| default(...)` and `is defined` say a value may be missing.
- Output size is bounded; the sandbox refuses Python internals.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Undefined, TemplateSyntaxError, nodes as jnodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.utils import missing
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .errors import TemplateError

MAX_OUTPUT_CHARS = 1_000_000
_WHOLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>.*?)\}\}\s*$", re.S)


class Scope(dict):
    """A dict that knows its dotted path, so an undefined lookup can name it."""

    def __init__(self, path: str, data: dict[str, Any]):
        super().__init__(data)
        self.path = path


_PROBES = frozenset({"unsafe_callable", "alters_data", "jinja_pass_arg", "jinja_async_variant"})


class NodesScope(Scope):
    """`nodes`: outputs by node id, each wrapped as `nodes.<id>.output` only
    when a template looks it up, so building a scope costs one dict copy."""

    def __getitem__(self, node_id: str) -> Scope:
        return Scope(f"nodes.{node_id}", {"output": dict.__getitem__(self, node_id)})

    def values(self):  # type: ignore[override]
        return [self[k] for k in self]

    def items(self):  # type: ignore[override]
        return [(k, self[k]) for k in self]

    def get(self, key, default=None):  # type: ignore[override]
        return self[key] if key in self else default


class NamedUndefined(StrictUndefined):
    """A strict undefined that chains: `nodes.evaluate.output` stays one
    undefined value named `nodes.evaluate.output`, so `| default(...)` works on
    the whole path, and using it anywhere else fails with that full name."""

    __slots__ = ()

    def _full_name(self) -> str:
        obj = self._undefined_obj
        name = self._undefined_name
        if isinstance(obj, Scope):
            return f"{obj.path}.{name}"
        if obj is not missing and not isinstance(obj, Undefined) and name is not None:
            return f"{name} (on a {type(obj).__name__} value)"
        return str(name)

    def __getattr__(self, name: str) -> Any:
        # Dunder names and the sandbox's own probes are not template lookups.
        if name[:2] == "__" or name in _PROBES:
            raise AttributeError(name)
        return NamedUndefined(name=f"{self._full_name()}.{name}")

    def __getitem__(self, name: Any) -> Any:
        return NamedUndefined(name=f"{self._full_name()}[{name!r}]")

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        raise UndefinedError(f"undefined name '{self._full_name()}'")

    __str__ = __iter__ = __len__ = __eq__ = __ne__ = __bool__ = __hash__ = _fail_with_undefined_error  # type: ignore[assignment]
    __add__ = __radd__ = __lt__ = __le__ = __gt__ = __ge__ = __call__ = _fail_with_undefined_error  # type: ignore[assignment]
    __contains__ = __int__ = __float__ = _fail_with_undefined_error  # type: ignore[assignment]


def _to_json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, default=str)


def _from_json(value: str) -> Any:
    import json

    return json.loads(value)


@lru_cache(maxsize=1)
def environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(undefined=NamedUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters["json"] = _to_json
    env.filters["tojson"] = _to_json
    env.filters["fromjson"] = _from_json
    return env


@lru_cache(maxsize=4096)
def _compile_template(source: str):
    return environment().from_string(source)


@lru_cache(maxsize=4096)
def _compile_expression(source: str):
    return environment().compile_expression(source, undefined_to_none=False)


def whole_expression(source: str) -> str | None:
    """The expression inside a string that is exactly one `{{ ... }}`, else None."""
    match = _WHOLE_EXPRESSION.match(source)
    if not match or "{{" in match.group("expr") or "{%" in source:
        return None
    return match.group("expr")


def _fail(exc: Exception, node: str | None, field: str | None) -> TemplateError:
    where = f"node '{node}', field '{field}'" if node else f"field '{field}'"
    if isinstance(exc, UndefinedError):
        message = f"{where}: {exc.message}. Add `| default(...)` if it may be missing, or check the name."
    elif isinstance(exc, TemplateSyntaxError):
        message = f"{where}: template syntax error on line {exc.lineno}: {exc.message}"
    elif isinstance(exc, SecurityError):
        message = f"{where}: not allowed in templates: {exc}"
    else:
        message = f"{where}: {type(exc).__name__}: {exc}"
    return TemplateError(message, node=node, field=field)


def evaluate(expression: str, context: dict[str, Any], *, node: str | None = None, field: str | None = None) -> Any:
    """Evaluate a bare expression to a Python value."""
    try:
        value = _compile_expression(expression.strip())(**context)
        if isinstance(value, NamedUndefined):
            value._fail_with_undefined_error()
    except Exception as exc:  # any failure inside a user's expression is the user's to fix
        raise _fail(exc, node, field) from exc
    return value


def render(value: Any, context: dict[str, Any], *, node: str | None = None, field: str | None = None) -> Any:
    """Render a template value: strings are templates, lists and dicts are walked."""
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            return value
        expr = whole_expression(value)
        if expr is not None:
            return evaluate(expr, context, node=node, field=field)
        try:
            text = _compile_template(value).render(**context)
        except Exception as exc:
            raise _fail(exc, node, field) from exc
        if len(text) > MAX_OUTPUT_CHARS:
            raise TemplateError(
                f"node '{node}', field '{field}': rendered text is {len(text)} characters, over the limit of {MAX_OUTPUT_CHARS}",
                node=node,
                field=field,
            )
        return text
    if isinstance(value, list):
        return [render(item, context, node=node, field=f"{field}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {k: render(v, context, node=node, field=f"{field}.{k}") for k, v in value.items()}
    return value


def check_syntax(value: Any, *, expression: bool = False) -> str | None:
    """Return a syntax error message for a template (or expression), or None."""
    try:
        for source in _strings(value):
            if expression:
                _compile_expression(source.strip())
            else:
                _compile_template(source)
    except TemplateSyntaxError as exc:
        return f"syntax error on line {exc.lineno}: {exc.message}"
    return None


def node_references(value: Any, *, expression: bool = False) -> set[str]:
    """The node ids a template refers to as `nodes.<id>` or `nodes['<id>']`."""
    found: set[str] = set()
    env = environment()
    for source in _strings(value):
        try:
            if expression:
                ast = env.parse("{{ " + source + " }}")
            else:
                ast = env.parse(source)
        except TemplateSyntaxError:
            continue
        for getter in ast.find_all((jnodes.Getattr, jnodes.Getitem)):
            target = getter.node
            if isinstance(target, jnodes.Name) and target.name == "nodes":
                if isinstance(getter, jnodes.Getattr):
                    found.add(getter.attr)
                elif isinstance(getter.arg, jnodes.Const) and isinstance(getter.arg.value, str):
                    found.add(getter.arg.value)
    return found


def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
