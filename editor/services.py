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
from engine.streaming import reset_run_log, seed_run_log

from . import activity
from .models import Membership, Run, Step, Team, Workflow, WorkflowVersion
from engine import patterns


class ServiceError(Exception):
    """A request the user can fix: `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400, **extra: Any):
        super().__init__(message)
        self.message = message
        self.status = status
        self.extra = extra


def check_graph(graph: Any, *, team: Team | None = None, workflow_id: int | None = None) -> list[dict[str, Any]]:
    """Raise with every blocking error; return the warnings."""
    problems: list[GraphError] = validate(graph)
    if team is not None and not any(p.severity == "error" for p in problems):
        from .credentials import credential_problems

        problems += _subworkflow_problems(graph, team, workflow_id) + credential_problems(graph, team)
    errors = [p.as_dict() for p in problems if p.severity == "error"]
    if errors:
        first = errors[0]["message"]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ServiceError(f"the workflow is invalid: {first}{more}", errors=errors)
    return [p.as_dict() for p in problems if p.severity == "warning"]


def _called_workflows(graph: dict[str, Any]) -> list[tuple[str, int]]:
    return [(n["id"], n.get("config", {}).get("workflow")) for n in graph.get("nodes", []) if n.get("type") == "subworkflow"]


def _calls(graph: dict[str, Any]) -> list[tuple[int, int | None]]:
    """(workflow, pinned version or None for the latest) of each sub-workflow node."""
    return [(n.get("config", {}).get("workflow"), n.get("config", {}).get("version"))
            for n in graph.get("nodes", []) if n.get("type") == "subworkflow"]


def _subworkflow_problems(graph: dict[str, Any], team: Team, workflow_id: int | None) -> list[GraphError]:
    """Sub-workflows must be workflows of the same team, and no chain of calls may come back to this one."""
    problems = []
    for node_id, target in _called_workflows(graph):
        callee = Workflow.objects.filter(pk=target, team=team).first()
        if callee is None:
            problems.append(GraphError("subworkflow", f"node '{node_id}': workflow {target} is not a workflow of this team", node=node_id, field="config.workflow"))
            continue
        if workflow_id is None:
            continue
        # Follow the callee's graph (the version the node pins, or its latest), and its callees', looking for this workflow.
        pinned = next((n.get("config", {}).get("version") for n in graph.get("nodes", []) if n.get("id") == node_id), None)
        chain = _call_chain(callee.pk, workflow_id, team, seen=set(), version=pinned if isinstance(pinned, int) else None)
        if chain is not None:
            names = " → ".join(["this workflow"] + [f"workflow {w}" for w in chain])
            problems.append(GraphError("subworkflow_cycle", f"node '{node_id}': {names} calls this workflow again; sub-workflows may not call themselves", node=node_id))
    return problems


def _call_chain(current: int, target: int, team: Team, seen: set, version: int | None = None) -> list[int] | None:
    """A chain of calls from `current` (at `version`, or its latest) back to
    `target`, following each node's pinned version where it pins one: a cycle
    through an older pinned version is a cycle too."""
    if current == target:
        return [current]
    if (current, version) in seen:
        return None
    seen.add((current, version))
    versions = WorkflowVersion.objects.filter(workflow_id=current, workflow__team=team)
    found = versions.filter(number=version).first() if version else versions.order_by("-number").first()
    for callee, pinned in _calls(found.graph if found else {}):
        rest = _call_chain(callee, target, team, seen, pinned if isinstance(pinned, int) else None) if isinstance(callee, int) else None
        if rest is not None:
            return [current] + rest
    return None


def _named(graph: dict[str, Any], name: str, description: str) -> dict[str, Any]:
    graph = copy.deepcopy(graph)
    graph["name"] = name
    graph["description"] = description
    return graph


@transaction.atomic
def create_workflow(*, team: Team, user, graph: dict[str, Any], name: str | None = None, description: str | None = None,
                    message: str = "", template_slug: str = "", distinct_name: bool = False, tags: list[str] | None = None) -> Workflow:
    """`distinct_name`: an import or a copy, named "X (2)" when the team already has an X."""
    warnings = check_graph(graph, team=team)
    name = name or graph.get("name") or "Untitled workflow"
    if distinct_name:
        from .workflow_list import distinct_name as distinct

        name = distinct(team.pk, name)
    description = graph.get("description", "") if description is None else description
    workflow = Workflow.objects.create(team=team, name=name, description=description, created_by=user, template_slug=template_slug,
                                       tags=list(tags or []))
    WorkflowVersion.objects.create(workflow=workflow, number=1, graph=_named(graph, name, description), author=user, message=message or "Created")
    how = {"Imported": " (imported)"}.get(message, f" from the template {template_slug}" if template_slug else "")
    activity.record(team.pk, user, "workflow.created", "workflow", workflow.pk, f"{activity.who(user)} created {name}{how}")
    workflow.warnings = warnings
    return workflow


def _without_labels(graph: dict[str, Any] | None) -> dict[str, Any]:
    """The graph without its name and description: what a rename does not change."""
    graph = dict(graph or {})
    graph.pop("name", None)
    graph.pop("description", None)
    return graph


def save_workflow(workflow: Workflow, *, user, graph: dict[str, Any] | None, name: str | None, description: str | None,
                  message: str = "", base_version: int | None = None, tags: list[str] | None = None) -> tuple[Workflow, bool]:
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
        if graph is not None and base_version is None and latest is not None and _without_labels(graph) != _without_labels(latest.graph):
            # Without it we cannot tell a teammate's save from the one this edit
            # started from, and would silently overwrite their work.
            raise ServiceError(
                f"send base_version (the version your change starts from; the latest is {latest.number}) with a save that changes "
                "the graph, so that a teammate's save in between is not silently overwritten",
                status=428, current_version=latest.number,
            )
        if graph is not None:
            warnings = check_graph(graph, team=workflow.team, workflow_id=workflow.pk)
            # A document edited by hand carries its own name and description.
            if name is None and graph.get("name") and graph["name"] != latest.graph.get("name"):
                name = graph["name"]
            if description is None and "description" in graph and graph["description"] != latest.graph.get("description", ""):
                description = graph["description"]
        if name is not None:
            workflow.name = name
        if description is not None:
            workflow.description = description
        if tags is not None:
            workflow.tags = tags  # not in the graph: no version for a tag change
        new_graph = _named(graph if graph is not None else latest.graph, workflow.name, workflow.description)
        created = latest is None or new_graph != latest.graph
        if created:
            number = (latest.number + 1) if latest else 1
            try:
                WorkflowVersion.objects.create(workflow=workflow, number=number, graph=new_graph, author=user, message=message)
            except IntegrityError as exc:
                raise ServiceError("another save landed at the same moment; reload and save again", status=409) from exc
            said = f": {message}" if message else ""
            activity.record(workflow.team_id, user, "workflow.saved", "workflow", workflow.pk,
                            f"{activity.who(user)} saved {workflow.name} as version {number}{said}")
            from . import presence

            author_name = user.get_username() if user is not None else None
            transaction.on_commit(lambda: presence.workflow_saved(workflow.pk, version=number, author=author_name,
                                                                  author_id=getattr(user, "pk", None), message=message))
        workflow.updated_at = timezone.now()
        workflow.save()
    workflow.warnings = warnings
    return workflow, created


def delete_workflow(workflow: Workflow, *, user) -> None:
    with transaction.atomic():
        runs = workflow.runs.count()
        activity.record(workflow.team_id, user, "workflow.deleted", "workflow", workflow.pk,
                        f"{activity.who(user)} deleted {workflow.name} (and its {runs} run{'s' if runs != 1 else ''})")
        workflow.delete()


def _uses_credentials(graph: dict[str, Any]) -> list[tuple[str, str]]:
    return [(n["id"], n["config"]["credential"]) for n in graph.get("nodes", [])
            if isinstance(n.get("config"), dict) and isinstance(n["config"].get("credential"), str) and n["config"]["credential"]]


def move_workflow(workflow: Workflow, *, user, target: Team) -> Workflow:
    """Move a workflow with all its versions, runs and conversations to another team.
    Sub-workflow calls must stay inside one team, so a workflow that calls or
    is called by another workflow is refused (409) rather than left broken."""
    if target.pk == workflow.team_id:
        raise ServiceError(f"team: workflow {workflow.pk} is already in {target.name}", field="team")
    latest = workflow.latest_version
    calls = [node for node, _ in _called_workflows(latest.graph if latest else {})]
    if calls:
        raise ServiceError(f"node '{calls[0]}' calls a sub-workflow of {workflow.team.name}; sub-workflows must be in the same team, "
                           "so move the workflows it calls first, or copy it instead", status=409, node=calls[0])
    callers = [
        other.name for other in Workflow.objects.filter(team_id=workflow.team_id).exclude(pk=workflow.pk)
        if any(called == workflow.pk for _, called in _called_workflows(getattr(other.latest_version, "graph", None) or {}))
    ]
    if callers:
        raise ServiceError(f"{callers[0]} (in {workflow.team.name}) calls this workflow as a sub-workflow; moving it would break that call. "
                           "Copy it instead, or change that workflow first", status=409)
    source = workflow.team
    with transaction.atomic():
        workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
        Run.objects.filter(workflow=workflow).update(team=target)
        workflow.conversations.update(team=target)
        workflow.team = target
        workflow.updated_at = timezone.now()
        workflow.save(update_fields=["team", "updated_at"])
        who = activity.who(user)
        activity.record(source.pk, user, "workflow.moved", "workflow", workflow.pk, f"{who} moved {workflow.name} to {target.name}")
        activity.record(target.pk, user, "workflow.moved", "workflow", workflow.pk, f"{who} moved {workflow.name} here from {source.name}")
        from . import presence

        transaction.on_commit(lambda: presence.workflow_moved(workflow.pk, team=target.pk, team_name=target.name))
    have = set(target.credentials.values_list("name", flat=True))
    workflow.warnings = [
        {"code": "credential_missing", "node": node, "message": f"node '{node}' uses the credential '{name}', which {target.name} does not have; add it there or pick another"}
        for node, name in _uses_credentials(latest.graph if latest else {}) if name not in have
    ]
    return workflow


def copy_workflow(workflow: Workflow, *, user, target: Team, name: str | None = None) -> Workflow:
    """A new workflow (version 1) with the latest graph of this one, in `target`."""
    latest = workflow.latest_version
    default_name = name is None
    name = name or (f"{workflow.name} (copy)" if target.pk == workflow.team_id else workflow.name)
    copy_ = create_workflow(team=target, user=user, graph=latest.graph, name=name, description=workflow.description,
                            message=f"Copied from {workflow.name} v{latest.number}", distinct_name=default_name, tags=workflow.tags)
    return copy_


def start_run(*, workflow: Workflow | None, version: WorkflowVersion | None, graph: dict[str, Any], team: Team | None,
              user, run_input: Any, trigger: str, conversation=None, parent: dict[str, Any] | None = None,
              trigger_ref: int | None = None) -> Run:
    if not isinstance(run_input, dict):
        raise ServiceError(f"input: must be a JSON object of the workflow's inputs, not {type(run_input).__name__}")
    problems = validate_input(graph, run_input)
    if problems:
        raise ServiceError("; ".join(problems), fields=problems)
    from engine.tasks import advance_run

    with transaction.atomic():
        run = Run.objects.create(
            workflow=workflow, version=version, graph=graph, team=team, input=run_input,
            triggered_by=user if user and user.is_authenticated else None, trigger=trigger, conversation=conversation,
            **(parent or {}),
            **({"trigger_ref": trigger_ref} if trigger_ref is not None else {}),
        )
        if trigger not in UNLOGGED_TRIGGERS and team is not None:
            what = f"{workflow.name} v{version.number}" if workflow is not None and version is not None else "a workflow file"
            by = f"{activity.who(user)} started" if user is not None and user.is_authenticated else f"a {trigger} started"
            activity.record(team.pk, user, "run.started", "run", run.pk, f"{by} run {run.pk} of {what}")
        reset_run_log(run.pk)
        # robust: with the broker away the run is still created, queued, and
        # sent by the engine's sweeper once ENGINE_QUEUED_GRACE_S has passed.
        transaction.on_commit(lambda: advance_run.delay(run.pk), robust=True)
    return run


# Runs that are part of something already in the log (an experiment, a parent
# run) are not logged one by one: an experiment would bury everything else.
UNLOGGED_TRIGGERS = {"subworkflow", "experiment"}


def cancel_run(run: Run, user=None) -> Run:
    """Ask the engine to stop a run; a run no worker holds (queued, or waiting for a person) stops here."""
    if run.is_finished:
        raise ServiceError(f"run {run.pk} already {run.status}; only queued, running or waiting runs can be cancelled", status=409)
    with transaction.atomic():
        Run.objects.filter(pk=run.pk).update(cancel_requested=True)
        stopped = Run.objects.filter(pk=run.pk, status__in=[Run.Status.QUEUED, Run.Status.WAITING]).update(
            status=Run.Status.CANCELLED, finished_at=timezone.now(), error={"message": "cancelled by a user", "reason": "cancelled"}
        )
        if run.trigger not in UNLOGGED_TRIGGERS:
            activity.record(run.team_id, user, "run.cancelled", "run", run.pk, f"{activity.who(user)} cancelled run {run.pk}")
    if stopped:
        # A parked run's open steps: a human step's question, a sub-workflow step waiting for its child.
        Step.objects.filter(run=run, status__in=[Step.Status.WAITING, Step.Status.RUNNING]).update(
            status=Step.Status.CANCELLED, finished_at=timezone.now(), error="the run was cancelled")
        async_to_sync(get_channel_layer().group_send)(events.group_name(run.pk), {"type": "run.status", "status": "cancelled"})
        # No worker holds a parked run: its sub-workflow runs are cancelled here, and a
        # cancelled child wakes its parked parent (which then fails its step).
        for child in Run.objects.filter(parent_run=run).exclude(status__in=list(Run.FINISHED)):
            try:
                cancel_run(child, user)
            except ServiceError:  # it ended meanwhile
                pass
        if run.parent_run_id is not None:
            from engine.tasks import advance_run

            try:
                advance_run.delay(run.parent_run_id)
            except Exception:  # the broker away: the sweeper wakes the parent
                pass
    run.refresh_from_db()
    return run


def _downstream_of(graph, node: str) -> set[str]:
    """`node` and everything reachable from it, loop back-edges included (a
    node inside a loop body re-runs the loop around it)."""
    seen = {node}
    stack = [node]
    while stack:
        for edge in graph.out_edges.get(stack.pop(), []):
            if edge.target not in seen:
                seen.add(edge.target)
                stack.append(edge.target)
    return seen


# What a node does, for deciding whether its recorded output can be reused:
# everything but where it is drawn and what it is called.
_LOOKS_ONLY = {"position", "name", "width", "height"}


def _changed_nodes(old: dict, new: dict) -> set[str]:
    """Nodes of `new` that are not the same as in `old`: added, a different
    type or config (retry, cache, pin...), or fed by different edges."""
    def nodes(doc):
        return {n["id"]: {k: v for k, v in n.items() if k not in _LOOKS_ONLY} for n in doc.get("nodes", [])}

    def inputs(doc):
        fed: dict[str, set] = {}
        for e in doc.get("edges", []):
            fed.setdefault(e["target"], set()).add((e["source"], e.get("source_port"), e.get("target_port")))
        return fed

    before, after = nodes(old), nodes(new)
    fed_before, fed_after = inputs(old), inputs(new)
    return {nid for nid, node in after.items() if before.get(nid) != node or fed_before.get(nid, set()) != fed_after.get(nid, set())}


def _version_to_run(run: Run, version: Any) -> WorkflowVersion | None:
    """The version a re-run runs: the one asked for (a number, or "latest"), else the run's own."""
    if version is None:
        return run.version
    if run.workflow_id is None:
        raise ServiceError(f"version: run {run.pk} has no saved workflow (a headless run), so it has no versions to choose from", field="version")
    versions = WorkflowVersion.objects.filter(workflow_id=run.workflow_id)
    if version == "latest":
        chosen = versions.order_by("-number").first()
    elif isinstance(version, int) and not isinstance(version, bool):
        chosen = versions.filter(number=version).first()
    else:
        raise ServiceError(f'version: a version number of the workflow or "latest", not {version!r}', field="version")
    if chosen is None:
        raise ServiceError(f"version: workflow {run.workflow_id} has no version {version}", field="version")
    return chosen


def rerun_from(run: Run, *, from_node: str, user, run_input: Any = None, version: Any = None) -> Run:
    """A new run that runs `from_node` and everything after it again, on the
    run's version or the `version` asked for (the graph the user is looking
    at), and reuses the old run's recorded outputs for every other node whose
    config and inputs did not change between the two graphs: those steps are
    copied in (in their recorded order, marked reused "rerun", with no tokens
    or cost, which the old run already paid), and the engine's replay resumes
    from there. The new run records which run it re-ran and from which node."""
    from engine.graph import InvalidWorkflow, load
    from engine.tasks import advance_run

    from .api.serializers import step_as_event
    from .models import Step

    if not run.is_finished:
        raise ServiceError(f"run {run.pk} is still {run.status}; wait for it to finish (or cancel it) before re-running from a step", status=409)
    target = _version_to_run(run, version)
    doc = target.graph if version is not None and target is not None else run.graph
    try:
        graph = load(doc)
    except InvalidWorkflow as exc:
        raise ServiceError(f"run {run.pk}'s workflow no longer loads: {exc}") from exc
    if from_node not in graph.nodes:
        where = f"version {target.number}" if version is not None and target is not None else f"run {run.pk}'s workflow"
        raise ServiceError(f"from_node: {where} has no node '{from_node}'", field="from_node")
    if run_input is None:
        run_input = run.input
    elif not isinstance(run_input, dict):
        raise ServiceError(f"input: must be a JSON object of the workflow's inputs, not {type(run_input).__name__}")
    problems = validate_input(doc, run_input)
    if problems:
        raise ServiceError("; ".join(problems), fields=problems)
    redo: set[str] = set()
    for start in {from_node} | _changed_nodes(run.graph, doc):
        if start not in redo:
            redo |= _downstream_of(graph, start)
    kept = [s for s in run.steps.filter(status=Step.Status.SUCCEEDED).order_by("seq", "id")
            if s.node_id not in redo and s.node_id in graph.nodes]
    with transaction.atomic():
        new = Run.objects.create(
            workflow=run.workflow, version=target, graph=doc, team=run.team, input=run_input,
            triggered_by=user if user and user.is_authenticated else None, trigger="rerun",
            rerun_of=run, from_node=from_node,
        )
        reset_run_log(new.pk)
        copies = Step.objects.bulk_create([
            Step(run=new, node_id=s.node_id, key=s.key, seq=seq, node_type=s.node_type, status=s.status, ports=s.ports,
                 input=s.input, output=s.output, set_vars=s.set_vars, attempts=s.attempts, tokens_in=0,
                 tokens_out=0, cost_usd=0.0, model=s.model, demo=s.demo, executor=s.executor, reused="rerun",
                 started_at=s.started_at, finished_at=s.finished_at)
            for seq, s in enumerate(kept, start=1)
        ])
        # The browser that opens the new run sees the reused steps at once.
        seed_run_log(new.pk, [step_as_event(s) for s in copies])
        transaction.on_commit(lambda: advance_run.delay(new.pk))
    return new


def answer_human_step(run: Run, *, user, node: str, key: str | None, decision: str, answer: Any = None, comment: str = "") -> Step:
    """Record a person's answer to a waiting human step and wake the run.
    Only an assignee (or, with none named, an owner or editor of the team) may answer, once."""
    import jsonschema

    from engine.tasks import advance_run

    waiting = Step.objects.filter(run=run, node_id=node, status=Step.Status.WAITING)
    if key:
        waiting = waiting.filter(key=key)
    step = waiting.order_by("-id").first()
    if step is None:
        raise ServiceError(f"node: run {run.pk} has no step of '{node}' waiting for an answer", status=409)
    config = step.input or {}
    assignees = config.get("assignees") or []
    role = Membership.objects.filter(team_id=run.team_id, user=user).values_list("role", flat=True).first()
    if assignees and user.get_username() not in assignees:
        raise ServiceError(f"only {', '.join(assignees)} may answer this step", status=403)
    if not assignees and role not in (Membership.Role.OWNER, Membership.Role.EDITOR):
        raise ServiceError("only an owner or editor of this team may answer this step", status=403)
    if decision not in ("approve", "reject"):
        raise ServiceError("decision: must be 'approve' or 'reject'")
    if decision == "reject" and not config.get("allow_reject", True):
        raise ServiceError("decision: this step cannot be rejected, only approved")
    answer = answer if answer is not None else {}
    form = config.get("form")
    if form and decision == "approve":
        error = jsonschema.exceptions.best_match(patterns.validator(form).iter_errors(answer))
        if error is not None:
            where = "answer" + "".join(f".{p}" for p in error.absolute_path)
            raise ServiceError(f"{where}: {error.message}")
    record = {"decision": decision, "answer": answer, "comment": comment[:2000], "by": user.get_username(), "at": timezone.now().isoformat()}
    if not Step.objects.filter(pk=step.pk, status=Step.Status.WAITING, answer__isnull=True).update(answer=record):
        raise ServiceError("this step was already answered", status=409)
    transaction.on_commit(lambda: advance_run.delay(run.pk))
    step.refresh_from_db()
    return step


def start_conversation(workflow: Workflow, *, user, title: str = "") -> "Conversation":
    from .models import Conversation

    props = ((workflow.latest_version.graph.get("inputs") or {}).get("properties") or {})
    if "message" not in props:
        raise ServiceError(f"workflow {workflow.pk} cannot chat: its inputs need a `message` property (the user's message)")
    return Conversation.objects.create(team=workflow.team, workflow=workflow, title=title[:200] or workflow.name, created_by=user)


def send_message(conversation, *, user, text: str) -> Run:
    """A user's message starts the next turn: a run of the workflow's latest version with `message` as input."""
    if not isinstance(text, str) or not text.strip():
        raise ServiceError("text: write a message")
    busy = conversation.runs.filter(status__in=[Run.Status.QUEUED, Run.Status.RUNNING, Run.Status.WAITING]).first()
    if busy is not None:
        raise ServiceError(f"the reply to the previous message (run {busy.pk}) is still being written; wait for it", status=409, run=busy.pk)
    version = conversation.workflow.latest_version
    return start_run(workflow=conversation.workflow, version=version, graph=version.graph, team=conversation.team, user=user,
                     run_input={"message": text}, trigger="chat", conversation=conversation)
