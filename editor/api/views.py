"""The REST API. Every object is looked up through `access`, so another team's
workflow or run is a 404; changes need an owner or editor role (403)."""
from __future__ import annotations

import re

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.decorators import action, api_view, permission_classes, throttle_classes
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle

from .. import lockout


class AuthThrottle(AnonRateThrottle):
    """Password guesses per client address (AUTH_THROTTLE_RATE); django-axes locks out on top."""

    scope = "auth"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
from rest_framework.views import APIView

from engine.graph import validate
from engine.nodes import NODE_TYPES

from .. import access, services, workflow_list
from ..models import Conversation, Credential, Membership, Run, Team, Workflow
from .serializers import (
    ConversationSerializer,
    CredentialSerializer,
    RunCreateSerializer,
    RunSerializer,
    RunSummarySerializer,
    StepSerializer,
    VersionSerializer,
    WorkflowSerializer,
    WorkflowWriteSerializer,
)


def _service_error(exc: services.ServiceError) -> Response:
    return Response({"error": exc.message, **exc.extra}, status=exc.status)


def _owners(team_id: int) -> str:
    from .teams import owners_to_ask

    return owners_to_ask(team_id)


def _require_write(request, team_id: int, role: str | None = None) -> None:
    """`role`, when the caller already read it with the object, saves a query."""
    if (role if role is not None else access.role_in(request.user, team_id)) not in access.WRITE_ROLES:
        raise PermissionDenied(f"your role in this team is viewer; ask an owner ({_owners(team_id)}) for editor rights to change or run its workflows")


def _json_type(value) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number", type(None): "null"}.get(type(value), type(value).__name__)


def _valid(serializer_class, data, **kwargs):
    if not isinstance(data, dict):
        raise ValidationError(f"the request body must be a JSON object, not {_json_type(data)}")
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


RUN_PAGE_PARAMETERS = [
    OpenApiParameter("limit", int, description="runs per page, 1–500 (default 100); GET only"),
    OpenApiParameter("before", int, description="only runs older than this run id: the `X-Next-Before` header of the previous page"),
    OpenApiParameter("status", str, enum=["queued", "running", "waiting", "succeeded", "failed", "cancelled"]),
    OpenApiParameter("trigger", str, description="only runs started by this trigger type: manual, api, webhook, schedule, mcp, …"),
    OpenApiParameter("exclude_trigger", str, description="leave out runs started by these trigger types, comma-separated: "
                     "the editor's history sends experiment so an experiment's many runs do not bury the manual ones"),
    OpenApiParameter("version", int, description="only runs of this version number"),
    OpenApiParameter("q", str, description="only runs whose input contains this text (case-insensitive)"),
    OpenApiParameter("since", str, description="only runs created at or after this ISO date or date-time"),
    OpenApiParameter("until", str, description="only runs created before this ISO date-time (a date: up to the end of that day)"),
]

RUN_FILTERS = {"limit", "before", "status", "trigger", "exclude_trigger", "version", "q", "since", "until", "format"}


def _when_param(params, name: str, end_of_day: bool = False):
    from datetime import datetime, time, timedelta

    from django.utils import timezone
    from django.utils.dateparse import parse_date, parse_datetime

    raw = params.get(name)
    if not raw:
        return None
    try:
        # The date first: parse_datetime accepts a bare date too (as midnight), which
        # would make "until=<today>" leave out today.
        day = parse_date(raw)
        if day is not None:
            moment = datetime.combine(day + timedelta(days=1) if end_of_day else day, time.min)
        else:
            moment = parse_datetime(raw)
            if moment is None:
                raise ValueError
    except ValueError:
        raise ValidationError({name: [f"must be an ISO date (2026-12-01) or date-time (2026-12-01T10:00:00Z), not {raw!r}"]}) from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_current_timezone())
    return moment


def _run_page(request, runs, extra_filters: tuple[str, ...] = ()):
    """A page of a run history, newest first: `?limit=` (1–500, default 100),
    `?before=<run id>` for the page after one ending at that run, `?status=`.
    Keyset paging: a page stays right while new runs arrive. The response
    header `X-Next-Before` says what to pass as `before` for the next page."""
    params = request.query_params
    unknown = sorted(set(params) - RUN_FILTERS - set(extra_filters))
    if unknown:
        allowed = ", ".join(sorted(RUN_FILTERS - {"format"} | set(extra_filters)))
        raise ValidationError({unknown[0]: [f"unknown filter ?{unknown[0]}= on a run history; use {allowed}"]})
    limit = _int_param(params, "limit", 100, 1, 500)
    before = _int_param(params, "before", None, 1, None)
    status_filter = params.get("status")
    if status_filter is not None:
        if status_filter not in Run.Status.values:
            raise ValidationError({"status": [f"must be one of {', '.join(Run.Status.values)}, not {status_filter!r}"]})
        runs = runs.filter(status=status_filter)
    trigger_filter = params.get("trigger")
    if trigger_filter:
        runs = runs.filter(trigger=trigger_filter[:20])  # manual, api, webhook, schedule, mcp, …
    excluded = [t.strip()[:20] for t in params.get("exclude_trigger", "").split(",") if t.strip()]
    if excluded:
        runs = runs.exclude(trigger__in=excluded[:20])
    version = _int_param(params, "version", None, 1, None)
    if version is not None:
        runs = runs.filter(version__number=version)
    query = params.get("q")
    if query:
        from django.db.models import TextField
        from django.db.models.functions import Cast

        runs = runs.annotate(input_text=Cast("input", TextField())).filter(input_text__icontains=query[:200])
    since, until = _when_param(params, "since"), _when_param(params, "until", end_of_day=True)
    if since is not None:
        runs = runs.filter(created_at__gte=since)
    if until is not None:
        runs = runs.filter(created_at__lt=until)
    if before is not None:
        runs = runs.filter(pk__lt=before)
    page = list(runs.order_by("-pk")[: limit + 1])
    response = Response(RunSummarySerializer(page[:limit], many=True).data)
    if len(page) > limit:
        response["X-Next-Before"] = str(page[limit - 1].pk)
    return response


def _int_param(params, name: str, default, low: int, high: int | None):
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: [f"must be a whole number, not {raw!r}"]}) from None
    if value < low or (high is not None and value > high):
        raise ValidationError({name: [f"must be between {low} and {high}" if high else f"must be at least {low}"]})
    return value


class WorkflowViewSet(viewsets.ViewSet):
    """Workflows of your teams; each save with a changed graph is a new version."""

    lookup_value_regex = r"\d+"  # /api/workflows/abc/ is a 404, not a server error

    def _get(self, request, pk) -> Workflow:
        """The workflow, with `my_role` (the user's role in its team) read in the same query."""
        return get_object_or_404(access.workflows_of(request.user, with_role=True).select_related("team"), pk=pk)

    def _team_for_create(self, request, team_id) -> Team:
        if team_id is None:
            return request.user.personal_team
        if isinstance(team_id, bool) or not isinstance(team_id, int):
            raise ValidationError({"team": [f"must be a team id (a number), not {team_id!r}"]})
        team = access.teams_of(request.user).filter(pk=team_id).first()
        if team is None:
            raise ValidationError({"team": [f"you are not a member of team {team_id}"]})
        _require_write(request, team.pk)
        return team

    def _data(self, request, workflow: Workflow, code=status.HTTP_200_OK) -> Response:
        data = WorkflowSerializer(workflow, context={"request": request}).data
        data["warnings"] = getattr(workflow, "warnings", [])
        return Response(data, status=code)

    @extend_schema(responses=WorkflowSerializer(many=True), parameters=[
        OpenApiParameter("q", str, description="only workflows whose name or description contains this text (case-insensitive)"),
        OpenApiParameter("tag", str, description="only workflows with this tag"),
        OpenApiParameter("sort", str, enum=list(workflow_list.SORTS), description="order: -updated (newest first, the default), updated, name, -name"),
    ])
    def list(self, request):
        try:
            query = workflow_list.ListQuery.from_params(request.query_params)
        except workflow_list.QueryError as exc:
            raise ValidationError({exc.field: [str(exc)]}) from None
        workflows = workflow_list.find_workflows(access.workflows_of(request.user).select_related("team", "published_version"), query)
        return Response(WorkflowSerializer(workflows, many=True, context={"request": request, "omit_graph": True}).data)

    @extend_schema(request=WorkflowWriteSerializer, responses={201: WorkflowSerializer})
    def create(self, request):
        data = _valid(WorkflowWriteSerializer, request.data)
        team = self._team_for_create(request, data.get("team"))
        try:
            workflow = services.create_workflow(
                team=team, user=request.user, graph=data["graph"], name=data.get("name"),
                description=data.get("description"), message=data.get("message", ""), tags=data.get("tags"),
            )
        except services.ServiceError as exc:
            return _service_error(exc)
        return self._data(request, workflow, status.HTTP_201_CREATED)

    @extend_schema(responses=WorkflowSerializer)
    def retrieve(self, request, pk=None):
        return self._data(request, self._get(request, pk))

    def _save(self, request, pk, partial: bool) -> Response:
        workflow = self._get(request, pk)
        _require_write(request, workflow.team_id, workflow.my_role)
        data = _valid(WorkflowWriteSerializer, request.data, partial=partial)
        if data.get("team") is not None and data["team"] != workflow.team_id:
            raise ValidationError({"team": [f"a save does not move a workflow; POST /api/workflows/{workflow.pk}/move/ {{\"team\": {data['team']}}} does"]})
        try:
            workflow, _ = services.save_workflow(
                workflow, user=request.user, graph=data.get("graph"), name=data.get("name"),
                description=data.get("description"), message=data.get("message", ""), base_version=data.get("base_version"),
                tags=data.get("tags"),
            )
        except services.ServiceError as exc:
            return _service_error(exc)
        return self._data(request, workflow)

    @extend_schema(request=WorkflowWriteSerializer, responses=WorkflowSerializer)
    def update(self, request, pk=None):
        return self._save(request, pk, partial=False)

    @extend_schema(request=WorkflowWriteSerializer, responses=WorkflowSerializer)
    def partial_update(self, request, pk=None):
        return self._save(request, pk, partial=True)

    def destroy(self, request, pk=None):
        workflow = self._get(request, pk)
        if workflow.my_role != Membership.Role.OWNER:
            raise PermissionDenied(f"only a team owner can delete a workflow; editors can change and run it (ask {_owners(workflow.team_id)})")
        services.delete_workflow(workflow, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _target_team(self, request, team_id, *, required: bool) -> Team | None:
        if team_id is None and not required:
            return None
        if team_id is None:
            raise ValidationError({"team": ['required: the id of the team to move it to (send {"team": <id>})']})
        if isinstance(team_id, bool) or not isinstance(team_id, int):
            raise ValidationError({"team": [f"must be a team id (a number), not {team_id!r}"]})
        team = access.teams_of(request.user).filter(pk=team_id).first()
        if team is None:
            raise ValidationError({"team": [f"you are not a member of team {team_id}"]})
        if not access.can_write(request.user, team.pk):
            raise PermissionDenied(f"your role in {team.name} is viewer; ask {_owners(team.pk)} for editor rights to add workflows to it")
        return team

    @extend_schema(request={"application/json": {"type": "object", "properties": {"team": {"type": "integer"}}, "required": ["team"]}},
                   responses=WorkflowSerializer)
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        """Move to another team with all versions, runs and conversations (owner of this team, editor or owner of the target)."""
        workflow = self._get(request, pk)
        if workflow.my_role != Membership.Role.OWNER:
            raise PermissionDenied(f"only an owner of {workflow.team.name} can move its workflows; ask {_owners(workflow.team_id)} (or copy it instead)")
        body = request.data if isinstance(request.data, dict) else {}
        target = self._target_team(request, body.get("team"), required=True)
        try:
            workflow = services.move_workflow(workflow, user=request.user, target=target)
        except services.ServiceError as exc:
            return _service_error(exc)
        return self._data(request, workflow)

    @extend_schema(request={"application/json": {"type": "object", "properties": {"team": {"type": "integer"}, "name": {"type": "string"}}}},
                   responses={201: WorkflowSerializer})
    @action(detail=True, methods=["post"])
    def copy(self, request, pk=None):
        """A new workflow (version 1) with this one's latest graph, in this team or another you can edit in."""
        workflow = self._get(request, pk)
        body = request.data if isinstance(request.data, dict) else {}
        target = self._target_team(request, body.get("team"), required=False)
        if target is None:
            _require_write(request, workflow.team_id, workflow.my_role)
            target = workflow.team
        name = body.get("name")
        if name is not None and (not isinstance(name, str) or not name.strip() or len(name) > 200):
            raise ValidationError({"name": ["must be a non-empty text of at most 200 characters"]})
        try:
            new = services.copy_workflow(workflow, user=request.user, target=target, name=name.strip() if name else None)
        except services.ServiceError as exc:
            return _service_error(exc)
        return self._data(request, new, status.HTTP_201_CREATED)

    @extend_schema(
        request={"application/json": {"type": "object", "properties": {"graph": {"type": "object"}}}},
        responses={200: OpenApiResponse(description="{valid: true, warnings}"), 400: OpenApiResponse(description="{valid: false, errors}")},
    )
    @action(detail=False, methods=["post"])
    def validate(self, request):
        if not isinstance(request.data, dict) or "graph" not in request.data:
            return Response({"valid": False, "error": 'send {"graph": <a format v1 document>}', "errors": []}, status=400)
        problems = validate(request.data["graph"])
        errors = [p.as_dict() for p in problems if p.severity == "error"]
        warnings = [p.as_dict() for p in problems if p.severity == "warning"]
        if errors:
            return Response({"valid": False, "error": errors[0]["message"], "errors": errors, "warnings": warnings}, status=400)
        return Response({"valid": True, "warnings": warnings})

    @extend_schema(
        request={"application/json": {"type": "object", "properties": {
            "node": {"type": "string"}, "run": {"type": "integer"}, "key": {"type": "string"},
            "config": {"type": "object"}, "graph": {"type": "object"}}, "required": ["node", "run"]}},
        responses={200: {"type": "object"}},
    )
    @action(detail=True, methods=["post"], url_path="test-node")
    def test_node(self, request, pk=None):
        """Run one node alone with its scope in a past run of this workflow (nothing is recorded). The node is taken
        from `graph` (the draft on the canvas) or else the latest version; `config` replaces its config."""
        from engine.node_trial import NotTestable, try_node

        workflow = self._get(request, pk)
        _require_write(request, workflow.team_id, workflow.my_role)
        body = request.data if isinstance(request.data, dict) else None
        if body is None or not isinstance(body.get("node"), str) or isinstance(body.get("run"), bool) or not isinstance(body.get("run"), int):
            return Response({"error": 'send {"node": "<node id>", "run": <id of a run of this workflow>, "config"?: {...}}'}, status=400)
        run = access.runs_of(request.user).filter(pk=body["run"], workflow=workflow).first()
        if run is None:
            return Response({"error": f"run: workflow {workflow.pk} has no run {body['run']} you can see", "field": "run"}, status=400)
        if not run.is_finished:
            return Response({"error": f"run: run {run.pk} is still {run.status}; test a node against a finished run", "field": "run"}, status=409)
        graph = body.get("graph") if isinstance(body.get("graph"), dict) else workflow.latest_version.graph
        nodes = graph.get("nodes") if isinstance(graph.get("nodes"), list) else []
        node = next((n for n in nodes if isinstance(n, dict) and n.get("id") == body["node"]), None)
        if node is None:
            return Response({"error": f"node: the workflow has no node '{body['node']}'", "field": "node"}, status=400)
        if "config" in body:
            if not isinstance(body["config"], dict):
                return Response({"error": f"config: must be an object, not {_json_type(body['config'])}", "field": "config"}, status=400)
            node = {**node, "config": body["config"]}
        key = body.get("key")
        if key is not None and not isinstance(key, str):
            return Response({"error": "key: the step key to take the scope from, a string such as \"fan#1[2]/1\"", "field": "key"}, status=400)
        try:
            return Response(try_node(run, node, key))
        except NotTestable as exc:
            return Response({"error": exc.message, "field": exc.field}, status=400)

    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        workflow = self._get(request, pk)
        from urllib.parse import quote

        response = Response(workflow.latest_version.graph)
        slug = re.sub(r"[^\w]+", "-", workflow.name.lower()).strip("-") or "workflow"
        ascii_slug = re.sub(r"[^a-z0-9_-]+", "-", slug.encode("ascii", "ignore").decode()).strip("-") or "workflow"
        # RFC 6266: an ASCII fallback plus the UTF-8 name for browsers that read it.
        response["Content-Disposition"] = f"attachment; filename=\"{ascii_slug}.json\"; filename*=UTF-8''{quote(slug)}.json"
        return response

    @extend_schema(request={"application/json": {"type": "object"}}, responses={201: WorkflowSerializer})
    @action(detail=False, methods=["post"], url_path="import")
    def import_(self, request):
        """Import a format v1 document: the body is the document itself, or {"graph": doc, "team"?, "name"?}."""
        body = request.data
        if not isinstance(body, dict):
            return Response({"error": "the request body must be a workflow JSON object"}, status=400)
        graph = body["graph"] if "graph" in body and "format" not in body else body
        team = self._team_for_create(request, body.get("team") if "graph" in body and "format" not in body else None)
        try:
            workflow = services.create_workflow(team=team, user=request.user, graph=graph, name=body.get("name") if graph is not body else None,
                                                message="Imported", distinct_name=True)
        except services.ServiceError as exc:
            return _service_error(exc)
        return self._data(request, workflow, status.HTTP_201_CREATED)

    @action(detail=True, methods=["get"])
    def versions(self, request, pk=None):
        workflow = self._get(request, pk)
        data = VersionSerializer(workflow.versions.select_related("author"), many=True).data
        for item in data:
            item.pop("graph")
        return Response(data)

    @action(detail=True, methods=["get"], url_path=r"versions/(?P<number>\d+)")
    def version(self, request, pk=None, number=None):
        workflow = self._get(request, pk)
        version = get_object_or_404(workflow.versions, number=number)
        return Response(VersionSerializer(version).data)

    @extend_schema(request=RunCreateSerializer, responses={201: RunSummarySerializer}, parameters=RUN_PAGE_PARAMETERS)
    @action(detail=True, methods=["get", "post"])
    def runs(self, request, pk=None):
        if request.method == "GET":
            workflow = self._get(request, pk)
            return _run_page(request, workflow.runs.select_related("version", "triggered_by"))
        version = access.latest_version_with_role(request.user, pk)
        if version is None:
            raise Http404("No Workflow matches the given query.")  # the words of _get's 404
        workflow = version.workflow
        _require_write(request, workflow.team_id, workflow.my_role)
        data = _valid(RunCreateSerializer, request.data)
        if data.get("version") is not None and data["version"] != version.number:
            version = workflow.versions.filter(number=data["version"]).first()
            if version is None:
                return Response({"error": f"version: workflow {workflow.pk} has no version {data['version']}"}, status=400)
        try:
            run = services.start_run(
                workflow=workflow, version=version, graph=version.graph, team=workflow.team, user=request.user,
                run_input=data.get("input", {}), trigger=request.query_params.get("trigger", "api")[:20],
            )
        except services.ServiceError as exc:
            return _service_error(exc)
        return Response({"id": run.pk, "status": run.status, "version": version.number}, status=status.HTTP_201_CREATED)


class ConversationViewSet(viewsets.ReadOnlyModelViewSet):
    """Chats with a workflow: each message is a run with `conversation.*` in scope."""

    serializer_class = ConversationSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return Conversation.objects.filter(team__in=access.teams_of(self.request.user))

    @extend_schema(request={"application/json": {"type": "object", "properties": {"workflow": {"type": "integer"}, "title": {"type": "string"}},
                                                 "required": ["workflow"]}}, responses={201: ConversationSerializer})
    def create(self, request):
        body = request.data if isinstance(request.data, dict) else {}
        workflow_id = body.get("workflow")
        if isinstance(workflow_id, bool) or not isinstance(workflow_id, int):
            return Response({"error": "workflow: the id of the workflow to chat with"}, status=400)
        workflow = get_object_or_404(access.workflows_of(request.user, with_role=True), pk=workflow_id)
        _require_write(request, workflow.team_id, workflow.my_role)
        try:
            conversation = services.start_conversation(workflow, user=request.user, title=str(body.get("title", "")))
        except services.ServiceError as exc:
            return _service_error(exc)
        return Response(ConversationSerializer(conversation).data, status=status.HTTP_201_CREATED)

    @extend_schema(request={"application/json": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}},
                   responses={201: RunSummarySerializer})
    @action(detail=True, methods=["post"])
    def messages(self, request, pk=None):
        """Send a message: starts the turn's run; its reply streams on /ws/runs/{id}/."""
        conversation = self.get_object()
        _require_write(request, conversation.team_id)
        text = request.data.get("text") if isinstance(request.data, dict) else None
        try:
            run = services.send_message(conversation, user=request.user, text=text)
        except services.ServiceError as exc:
            return _service_error(exc)
        return Response({"id": run.pk, "status": run.status}, status=status.HTTP_201_CREATED)


class RunViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = RunSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return access.runs_of(self.request.user).select_related("version", "triggered_by")

    @extend_schema(parameters=[*RUN_PAGE_PARAMETERS, OpenApiParameter("workflow", int, description="only runs of this workflow")],
                   responses=RunSummarySerializer(many=True))
    def list(self, request):
        runs = self.get_queryset()
        workflow = _int_param(request.query_params, "workflow", None, 1, None)
        if workflow is not None:
            runs = runs.filter(workflow_id=workflow)
        return _run_page(request, runs, extra_filters=("workflow",))

    @extend_schema(request=None, responses=RunSummarySerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        run = self.get_object()
        _require_write(request, run.team_id)
        try:
            run = services.cancel_run(run, user=request.user)
        except services.ServiceError as exc:
            return _service_error(exc)
        return Response(RunSummarySerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request={"application/json": {"type": "object", "properties": {"from_node": {"type": "string"}, "version": {"oneOf": [{"type": "integer"}, {"const": "latest"}]}, "input": {"type": "object"}}, "required": ["from_node"]}},
        responses={201: RunSummarySerializer},
    )
    @action(detail=True, methods=["post"])
    def rerun(self, request, pk=None):
        """A new run of `version` (default: this run's) reusing this run's recorded outputs for the nodes upstream of
        `from_node` whose config did not change, re-running `from_node`, every changed node and everything after them."""
        run = self.get_object()
        _require_write(request, run.team_id)
        body = request.data if isinstance(request.data, dict) else {}
        from_node = body.get("from_node")
        if not isinstance(from_node, str) or not from_node:
            return Response({"error": 'from_node: required, the id of the node to re-run from (send {"from_node": "<id>"})'}, status=400)
        try:
            new = services.rerun_from(run, from_node=from_node, user=request.user, run_input=body.get("input"), version=body.get("version"))
        except services.ServiceError as exc:
            return _service_error(exc)
        return Response({"id": new.pk, "status": new.status, "version": new.version.number if new.version else None}, status=status.HTTP_201_CREATED)

    @extend_schema(
        request={"application/json": {"type": "object", "properties": {
            "node": {"type": "string"}, "key": {"type": "string"}, "decision": {"enum": ["approve", "reject"]},
            "answer": {"type": "object"}, "comment": {"type": "string"}}, "required": ["node", "decision"]}},
        responses=StepSerializer,
    )
    @action(detail=True, methods=["post"])
    def answer(self, request, pk=None):
        """Answer a human step the run waits on: approve or reject, with the form's fields."""
        run = self.get_object()
        body = request.data if isinstance(request.data, dict) else None
        if body is None or not isinstance(body.get("node"), str):
            return Response({"error": 'node: required; send {"node": "<human node id>", "decision": "approve" | "reject"}'}, status=400)
        try:
            step = services.answer_human_step(
                run, user=request.user, node=body["node"], key=body.get("key"), decision=body.get("decision", ""),
                answer=body.get("answer"), comment=str(body.get("comment", "")),
            )
        except services.ServiceError as exc:
            return _service_error(exc)
        return Response(StepSerializer(step).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=StepSerializer(many=True))
    @action(detail=True, methods=["get"])
    def steps(self, request, pk=None):
        run = self.get_object()
        return Response(StepSerializer(run.steps.all(), many=True).data)


class NodeTypesView(APIView):
    """Every node type: config JSON Schema, ports, description. The canvas draws nodes and forms from it."""

    def get(self, request):
        return Response([cls.describe() for cls in NODE_TYPES.values()])


class CredentialViewSet(viewsets.ModelViewSet):
    """Secrets of your teams: model providers (sent only to their base URL) and
    http credentials (sent only to the hosts they name). Members see names,
    kinds, providers and base URLs; only owners add, change, test and delete.
    The API key is write-only and encrypted at rest."""

    serializer_class = CredentialSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        queryset = Credential.objects.filter(team__in=access.teams_of(self.request.user)).order_by("team_id", "name")
        team = self.request.query_params.get("team")
        if team is not None and self.action == "list":
            if not team.isdigit():
                raise ValidationError({"team": [f"must be a team id (a number), not {team!r}"]})
            queryset = queryset.filter(team_id=int(team))
        return queryset

    def _require_owner(self, team_id: int, doing: str) -> None:
        if access.role_in(self.request.user, team_id) != Membership.Role.OWNER:
            raise PermissionDenied(f"only a team owner can {doing}; ask {_owners(team_id)}")

    def perform_create(self, serializer):
        from .. import activity
        from django.db import transaction

        team = serializer.validated_data["team"]
        self._require_owner(team.pk, "add credentials")
        if Credential.objects.filter(team=team, name=serializer.validated_data["name"]).exists():
            raise ValidationError({"name": ["this team already has a credential with this name"]})
        api_key = serializer.validated_data.pop("api_key")
        credential = Credential(**serializer.validated_data)
        credential.set_api_key(api_key)
        with transaction.atomic():
            credential.save()
            activity.record(team.pk, self.request.user, "credential.created", "credential", credential.pk,
                            f"{activity.who(self.request.user)} added the {credential.kind} credential {credential.name}")
        serializer.instance = credential

    def perform_update(self, serializer):
        from django.db import transaction
        from django.utils import timezone

        from .. import activity

        credential = serializer.instance
        self._require_owner(credential.team_id, "change credentials")
        data = serializer.validated_data
        api_key = data.pop("api_key", None)
        changed = [k for k in ("base_url", "default_model", "allowed_hosts") if k in data and data[k] != getattr(credential, k)]
        for key in changed:
            setattr(credential, key, data[key])
        if api_key is not None:
            credential.set_api_key(api_key)
        credential.updated_at = timezone.now()
        who = activity.who(self.request.user)
        with transaction.atomic():
            credential.save()
            if api_key is not None:
                activity.record(credential.team_id, self.request.user, "credential.rotated", "credential", credential.pk,
                                f"{who} rotated the key of {credential.name}")
            if changed:
                activity.record(credential.team_id, self.request.user, "credential.updated", "credential", credential.pk,
                                f"{who} changed {', '.join(k.replace('_', ' ') for k in changed)} of {credential.name}")

    @extend_schema(request=CredentialSerializer, responses=CredentialSerializer)
    def partial_update(self, request, *args, **kwargs):
        """Rotate the key, or change base URL, default model or allowed hosts (owners)."""
        return super().partial_update(request, *args, **kwargs)

    def perform_destroy(self, instance):
        from django.db import transaction

        from .. import activity

        self._require_owner(instance.team_id, "delete credentials")
        with transaction.atomic():
            activity.record(instance.team_id, self.request.user, "credential.deleted", "credential", instance.pk,
                            f"{activity.who(self.request.user)} deleted the credential {instance.name}")
            instance.delete()

    def _models(self, credential: Credential) -> dict:
        from engine.errors import NodeFailed
        from engine.llm import list_models

        if credential.kind != Credential.Kind.MODEL:
            raise ValidationError(f"{credential.name} is an http credential; only model credentials have models to list")
        try:
            return {"ok": True, "models": list_models(credential.base_url, credential.get_api_key())}
        except NodeFailed as exc:
            return {"ok": False, "models": [], "error": str(exc)}

    @extend_schema(request=None, responses={200: OpenApiResponse(description='{"ok": bool, "models": [...], "error"?}')})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Call the provider's /models with the stored key and say whether it works (owners)."""
        credential = self.get_object()
        self._require_owner(credential.team_id, "test credentials")
        return Response(self._models(credential))

    @extend_schema(responses={200: OpenApiResponse(description='{"ok": bool, "models": [...], "error"?}')})
    @action(detail=True, methods=["get"])
    def models(self, request, pk=None):
        """The models the provider lists for this key: what the model field of a node offers (owners and editors)."""
        credential = self.get_object()
        _require_write(request, credential.team_id)
        return Response(self._models(credential))


@extend_schema(
    request={"application/json": {"type": "object", "properties": {"username": {"type": "string"}, "password": {"type": "string"}}}},
    responses={200: OpenApiResponse(description='{"token": "..."}')},
)
@api_view(["POST"])
@permission_classes([AllowAny])
@throttle_classes([AuthThrottle])
def obtain_token(request):
    """Exchange a username and password for an API token."""
    from django.contrib.auth import authenticate
    from django.core.exceptions import PermissionDenied

    data = request.data if isinstance(request.data, dict) else {}
    username, password = data.get("username", ""), data.get("password", "")
    if not isinstance(username, str) or not isinstance(password, str):
        return Response({"error": "username and password must be strings"}, status=400)
    try:
        # The Django request: django-axes reads the client address from it and counts the failure.
        user = authenticate(request._request, username=username, password=password)
    except PermissionDenied:  # django-axes: locked out
        return Response({"error": lockout.message()}, status=429)
    if getattr(request._request, "axes_locked_out", False):
        return Response({"error": lockout.message()}, status=429)
    if user is None:
        return Response({"error": "username or password is wrong"}, status=400)
    token, _ = Token.objects.get_or_create(user=user)
    return Response({"token": token.key})
