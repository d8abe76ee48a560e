"""/api/templates/: the template gallery. Anyone signed in may list and read
the templates; `use` creates a workflow from one in a team the user may edit
(their personal team unless they name another).

A template that calls other templates (complex-system's sub-workflows) lists
its `graph` with the references as written, `{"$template": "<slug>"}`; `use`
resolves them to workflows of the team, creating those first when the team has
none made from that template."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from django.db import transaction
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import access, services
from ..models import Team
from ..workflow_templates import all_templates, resolve_references, template
from .serializers import WorkflowSerializer

# The pattern tags a template is filed under, by slug; the gallery groups by them.
PATTERNS: dict[str, list[str]] = {
    "prompt-chaining": ["workflow", "sequential"],
    "routing": ["workflow", "routing"],
    "parallelization": ["workflow", "parallel"],
    "orchestrator-workers": ["multi-agent", "parallel", "planning"],
    "evaluator-optimizer": ["refinement", "loop"],
    "prompt-generation": ["meta-prompting"],
    "prompt-optimization": ["meta-prompting", "refinement", "loop"],
    "planner-executor": ["multi-agent", "planning", "loop"],
    "specialist-collaboration": ["multi-agent", "parallel"],
    "generate-critique-revise": ["refinement", "validation", "loop"],
    "ensemble-evaluation": ["evaluation", "parallel"],
    "function-calls": ["tools", "planning", "parallel", "loop"],
    "validation-chain": ["validation", "loop"],
    "tool-use": ["tools", "agent"],
    "autonomous-agent": ["agent", "tools", "human"],
    "complex-system": ["routing", "composition"],
    "stateful-conversation": ["conversation", "memory"],
    "context-summarization": ["conversation", "memory"],
    "ab-testing": ["evaluation", "parallel"],
    # The small workflows complex-system calls; last, as parts rather than patterns.
    "support-billing": ["composition"],
    "support-technical": ["composition"],
}


def summary(t: dict) -> dict:
    return {
        "slug": t["slug"],
        "name": t["name"],
        "description": t["description"],
        "node_count": t["node_count"],
        "node_types": t["node_types"],
        "patterns": PATTERNS.get(t["slug"], []),
        "graph": t["graph"],
        "example_input": t["example_input"],
    }


class TemplateSerializer(serializers.Serializer):
    """A gallery template (documents the response; the data is read from the files)."""

    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    node_count = serializers.IntegerField()
    node_types = serializers.ListField(child=serializers.CharField())
    patterns = serializers.ListField(child=serializers.CharField())
    graph = serializers.JSONField()
    example_input = serializers.JSONField()


class UseSerializer(serializers.Serializer):
    team = serializers.IntegerField(required=False, help_text="A team you own or edit in; default: your personal team.")
    name = serializers.CharField(required=False, help_text="The new workflow's name; default: the template's.")


def _get(slug: str) -> dict:
    found = template(slug)
    if found is None:
        slugs = ", ".join(t["slug"] for t in all_templates())
        raise NotFound(f"no template '{slug}'; the gallery has: {slugs}")
    return found


class TemplateListView(APIView):
    """Every template in the gallery, with its graph and an example input."""

    @extend_schema(responses=TemplateSerializer(many=True))
    def get(self, request):
        return Response([summary(t) for t in all_templates()])


class TemplateDetailView(APIView):
    """One template by its slug."""

    @extend_schema(responses={200: TemplateSerializer, 404: OpenApiResponse(description="No such template")})
    def get(self, request, slug: str):
        return Response(summary(_get(slug)))


def team_for_use(user, team_id) -> Team:
    """The team a new workflow goes to: the named one if the user may edit in it,
    else their personal team."""
    if team_id is None:
        return user.personal_team
    if isinstance(team_id, bool) or not isinstance(team_id, int):
        raise ValidationError({"team": [f"must be a team id (a number), not {team_id!r}"]})
    team = access.teams_of(user).filter(pk=team_id).first()
    if team is None:
        raise ValidationError({"team": [f"you are not a member of team {team_id}"]})
    if not access.can_write(user, team.pk):
        raise PermissionDenied("your role in this team is viewer; ask an owner for editor rights to add workflows to it")
    return team


def use_template(user, slug: str, *, team_id=None, name: str | None = None):
    """Create a workflow from a template; the one path for the API and the gallery page.
    The templates it calls become workflows of the team too (or are reused), in
    the same transaction: a refusal leaves nothing half-made."""
    found = _get(slug)
    team = team_for_use(user, team_id)
    with transaction.atomic():
        graph = resolve_references(found["graph"], team=team, user=user, calling=(slug,))
        return services.create_workflow(
            team=team, user=user, graph=graph, name=name or None,
            message=f"From the template gallery ({slug})", template_slug=slug,
        )


class TemplateUseView(APIView):
    """Create a workflow from a template in one of your teams."""

    @extend_schema(request=UseSerializer, responses={201: WorkflowSerializer, 403: OpenApiResponse(description="Viewer role"),
                                                     404: OpenApiResponse(description="No such template")})
    def post(self, request, slug: str):
        body = request.data if request.data is not None else {}
        if not isinstance(body, dict):
            raise ValidationError("the request body must be a JSON object such as {\"team\": 3, \"name\": \"My copy\"}, or empty")
        unknown = sorted(set(body) - {"team", "name"})
        if unknown:
            raise ValidationError({key: ["unknown field; send only 'team' and 'name'"] for key in unknown})
        name = body.get("name")
        if name is not None and (not isinstance(name, str) or not name.strip() or len(name) > 200):
            raise ValidationError({"name": ["must be a non-empty text of at most 200 characters"]})
        try:
            workflow = use_template(request.user, slug, team_id=body.get("team"), name=name.strip() if name else None)
        except services.ServiceError as exc:
            return Response({"error": exc.message, **exc.extra}, status=exc.status)
        data = WorkflowSerializer(workflow, context={"request": request}).data
        data["warnings"] = getattr(workflow, "warnings", [])
        return Response(data, status=status.HTTP_201_CREATED)
