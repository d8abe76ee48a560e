from __future__ import annotations

import json
from typing import Any

import jsonschema
from pydantic import Field, field_validator

from ..templating import evaluate
from .base import Config, NodeContext, NodeResult, NodeType
from .. import patterns


class ValidateRule(Config):
    expression: str = Field(
        min_length=1,
        description="A bare expression with `value` in scope that must be true, e.g. `value.items | length <= 5`.",
        json_schema_extra={"x-expression": True},
    )
    message: str = Field(min_length=1, description="The error reported when the expression is false; a repair prompt can quote it.")


class ValidateConfig(Config):
    value: Any = Field(
        description=(
            "The value to check, e.g. `{{ nodes.draft.output }}`. A string that parses as JSON is parsed first when the "
            "schema expects an object or an array (a model's reply in ```json fences too)."
        ),
        json_schema_extra={"x-template": True},
    )
    schema_: dict[str, Any] = Field(
        default_factory=dict,
        alias="schema",
        description="The JSON Schema (draft 2020-12) the value must match; empty accepts any value (use rules alone).",
        json_schema_extra={"x-json-schema": True},
    )
    rules: list[ValidateRule] = Field(
        default_factory=list, description="Further checks, in order, run when the value matches the schema: each a bare expression and the message when it is false."
    )

    model_config = {**Config.model_config, "populate_by_name": True}

    @field_validator("schema_")
    @classmethod
    def _is_a_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        try:
            patterns.check_schema(schema)
        except jsonschema.SchemaError as exc:
            where = "/".join(str(p) for p in exc.absolute_path)
            raise ValueError(f"not a valid JSON Schema{' at ' + where if where else ''}: {exc.message}") from None
        return schema


class ValidateNode(NodeType):
    type = "validate"
    label = "Validate"
    category = "data"
    description = (
        "Checks a value against a JSON Schema and optional rules; goes out through `valid` or `invalid`. "
        "Outputs {valid, value, errors: [{path, message}]}, so a repair step can use `nodes.<id>.output.errors`."
    )
    Config = ValidateConfig
    template_fields = ("value",)

    @classmethod
    def output_ports(cls, config) -> list[str]:
        return ["valid", "invalid"]

    @classmethod
    def templated_values(cls, config) -> list[tuple[str, object, bool]]:
        values = [("value", config.get("value"), False)] if config.get("value") is not None else []
        rules = config.get("rules") or []
        return values + [
            (f"rules[{i}].expression", rule.get("expression"), True)
            for i, rule in enumerate(rules)
            if isinstance(rule, dict) and rule.get("expression") is not None
        ]

    def run(self, config, ctx: NodeContext) -> NodeResult:
        schema = config.get("schema") or {}
        value = _parse_if_expected(config.get("value"), schema)
        errors = [
            {"path": "/".join(str(p) for p in error.absolute_path) or "(root)", "message": error.message}
            for error in sorted(patterns.validator(schema).iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
        ]
        if not errors:
            # Rules read the value's structure, which only the schema guarantees.
            scope = {**ctx.scope, "value": value}
            for index, rule in enumerate(config.get("rules") or []):
                if not evaluate(rule["expression"], scope, node=ctx.node_id, field=f"rules[{index}].expression"):
                    errors.append({"path": f"(rules[{index}])", "message": rule["message"]})
        valid = not errors
        return NodeResult(output={"valid": valid, "value": value, "errors": errors}, ports=["valid" if valid else "invalid"])


def _expects_container(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    kinds = set(kind) if isinstance(kind, list) else {kind}
    return bool(kinds & {"object", "array"}) or ("properties" in schema and kind is None) or ("items" in schema and kind is None)


def _parse_if_expected(value: Any, schema: dict[str, Any]) -> Any:
    """A model's JSON reply arrives as text; parse it when the schema wants structure."""
    if not isinstance(value, str) or not _expects_container(schema):
        return value
    text = value.strip()
    if text.startswith("```"):
        text = text.strip("`")
        text = text[text.find("\n") + 1:] if "\n" in text else text
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return value  # the schema reports it as a string where structure was expected
    return parsed if isinstance(parsed, (dict, list)) else value
