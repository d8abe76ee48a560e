"""What the API, the pages and the commands do to workflows and runs, in one
place: saving versions, importing, starting and cancelling runs."""
from __future__ import annotations

import copy
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import IntegrityError, transaction
from django.utils import timezone

from engine import events
from engine.graph import GraphError, validate
from engine.runner import validate_input
from engine.streaming import reset_run_log

from .models import Run, Team, Workflow, WorkflowVersion


class ServiceError(Exception):
    """A request the user can fix: `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400, **extra: Any):
        super().__init__(message)
        self.message = message
        self.status = status
        self.extra = extra


def check_graph(graph: Any) -> list[dict[str, Any]]:
    """Raise with every blocking error; return the warnings."""
    problems: list[GraphError] = validate(graph)
    errors = [p.as_dict() for p in problems if p.severity == "error"]
    if errors:
        first = errors[0]["message"]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ServiceError(f"the workflow is invalid: {first}{more}", errors=errors)
    return [p.as_dict() for p in problems if p.severity == "warning"]


def _named(graph: dict[str, Any], name: str, description: str) -> dict[str, Any]:
    graph = copy.deepcopy(graph)
    graph["name"] = name
    graph["description"] = description
    return graph


@transaction.atomic
def create_workflow(*, team: Team, user, graph: dict[str, Any], name: str | None = None, description: str | None = None,
                    message: str = "", template_slug: str = "") -> Workflow:
    warnings = check_graph(graph)
    name = name or graph.get("name") or "Untitled workflow"
    description = graph.get("description", "") if description is None else description
    workflow = Workflow.objects.create(team=team, name=name, description=description, created_by=user, template_slug=template_slug)
    WorkflowVersion.objects.create(workflow=workflow, number=1, graph=_named(graph, name, description), author=user, message=message or "Created")
    workflow.warnings = warnings
    return workflow


def save_workflow(workflow: Workflow, *, user, graph: dict[str, Any] | None, name: str | None, description: str | None,
                  message: str = "", base_version: int | None = None) -> tuple[Workflow, bool]:
    """Save a change; a changed graph adds a version. Returns (workflow, new_version_created)."""
    with transaction.atomic():
        # Lock the row so two concurrent saves of one workflow are ordered.
        workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
        latest = workflow.latest_version
        if base_version is not None and latest and base_version != latest.number:
            author = latest.author.get_username() if latest.author else "someone"
            raise ServiceError(
                f"this workflow was saved by {author} as version {latest.number} after your version {base_version}; "
                "reload to see their change, merge, or save yours as a copy",
                status=409,
                current_version=latest.number,
            )
        warnings: list[dict[str, Any]] = []
        if graph is not None:
            warnings = check_graph(graph)
            # A document edited by hand carries its own name and description.
            if name is None and graph.get("name") and graph["name"] != latest.graph.get("name"):
                name = graph["name"]
            if description is None and "description" in graph and graph["description"] != latest.graph.get("description", ""):
                description = graph["description"]
        if name is not None:
            workflow.name = name
        if description is not None:
            workflow.description = description
        new_graph = _named(graph if graph is not None else latest.graph, workflow.name, workflow.description)
        created = latest is None or new_graph != latest.graph
        if created:
            number = (latest.number + 1) if latest else 1
            try:
                WorkflowVersion.objects.create(workflow=workflow, number=number, graph=new_graph, author=user, message=message)
            except IntegrityError as exc:
                raise ServiceError("another save landed at the same moment; reload and save again", status=409) from exc
        workflow.updated_at = timezone.now()
        workflow.save()
    workflow.warnings = warnings
    return workflow, created


def start_run(*, workflow: Workflow | None, version: WorkflowVersion | None, graph: dict[str, Any], team: Team | None,
              user, run_input: Any, trigger: str) -> Run:
    if not isinstance(run_input, dict):
        raise ServiceError(f"input: must be a JSON object of the workflow's inputs, not {type(run_input).__name__}")
    problems = validate_input(graph, run_input)
    if problems:
        raise ServiceError("; ".join(problems), fields=problems)
    from engine.tasks import advance_run

    with transaction.atomic():
        run = Run.objects.create(
            workflow=workflow, version=version, graph=graph, team=team, input=run_input,
            triggered_by=user if user and user.is_authenticated else None, trigger=trigger,
        )
        reset_run_log(run.pk)
        transaction.on_commit(lambda: advance_run.delay(run.pk))
    return run


def cancel_run(run: Run) -> Run:
    """Ask the engine to stop a run; a run no worker has picked up yet stops here."""
    if run.is_finished:
        raise ServiceError(f"run {run.pk} already {run.status}; only queued or running runs can be cancelled", status=409)
    Run.objects.filter(pk=run.pk).update(cancel_requested=True)
    stopped = Run.objects.filter(pk=run.pk, status=Run.Status.QUEUED).update(
        status=Run.Status.CANCELLED, finished_at=timezone.now(), error={"message": "cancelled by a user", "reason": "cancelled"}
    )
    if stopped:
        async_to_sync(get_channel_layer().group_send)(events.group_name(run.pk), {"type": "run.status", "status": "cancelled"})
    run.refresh_from_db()
    return run
