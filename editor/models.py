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
    # The live version: every trigger (webhook, schedule, MCP) runs this one,
    # never the draft, so a save changes nothing in production until published.
    published_version = models.ForeignKey("WorkflowVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Labels to find it by on the workflow list ("support", "prod"): short,
    # lower-case, unique, in the order given (editor/workflow_list.py checks
    # them). Not part of the graph: a tag change adds no version.
    tags = models.JSONField(default=list, blank=True)

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


class Trigger(models.Model):
    """A way for the outside world to start runs of a workflow's published
    version: a webhook URL, a schedule, or an MCP tool. `config` holds the
    type's settings (see editor/triggers.py); secrets live in their own
    encrypted column and are never serialized back."""

    class Type(models.TextChoices):
        WEBHOOK = "webhook"
        SCHEDULE = "schedule"
        MCP = "mcp"

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="triggers")
    type = models.CharField(max_length=10, choices=Type.choices)
    enabled = models.BooleanField(default=True)
    config = models.JSONField(default=dict)
    # Webhooks: the URL's token (the credential; unique, unguessable) and the signing secret.
    token = models.CharField(max_length=64, null=True, blank=True, unique=True)
    encrypted_secret = models.BinaryField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def set_secret(self, secret: str | None) -> None:
        from .crypto import encrypt

        self.encrypted_secret = encrypt(secret) if secret else None

    def get_secret(self) -> str | None:
        from .crypto import decrypt

        return decrypt(bytes(self.encrypted_secret)) if self.encrypted_secret else None


class TriggerFire(models.Model):
    """One firing of a trigger, claimed by a unique (trigger, key): a schedule's
    tick ("tick:<ISO time>") or a webhook's Idempotency-Key ("idem:<key>").
    Whoever inserts the row starts the run; everyone else sees it exists —
    which is what makes a tick fire once however many beat or worker
    processes race for it, and a retried webhook call start no second run."""

    trigger = models.ForeignKey(Trigger, on_delete=models.CASCADE, related_name="fires")
    key = models.CharField(max_length=300)
    run_id_ref = models.BigIntegerField(null=True, blank=True)  # the run it started (a plain id: runs belong to the engine)
    error = models.TextField(blank=True, default="")  # why no run started (e.g. nothing published)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["trigger", "key"], name="one_fire_per_key")]


class ToolServer(models.Model):
    """A team's MCP server (streamable HTTP only) whose tools agent nodes may
    call as "mcp:<name>/<tool>". Headers (e.g. Authorization) are encrypted
    like credentials and never serialized back."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="tool_servers")
    name = models.CharField(max_length=60)
    url = models.URLField(max_length=500)
    encrypted_headers = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="unique_tool_server_name")]

    def set_headers(self, headers: dict[str, str] | None) -> None:
        import json

        from .crypto import encrypt

        self.encrypted_headers = encrypt(json.dumps(headers)) if headers else None

    def get_headers(self) -> dict[str, str]:
        import json

        from .crypto import decrypt

        return json.loads(decrypt(bytes(self.encrypted_headers))) if self.encrypted_headers else {}


# The engine owns what it executes and records; the editor reads them.
from engine.models import Run, Step  # noqa: E402,F401
