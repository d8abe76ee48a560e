"""The product's data: teams, workflows and their immutable versions, runs and
their steps, encrypted provider credentials."""
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


class Run(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        WAITING = "waiting"  # parked until a person answers a human step
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    FINISHED = {Status.SUCCEEDED, Status.FAILED, Status.CANCELLED}

    workflow = models.ForeignKey(Workflow, null=True, blank=True, on_delete=models.CASCADE, related_name="runs")
    version = models.ForeignKey(WorkflowVersion, null=True, blank=True, on_delete=models.CASCADE, related_name="runs")
    # Headless runs (manage.py runworkflow FILE.json) have no saved workflow; the graph is kept here.
    graph = models.JSONField()
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="runs")
    input = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    output = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)  # {"message", "node"?, "reason"}
    triggered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    trigger = models.CharField(max_length=20, default="api")  # api | ui | cli
    tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.FloatField(default=0.0)
    steps_count = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    # A sub-workflow's run: the parent run and the step that started it.
    parent_run = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="child_runs")
    parent_node = models.CharField(max_length=120, blank=True, default="")
    parent_key = models.CharField(max_length=400, blank=True, default="")
    depth = models.PositiveSmallIntegerField(default=0)
    conversation = models.ForeignKey(Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="runs")
    parked_at = models.DateTimeField(null=True, blank=True)  # since when it waits for a person
    parked_s = models.FloatField(default=0.0)  # time spent waiting for people, not counted against timeout_s
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class Step(models.Model):
    """One activation of one node: (run, node_id, key) is unique, which is what
    makes a step's effect recorded exactly once even when it executes twice."""

    class Status(models.TextChoices):
        RUNNING = "running"
        WAITING = "waiting"  # a human step waiting for its answer
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        SKIPPED = "skipped"
        CANCELLED = "cancelled"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    node_id = models.CharField(max_length=120)
    # Activation key: the fan-out path and the node's activation number, e.g.
    # "fan[3]/review#2" = the 2nd activation of `review` for item 3 of `fan`.
    key = models.CharField(max_length=400)
    # Order in which the engine recorded the step; the scheduler replays by it.
    seq = models.PositiveIntegerField(default=0)
    node_type = models.CharField(max_length=40)
    status = models.CharField(max_length=10, choices=Status.choices)
    ports = models.JSONField(default=list)  # the outgoing ports taken
    input = models.JSONField(null=True, blank=True)  # rendered config
    output = models.JSONField(null=True, blank=True)
    set_vars = models.JSONField(null=True, blank=True)  # vars.<name> this step set
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    cost_usd = models.FloatField(default=0.0)
    model = models.CharField(max_length=120, blank=True, default="")
    demo = models.BooleanField(default=False)  # answered by the offline demo model
    executor = models.CharField(max_length=200, blank=True, default="")  # which worker executed it
    cache_key = models.CharField(max_length=64, blank=True, default="", db_index=True)  # for nodes with `cache: true`
    reused = models.CharField(max_length=10, blank=True, default="")  # "cache" or "pin": not executed, output reused
    answer = models.JSONField(null=True, blank=True)  # a person's answer to a human step: {decision, answer, by, at, comment}
    deadline = models.DateTimeField(null=True, blank=True)  # a human step's timeout
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["seq", "id"]
        constraints = [models.UniqueConstraint(fields=["run", "node_id", "key"], name="one_step_per_activation")]


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
