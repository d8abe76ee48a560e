"""Scorers: how one trial's output is graded against its test case.

Each scorer is a small class in `SCORERS` (one registry, kind → class). It
checks its options once, when an experiment is created (`check`, returning
errors that name the field), and grades each output (`score`) to a number in
0..1 with a sentence saying why. `passed` is score ≥ the threshold (option
`threshold`, default the scorer's own)."""
from __future__ import annotations

import json
import math
import re
from typing import Any, Protocol

import jsonschema

from engine import patterns

Result = tuple[float, str]


class Case(Protocol):
    input: Any
    expected: Any
    rubric: str


def as_text(value: Any) -> str:
    """The text a text scorer sees: strings as they are, anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def as_json(value: Any) -> Any:
    """A string that holds JSON is parsed (a model often returns JSON as text)."""
    if isinstance(value, str):
        cleaned = value.strip()
        if cleaned.startswith("```"):
            cleaned = cleaned.strip("`")
            cleaned = cleaned[cleaned.find("\n") + 1 :] if "\n" in cleaned else cleaned
        try:
            return json.loads(cleaned)
        except (json.JSONDecodeError, ValueError):
            return value
    return value


def _short(value: Any, limit: int = 80) -> str:
    text = as_text(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Scorer:
    kind = ""
    description = ""
    default_threshold = 1.0
    needs_expected = False  # every case must carry an `expected` value
    options: dict[str, str] = {}  # option → what it means (also rejects unknown options)

    @classmethod
    def check(cls, config: dict[str, Any]) -> list[str]:
        """Errors in the options, each starting with `scorer.<option>`."""
        errors = [f"scorer.{key}: unknown option; {cls.kind} takes {', '.join(sorted(cls.options)) or 'no options'}"
                  for key in config if key not in cls.options and key not in ("type", "threshold")]
        threshold = config.get("threshold", cls.default_threshold)
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
            errors.append(f"scorer.threshold: must be a number from 0 to 1, not {threshold!r}")
        return errors + cls.check_options(config)

    @classmethod
    def check_options(cls, config: dict[str, Any]) -> list[str]:
        return []

    @classmethod
    def threshold(cls, config: dict[str, Any]) -> float:
        return float(config.get("threshold", cls.default_threshold))

    def score(self, output: Any, case: Case, config: dict[str, Any]) -> Result:
        raise NotImplementedError


class Exact(Scorer):
    kind = "exact"
    description = "1 when the output equals the expected value (strings compared stripped), else 0."
    needs_expected = True
    options = {"case_sensitive": "compare strings with case (default true)"}

    def score(self, output, case, config):
        expected = case.expected
        if isinstance(expected, str):
            got, want = as_text(output).strip(), expected.strip()
            if not config.get("case_sensitive", True):
                got, want = got.casefold(), want.casefold()
            equal = got == want
        else:
            equal = as_json(output) == expected
        return (1.0, "equals the expected value") if equal else (0.0, f"expected {_short(expected)!s}, got {_short(output)!s}")


class Contains(Scorer):
    kind = "contains"
    description = "The share of the expected strings (the case's `expected`, a string or a list) found in the output."
    needs_expected = True
    options = {"case_sensitive": "match with case (default false)"}

    def score(self, output, case, config):
        needles = case.expected if isinstance(case.expected, list) else [case.expected]
        needles = [as_text(n) for n in needles]
        text = as_text(output)
        if not config.get("case_sensitive", False):
            text = text.casefold()
        found = [n for n in needles if (n if config.get("case_sensitive", False) else n.casefold()) in text]
        missing = [n for n in needles if n not in found]
        score = len(found) / len(needles) if needles else 1.0
        detail = f"found {len(found)} of {len(needles)}" + (f"; missing {', '.join(repr(m) for m in missing[:5])}" if missing else "")
        return score, detail


class Regex(Scorer):
    kind = "regex"
    description = "1 when the pattern (option `pattern`, else the case's `expected`) matches somewhere in the output."
    options = {"pattern": "a regular expression (RE2 syntax: linear time, no backreferences or look-around)", "ignore_case": "match without case (default false)"}

    @classmethod
    def check_options(cls, config):
        pattern = config.get("pattern")
        if pattern is None:
            return []
        if not isinstance(pattern, str):
            return [f"scorer.pattern: must be a string, not {type(pattern).__name__}"]
        try:
            patterns.compile(pattern)
        except patterns.PatternError as exc:
            return [f"scorer.pattern: not a valid regular expression ({exc})"]
        return []

    def score(self, output, case, config):
        pattern = config.get("pattern") or as_text(case.expected)
        if not pattern:
            return 0.0, "no pattern: set scorer.pattern or the case's expected value"
        try:
            # RE2: linear in the output, whatever the pattern (a case's `expected` is a user's pattern too).
            match = patterns.compile(pattern, bool(config.get("ignore_case"))).search(as_text(output))
        except patterns.PatternError as exc:
            return 0.0, f"the case's pattern is not a valid regular expression ({exc})"
        return (1.0, f"matched {_short(match.group(0), 40)!r}") if match else (0.0, f"no match for /{pattern}/")


class JSONSchemaValid(Scorer):
    kind = "json_schema"
    description = "1 when the output (parsed if it is JSON text) is valid against the JSON Schema in option `schema`."
    options = {"schema": "a JSON Schema (draft 2020-12)"}

    @classmethod
    def check_options(cls, config):
        schema = config.get("schema")
        if not isinstance(schema, dict):
            return ["scorer.schema: required; a JSON Schema object the output must match"]
        try:
            patterns.check_schema(schema)
        except jsonschema.SchemaError as exc:
            return [f"scorer.schema: not a valid JSON Schema ({exc.message})"]
        return []

    def score(self, output, case, config):
        value = as_json(output)
        error = jsonschema.exceptions.best_match(patterns.validator(config["schema"]).iter_errors(value))
        if error is None:
            return 1.0, "valid against the schema"
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return 0.0, f"invalid at {where}: {error.message}"


_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?(?:[eE][-+]?\d+)?")


class Numeric(Scorer):
    kind = "numeric"
    description = "1 when the first number in the output is within `tolerance` (absolute, default 0) of the expected number."
    needs_expected = True
    options = {"tolerance": "absolute tolerance (default 0)", "relative": "tolerance as a fraction of the expected value (default false)"}

    @classmethod
    def check_options(cls, config):
        tolerance = config.get("tolerance", 0)
        if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or tolerance < 0:
            return [f"scorer.tolerance: must be a number ≥ 0, not {tolerance!r}"]
        return []

    def score(self, output, case, config):
        try:
            expected = float(case.expected)
        except (TypeError, ValueError):
            return 0.0, f"the case's expected value {_short(case.expected)} is not a number"
        value = as_json(output)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            found = _NUMBER.search(as_text(output))
            if not found:
                return 0.0, f"no number in the output {_short(output)}"
            value = float(found.group(0).replace(",", "."))
        tolerance = float(config.get("tolerance", 0))
        if config.get("relative"):
            tolerance *= abs(expected)
        off = abs(float(value) - expected)
        if math.isfinite(off) and off <= tolerance + 1e-12:
            return 1.0, f"{value:g} is within {tolerance:g} of {expected:g}"
        return 0.0, f"{value:g} is {off:g} away from {expected:g} (tolerance {tolerance:g})"


JUDGE_SCHEMA = {
    "type": "object",
    "properties": {"score": {"type": "number", "minimum": 0, "maximum": 1}, "reason": {"type": "string"}},
    "required": ["score", "reason"],
}


class LLMJudge(Scorer):
    kind = "llm_judge"
    description = "A model grades the output against the case's rubric (or option `rubric`), replying {score 0..1, reason}."
    default_threshold = 0.5
    options = {"rubric": "used for cases without their own rubric", "model": "the judge's model (default: the default model)"}

    @classmethod
    def check_options(cls, config):
        errors = []
        for key in ("rubric", "model"):
            if key in config and not isinstance(config[key], str):
                errors.append(f"scorer.{key}: must be a string")
        return errors

    def prompt(self, output: Any, case: Case, config: dict[str, Any]) -> str:
        rubric = (case.rubric or config.get("rubric") or "Is the output correct, complete and well formed for the input?").strip()
        parts = [
            "You are grading one output of an AI workflow against a rubric.",
            f"Rubric:\n{rubric}",
            f"Input:\n{as_text(case.input)}",
        ]
        if case.expected is not None:
            parts.append(f"Reference answer:\n{as_text(case.expected)}")
        parts.append(f"Output to grade:\n{as_text(output)}")
        parts.append('Reply with a JSON object: "score" from 0 (fails the rubric) to 1 (fully meets it) and a one-sentence "reason".')
        return "\n\n".join(parts)

    def score(self, output, case, config):
        from engine import ioloop, llm

        target = llm.default_target(config.get("model"))
        messages = [{"role": "user", "content": self.prompt(output, case, config)}]
        # On the process's I/O loop, like every other model call (one client pool per loop).
        completion = ioloop.submit(llm.complete(target, messages, json_schema=JUDGE_SCHEMA, temperature=0)).result(timeout=300)
        value = completion.value
        score = min(1.0, max(0.0, float(value["score"])))
        return score, f"judge: {value['reason']}"


SCORERS: dict[str, type[Scorer]] = {cls.kind: cls for cls in (Exact, Contains, Regex, JSONSchemaValid, Numeric, LLMJudge)}


def check_config(config: Any) -> list[str]:
    """Errors in an experiment's `scorer` object, each naming the field."""
    if not isinstance(config, dict):
        return ['scorer: must be an object such as {"type": "exact"}']
    kind = config.get("type")
    if kind not in SCORERS:
        return [f"scorer.type: {kind!r} is not a scorer; choose one of {', '.join(SCORERS)}"]
    return SCORERS[kind].check(config)


def grade(output: Any, case: Case, config: dict[str, Any]) -> tuple[float, bool, str]:
    """(score 0..1, passed, detail) for one output."""
    scorer = SCORERS[config["type"]]
    score, detail = scorer().score(output, case, config)
    return score, score >= scorer.threshold(config) - 1e-12, detail
