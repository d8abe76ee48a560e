"""Publishing, the Triggers API and the team's MCP tool servers.

    POST /api/workflows/{id}/publish/ {"version"?}     → 200 {"published_version"}
    POST /api/workflows/{id}/unpublish/                → 200 {"published_version": null}
    GET/POST /api/workflows/{id}/triggers/
    GET/PATCH/DELETE /api/workflows/{id}/triggers/{tid}/
    POST /api/workflows/{id}/triggers/{tid}/rotate/
    GET/POST /api/tool-servers/, DELETE /api/tool-servers/{id}/

Editors and owners change; viewers see triggers without their URL token or
secret (the token is the webhook's credential)."""
from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import access, triggers
from ..models import Membership, ToolServer, Trigger, TriggerFire, Workflow
from ..services import ServiceError


def _error(exc: ServiceError) -> Response:
    return Response({"error": exc.message, **exc.extra}, status=exc.status)


def _workflow(request, pk) -> Workflow:
    return get_object_or_404(access.workflows_of(request.user, with_role=True).select_related("team", "published_version"), pk=pk)


def _require_write(workflow: Workflow) -> None:
    if workflow.my_role not in access.WRITE_ROLES:
        raise PermissionDenied("your role in this team is viewer; ask an owner for editor rights to publish or change triggers")


def _body(request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise ValidationError("the request body must be a JSON object")
    return request.data


def trigger_data(request, trigger: Trigger, *, can_write: bool, secret: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"id": trigger.pk, "workflow": trigger.workflow_id, "type": trigger.type, "enabled": trigger.enabled,
                            **trigger.config, "created_at": trigger.created_at}
    if trigger.type == Trigger.Type.WEBHOOK:
        data["url"] = request.build_absolute_uri(f"/hooks/{trigger.token}/") if can_write else None
        if secret:
            data["secret"] = secret  # shown once, on create and rotate
    elif trigger.type == Trigger.Type.SCHEDULE:
        data["next_fires"] = [t.isoformat() for t in triggers.next_fires(trigger)] if trigger.enabled else []
        data["last_fires"] = [
            {"at": f.created_at.isoformat(), "tick": f.key.removeprefix("tick:"), "run": f.run_id_ref, "error": f.error or None}
            for f in TriggerFire.objects.filter(trigger=trigger, key__startswith="tick:").order_by("-created_at")[:10]
        ]
    elif trigger.type == Trigger.Type.MCP:
        data["tool"] = triggers.mcp_tool_name(trigger.workflow)
        data["mcp_url"] = request.build_absolute_uri("/mcp/")
    return data


class PublishView(APIView):
    @extend_schema(request={"application/json": {"type": "object", "properties": {"version": {"type": "integer"}}}},
                   responses={200: {"type": "object", "properties": {"published_version": {"type": "integer"}}}})
    def post(self, request, pk):
        """Publish a version (default: the latest): every trigger runs it from now on."""
        workflow = _workflow(request, pk)
        _require_write(workflow)
        body = request.data if isinstance(request.data, dict) else {}
        try:
            version = triggers.publish(workflow, body.get("version"))
        except ServiceError as exc:
            return _error(exc)
        return Response({"published_version": version.number})


class UnpublishView(APIView):
    @extend_schema(request=None, responses={200: {"type": "object"}})
    def post(self, request, pk):
        """Take the workflow out of production: its triggers answer 409 until a version is published again."""
        workflow = _workflow(request, pk)
        _require_write(workflow)
        triggers.unpublish(workflow)
        return Response({"published_version": None})


class TriggerListView(APIView):
    def get(self, request, pk):
        workflow = _workflow(request, pk)
        can_write = workflow.my_role in access.WRITE_ROLES
        return Response([trigger_data(request, t, can_write=can_write) for t in workflow.triggers.select_related("workflow")])

    @extend_schema(request={"application/json": {"type": "object", "properties": {"type": {"enum": ["webhook", "schedule", "mcp"]}}}})
    def post(self, request, pk):
        workflow = _workflow(request, pk)
        _require_write(workflow)
        body = _body(request)
        kind = body.get("type")
        if kind not in Trigger.Type.values:
            return Response({"error": f"type: must be one of webhook, schedule, mcp, not {kind!r}"}, status=400)
        try:
            config = triggers.clean_config(kind, body)
            enabled = triggers._bool(body, "enabled", True)
        except ServiceError as exc:
            return _error(exc)
        if kind == Trigger.Type.MCP and workflow.triggers.filter(type=Trigger.Type.MCP).exists():
            return Response({"error": "type: this workflow is already an MCP tool (it has an mcp trigger)"}, status=409)
        trigger = Trigger(workflow=workflow, type=kind, config=config, enabled=enabled, created_by=request.user)
        secret = None
        if kind == Trigger.Type.WEBHOOK:
            trigger.token = triggers.new_token()
            if config["signing"]:
                secret = triggers.new_secret()
                trigger.set_secret(secret)
        trigger.save()
        return Response(trigger_data(request, trigger, can_write=True, secret=secret), status=status.HTTP_201_CREATED)


class TriggerDetailView(APIView):
    def _get(self, request, pk, tid) -> tuple[Workflow, Trigger]:
        workflow = _workflow(request, pk)
        return workflow, get_object_or_404(workflow.triggers.select_related("workflow"), pk=tid)

    def get(self, request, pk, tid):
        workflow, trigger = self._get(request, pk, tid)
        return Response(trigger_data(request, trigger, can_write=workflow.my_role in access.WRITE_ROLES))

    def patch(self, request, pk, tid):
        workflow, trigger = self._get(request, pk, tid)
        _require_write(workflow)
        body = _body(request)
        if "type" in body and body["type"] != trigger.type:
            return Response({"error": f"type: a trigger cannot change its type (it is a {trigger.type}); create another"}, status=400)
        try:
            config = triggers.clean_config(trigger.type, body, trigger.config)
            trigger.enabled = triggers._bool(body, "enabled", trigger.enabled)
        except ServiceError as exc:
            return _error(exc)
        secret = None
        if trigger.type == Trigger.Type.WEBHOOK and config["signing"] and not trigger.encrypted_secret:
            secret = triggers.new_secret()  # signing just turned on
            trigger.set_secret(secret)
        if trigger.type == Trigger.Type.WEBHOOK and not config["signing"]:
            trigger.set_secret(None)
        trigger.config = config
        trigger.save()
        return Response(trigger_data(request, trigger, can_write=True, secret=secret))

    def delete(self, request, pk, tid):
        workflow, trigger = self._get(request, pk, tid)
        _require_write(workflow)
        trigger.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class TriggerRotateView(APIView):
    @extend_schema(request=None)
    def post(self, request, pk, tid):
        """A new webhook URL (and signing secret): the old ones answer 404 from now on."""
        workflow = _workflow(request, pk)
        _require_write(workflow)
        trigger = get_object_or_404(workflow.triggers.select_related("workflow"), pk=tid)
        try:
            secret = triggers.rotate(trigger)
        except ServiceError as exc:
            return _error(exc)
        return Response(trigger_data(request, trigger, can_write=True, secret=secret))


class SchedulePreviewView(APIView):
    @extend_schema(request={"application/json": {"type": "object", "properties": {
        "cron": {"type": "string"}, "timezone": {"type": "string"}, "every_s": {"type": "integer"}}}})
    def post(self, request):
        """The next five fire times of a schedule being typed (nothing is saved): {"next_fires"} or 400 naming the field."""
        from django.utils import timezone as dj_timezone

        body = {k: v for k, v in _body(request).items() if k in ("cron", "timezone", "every_s")}
        try:
            config = triggers.clean_config("schedule", body)
        except ServiceError as exc:
            return _error(exc)
        fires = triggers._ticks_after(config, dj_timezone.now(), dj_timezone.now(), 5)
        return Response({"next_fires": [f.isoformat() for f in fires]})


# ----------------------------------------------------------------- tool servers


def _tool_server_data(server: ToolServer) -> dict[str, Any]:
    return {"id": server.pk, "team": server.team_id, "name": server.name, "url": server.url,
            "has_headers": bool(server.encrypted_headers), "created_at": server.created_at}


class ToolServerListView(APIView):
    def get(self, request):
        servers = ToolServer.objects.filter(team__in=access.teams_of(request.user))
        return Response([_tool_server_data(s) for s in servers])

    @extend_schema(request={"application/json": {"type": "object", "properties": {
        "name": {"type": "string"}, "url": {"type": "string"}, "headers": {"type": "object"}, "team": {"type": "integer"}}}})
    def post(self, request):
        """Register an MCP server (streamable HTTP) for the team's agents; owners only."""
        import re

        from asgiref.sync import async_to_sync
        from urllib.parse import urlsplit

        from engine import net

        body = _body(request)
        team_id = body.get("team", request.user.personal_team.pk)
        if isinstance(team_id, bool) or not isinstance(team_id, int) or not access.teams_of(request.user).filter(pk=team_id).exists():
            return Response({"error": f"team: you are not a member of team {team_id!r}"}, status=400)
        if access.role_in(request.user, team_id) != Membership.Role.OWNER:
            raise PermissionDenied("only a team owner can register MCP tool servers")
        name, url, headers = body.get("name"), body.get("url"), body.get("headers") or {}
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,60}", name):
            return Response({"error": "name: letters, digits, '-' and '_' (it is how agents name its tools: mcp:<name>/<tool>)"}, status=400)
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return Response({"error": "url: the server's streamable HTTP endpoint, http:// or https:// (a workflow never starts a local process)"}, status=400)
        # The http node's address rules: no loopback/private addresses unless HTTP_NODE_ALLOWED_HOSTS allows them.
        parts = urlsplit(url)
        try:
            async_to_sync(net.check)(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
        except net.NetError as exc:
            return Response({"error": f"url: {exc}"}, status=400)
        if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
            return Response({"error": 'headers: an object of header names to string values, e.g. {"Authorization": "Bearer …"}'}, status=400)
        server = ToolServer(team_id=team_id, name=name, url=url)
        server.set_headers(headers)
        try:
            with transaction.atomic():
                server.save()
        except IntegrityError:
            return Response({"error": f"name: the team already has a tool server named '{name}'"}, status=409)
        return Response(_tool_server_data(server), status=status.HTTP_201_CREATED)


class ToolServerDetailView(APIView):
    def _get(self, request, sid) -> ToolServer:
        return get_object_or_404(ToolServer.objects.filter(team__in=access.teams_of(request.user)), pk=sid)

    def get(self, request, sid):
        return Response(_tool_server_data(self._get(request, sid)))

    def delete(self, request, sid):
        server = self._get(request, sid)
        if access.role_in(request.user, server.team_id) != Membership.Role.OWNER:
            raise PermissionDenied("only a team owner can remove MCP tool servers")
        server.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
