"""/api/teams/: teams, their members, invitations and activity.

Any member sees a team, its members and its activity; only owners change
anything (403 for editors and viewers, naming an owner to ask). A team the
caller is not in is a 404, like every other object."""
from __future__ import annotations

from django.db.models import Count, OuterRef, Subquery
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action, api_view
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from .. import access, services, teams
from ..models import Activity, Invitation, Membership, Team

OWNER = Membership.Role.OWNER


class TeamSerializer(serializers.ModelSerializer):
    personal = serializers.SerializerMethodField()
    role = serializers.CharField(source="my_role", read_only=True)
    members = serializers.IntegerField(source="member_count", read_only=True)

    class Meta:
        model = Team
        fields = ["id", "name", "personal", "role", "members", "created_at"]

    def get_personal(self, team: Team) -> bool:
        return team.personal_owner_id is not None


class MemberSerializer(serializers.ModelSerializer):
    user = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ["user", "role", "joined_at"]

    def get_user(self, membership: Membership) -> dict:
        return {"id": membership.user_id, "username": membership.user.get_username()}


class InvitationSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = Invitation
        fields = ["id", "token", "url", "role", "email", "expires_at", "created_by", "created_at"]

    def get_url(self, invitation: Invitation) -> str:
        return invitation_url(self.context["request"], invitation.token)

    def get_created_by(self, invitation: Invitation) -> str | None:
        return invitation.created_by.get_username() if invitation.created_by_id else None


class ActivitySerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = Activity
        fields = ["id", "at", "actor", "action", "object_type", "object_id", "summary"]

    def get_actor(self, entry: Activity) -> str | None:
        return entry.actor.get_username() if entry.actor_id else None


def invitation_url(request, token: str) -> str:
    return request.build_absolute_uri(f"/invite/{token}/")


def owners_to_ask(team_id: int) -> str:
    names = list(Membership.objects.filter(team_id=team_id, role=OWNER).order_by("joined_at").values_list("user__username", flat=True)[:3])
    return " or ".join(names) or "an owner"


def _require_owner(request, team: Team, doing: str) -> None:
    if team.my_role != OWNER:
        raise PermissionDenied(f"only an owner of {team.name} can {doing}; ask {owners_to_ask(team.pk)}")


def _body(request) -> dict:
    if not isinstance(request.data, dict):
        raise serializers.ValidationError("the request body must be a JSON object")
    return request.data


def _fail(exc: services.ServiceError) -> Response:
    return Response({"error": exc.message, **exc.extra}, status=exc.status)


class TeamViewSet(viewsets.ViewSet):
    lookup_value_regex = r"\d+"

    def _teams(self, request):
        # A subquery: counting the join that found the caller's membership would count only theirs.
        count = Membership.objects.filter(team=OuterRef("pk")).values("team").annotate(n=Count("pk")).values("n")
        return access.teams_with_role(request.user).annotate(member_count=Subquery(count))

    def _get(self, request, pk) -> Team:
        return get_object_or_404(access.teams_with_role(request.user), pk=pk)

    def _one(self, request, pk, code=status.HTTP_200_OK) -> Response:
        return Response(TeamSerializer(get_object_or_404(self._teams(request), pk=pk)).data, status=code)

    @extend_schema(responses=TeamSerializer(many=True))
    def list(self, request):
        return Response(TeamSerializer(self._teams(request).order_by("-personal_owner", "name", "id"), many=True).data)

    @extend_schema(responses=TeamSerializer)
    def retrieve(self, request, pk=None):
        return self._one(request, pk)

    @extend_schema(request={"application/json": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}},
                   responses={201: TeamSerializer})
    def create(self, request):
        """Create a shared team; you are its owner."""
        try:
            team = teams.create_team(user=request.user, name=_body(request).get("name"))
        except services.ServiceError as exc:
            return _fail(exc)
        return self._one(request, team.pk, status.HTTP_201_CREATED)

    @extend_schema(request={"application/json": {"type": "object", "properties": {"name": {"type": "string"}}}}, responses=TeamSerializer)
    def partial_update(self, request, pk=None):
        """Rename (owners)."""
        team = self._get(request, pk)
        _require_owner(request, team, "rename it")
        body = _body(request)
        unknown = sorted(set(body) - {"name"})
        if unknown:
            return Response({"error": f"{unknown[0]}: unknown field; a team has only a name to change"}, status=400)
        try:
            if "name" in body:
                teams.rename_team(team, user=request.user, name=body["name"])
        except services.ServiceError as exc:
            return _fail(exc)
        return self._one(request, team.pk)

    update = partial_update

    @extend_schema(responses={204: None, 409: OpenApiResponse(description="personal, or it still holds workflows, runs or credentials")})
    def destroy(self, request, pk=None):
        """Delete an empty team (owners): refused with 409 while it holds workflows, runs, credentials or datasets."""
        team = self._get(request, pk)
        _require_owner(request, team, "delete it")
        try:
            teams.delete_team(team)
        except services.ServiceError as exc:
            return _fail(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)

    # ------------------------------------------------------------- members

    @extend_schema(methods=["GET"], responses=MemberSerializer(many=True))
    @extend_schema(methods=["POST"], request={"application/json": {"type": "object", "properties": {
        "username": {"type": "string"}, "role": {"enum": Membership.Role.values}}, "required": ["username", "role"]}},
        responses={201: MemberSerializer})
    @action(detail=True, methods=["get", "post"])
    def members(self, request, pk=None):
        team = self._get(request, pk)
        if request.method == "GET":
            return Response(MemberSerializer(team.memberships.select_related("user").order_by("joined_at", "id"), many=True).data)
        _require_owner(request, team, "add members")
        body = _body(request)
        try:
            membership = teams.add_member(team, user=request.user, username=body.get("username"), role=body.get("role", "editor"))
        except services.ServiceError as exc:
            return _fail(exc)
        return Response(MemberSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["PATCH"], request={"application/json": {"type": "object", "properties": {"role": {"enum": Membership.Role.values}}}},
                   responses=MemberSerializer)
    @extend_schema(methods=["DELETE"], responses={204: None})
    @action(detail=True, methods=["patch", "delete"], url_path=r"members/(?P<user_id>\d+)")
    def member(self, request, pk=None, user_id=None):
        """Change a member's role (owners); remove a member (owners, or the member themself: leaving)."""
        team = self._get(request, pk)
        membership = get_object_or_404(team.memberships.select_related("user", "team"), user_id=user_id)
        try:
            if request.method == "PATCH":
                _require_owner(request, team, "change roles")
                membership = teams.change_role(membership, user=request.user, role=_body(request).get("role"))
                return Response(MemberSerializer(membership).data)
            if membership.user_id != request.user.pk:
                _require_owner(request, team, "remove members (you can leave it yourself)")
            teams.remove_member(membership, user=request.user)
        except services.ServiceError as exc:
            return _fail(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)

    # ------------------------------------------------------------- invitations

    @extend_schema(methods=["GET"], responses=InvitationSerializer(many=True))
    @extend_schema(methods=["POST"], request={"application/json": {"type": "object", "properties": {
        "role": {"enum": Membership.Role.values}, "email": {"type": "string"}}, "required": ["role"]}},
        responses={201: InvitationSerializer})
    @action(detail=True, methods=["get", "post"])
    def invitations(self, request, pk=None):
        """Pending invitations (owners); make one: a link to send, valid once for INVITATION_TTL_DAYS."""
        team = self._get(request, pk)
        _require_owner(request, team, "see or make invitations")
        if request.method == "GET":
            from django.utils import timezone

            pending = team.invitations.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())
            return Response(InvitationSerializer(pending.select_related("created_by"), many=True, context={"request": request}).data)
        body = _body(request)
        try:
            invitation = teams.invite(team, user=request.user, role=body.get("role", "editor"), email=body.get("email") or "")
        except services.ServiceError as exc:
            return _fail(exc)
        data = InvitationSerializer(invitation, context={"request": request}).data
        data["mailed"] = teams.send_invitation_mail(invitation, data["url"])
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"invitations/(?P<invitation_id>\d+)")
    def invitation(self, request, pk=None, invitation_id=None):
        """Revoke an invitation (owners): its link stops working (410)."""
        team = self._get(request, pk)
        _require_owner(request, team, "revoke invitations")
        invitation = get_object_or_404(team.invitations, pk=invitation_id)
        try:
            teams.revoke(invitation, user=request.user)
        except services.ServiceError as exc:
            return _fail(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)

    # ------------------------------------------------------------- activity

    @extend_schema(parameters=[OpenApiParameter("limit", int, description="entries per page, 1–500 (default 100)"),
                               OpenApiParameter("before", int, description="only entries older than this id: the `X-Next-Before` header")],
                   responses=ActivitySerializer(many=True))
    @action(detail=True, methods=["get"])
    def activity(self, request, pk=None):
        """What happened in the team, newest first, paged like runs (`?limit`, `?before`, `X-Next-Before`)."""
        from .views import _int_param

        team = self._get(request, pk)
        limit = _int_param(request.query_params, "limit", 100, 1, 500)
        before = _int_param(request.query_params, "before", None, 1, None)
        entries = teams.activity_of(team)
        if before is not None:
            entries = entries.filter(pk__lt=before)
        page = list(entries.order_by("-pk")[: limit + 1])
        response = Response(ActivitySerializer(page[:limit], many=True).data)
        if len(page) > limit:
            response["X-Next-Before"] = str(page[limit - 1].pk)
        return response


@extend_schema(request=None, responses={200: OpenApiResponse(description='{"team", "role"}'),
                                        410: OpenApiResponse(description="expired, revoked or already used")})
@api_view(["POST"])
def accept_invitation(request, token: str):
    """Join the team of an invitation with its role."""
    try:
        membership = teams.accept(token, user=request.user)
    except services.ServiceError as exc:
        return _fail(exc)
    return Response({"team": membership.team_id, "team_name": membership.team.name, "role": membership.role})
