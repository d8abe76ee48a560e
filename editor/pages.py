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
from . import workflow_list as listing  # the module; `workflow_list` here is the page
from .api.serializers import WorkflowSerializer
from .models import Run


@login_required
def workflow_list(request):
    my_teams = list(access.teams_with_role(request.user).order_by("-personal_owner", "name"))
    selected = request.GET.get("team", "")
    team_filter = next((t for t in my_teams if str(t.pk) == selected), None)
    workflows = access.workflows_of(request.user, with_role=True)
    if team_filter is not None:
        workflows = workflows.filter(team=team_filter)
    try:
        query = listing.ListQuery.from_params(request.GET)
    except listing.QueryError:  # a hand-edited ?sort=: the page falls back to its default order
        query = listing.ListQuery.from_params({**request.GET.dict(), "sort": listing.DEFAULT_SORT})
    tags = sorted({tag for row in workflows.values_list("tags", flat=True) for tag in (row or [])})
    workflows = listing.find_workflows(
        workflows
        .select_related("team", "published_version")
        .annotate(active_runs=Count("runs", filter=Q(runs__status__in=[Run.Status.QUEUED, Run.Status.RUNNING]))),
        query,
    )
    listing.what_delete_takes(workflows)
    for workflow in workflows:
        latest = workflow.latest_version
        workflow.can_chat = bool(latest and "message" in ((latest.graph.get("inputs") or {}).get("properties") or {}))
    # An experiment starts dozens of runs at once; its page lists them, so here they
    # would only push the runs people started out of sight (issue 12).
    recent_runs = list(access.runs_of(request.user).exclude(trigger="experiment").select_related("workflow")[:10])
    from .models import Step

    # Who each waiting run waits for, so nobody has to open it to find out.
    waiting_steps = Step.objects.filter(run__in=[r.pk for r in recent_runs], status=Step.Status.WAITING).values_list("run_id", "input")
    waiting_for: dict[int, list[str]] = {}
    for run_id, config in waiting_steps:
        waiting_for.setdefault(run_id, []).extend((config or {}).get("assignees") or ["an editor"])
    for run in recent_runs:
        run.waiting_for = ", ".join(dict.fromkeys(waiting_for.get(run.pk, [])))
    writable = [t for t in my_teams if t.my_role in access.WRITE_ROLES]
    return render(request, "workflow_list.html", {
        "workflows": workflows, "recent_runs": recent_runs, "demo_mode": not settings.OPENAI_API_KEY,
        "query": query, "all_tags": tags, "sorts": listing.SORT_LABELS.items(),
        "filtered": bool(query.q or query.tag), "name_max_length": listing.NAME_MAX_LENGTH, "tag_max_length": listing.TAG_MAX_LENGTH,
        "teams": my_teams, "team_filter": team_filter, "writable_teams": writable,
        "default_team": team_filter.pk if team_filter is not None and team_filter in writable else request.user.personal_team.pk,
    })


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
        "role": access.role_in(request.user, workflow.team_id),
        "owners": _owner_names(workflow.team_id),
        "runId": int(request.GET["run"]) if request.GET.get("run", "").isdigit() else None,
        "demoMode": not settings.OPENAI_API_KEY,
    }
    return allow_eval(render(request, "workflow.html", {"workflow": workflow, "boot": json.loads(json.dumps(boot, default=str))}))


def allow_eval(response):
    """The canvas only: its config forms validate with Ajv, which compiles each
    JSON Schema to a function (`new Function`), so the site's CSP middleware
    (orchestrator_site/security.py) adds 'unsafe-eval' for a response marked
    so. Every other page stays strict. Marked here, not imported from the
    site, because no app imports orchestrator_site (.importlinter)."""
    response.csp_unsafe_eval = True
    return response


def _owner_names(team_id: int) -> list[str]:
    from .models import Membership

    return list(Membership.objects.filter(team_id=team_id, role=Membership.Role.OWNER).order_by("joined_at").values_list("user__username", flat=True)[:3])


@login_required
def workflow_new(request):
    """An empty canvas: the editor creates the workflow (POST /api/workflows/) on its first save,
    in the team `?team=` names (one the user edits in), else their personal team."""
    team = request.user.personal_team
    wanted = request.GET.get("team", "")
    if wanted.isdigit():
        team = access.teams_with_role(request.user).filter(pk=int(wanted), my_role__in=access.WRITE_ROLES).first() or team
    workflow = {"id": None, "name": "Untitled workflow", "description": "", "team": team.pk, "team_name": team.name, "version": None, "graph": None}
    boot = {
        "workflow": workflow,
        "nodeTypes": [cls.describe() for cls in NODE_TYPES.values()],
        "canRun": True,
        "runId": None,
        "demoMode": not settings.OPENAI_API_KEY,
    }
    return allow_eval(render(request, "workflow.html", {"workflow": workflow, "boot": boot}))


@login_required
def run_page(request, pk: int):
    run = access.runs_of(request.user).filter(pk=pk).first()
    if run is None or run.workflow_id is None:
        raise Http404("No such run in your teams")
    return redirect(f"/workflows/{run.workflow_id}/?run={run.pk}")


@login_required
def answer_page(request, pk: int):
    """A person answers the human steps a run waits on (the API's POST /api/runs/{id}/answer/, as a form)."""
    from . import services
    from .models import Step

    run = access.runs_of(request.user).select_related("workflow").filter(pk=pk).first()
    if run is None:
        raise Http404("No such run in your teams")
    error = ""
    if request.method == "POST":
        step = Step.objects.filter(run=run, pk=request.POST.get("step", "")).first()
        if step is None:
            error = "That step is not waiting any more."
        else:
            form = (step.input or {}).get("form") or {}
            answer = {name: request.POST.get(f"field_{name}", "") for name in (form.get("properties") or {})}
            try:
                services.answer_human_step(run, user=request.user, node=step.node_id, key=step.key,
                                           decision=request.POST.get("decision", ""), answer=answer, comment=request.POST.get("comment", ""))
            except services.ServiceError as exc:
                error = exc.message
            else:
                return redirect(f"/runs/{run.pk}/")
    waiting = [
        {"step": step, "prompt": (step.input or {}).get("prompt", ""), "assignees": (step.input or {}).get("assignees") or [],
         "fields": list(((step.input or {}).get("form") or {}).get("properties", {}).items()),
         "allow_reject": (step.input or {}).get("allow_reject", True)}
        for step in run.steps.filter(status=Step.Status.WAITING)
    ]
    return render(request, "answer.html", {"run": run, "waiting": waiting, "error": error})


@login_required
def chat_start(request, pk: int):
    """Start a conversation with a workflow (POST), then show it."""
    from . import services

    workflow = access.workflows_of(request.user).filter(pk=pk).first()
    if workflow is None:
        raise Http404("No such workflow in your teams")
    if request.method != "POST":
        return redirect(f"/workflows/{pk}/")
    if not access.can_write(request.user, workflow.team_id):
        return HttpResponse("Your role in this team cannot start conversations.", status=403)
    try:
        conversation = services.start_conversation(workflow, user=request.user)
    except services.ServiceError as exc:
        return HttpResponse(exc.message, status=400)
    return redirect(f"/conversations/{conversation.pk}/")


@login_required
def chat_page(request, pk: int):
    from .models import Conversation

    conversation = Conversation.objects.filter(pk=pk, team__in=access.teams_of(request.user)).select_related("workflow").first()
    if conversation is None:
        raise Http404("No such conversation in your teams")
    boot = {"id": conversation.pk, "history": conversation.history, "summary": conversation.summary, "state": conversation.state,
            "canWrite": access.can_write(request.user, conversation.team_id)}
    return render(request, "chat.html", {"conversation": conversation, "boot": boot})


def healthz(request):
    return HttpResponse("ok")


ROLE_SAYS = {
    "owner": "manage members, credentials and everything else",
    "editor": "change and run the team's workflows",
    "viewer": "see the team's workflows and runs",
}


def invite_page(request, token: str):
    """/invite/{token}/: a signed-in user joins; a visitor creates an account and joins in one step."""
    from django.contrib.auth import login
    from django.contrib.auth.forms import UserCreationForm
    from django.db import transaction

    from . import services, teams

    try:
        invitation = teams.find_invitation(token)
    except services.ServiceError as exc:
        return render(request, "invite.html", {"refusal": exc.message}, status=404)
    refusal = invitation.refusal()
    if refusal:
        return render(request, "invite.html", {"refusal": refusal, "invitation": invitation}, status=410)
    context = {"invitation": invitation, "role_says": ROLE_SAYS.get(invitation.role, ""),
               "inviter": invitation.created_by.get_username() if invitation.created_by else "A teammate", "form": None, "error": ""}
    if request.method == "POST":
        try:
            if request.user.is_authenticated:
                teams.accept(token, user=request.user)
            else:
                form = UserCreationForm(request.POST)
                context["form"] = form
                if not form.is_valid():
                    return render(request, "invite.html", context, status=400)
                # The account and the membership together: a refused invitation leaves no account behind.
                with transaction.atomic():
                    user = form.save()
                    teams.accept(token, user=user)
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        except services.ServiceError as exc:
            if exc.status == 409 and "team" in exc.extra:  # already a member: nothing to do but go there
                return redirect(f"/teams/{invitation.team_id}/")
            context["error"] = exc.message
            return render(request, "invite.html", context, status=exc.status)
        return redirect(f"/?team={invitation.team_id}")
    return render(request, "invite.html", context)


@login_required
def teams_page(request, pk: int | None = None):
    """/teams/ and /teams/{id}/: the Teams page (static/js/teams.js, on /api/teams/)."""
    if pk is not None and not access.teams_of(request.user).filter(pk=pk).exists():
        raise Http404("No such team among yours")
    boot = {"me": {"id": request.user.pk, "username": request.user.get_username()}, "team": pk}
    return render(request, "teams.html", {"boot": boot})


@login_required
def credentials_page(request, pk: int):
    """/teams/{id}/credentials/: a team's credentials (owners manage; everyone sees names)."""
    from .api.teams import owners_to_ask

    team = access.teams_with_role(request.user).filter(pk=pk).first()
    if team is None:
        raise Http404("No such team among yours")
    boot = {"team": team.pk, "role": team.my_role}
    return render(request, "credentials.html", {"team": team, "role": team.my_role, "owners": owners_to_ask(team.pk), "boot": boot})
