"""The Jinja sandbox the template language runs in, bounded in time and memory.

Jinja's own sandbox stops templates from reaching Python internals, but not
from asking for a lot of memory or time: `[0] * 10**7`, `'a'.ljust(10**9)`,
`lipsum(10**8)`, `'%999999999d' % 1`, loops over loops. Worse, Jinja folds
constant expressions *while compiling*, so merely validating `[0]*2*10**6`
built the list inside the web process. This module closes that class:

- no compile-time constant folding at all (the optimizer is off and the code
  generator never turns an expression into a constant), so compiling costs
  time and memory in proportion to the source, which is itself bounded;
- every operator and call that can grow a value (`*`, `**`, `+`, `%`, `~`,
  string methods, the growing filters, `lipsum`, format widths) checks the
  size of what it would build *before* building it;
- the render deadline is checked on every call, every loop iteration and every
  piece of output, and the output is counted as it is produced.

A refusal raises `TemplateLimit` (a message that says which limit and how big),
which templating.py turns into an error naming the node and the field.
"""
from __future__ import annotations

import os
import re
import time
import types
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache, update_wrapper
from typing import Any

from jinja2 import nodes as jnodes
from jinja2.compiler import CodeGenerator
from jinja2.filters import FILTERS
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter, safe_range
from jinja2.utils import generate_lorem_ipsum
from jinja2.visitor import NodeTransformer

# Limits (README "Resource limits"). Characters, not bytes: a value's size is
# the length of its JSON text, roughly.
MAX_OUTPUT_CHARS = int(os.environ.get("TEMPLATE_MAX_OUTPUT_CHARS", "1000000"))
MAX_RENDER_SECONDS = float(os.environ.get("TEMPLATE_MAX_SECONDS", "2.0"))
MAX_TEMPLATE_CHARS = int(os.environ.get("TEMPLATE_MAX_CHARS", "100000"))
MAX_TEMPLATE_NESTING = int(os.environ.get("TEMPLATE_MAX_NESTING", "40"))
# Compiling costs ~30 µs a token: these keep one template, and all of one
# workflow's templates, well under a second to check.
MAX_TEMPLATE_TOKENS = int(os.environ.get("TEMPLATE_MAX_TOKENS", "5000"))
MAX_WORKFLOW_TEMPLATE_TOKENS = int(os.environ.get("WORKFLOW_MAX_TEMPLATE_TOKENS", "20000"))
_token_budget: ContextVar[list[int] | None] = ContextVar("template_token_budget", default=None)
# Integers past this many bits cannot even be printed by Python (4300 digits).
MAX_INT_BITS = 14_000

_deadline: ContextVar[float] = ContextVar("template_deadline", default=0.0)


class TemplateLimit(Exception):
    """A template asked for more than a limit allows."""


class TemplateTimeout(TemplateLimit):
    pass


def check_deadline() -> None:
    deadline = _deadline.get()
    if deadline and time.monotonic() > deadline:
        raise TemplateTimeout(f"rendering took longer than {MAX_RENDER_SECONDS:g} s")


def _over(what: str, size: int, limit: int = MAX_OUTPUT_CHARS) -> TemplateLimit:
    return TemplateLimit(f"{what} would have size {size}, over the limit of {limit} (TEMPLATE_MAX_OUTPUT_CHARS)")


def _check(size: int, what: str) -> None:
    if size > MAX_OUTPUT_CHARS:
        raise _over(what, size)


def deep_size(value: Any, budget: int = MAX_OUTPUT_CHARS) -> int:
    """Roughly the length of `value` as text (its str() or JSON), counted with
    a budget: the walk stops as soon as it passes `budget`, so a list that
    holds itself many times over (`[x, x]` doubled 100 times is tiny in
    memory and 2**100 long as text) costs at most `budget` steps."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            bits = item.bit_length()
            if bits > MAX_INT_BITS:
                raise TemplateLimit(f"a number of {bits} bits is over the limit of {MAX_INT_BITS} bits")
            total += bits // 3 + 2
        elif isinstance(item, dict):
            total += 2 + 2 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 2 + 2 * len(item)
            stack.extend(item)
        else:
            total += 24
        if total > budget:
            return total
    return total


def checked(value: Any, what: str = "the value") -> Any:
    _check(deep_size(value), what)
    return value


# --------------------------------------------------------------------------- operators


def _length(value: Any) -> int | None:
    if isinstance(value, (str, list, tuple)):
        return len(value)
    return None


def _times(left: Any, right: Any) -> Any:
    for seq, count in ((left, right), (right, left)):
        n = _length(seq)
        if n is not None and isinstance(count, int):
            # A sequence repeated: its length, and what it holds, times the count.
            _check(n * max(count, 0), "the repeated sequence")
            if count > 0 and not isinstance(seq, str):
                _check(deep_size(seq, MAX_OUTPUT_CHARS // max(count, 1) + 1) * count, "the repeated sequence")
    if isinstance(left, int) and isinstance(right, int):
        bits = left.bit_length() + right.bit_length()
        if bits > MAX_INT_BITS:
            raise TemplateLimit(f"the product would have about {bits} bits, over the limit of {MAX_INT_BITS}")
    return left * right


def _power(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        bits = left.bit_length() * right if right < MAX_INT_BITS else MAX_INT_BITS + 1
        if bits > MAX_INT_BITS:
            raise TemplateLimit(f"{left} ** {right} would have about {bits} bits, over the limit of {MAX_INT_BITS}")
    return left**right


def _plus(left: Any, right: Any) -> Any:
    if _length(left) is not None and _length(right) is not None:
        _check(len(left) + len(right), "the joined value")
        if not isinstance(left, str):
            _check(deep_size(left) + deep_size(right), "the joined value")
    return left + right


# `%` on a string is printf formatting: widths and precisions allocate.
_PRINTF = re.compile(r"%[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_widths(*numbers: str | int | None) -> None:
    for number in numbers:
        if number == "*":
            raise TemplateLimit("'*' widths are not supported in templates; write the width in the format")
        if number and int(number) > MAX_OUTPUT_CHARS:
            raise _over("a format width", int(number))


def _modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        for width, precision in _PRINTF.findall(left):
            _check_widths(width, precision)
        checked(right, "the formatted value")
        result = left % right
        return checked(result, "the formatted value")
    return left % right


def _concat(values: tuple) -> str:
    """`a ~ b`: joined only once the pieces' total size is known."""
    total = 0
    for value in values:
        total += len(value) if isinstance(value, str) else deep_size(value)
        _check(total, "the joined text")
    return "".join(str(value) for value in values)


# --------------------------------------------------------------------------- calls

# String methods whose result grows with an argument.
_WIDTH_METHODS = {"ljust", "rjust", "center", "zfill"}


def _check_str_method(method: Any, args: tuple, kwargs: dict) -> None:
    self = getattr(method, "__self__", None)
    if not isinstance(self, str) or not isinstance(method, types.BuiltinMethodType):
        return
    name = method.__name__
    if name in _WIDTH_METHODS and args and isinstance(args[0], int):
        _check(args[0], f"str.{name}()")
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(size, int):
            _check(len(self) + self.count("\t") * max(size, 0), "str.expandtabs()")
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        _check_replace(self, args[0], args[1], args[2] if len(args) > 2 else -1)
    elif name == "join" and args:
        total = len(self) * max(_length(args[0]) or 0, 0) + deep_size(args[0])
        _check(total, "str.join()")


def _check_replace(text: str, old: str, new: str, count: Any = -1) -> None:
    hits = (len(text) + 1) if old == "" else text.count(old)
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    _check(len(text) + hits * (len(new) - len(old)), "the replaced text")


class _BoundedFormatter(SandboxedFormatter):
    """`'{:>999999999}'.format(x)`: each field's spec is checked before it is
    formatted, after nested `{}` widths are filled in."""

    _SPEC = re.compile(r"(\d+)?(?:[,_])?(?:\.(\d+))?[a-zA-Z%]?$")

    def format_field(self, value: Any, format_spec: str) -> Any:
        check_deadline()
        match = self._SPEC.search(format_spec)
        if match:
            _check_widths(*match.groups())
        return super().format_field(value, format_spec)


# --------------------------------------------------------------------------- filters and globals


def _bounded_range(*args: int):
    """The sandbox's range() (at most MAX_RANGE items) that also gives up when
    the render's time is over, which bounds loops inside loops."""
    for count, value in enumerate(safe_range(*args)):
        if count % 256 == 0:
            check_deadline()
        yield value


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002 (Jinja's names)
    # A lorem word is at most ~12 characters with its space.
    _check(int(n) * int(max) * 12 if n > 0 and max > 0 else 0, "lipsum()")
    return generate_lorem_ipsum(n=n, html=html, min=min, max=max)


def _wrap(name: str, check):
    original = FILTERS[name]

    def bounded(*args: Any, **kwargs: Any) -> Any:
        check_deadline()
        check(*args, **kwargs)
        return original(*args, **kwargs)

    return update_wrapper(bounded, original)


def _strip_env(args: tuple) -> tuple:
    # Some filters take the environment or the eval context first.
    return tuple(a for a in args if not hasattr(a, "autoescape") and not hasattr(a, "sandboxed"))


def _filter_center(value: Any, width: int = 80, *a: Any, **k: Any) -> None:
    if isinstance(width, int):
        _check(width + len(str(value)) if isinstance(value, str) else width, "center()")


def _filter_indent(s: Any, width: Any = 4, first: bool = False, blank: bool = False) -> None:
    text = s if isinstance(s, str) else ""
    pad = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    _check(len(text) + (text.count("\n") + 1) * max(pad, 0), "indent()")


def _filter_replace(*args: Any, **kwargs: Any) -> None:
    args = _strip_env(args)
    if len(args) >= 3 and all(isinstance(a, str) for a in args[:3]):
        _check_replace(args[0], args[1], args[2], args[3] if len(args) > 3 else kwargs.get("count", -1))


def _filter_format(value: Any, *args: Any, **kwargs: Any) -> None:
    if isinstance(value, str):
        for width, precision in _PRINTF.findall(value):
            _check_widths(width, precision)
        checked(list(args) + list(kwargs.values()), "the formatted value")


def _filter_join(*args: Any, **kwargs: Any) -> None:
    args = _strip_env(args)
    if args:
        sep = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
        _check(deep_size(args[0]) + len(sep) * (_length(args[0]) or 0), "join()")


def _filter_count(name: str, position: int):
    """batch(n, fill) and slice(n) build n rows (or pad to n): bound n."""

    def check(*args: Any, **kwargs: Any) -> None:
        args = _strip_env(args)
        if len(args) > position and isinstance(args[position], int):
            _check(args[position], f"{name}()")

    return check


def _filter_text(*args: Any, **kwargs: Any) -> None:
    args = _strip_env(args)
    if args:
        checked(args[0], "the value as text")


def _filter_sum(*args: Any, **kwargs: Any) -> None:
    args = _strip_env(args)
    start = kwargs.get("start", args[2] if len(args) > 2 else 0)
    if args and not isinstance(start, (int, float)):
        checked([start, args[0]], "the sum")


_BOUNDED_FILTERS = {
    "center": _filter_center,
    "indent": _filter_indent,
    "replace": _filter_replace,
    "format": _filter_format,
    "join": _filter_join,
    "batch": _filter_count("batch", 1),
    "slice": _filter_count("slice", 1),
    "string": _filter_text,
    "pprint": _filter_text,
    "list": _filter_text,
    "sum": _filter_sum,
    "wordwrap": _filter_text,
    "urlize": _filter_text,
}


# --------------------------------------------------------------------------- compiling without folding


class _NoFoldingCodeGenerator(CodeGenerator):
    """Jinja turns `{{ [0]*10**7 }}` into a constant while compiling, outside
    any sandbox check; here only literal template text is a constant."""

    def _output_child_to_const(self, node, frame, finalize):  # type: ignore[override]
        if not isinstance(node, jnodes.TemplateData):
            raise jnodes.Impossible()
        return super()._output_child_to_const(node, frame, finalize)


class _Guard(NodeTransformer):
    """Route loops and `~` through the environment so that they count."""

    def visit_For(self, node: jnodes.For) -> jnodes.Node:
        node = self.generic_visit(node)
        node.iter = jnodes.Call(jnodes.EnvironmentAttribute("bounded_iter"), [node.iter], [], None, None)
        return node

    def visit_Concat(self, node: jnodes.Concat) -> jnodes.Node:
        node = self.generic_visit(node)
        pieces = jnodes.Tuple(node.nodes, "load")
        return jnodes.Call(jnodes.EnvironmentAttribute("bounded_concat"), [pieces], [], None, None, lineno=node.lineno)


class OrchestratorSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with our rules:
    - `a.b` on a mapping means the key `b` when there is one, so inputs and
      nodes called `items` or `values` are not shadowed by dict methods;
    - nothing is folded at compile time, growth is checked before it happens,
      and every call and loop step checks the render's deadline."""

    code_generator_class = _NoFoldingCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})
    _BINOPS = {"*": _times, "**": _power, "+": _plus, "%": _modulo}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(optimized=False, finalize=self._finalize, **kwargs)
        self.globals["range"] = _bounded_range
        self.globals["lipsum"] = _lipsum
        for name, check in _BOUNDED_FILTERS.items():
            self.filters[name] = _wrap(name, check)

    @staticmethod
    def _finalize(value: Any) -> Any:
        # Every `{{ }}` output becomes text: a value that is huge as text is refused first.
        if not isinstance(value, str):
            checked(value, "the printed value")
        return value

    @staticmethod
    def bounded_iter(iterable: Any):
        for count, item in enumerate(iterable):
            if count % 64 == 0:
                check_deadline()
            yield item

    @staticmethod
    def bounded_concat(values: tuple) -> str:
        return _concat(values)

    def _generate(self, source, name, filename, defer_init=False):  # type: ignore[override]
        return super()._generate(_Guard().visit(source), name, filename, defer_init=defer_init)

    def call_binop(self, context, operator, left, right):  # type: ignore[override]
        return self._BINOPS[operator](left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (Jinja's signature)
        check_deadline()
        _check_str_method(__obj, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        if isinstance(__obj, type) and __obj in (dict, list, tuple, set):
            checked(result, f"{__obj.__name__}()")
        return result

    def wrap_str_format(self, value: Any):  # type: ignore[override]
        """`str.format` through a formatter that checks widths (Jinja's own
        wrapper, with our formatter)."""
        if not isinstance(value, (types.MethodType, types.BuiltinMethodType)) or value.__name__ not in (
            "format",
            "format_map",
        ):
            return None
        f_self = value.__self__
        if not isinstance(f_self, str) or type(f_self) is not str:
            return super().wrap_str_format(value)
        formatter = _BoundedFormatter(self)
        is_format_map = value.__name__ == "format_map"

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if is_format_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                kwargs, args = args[0], ()
            checked([list(args), kwargs], "the formatted value")
            return checked(formatter.vformat(f_self, args, kwargs), "the formatted value")

        return update_wrapper(wrapper, value)


_OPEN = {"(", "[", "{", "{{", "{%"}
_CLOSE = {")", "]", "}", "}}", "%}"}


def _shape(env: OrchestratorSandbox, source: str, expression: bool) -> tuple[int, int]:
    """(deepest nesting, expression tokens) of a template source."""
    depth = deepest = tokens = 0
    # The lexer is a loop over regular expressions, not recursive; it knows strings from brackets.
    for _lineno, token, value in env.lexer.tokeniter(source, None, state="variable" if expression else None):
        if token in ("data", "whitespace"):
            continue
        tokens += 1
        if value in _OPEN:
            depth += 1
            deepest = max(deepest, depth)
        elif value in _CLOSE:
            depth -= 1
    return deepest, tokens


# A fan-out renders the same short templates once per item: their shape is
# counted once (the lexing was ~40 % of rendering "item {{ item }}"), within
# the same bounds as the compiled-template cache (engine/templating.py).
_SHAPE_CACHED_CHARS = 4096
_cached_shape = lru_cache(maxsize=2048)(_shape)


def check_source(env: OrchestratorSandbox, source: str, *, expression: bool = False) -> None:
    """Refuse a template that is too long or nests too deeply before Jinja's
    recursive parser (and Python's compiler) see it: 100 nested parentheses
    are enough to exhaust Python's recursion limit there."""
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateLimit(f"the template is {len(source)} characters, over the limit of {MAX_TEMPLATE_CHARS}")
    if len(source) <= _SHAPE_CACHED_CHARS:
        deepest, tokens = _cached_shape(env, source, expression)
    else:
        deepest, tokens = _shape(env, source, expression)
    if deepest > MAX_TEMPLATE_NESTING:
        raise TemplateLimit(
            f"the template nests {deepest} levels deep, over the limit of {MAX_TEMPLATE_NESTING}; "
            "split it with `{% set %}`"
        )
    if tokens > MAX_TEMPLATE_TOKENS:
        raise TemplateLimit(f"the template has {tokens} expression tokens, over the limit of {MAX_TEMPLATE_TOKENS} (TEMPLATE_MAX_TOKENS)")
    budget = _token_budget.get()
    if budget is not None:
        budget[0] -= tokens
        if budget[0] < 0:
            raise TemplateLimit(
                f"the workflow's templates together have over {MAX_WORKFLOW_TEMPLATE_TOKENS} expression tokens "
                "(WORKFLOW_MAX_TEMPLATE_TOKENS); simplify them"
            )


@contextmanager
def workflow_budget():
    """One budget of template tokens for all the templates of one workflow."""
    reset = _token_budget.set([MAX_WORKFLOW_TEMPLATE_TOKENS])
    try:
        yield
    finally:
        _token_budget.reset(reset)
