"""The product's data: teams, workflows and their immutable versions,
encrypted provider credentials, conversations. Runs and their steps are the
engine's records (engine/models.py); they are re-exported here so that
`from editor.models import Run, Step` keeps working."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Team(models.Model):
    name = models.CharField(max_length=120)
    # Every user has exactly one personal team, created with the user.
    personal_owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="personal_team"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner"  # manages members, edits, runs, deletes
        EDITOR = "editor"  # edits and runs workflows
        VIEWER = "viewer"  # sees workflows and runs

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EDITOR)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team")]


class Invitation(models.Model):
    """A link that lets whoever holds it join a team with a role, once, before it expires."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    token = models.CharField(max_length=64, unique=True)
    role = models.CharField(max_length=10, choices=Membership.Role.choices, default=Membership.Role.EDITOR)
    email = models.EmailField(blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def refusal(self) -> str | None:
        """Why this invitation cannot be used any more, or None while it can."""
        if self.revoked_at is not None:
            return "this invitation was revoked by an owner of the team; ask them for a new link"
        if self.accepted_at is not None:
            return "this invitation was already used; ask an owner of the team for a new link"
        if self.expires_at <= timezone.now():
            return "this invitation has expired; ask an owner of the team for a new link"
        return None


class Activity(models.Model):
    """One thing that happened in a team, written in the same transaction as the change itself."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="activity")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=40)  # e.g. workflow.saved, member.role_changed
    object_type = models.CharField(max_length=20)  # workflow | run | member | invitation | credential | team
    object_id = models.CharField(max_length=64, blank=True, default="")
    summary = models.CharField(max_length=500)

    class Meta:
        ordering = ["-pk"]


class Workflow(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="workflows")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # The template slug this workflow was created from, if any.
    template_slug = models.CharField(max_length=80, blank=True, default="")

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def latest_version(self) -> "WorkflowVersion | None":
        return self.versions.order_by("-number").first()


class WorkflowVersion(models.Model):
    """An immutable format-v1 document. A save with a changed graph adds one."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    graph = models.JSONField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    message = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["workflow", "number"], name="unique_version_number")]


class Conversation(models.Model):
    """A workflow run as a chat: each user message is a run with the history,
    the persisted state and the running summary in scope (`conversation.*`)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="conversations")
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="conversations")
    title = models.CharField(max_length=200, blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    history = models.JSONField(default=list)  # [{"role": "user"|"assistant", "content", "run", "at"}]
    state = models.JSONField(default=dict)
    summary = models.TextField(blank=True, default="")
    turns = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at"]


class Credential(models.Model):
    """A secret a team's workflows use, encrypted at rest and never serialized
    back to a client. Two kinds, because where a secret may go differs:

    - `model`: an OpenAI-compatible provider (base URL, default model). Only the
      model-calling nodes (llm, classify, agent) send it, and only to its own
      base URL.
    - `http`: a key for `http` nodes, sent as `Authorization: Bearer <key>` and
      only to the hosts it names (`allowed_hosts`); a node that would send it
      elsewhere is refused at save and at run."""

    class Kind(models.TextChoices):
        MODEL = "model"
        HTTP = "http"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="credentials")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MODEL)
    base_url = models.URLField(blank=True, default="")
    default_model = models.CharField(max_length=120, blank=True, default="")
    allowed_hosts = models.JSONField(default=list, blank=True)  # http kind: hostnames it may be sent to
    encrypted_api_key = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="unique_credential_name")]

    def set_api_key(self, api_key: str) -> None:
        from .crypto import encrypt

        self.encrypted_api_key = encrypt(api_key)

    def get_api_key(self) -> str:
        from .crypto import decrypt

        return decrypt(bytes(self.encrypted_api_key))


# The engine owns what it executes and records; the editor reads them.
from engine.models import Run, Step  # noqa: E402,F401
