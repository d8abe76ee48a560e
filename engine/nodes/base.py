"""What every node type is: a config schema, ports, and a run that computes an
output from a rendered config and a context. A node never touches run state;
the runner records what it returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from pydantic import BaseModel, ConfigDict

from ..templating import evaluate


# Words a field name spells that are written otherwise in a sentence.
_ACRONYMS = {"url": "URL", "json": "JSON", "id": "ID", "llm": "LLM", "mcp": "MCP", "http": "HTTP", "api": "API", "csv": "CSV"}
# A unit as the last word of a field name: `timeout_s` is "Timeout (s)".
_UNITS = {"usd": "USD", "s": "s", "ms": "ms", "pct": "%", "min": "min"}


def english_title(name: str, _info: Any = None) -> str:
    """A field's form label from its name, as a person writes it: sentence
    case, acronyms in capitals, a unit in brackets ("max_cost_usd" → "Max cost
    (USD)", "json_schema" → "JSON schema"). A field with its own `title`
    keeps it; this replaces pydantic's "Max Cost Usd"."""
    words = [w for w in name.strip("_").split("_") if w]
    if not words:
        return name
    unit = _UNITS.get(words[-1]) if len(words) > 1 else None
    if unit:
        words = words[:-1]
    spelled = [_ACRONYMS.get(w.lower(), w.lower()) for w in words]
    if spelled[0] == words[0].lower():
        spelled[0] = spelled[0].capitalize()
    return " ".join(spelled) + (f" ({unit})" if unit else "")


class Config(BaseModel):
    """Base for node configs: unknown keys are errors, not silently ignored;
    fields are titled in English for the generated forms."""

    model_config = ConfigDict(extra="forbid", field_title_generator=english_title)


class EmptyConfig(Config):
    pass


@dataclass
class Usage:
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0

    @property
    def tokens(self) -> int:
        return self.tokens_in + self.tokens_out


@dataclass
class NodeResult:
    output: Any = None
    ports: list[str] | None = None  # None: every outgoing port is taken
    set_vars: dict[str, Any] | None = None  # values later nodes see as vars.<name>
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    demo: bool = False


@dataclass
class NodeContext:
    """What a running node may see: its template scope and helpers."""

    node_id: str
    scope: dict[str, Any]
    run_id: int | None = None
    team_id: int | None = None
    activation: int = 1  # this node's activation number in its frame
    iteration: int = 1  # for a loop node: the iteration this firing starts
    incoming: dict[str, Any] = field(default_factory=dict)  # outputs of taken inputs, by node id
    join_items: list[Any] = field(default_factory=list)  # a join's item results, in item order
    emit_delta: Callable[[str], None] = lambda text: None
    attempt: int = 1
    answer: dict[str, Any] | None = None  # a person's recorded answer, for a node that waits for one
    key: str = ""  # the activation key of this step
    budget: dict[str, Any] | None = None  # what the run has left: max_steps, max_tokens, max_cost_usd, timeout_s

    def evaluate(self, field_name: str, expression: str) -> Any:
        return evaluate(expression, self.scope, node=self.node_id, field=field_name)


class NodeType:
    type: ClassVar[str]
    label: ClassVar[str]
    category: ClassVar[str]  # "flow", "ai", "data", "canvas"
    description: ClassVar[str]
    Config: ClassVar[type[BaseModel]] = EmptyConfig
    # Fields rendered as templates before run(); the rendered config is the step's recorded input.
    template_fields: ClassVar[tuple[str, ...]] = ()
    # Fields that are bare expressions, evaluated by run() itself.
    expression_fields: ClassVar[tuple[str, ...]] = ()
    has_input: ClassVar[bool] = True
    executable: ClassVar[bool] = True
    # Waits on the network: runs on the I/O event loop, concurrently with others.
    is_io: ClassVar[bool] = False
    # A network node other workers may run for the owner (see ENGINE_SPREAD_*).
    spreadable: ClassVar[bool] = True
    # Structural roles the scheduler reads, so it never names a node type.
    fires_per_input: ClassVar[bool] = False  # a loop: fires on each taken input
    opens_fanout: ClassVar[bool] = False  # a fanout: its output is the item list
    closes_fanout: ClassVar[bool] = False  # a join: collects item results
    sets_run_output: ClassVar[bool] = False  # an output: its value becomes the run's output
    waits_for_person: ClassVar[bool] = False  # a human step: the run is parked until an answer
    waits_for_child: ClassVar[bool] = False  # a sub-workflow step: the run is parked until its child run ends
    updates_conversation: ClassVar[bool] = False  # its output {state, summary, keep_last} updates the run's conversation
    # "Test this node" (engine/node_trial.py) runs a node alone, outside any run.
    testable: ClassVar[bool] = True
    testable_why: ClassVar[str] = ""  # why not, when it is not

    @classmethod
    def output_ports(cls, config: dict[str, Any]) -> list[str]:
        return ["out"]

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """The node type as `GET /api/node-types/` serves it. Built once per
        type: generating the JSON Schema costs more than the rest of a request."""
        described = cls.__dict__.get("_described")
        if described is None:
            described = cls._described = cls._describe()
        return described

    @classmethod
    def _describe(cls) -> dict[str, Any]:
        schema = cls.Config.model_json_schema()
        return {
            "type": cls.type,
            "label": cls.label,
            "category": cls.category,
            "description": cls.description,
            "config_schema": schema,
            "template_fields": list(cls.template_fields),
            "expression_fields": list(cls.expression_fields),
            "has_input": cls.has_input,
            "executable": cls.executable,
            "output_ports": cls.output_ports({}) if not cls.dynamic_ports() else None,
            "dynamic_ports": cls.dynamic_ports(),
            "is_io": cls.is_io,
            "roles": {
                "fires_per_input": cls.fires_per_input,
                "opens_fanout": cls.opens_fanout,
                "closes_fanout": cls.closes_fanout,
                "sets_run_output": cls.sets_run_output,
                "waits_for_person": cls.waits_for_person,
            },
        }

    @classmethod
    def unhandled_ending(cls, output: Any, ports: list[str]) -> str | None:
        """Why the run fails when this step leaves only through ports that no
        edge leaves from (nothing in the workflow handles that outcome), or
        None when such an end is a normal one (the default)."""
        return None

    @classmethod
    def dynamic_ports(cls) -> bool:
        return False

    @classmethod
    def templated_values(cls, config: dict[str, Any]) -> list[tuple[str, Any, bool]]:
        """(field, value, is_expression) for every templated field of a config."""
        values = [(f, config.get(f), False) for f in cls.template_fields]
        values += [(f, config.get(f), True) for f in cls.expression_fields]
        return [(f, v, is_expr) for f, v, is_expr in values if v is not None]

    def run(self, config: dict[str, Any], ctx: NodeContext) -> NodeResult:
        raise NotImplementedError

    async def arun(self, config: dict[str, Any], ctx: NodeContext) -> NodeResult:
        return self.run(config, ctx)
