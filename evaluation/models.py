"""Evaluation data: datasets of test cases, and experiments that run two or
more variants (workflow versions or prompt variants) over a dataset, one trial
per (variant, case, repeat), each trial a real run that is then scored."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from editor.models import Run, Team, Workflow, WorkflowVersion


class Dataset(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    # Optional JSON Schema every case's input must match (checked when cases are added).
    input_schema = models.JSONField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class TestCase(models.Model):
    __test__ = False  # not a pytest class, whatever its name says

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="cases")
    input = models.JSONField(default=dict)  # the run's input
    expected = models.JSONField(null=True, blank=True)  # what a deterministic scorer compares with
    rubric = models.TextField(blank=True, default="")  # what the LLM judge grades against
    tags = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]


class Experiment(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        FINISHED = "finished"
        FAILED = "failed"
        CANCELLED = "cancelled"

    DONE = {Status.FINISHED, Status.FAILED, Status.CANCELLED}

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="experiments")
    name = models.CharField(max_length=200)
    # PROTECT: deleting a dataset must not silently take its results with it.
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="experiments")
    scorer = models.JSONField(default=dict)  # {"type": "exact", ...scorer options}
    repeats = models.PositiveIntegerField(default=1)
    max_parallel = models.PositiveIntegerField(default=4)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The task coordinating it and when that task was last alive: one
    # coordinator at a time, and a dead one's experiment can be taken over.
    coordinator = models.CharField(max_length=64, blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def is_done(self) -> bool:
        return self.status in self.DONE


class Variant(models.Model):
    """One arm: a workflow version, optionally with some nodes' prompts replaced
    (a prompt variant). `graph` is the exact document its runs execute."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="variants")
    label = models.CharField(max_length=40)
    position = models.PositiveIntegerField(default=0)  # 0 is the baseline
    workflow = models.ForeignKey(Workflow, null=True, on_delete=models.SET_NULL, related_name="+")
    version = models.ForeignKey(WorkflowVersion, null=True, on_delete=models.SET_NULL, related_name="+")
    prompt_overrides = models.JSONField(default=dict)  # {node_id: prompt}
    graph = models.JSONField()

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["experiment", "label"], name="unique_variant_label")]


class Trial(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"  # no run yet
        RUNNING = "running"  # its run is in flight
        SCORED = "scored"  # the run finished (succeeded or failed) and was scored
        CANCELLED = "cancelled"

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="trials")
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="trials")
    case = models.ForeignKey(TestCase, on_delete=models.CASCADE, related_name="trials")
    repeat = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    output = models.JSONField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)
    passed = models.BooleanField(null=True)
    detail = models.TextField(blank=True, default="")  # what the scorer saw
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.FloatField(default=0.0)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["repeat", "case_id", "variant__position"]
        constraints = [models.UniqueConstraint(fields=["variant", "case", "repeat"], name="one_trial_per_repeat")]
