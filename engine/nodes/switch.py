from __future__ import annotations

from pydantic import Field, field_validator

from .base import Config, NodeContext, NodeResult, NodeType


def case_ports(config: dict) -> list[str]:
    """The named cases' ports, in order (a switch's or a classifier's)."""
    cases = config.get("cases") or []
    return [case.get("port") for case in cases if isinstance(case, dict) and case.get("port")]


class SwitchCase(Config):
    port: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$", description="The port this case goes out through.")
    expression: str = Field(min_length=1, description="A bare expression; the first true case wins.", json_schema_extra={"x-expression": True})


class SwitchConfig(Config):
    cases: list[SwitchCase] = Field(min_length=1, description="Checked in order; the first true case is taken.")

    @field_validator("cases")
    @classmethod
    def _unique_ports(cls, cases: list[SwitchCase]) -> list[SwitchCase]:
        ports = [case.port for case in cases]
        duplicates = sorted({p for p in ports if ports.count(p) > 1})
        if duplicates:
            raise ValueError(f"case ports must be unique; repeated: {', '.join(duplicates)}")
        if "default" in ports:
            raise ValueError("'default' is the fallback port; name the case something else")
        return cases


class SwitchNode(NodeType):
    type = "switch"
    label = "Switch"
    category = "flow"
    description = "Routes to the first case whose expression is true, else to `default`."
    Config = SwitchConfig

    @classmethod
    def dynamic_ports(cls) -> bool:
        return True

    @classmethod
    def output_ports(cls, config) -> list[str]:
        return case_ports(config) + ["default"]

    @classmethod
    def templated_values(cls, config) -> list[tuple[str, object, bool]]:
        cases = config.get("cases") or []
        return [
            (f"cases[{i}].expression", case.get("expression"), True)
            for i, case in enumerate(cases)
            if isinstance(case, dict) and case.get("expression") is not None
        ]

    def run(self, config, ctx: NodeContext) -> NodeResult:
        for index, case in enumerate(config["cases"]):
            if ctx.evaluate(f"cases[{index}].expression", case["expression"]):
                return NodeResult(output=case["port"], ports=[case["port"]])
        return NodeResult(output="default", ports=["default"])
