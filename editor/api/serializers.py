from __future__ import annotations

import copy
from typing import Any

from django.db.models import Q
from rest_framework import serializers

from engine import events

from ..models import Conversation, Credential, Run, Step, Team, Workflow, WorkflowVersion


class WorkflowWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    team = serializers.IntegerField(required=False, help_text="Team id; defaults to your personal team.")
    graph = serializers.JSONField(help_text="A format v1 document (orchestrator.workflow/v1).")
    message = serializers.CharField(max_length=500, required=False, allow_blank=True, help_text="Version message.")
    base_version = serializers.IntegerField(
        required=False, help_text="The version this edit started from; a save based on a stale version is refused with 409."
    )
    tags = serializers.JSONField(required=False, help_text='Labels to find it by, e.g. ["support", "prod"]; a tag change adds no version.')

    def validate_tags(self, tags):
        from ..workflow_list import TagError, clean_tags

        try:
            return clean_tags(tags)
        except TagError as exc:
            raise serializers.ValidationError(str(exc)) from None


class VersionSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()

    class Meta:
        model = WorkflowVersion
        fields = ["number", "message", "author", "created_at", "graph"]

    def get_author(self, version: WorkflowVersion) -> str | None:
        return version.author.get_username() if version.author else None


class WorkflowSerializer(serializers.ModelSerializer):
    version = serializers.SerializerMethodField()
    graph = serializers.SerializerMethodField()
    team_name = serializers.CharField(source="team.name", read_only=True)
    last_run = serializers.SerializerMethodField()

    class Meta:
        model = Workflow
        fields = ["id", "name", "description", "tags", "team", "team_name", "version", "published_version", "graph", "template_slug",
                  "created_at", "updated_at", "last_run"]

    published_version = serializers.SerializerMethodField()

    def get_published_version(self, workflow: Workflow) -> int | None:
        """The number of the version every trigger runs, or null when nothing is published."""
        return workflow.published_version.number if workflow.published_version_id else None

    def _latest(self, workflow: Workflow) -> WorkflowVersion | None:
        cache = self.context.setdefault("_latest", {})
        if workflow.pk not in cache:
            cache[workflow.pk] = workflow.latest_version
        return cache[workflow.pk]

    def get_version(self, workflow: Workflow) -> int | None:
        latest = self._latest(workflow)
        return latest.number if latest else None

    def get_graph(self, workflow: Workflow) -> dict[str, Any] | None:
        if self.context.get("omit_graph"):
            return None
        latest = self._latest(workflow)
        return latest.graph if latest else None

    def get_last_run(self, workflow: Workflow) -> dict[str, Any] | None:
        run = workflow.runs.order_by("-created_at").first()
        return {"id": run.pk, "status": run.status, "created_at": run.created_at} if run else None


def usage_of(run: Run) -> dict[str, Any]:
    return {"tokens": run.tokens, "cost_usd": round(run.cost_usd, 6), "steps": run.steps_count}


class StepSerializer(serializers.ModelSerializer):
    usage = serializers.SerializerMethodField()
    reused = serializers.SerializerMethodField()
    reused_from = serializers.SerializerMethodField()
    duration_ms = serializers.SerializerMethodField()
    child_run = serializers.SerializerMethodField()

    class Meta:
        model = Step
        fields = [
            "node_id", "key", "node_type", "status", "ports", "input", "output", "error", "attempts",
            "usage", "model", "demo", "executor", "reused", "reused_from", "answer", "deadline", "started_at", "finished_at", "duration_ms", "seq",
            "child_run",
        ]

    def get_child_run(self, step: Step) -> dict[str, Any] | None:
        """A sub-workflow step's child run, with its steps: the nested view of what it did."""
        if step.node_type != "subworkflow":
            return None
        child = (Run.objects.filter(parent_run_id=step.run_id, parent_node=step.node_id)
                 .filter(Q(parent_key=step.key) | Q(parent_key__startswith=f"{step.key}@")).order_by("-id").first())
        if child is None:
            return None
        return {"id": child.pk, "status": child.status, "workflow": child.workflow_id,
                "steps": StepSerializer(child.steps.all(), many=True).data}

    def get_reused(self, step: Step) -> bool:
        """True when the step did not execute: its output came from the cache, a pin, or the run it re-ran."""
        return bool(step.reused)

    def get_reused_from(self, step: Step) -> str | None:
        """"cache", "pin" or "rerun" for a reused step, else null."""
        return step.reused or None

    def get_usage(self, step: Step) -> dict[str, Any]:
        return {"tokens_in": step.tokens_in, "tokens_out": step.tokens_out, "cost_usd": round(step.cost_usd, 6)}

    def get_duration_ms(self, step: Step) -> float | None:
        if step.started_at and step.finished_at:
            return round((step.finished_at - step.started_at).total_seconds() * 1000, 2)
        return None


class BuiltFieldsOnce:
    """A ModelSerializer whose fields are worked out from the model once per
    class: ModelSerializer.get_fields inspects the model and builds every
    field anew for every serializer, most of the cost of a run's summary
    (each run's WebSocket sends one, a history page a hundred). Each instance
    still gets fields of its own (they are bound to it), made from the
    arguments the first build found; the arguments themselves (choices,
    validators, a relation's queryset, cloned when used) are shared."""

    def get_fields(self):
        cls = type(self)
        built = cls.__dict__.get("_built_fields")
        if built is None:
            built = cls._built_fields = super().get_fields()
        return {name: _fresh(field) for name, field in built.items()}


def _fresh(field):
    # A nested serializer or a to-many relation holds a child field instance
    # among its arguments: that one is deep-copied (DRF's way), not shared.
    from rest_framework.relations import ManyRelatedField

    if isinstance(field, (serializers.BaseSerializer, ManyRelatedField)):
        return copy.deepcopy(field)
    return field.__class__(*field._args, **field._kwargs)


class RunSummarySerializer(BuiltFieldsOnce, serializers.ModelSerializer):
    trigger_id = serializers.SerializerMethodField()
    usage = serializers.SerializerMethodField()
    version = serializers.SerializerMethodField()
    triggered_by = serializers.SerializerMethodField()
    demo = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = [
            "id", "workflow", "version", "status", "input", "output", "error", "usage", "demo",
            "trigger", "trigger_id", "triggered_by", "parent_run", "rerun_of", "from_node", "created_at", "started_at", "finished_at",
        ]

    def get_usage(self, run: Run) -> dict[str, Any]:
        return usage_of(run)

    def get_trigger_id(self, run: Run) -> int | None:
        """The webhook, schedule or MCP trigger that started the run."""
        return run.trigger_ref

    # version_number / triggered_by_username: read in the run's own query by
    # a caller that selected them (the run WebSocket's snapshot).
    def get_version(self, run: Run) -> int | None:
        if hasattr(run, "version_number"):
            return run.version_number
        return run.version.number if run.version_id else None

    def get_triggered_by(self, run: Run) -> str | None:
        if hasattr(run, "triggered_by_username"):
            return run.triggered_by_username
        return run.triggered_by.get_username() if run.triggered_by_id else None

    def get_demo(self, run: Run) -> bool:
        """True when any step was answered by the offline demo model (read in
        the run's own query when the caller annotated `has_demo_step`)."""
        if hasattr(run, "has_demo_step"):
            return bool(run.has_demo_step)  # SQLite's EXISTS is 0 or 1
        return run.steps.filter(demo=True).exists()


class RunSerializer(RunSummarySerializer):
    steps = StepSerializer(many=True, read_only=True)

    class Meta(RunSummarySerializer.Meta):
        fields = RunSummarySerializer.Meta.fields + ["steps"]


class RunCreateSerializer(serializers.Serializer):
    input = serializers.JSONField(required=False, default=dict)
    version = serializers.IntegerField(required=False, help_text="Run this version number instead of the latest.")


class CredentialSerializer(serializers.ModelSerializer):
    api_key = serializers.CharField(write_only=True, help_text="Stored encrypted; never returned.")
    has_key = serializers.SerializerMethodField()
    provider = serializers.SerializerMethodField()
    allowed_hosts = serializers.ListField(
        child=serializers.CharField(max_length=253), required=False,
        help_text="kind http: the hostnames (or *.example.com) an http node may send it to.",
    )

    class Meta:
        model = Credential
        fields = ["id", "team", "name", "kind", "provider", "base_url", "default_model", "allowed_hosts", "api_key", "has_key",
                  "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        # Uniqueness is checked in the view after membership, so an outsider
        # cannot probe another team's credential names.
        validators: list = []

    def validate_team(self, team):
        request = self.context["request"]
        from ..access import teams_of

        if self.instance is not None and team.pk != self.instance.team_id:
            raise serializers.ValidationError("a credential stays in its team; add a new one in the other team")
        if not teams_of(request.user).filter(pk=team.pk).exists():
            raise serializers.ValidationError(f"you are not a member of team {team.pk}")
        return team

    def validate_allowed_hosts(self, hosts: list[str]) -> list[str]:
        from ..credentials import normalize_host

        return [normalize_host(h) for h in hosts]

    def validate(self, data):
        kind = data.get("kind", self.instance.kind if self.instance else Credential.Kind.MODEL)
        if self.instance is not None and "kind" in data and data["kind"] != self.instance.kind:
            raise serializers.ValidationError({"kind": ["the kind of a credential cannot change; add a new one"]})
        if self.instance is not None and "name" in data and data["name"] != self.instance.name:
            raise serializers.ValidationError({"name": ["nodes name credentials by name, so it cannot change; add a new one and delete this one"]})
        hosts = data.get("allowed_hosts", self.instance.allowed_hosts if self.instance else [])
        if kind == Credential.Kind.HTTP:
            if not hosts:
                raise serializers.ValidationError({"allowed_hosts": ["an http credential names the hosts it may be sent to, e.g. [\"api.github.com\"]"]})
            for key in ("base_url", "default_model"):
                if data.get(key):
                    raise serializers.ValidationError({key: ["only model credentials have one; an http credential has allowed_hosts"]})
        elif hosts:
            raise serializers.ValidationError({"allowed_hosts": ["a model credential is sent only to its base_url; allowed_hosts is for kind http"]})
        return data

    def get_has_key(self, credential: Credential) -> bool:
        return bool(credential.encrypted_api_key)

    def get_provider(self, credential: Credential) -> str:
        from ..credentials import provider_of

        return provider_of(credential)


def step_as_event(step: Step) -> dict[str, Any]:
    """A recorded step as the event that would have announced it."""
    base = {"node": step.node_id, "key": step.key}
    if step.status == Step.Status.SUCCEEDED:
        return events.event(
            events.STEP_FINISHED, step.run_id, **base, node_type=step.node_type, status="succeeded", input=step.input,
            output=step.output, ports=step.ports,
            usage={"tokens_in": step.tokens_in, "tokens_out": step.tokens_out, "cost_usd": step.cost_usd},
            model=step.model, demo=step.demo, attempts=step.attempts, reused=step.reused or None,
            duration_ms=StepSerializer().get_duration_ms(step),
        )
    if step.status == Step.Status.FAILED:
        return events.event(events.STEP_FAILED, step.run_id, **base, error=step.error, attempts=step.attempts)
    if step.status == Step.Status.SKIPPED:
        return events.event(events.STEP_SKIPPED, step.run_id, **base)
    if step.status == Step.Status.CANCELLED:
        return events.event(events.STEP_CANCELLED, step.run_id, **base)
    return events.event(events.STEP_STARTED, step.run_id, **base, node_type=step.node_type, input=step.input, attempt=step.attempts)


class ConversationSerializer(serializers.ModelSerializer):
    last_run = serializers.SerializerMethodField()

    class Meta:
        model = Conversation
        fields = ["id", "team", "workflow", "title", "history", "state", "summary", "turns", "last_run", "created_at", "updated_at"]

    def get_last_run(self, conversation: Conversation) -> dict[str, Any] | None:
        run = conversation.runs.order_by("-created_at").first()
        return {"id": run.pk, "status": run.status} if run else None
