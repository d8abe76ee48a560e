"""Users' regular expressions, matched in linear time.

Python's `re` backtracks: `(a+)+$` against 25 characters took seconds and
doubled with each one, inside a worker shared by every team. Every pattern a
user writes (the experiment `regex` scorer, JSON Schema `pattern`,
`patternProperties` and `format: regex` in workflow inputs, human forms,
`validate` and `llm` output schemas, tool parameters) runs on RE2, which
guarantees time linear in the text. RE2 has no backreferences or look-around;
a pattern that uses them is refused when it is saved, with RE2's reason.

`validator(schema)` is a Draft 2020-12 validator that uses RE2; use it instead
of `jsonschema.Draft202012Validator` for any schema a user wrote.
"""
from __future__ import annotations

from functools import lru_cache

import jsonschema
import re2
from jsonschema import ValidationError, validators

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print every refused pattern on stderr
_OPTIONS.max_mem = 8 << 20  # the compiled automaton of one pattern, at most 8 MB
_IGNORE_CASE = re2.Options()
_IGNORE_CASE.log_errors = False
_IGNORE_CASE.max_mem = 8 << 20
_IGNORE_CASE.case_sensitive = False


class PatternError(ValueError):
    """A pattern RE2 cannot compile (a backreference, a look-around, a typo)."""


@lru_cache(maxsize=512)
def compile(pattern: str, ignore_case: bool = False):  # noqa: A001 (as re.compile)
    try:
        return re2.compile(pattern, options=_IGNORE_CASE if ignore_case else _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise PatternError(f"{reason} (patterns run on RE2: no backreferences or look-around)") from None


def search(pattern: str, text: str, ignore_case: bool = False) -> bool:
    return compile(pattern, ignore_case).search(text) is not None


def _pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string"):
        try:
            matched = search(pattern, instance)
        except PatternError as exc:
            yield ValidationError(f"the schema's pattern {pattern!r} cannot be used: {exc}")
            return
        if not matched:
            yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator, pattern_properties, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pattern_properties.items():
        for key, value in instance.items():
            try:
                matched = search(pattern, key)
            except PatternError as exc:
                yield ValidationError(f"the schema's pattern {pattern!r} cannot be used: {exc}")
                return
            if matched:
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


FORMAT_CHECKER = jsonschema.FormatChecker()


@FORMAT_CHECKER.checks("regex", raises=PatternError)
def _is_regex(instance: object) -> bool:
    if isinstance(instance, str):
        compile(instance)
    return True


Validator = validators.extend(
    jsonschema.Draft202012Validator,
    {"pattern": _pattern, "patternProperties": _pattern_properties},
    format_checker=FORMAT_CHECKER,
)


def validator(schema: dict) -> jsonschema.protocols.Validator:
    """A validator for a user's schema (patterns on RE2; `format` is an annotation, as in 2020-12)."""
    return Validator(schema)


def check_schema(schema: dict) -> None:
    """jsonschema.SchemaError if the schema is invalid, or one of its patterns is not RE2."""
    try:
        Validator.check_schema(schema, format_checker=FORMAT_CHECKER)
    except jsonschema.SchemaError as exc:
        if isinstance(exc.cause, PatternError):
            raise jsonschema.SchemaError(f"the pattern {exc.instance!r} cannot be used: {exc.cause}") from None
        raise
