"""Teams, their members and invitations: every change checks the caller's role,
keeps at least one owner, and lands in the team's activity log in the same
transaction."""
from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from . import activity
from .models import Activity, Invitation, Membership, Team
from .services import ServiceError

ROLES = Membership.Role.values
OWNER = Membership.Role.OWNER
# Related objects that go away with a team without being anybody's work.
_DELETED_WITH_TEAM = {"memberships", "invitations", "activity"}


def _role(role) -> str:
    if role not in ROLES:
        raise ServiceError(f"role: must be one of {', '.join(ROLES)}, not {role!r}", field="role")
    return role


def _not_personal(team: Team, doing: str) -> None:
    if team.personal_owner_id is not None:
        raise ServiceError(f"{team.name} is a personal team and cannot be {doing}; create a team to share work", status=409)


def _owners(team: Team) -> int:
    return team.memberships.filter(role=OWNER).count()


@transaction.atomic
def create_team(*, user, name: str) -> Team:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name:
        raise ServiceError('name: required; send {"name": "…"}', field="name")
    team = Team.objects.create(name=name[:120])
    Membership.objects.create(team=team, user=user, role=OWNER)
    activity.record(team.pk, user, "team.created", "team", team.pk, f"{activity.who(user)} created the team {team.name}")
    return team


@transaction.atomic
def rename_team(team: Team, *, user, name) -> Team:
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise ServiceError("name: must be a non-empty string", field="name")
    old = team.name
    team.name = name[:120]
    team.save(update_fields=["name"])
    activity.record(team.pk, user, "team.renamed", "team", team.pk, f"{activity.who(user)} renamed the team from {old} to {team.name}")
    return team


def what_team_holds(team: Team) -> dict[str, int]:
    """Everything that belongs to the team and would be lost with it: workflows,
    runs, credentials, datasets, … (any model with a foreign key to Team)."""
    held: dict[str, int] = {}
    for rel in Team._meta.related_objects:
        if not rel.one_to_many or rel.get_accessor_name() in _DELETED_WITH_TEAM:
            continue
        count = getattr(team, rel.get_accessor_name()).count()
        if count:
            held[rel.related_model._meta.verbose_name_plural.lower()] = count
    return held


@transaction.atomic
def delete_team(team: Team) -> None:
    """Only an empty team is deleted: its members, invitations and activity go
    with it; anything else (workflows and their runs, credentials, datasets)
    must be moved or deleted first, so nothing is lost silently."""
    _not_personal(team, "deleted")
    team = Team.objects.select_for_update().get(pk=team.pk)
    held = what_team_holds(team)
    if held:
        listing = ", ".join(f"{n} {what}" for what, n in held.items())
        raise ServiceError(
            f"team {team.name} still holds {listing}; move its workflows to another team (Move to team…) or delete them, "
            "and delete its credentials, before deleting the team", status=409, holds=held,
        )
    team.delete()


@transaction.atomic
def add_member(team: Team, *, user, username, role) -> Membership:
    _not_personal(team, "shared")
    role = _role(role)
    if not isinstance(username, str) or not username.strip():
        raise ServiceError('username: required; send {"username": "…", "role": "editor"}', field="username")
    member = get_user_model().objects.filter(username=username.strip()).first()
    if member is None:
        raise ServiceError(f"username: there is no user called {username!r}; send them an invitation link instead", field="username")
    existing = team.memberships.filter(user=member).first()
    if existing is not None:
        raise ServiceError(f"{member.get_username()} is already a member of {team.name} (role {existing.role}); change their role instead", status=409)
    membership = Membership.objects.create(team=team, user=member, role=role)
    activity.record(team.pk, user, "member.added", "member", member.pk, f"{activity.who(user)} added {member.get_username()} as {role}")
    _notify_role(team.pk, member.pk, role)
    return membership


@transaction.atomic
def change_role(membership: Membership, *, user, role) -> Membership:
    role = _role(role)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == role:
        return membership
    # Lock the team's owner rows so two owners demoting each other cannot both succeed.
    owners = list(Membership.objects.select_for_update().filter(team_id=membership.team_id, role=OWNER))
    if membership.role == OWNER and len(owners) <= 1:
        raise ServiceError(f"{membership.user.get_username()} is the last owner of {membership.team.name}; make someone else an owner first", status=409)
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    activity.record(membership.team_id, user, "member.role_changed", "member", membership.user_id,
                    f"{activity.who(user)} changed {membership.user.get_username()}'s role from {old} to {role}")
    _notify_role(membership.team_id, membership.user_id, role)
    return membership


@transaction.atomic
def remove_member(membership: Membership, *, user) -> None:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    owners = list(Membership.objects.select_for_update().filter(team_id=membership.team_id, role=OWNER))
    if membership.role == OWNER and len(owners) <= 1:
        who = "you are" if membership.user_id == user.pk else f"{membership.user.get_username()} is"
        raise ServiceError(f"{who} the last owner of {membership.team.name}; make someone else an owner first (or delete the team)", status=409)
    name = membership.user.get_username()
    summary = f"{name} left the team" if membership.user_id == user.pk else f"{activity.who(user)} removed {name} from the team"
    activity.record(membership.team_id, user, "member.removed", "member", membership.user_id, summary)
    team_id, user_id = membership.team_id, membership.user_id
    membership.delete()
    _notify_role(team_id, user_id, None)


def _notify_role(team_id: int, user_id: int, role: str | None) -> None:
    """Tell the member's open pages (presence sockets) their new role, once the change is committed."""
    from . import presence

    transaction.on_commit(lambda: presence.role_changed(team_id, user_id, role))


# ----------------------------------------------------------------- invitations


def invitation_ttl() -> timedelta:
    return timedelta(days=float(getattr(settings, "INVITATION_TTL_DAYS", 7)))


@transaction.atomic
def invite(team: Team, *, user, role, email: str = "") -> Invitation:
    _not_personal(team, "shared")
    role = _role(role)
    if email and (not isinstance(email, str) or "@" not in email):
        raise ServiceError(f"email: {email!r} is not an e-mail address", field="email")
    invitation = Invitation.objects.create(
        team=team, token=secrets.token_urlsafe(32), role=role, email=email or "", created_by=user,
        expires_at=timezone.now() + invitation_ttl(),
    )
    to = f" for {email}" if email else ""
    activity.record(team.pk, user, "invitation.created", "invitation", invitation.pk, f"{activity.who(user)} created an invitation{to} as {role}")
    return invitation


@transaction.atomic
def revoke(invitation: Invitation, *, user) -> None:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise ServiceError("this invitation was already used; remove the member instead", status=409)
    if invitation.revoked_at is not None:
        return
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    activity.record(invitation.team_id, user, "invitation.revoked", "invitation", invitation.pk, f"{activity.who(user)} revoked an invitation as {invitation.role}")


def find_invitation(token: str) -> Invitation:
    invitation = Invitation.objects.select_related("team", "created_by").filter(token=token).first() if token else None
    if invitation is None:
        raise ServiceError("there is no such invitation; check the link", status=404)
    return invitation


@transaction.atomic
def accept(token: str, *, user) -> Membership:
    """Join the invitation's team with its role: once, before it expires, unless revoked (410 otherwise)."""
    invitation = find_invitation(token)
    invitation = Invitation.objects.select_for_update().select_related("team").get(pk=invitation.pk)
    refusal = invitation.refusal()
    if refusal:
        raise ServiceError(refusal, status=410)
    team = invitation.team
    existing = team.memberships.filter(user=user).first()
    if existing is not None:
        raise ServiceError(f"you are already a member of {team.name} (role {existing.role})", status=409, team=team.pk, role=existing.role)
    membership = Membership.objects.create(team=team, user=user, role=invitation.role)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    activity.record(team.pk, user, "invitation.accepted", "invitation", invitation.pk,
                    f"{activity.who(user)} joined through an invitation as {invitation.role}")
    _notify_role(team.pk, user.pk, invitation.role)
    return membership


def send_invitation_mail(invitation: Invitation, url: str) -> bool:
    """Mail the link when a mail server is configured (EMAIL_HOST); the owner copies it otherwise."""
    if not invitation.email or not getattr(settings, "EMAIL_ENABLED", False):
        return False
    from django.core.mail import send_mail

    inviter = invitation.created_by.get_username() if invitation.created_by else "A teammate"
    try:
        send_mail(
            f"{inviter} invites you to {invitation.team.name} on Orchestrator",
            f"{inviter} invites you to join the team {invitation.team.name} as {invitation.role}.\n\nOpen this link to join: {url}\n\n"
            f"It expires on {invitation.expires_at:%Y-%m-%d %H:%M} UTC.",
            None, [invitation.email],
        )
    except Exception:  # noqa: BLE001 - a mail server that is down must not lose the invitation: the link still works
        return False
    return True


def activity_of(team: Team):
    return Activity.objects.filter(team=team).select_related("actor")
