"""Who may see and change what. Every API view, page and WebSocket asks here;
an object of a team the user is not in does not exist for them (404)."""
from __future__ import annotations

from django.db.models import F, QuerySet

from .models import Membership, Run, Team, Workflow, WorkflowVersion

WRITE_ROLES = {Membership.Role.OWNER, Membership.Role.EDITOR}


def teams_of(user) -> QuerySet[Team]:
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(memberships__user=user)


def workflows_of(user, with_role: bool = False) -> QuerySet[Workflow]:
    if with_role and user.is_authenticated:
        # One join gives both the visibility and the user's role in the team.
        return Workflow.objects.filter(team__memberships__user=user).annotate(my_role=F("team__memberships__role"))
    return Workflow.objects.filter(team__in=teams_of(user))


def latest_version_with_role(user, workflow_id) -> WorkflowVersion | None:
    """A workflow's latest version with its workflow, team and the user's role
    (`my_role`) in one query, or None when the user cannot see it: starting a
    run (POST /runs/, the busiest write) needs all four."""
    if not user.is_authenticated:
        return None
    version = (WorkflowVersion.objects.filter(workflow_id=workflow_id, workflow__team__memberships__user=user)
               .annotate(my_role=F("workflow__team__memberships__role")).select_related("workflow__team")
               .order_by("-number").first())
    if version is not None:
        version.workflow.my_role = version.my_role
    return version


def teams_with_role(user) -> QuerySet[Team]:
    """The user's teams, each with `my_role`, in one query."""
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(memberships__user=user).annotate(my_role=F("memberships__role"))


def runs_of(user) -> QuerySet[Run]:
    return Run.objects.filter(team__in=teams_of(user))


def role_in(user, team_id: int | None) -> str | None:
    if team_id is None or not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, team_id=team_id).values_list("role", flat=True).first()


def can_write(user, team_id: int | None) -> bool:
    return role_in(user, team_id) in WRITE_ROLES
