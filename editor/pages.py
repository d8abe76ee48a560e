"""Server-rendered pages. The workflow page mounts the React app (frontend/)
with the data it needs; everything live goes through the API and WebSocket."""
from __future__ import annotations

import json

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render

from engine.nodes import NODE_TYPES

from . import access
from .api.serializers import WorkflowSerializer
from .models import Run


@login_required
def workflow_list(request):
    workflows = (
        access.workflows_of(request.user)
        .select_related("team")
        .annotate(
            run_count=Count("runs"),
            active_runs=Count("runs", filter=Q(runs__status__in=[Run.Status.QUEUED, Run.Status.RUNNING])),
        )
    )
    recent_runs = access.runs_of(request.user).select_related("workflow")[:10]
    return render(request, "workflow_list.html", {"workflows": workflows, "recent_runs": recent_runs, "demo_mode": not settings.OPENAI_API_KEY})


@login_required
def workflow_page(request, pk: int):
    workflow = access.workflows_of(request.user).select_related("team").filter(pk=pk).first()
    if workflow is None:
        raise Http404("No such workflow in your teams")
    run_id = request.GET.get("run", "")
    if run_id.isdigit():
        run = access.runs_of(request.user).filter(pk=int(run_id)).values_list("workflow_id", flat=True).first()
        if run is None:
            raise Http404("No such run in your teams")
        if run != workflow.pk:
            return redirect(f"/runs/{run_id}/")  # a run is shown on its own workflow
    boot = {
        "workflow": WorkflowSerializer(workflow, context={"request": request}).data,
        "nodeTypes": [cls.describe() for cls in NODE_TYPES.values()],
        "canRun": access.can_write(request.user, workflow.team_id),
        "runId": int(request.GET["run"]) if request.GET.get("run", "").isdigit() else None,
        "demoMode": not settings.OPENAI_API_KEY,
    }
    return render(request, "workflow.html", {"workflow": workflow, "boot": json.loads(json.dumps(boot, default=str))})


@login_required
def workflow_new(request):
    """An empty canvas: the editor creates the workflow (POST /api/workflows/) on its first save."""
    team = request.user.personal_team
    workflow = {"id": None, "name": "Untitled workflow", "description": "", "team": team.pk, "team_name": team.name, "version": None, "graph": None}
    boot = {
        "workflow": workflow,
        "nodeTypes": [cls.describe() for cls in NODE_TYPES.values()],
        "canRun": True,
        "runId": None,
        "demoMode": not settings.OPENAI_API_KEY,
    }
    return render(request, "workflow.html", {"workflow": workflow, "boot": boot})


@login_required
def run_page(request, pk: int):
    run = access.runs_of(request.user).filter(pk=pk).first()
    if run is None or run.workflow_id is None:
        raise Http404("No such run in your teams")
    return redirect(f"/workflows/{run.workflow_id}/?run={run.pk}")


def healthz(request):
    return HttpResponse("ok")
