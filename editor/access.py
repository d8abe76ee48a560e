"""Who may see and change what. Every API view, page and WebSocket asks here;
an object of a team the user is not in does not exist for them (404)."""
from __future__ import annotations

from functools import lru_cache

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
    run (POST /runs/, the busiest write) needs all four.

    The query is written once as SQL (from the models' own names), like the
    run socket's summary: compiling the ORM's four-table join for every
    POST /runs/ was a tenth of the web process's CPU under load (py-spy). The
    version's own columns are converted by its fields (a raw queryset); the
    workflow comes with its id, name and team, the team with its id, their
    other fields loaded only if something asks for them."""
    if not user.is_authenticated:
        return None
    try:
        workflow_id = int(workflow_id)
    except (TypeError, ValueError):
        return None
    versions = list(WorkflowVersion.objects.raw(_latest_version_sql(), [user.pk, workflow_id]))
    if not versions:
        return None
    version = versions[0]
    workflow = Workflow.from_db(version._state.db, ["id", "name", "team_id"], [version.workflow_id, version.w_name, version.w_team_id])
    workflow.team = Team.from_db(version._state.db, ["id"], [version.w_team_id])
    workflow.my_role = version.my_role
    version.workflow = workflow
    return version


@lru_cache(maxsize=1)
def _latest_version_sql() -> str:
    from django.db import connection

    q = connection.ops.quote_name
    version, workflow, membership = WorkflowVersion._meta, Workflow._meta, Membership._meta

    def col(meta, name: str) -> str:
        return q(meta.get_field(name).column)

    columns = ", ".join(f"v.{q(f.column)}" for f in version.concrete_fields)
    return (
        f"SELECT {columns}, w.{col(workflow, 'name')} AS w_name, w.{col(workflow, 'team')} AS w_team_id, "
        f"m.{col(membership, 'role')} AS my_role "
        f"FROM {q(version.db_table)} v "
        f"JOIN {q(workflow.db_table)} w ON w.{q(workflow.pk.column)} = v.{col(version, 'workflow')} "
        f"JOIN {q(membership.db_table)} m ON m.{col(membership, 'team')} = w.{col(workflow, 'team')} AND m.{col(membership, 'user')} = %s "
        f"WHERE v.{col(version, 'workflow')} = %s ORDER BY v.{col(version, 'number')} DESC LIMIT 1"
    )


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
