"""What the engine needs from the product, as a small interface the product
registers at startup (editor/apps.py ready()).

The engine executes and records runs; the objects a run refers to — team
credentials, other workflows and their versions, chat conversations — belong
to the product (the editor). Nodes that need them (llm and http with a
credential, subworkflow, an agent's workflow tools, chat turns) ask through
`product()` instead of importing the editor, so the engine imports nothing
above it (see .importlinter)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class ProductError(Exception):
    """A request the product refuses, with a message for the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class CredentialInfo:
    kind: str  # "model" (sent only to its base_url by model nodes) or "http" (only to allowed_hosts by http nodes)
    base_url: str
    default_model: str
    api_key: str
    allowed_hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkflowInfo:
    id: int
    name: str
    description: str
    version_id: int | None  # the version run (the pinned one, or the latest)
    version_number: int | None
    graph: dict[str, Any] | None  # that version's document


@dataclass(frozen=True)
class ToolServerInfo:
    name: str
    url: str
    headers: dict[str, str]  # decrypted


class Product(Protocol):
    def credential(self, team_id: int | None, name: str) -> CredentialInfo | None:
        """A team's credential by name, its key decrypted; None if there is none."""

    def workflow(self, team_id: int | None, workflow_id: int, version: int | None) -> WorkflowInfo | None:
        """A workflow of the team with the given version (None: the latest); None if not the team's.
        A workflow without the asked version comes back with version_id None."""

    def workflows(self, team_id: int | None, ids: list[int]) -> list[WorkflowInfo]:
        """The team's workflows among `ids`, each with its latest version."""

    def start_child_run(self, *, parent_run_id: int, workflow: WorkflowInfo, graph: dict[str, Any], run_input: Any,
                        node: str, key: str) -> int:
        """Create and queue a sub-workflow's run for a parent step; raises ProductError if refused."""

    def tool_server(self, team_id: int | None, name: str) -> ToolServerInfo | None:
        """A team's registered MCP server by name, its headers decrypted; None if there is none."""

    def cancel_run(self, run_id: int) -> None:
        """Ask a run to stop (nothing if it has already finished)."""

    def conversation(self, conversation_id: int) -> dict[str, Any] | None:
        """{history: [{role, content}], state, summary, turns} of a chat."""

    def record_turn(self, conversation_id: int, *, run_id: int, message: Any, reply: Any, updates: list[dict[str, Any]]) -> None:
        """A chat turn succeeded: append the message and reply, apply what its steps remembered."""


_product: Product | None = None


def register(implementation: Product) -> None:
    global _product
    _product = implementation


def product() -> Product:
    if _product is None:
        raise RuntimeError("no product registered with the engine: the editor app registers it in its AppConfig.ready()")
    return _product
