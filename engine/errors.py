"""Errors the engine raises, each naming where and what."""
from __future__ import annotations


class WorkflowError(Exception):
    """A problem with a workflow the user can fix (bad template, bad value...)."""

    def __init__(self, message: str, *, node: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.node = node
        self.field = field

    def as_dict(self) -> dict:
        return {"message": self.message, "node": self.node, "field": self.field}


class TemplateError(WorkflowError):
    """A template failed to parse or render."""


class NodeFailed(Exception):
    """A node's execution failed; `retryable` says whether another attempt may help."""

    def __init__(self, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
