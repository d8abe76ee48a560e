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

import json
import re
import time
import types
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Undefined, TemplateSyntaxError, nodes as jnodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.utils import missing

from . import sandbox, values
from .errors import TemplateError
from .sandbox import MAX_OUTPUT_CHARS, MAX_RENDER_SECONDS, OrchestratorSandbox, TemplateLimit, TemplateTimeout, _deadline

__all__ = ["MAX_OUTPUT_CHARS", "MAX_RENDER_SECONDS", "TemplateTimeout", "render", "evaluate", "check_syntax"]
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
        if self._undefined_exception is SecurityError and self._undefined_hint:
            raise SecurityError(self._undefined_hint)  # the sandbox refused it: say so, not "undefined"
        raise UndefinedError(f"undefined name '{self._full_name()}'")

    __str__ = __iter__ = __len__ = __eq__ = __ne__ = __bool__ = __hash__ = _fail_with_undefined_error  # type: ignore[assignment]
    __add__ = __radd__ = __lt__ = __le__ = __gt__ = __ge__ = __call__ = _fail_with_undefined_error  # type: ignore[assignment]
    __contains__ = __int__ = __float__ = _fail_with_undefined_error  # type: ignore[assignment]


def _to_json(value: Any) -> str:
    sandbox.checked(value, "the JSON text")  # before json.dumps walks a value that is huge as text
    return json.dumps(value, ensure_ascii=False, default=str)


def _from_json(value: str) -> Any:
    return json.loads(value)


@lru_cache(maxsize=1)
def environment() -> OrchestratorSandbox:
    env = OrchestratorSandbox(undefined=NamedUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters["json"] = _to_json
    env.filters["tojson"] = _to_json
    env.filters["fromjson"] = _from_json
    return env


# Compiled templates are cached, but only short sources and a bounded number
# of them, so the cache cannot hold more than a few MB however many distinct
# templates are sent (validate with 10**5 different 100 kB sources, say).
_CACHED_SOURCE_CHARS = 4096


def _compiler(compile_one, *, expression: bool = False):
    cached = lru_cache(maxsize=2048)(compile_one)

    def compile_source(source: str):
        sandbox.check_source(environment(), source, expression=expression)
        if len(source) <= _CACHED_SOURCE_CHARS:
            return cached(source)
        return compile_one(source)

    compile_source.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    compile_source.cache_info = cached.cache_info  # type: ignore[attr-defined]
    return compile_source


_compile_template = _compiler(lambda source: environment().from_string(source))
_compile_expression = _compiler(lambda source: environment().compile_expression(source, undefined_to_none=False), expression=True)


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
    elif isinstance(exc, TemplateTimeout):
        message = f"{where}: {exc}; simplify the template (loops over loops?)"
    elif isinstance(exc, TemplateLimit):
        message = f"{where}: {exc}"
    elif isinstance(exc, RecursionError):
        message = f"{where}: the template nests too deeply; simplify it"
    else:
        message = f"{where}: {type(exc).__name__}: {exc}"
    return TemplateError(message, node=node, field=field)


def evaluate(expression: str, context: dict[str, Any], *, node: str | None = None, field: str | None = None) -> Any:
    """Evaluate a bare expression to a Python value."""
    token = _deadline.set(time.monotonic() + MAX_RENDER_SECONDS) if not _deadline.get() else None
    try:
        value = _compile_expression(expression.strip())(**context)
        if isinstance(value, NamedUndefined):
            value._fail_with_undefined_error()
        if isinstance(value, types.GeneratorType):
            value = list(value)  # range() is lazy here; a value is a list
        problem = values.json_problem(value)
        if problem:  # a function, a namespace, a cycler: say so, not "internal error <function at 0x...>"
            raise TemplateLimit(problem)
    except Exception as exc:  # any failure inside a user's expression is the user's to fix
        raise _fail(exc, node, field) from exc
    finally:
        if token is not None:
            _deadline.reset(token)
    _check_size(value, node, field)
    return values.encodable(value)


def _check_size(value: Any, node: str | None, field: str | None) -> None:
    try:
        size = sandbox.deep_size(value)
    except TemplateLimit as exc:
        raise _fail(exc, node, field) from exc
    if size > MAX_OUTPUT_CHARS:
        raise TemplateError(
            f"node '{node}', field '{field}': the value is {size} characters, over the limit of {MAX_OUTPUT_CHARS}",
            node=node,
            field=field,
        )


def _render_text(source: str, context: dict[str, Any]) -> str:
    """Render piece by piece, counting the output and the time as it grows."""
    pieces: list[str] = []
    size = 0
    for piece in _compile_template(source).generate(**context):
        size += len(piece)
        if size > MAX_OUTPUT_CHARS:
            raise TemplateLimit(f"the text would be over {MAX_OUTPUT_CHARS} characters, over the limit (TEMPLATE_MAX_OUTPUT_CHARS)")
        sandbox.check_deadline()
        pieces.append(piece)
    return "".join(pieces)


def render(value: Any, context: dict[str, Any], *, node: str | None = None, field: str | None = None) -> Any:
    """Render a template value: strings are templates, lists and dicts are walked."""
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            return value
        expr = whole_expression(value)
        if expr is not None:
            return evaluate(expr, context, node=node, field=field)
        token = _deadline.set(time.monotonic() + MAX_RENDER_SECONDS)
        try:
            text = _render_text(value, context)
        except Exception as exc:
            raise _fail(exc, node, field) from exc
        finally:
            _deadline.reset(token)
        _check_size(text, node, field)
        return values.encodable_text(text)
    if isinstance(value, list):
        return [render(item, context, node=node, field=f"{field}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {k: render(v, context, node=node, field=f"{field}.{k}") for k, v in value.items()}
    return value


def check_syntax(value: Any, *, expression: bool = False) -> str | None:
    """Return a syntax error message for a template (or expression), or None.
    Compiling is bounded (no constant folding, size and nesting limits), so
    this is safe to run in the web process on anything a user sends."""
    try:
        for source in _strings(value):
            if expression:
                _compile_expression(source.strip())
            else:
                _compile_template(source)
    except TemplateSyntaxError as exc:
        return f"syntax error on line {exc.lineno}: {exc.message}"
    except TemplateLimit as exc:
        return str(exc)
    except RecursionError:
        return "the template nests too deeply; simplify it"
    except (ValueError, OverflowError, MemoryError) as exc:  # e.g. a 5,000-digit number literal
        return f"cannot compile: {exc}"
    return None


def node_references(value: Any, *, expression: bool = False) -> set[str]:
    """The node ids a template refers to as `nodes.<id>` or `nodes['<id>']`."""
    return name_references(value, "nodes", expression=expression)


def name_references(value: Any, name: str, *, expression: bool = False) -> set[str]:
    """The fields of `name` a template refers to as `<name>.<field>` or `<name>['<field>']`."""
    found: set[str] = set()
    env = environment()
    for source in _strings(value):
        try:
            if expression:
                ast = env.parse("{{ " + source + " }}")
            else:
                ast = env.parse(source)
        except (TemplateSyntaxError, TemplateLimit, RecursionError, ValueError, MemoryError):
            continue  # check_syntax reports it
        for getter in ast.find_all((jnodes.Getattr, jnodes.Getitem)):
            target = getter.node
            if isinstance(target, jnodes.Name) and target.name == name:
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
