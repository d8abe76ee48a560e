"""What the engine executes and records: runs and their steps.

The tables keep the names they had when these models lived in the editor
(`editor_run`, `editor_step`): the move was a change of ownership in Django's
state only (SeparateDatabaseAndState in both apps), no data moved.

A run still points at the product's objects (workflow, version, team,
conversation) through foreign keys named by string ("editor.Workflow"), not
through plain ids. Why: those keys carry behaviour users rely on — deleting a
workflow or a team deletes its runs (ON DELETE CASCADE), and the editor's
access checks and run lists join through them (`run__team__memberships`).
Plain ids would need a schema migration that drops constraints on PostgreSQL
and a rewrite of every such query, for no gain in what the engine's *code*
depends on: the engine reads only the `*_id` columns and never imports an
editor model (the import-linter contract in .importlinter holds it to that).
The remaining coupling is at the level of Django apps: the engine app needs
the editor app installed, which every deployment of this project has."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Run(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        WAITING = "waiting"  # parked until a person answers a human step
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    FINISHED = {Status.SUCCEEDED, Status.FAILED, Status.CANCELLED}

    workflow = models.ForeignKey("editor.Workflow", null=True, blank=True, on_delete=models.CASCADE, related_name="runs")
    version = models.ForeignKey("editor.WorkflowVersion", null=True, blank=True, on_delete=models.CASCADE, related_name="runs")
    # Headless runs (manage.py runworkflow FILE.json) have no saved workflow; the graph is kept here.
    graph = models.JSONField()
    team = models.ForeignKey("editor.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="runs")
    input = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    output = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)  # {"message", "node"?, "reason"}
    triggered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    trigger = models.CharField(max_length=20, default="api", db_index=True)  # manual | api | cli | webhook | schedule | mcp | …
    # The id of the product's trigger (webhook, schedule, MCP) that started the run, if one did.
    trigger_ref = models.BigIntegerField(null=True, blank=True)
    tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.FloatField(default=0.0)
    steps_count = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    # A sub-workflow's run: the parent run and the step that started it.
    parent_run = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="child_runs")
    parent_node = models.CharField(max_length=120, blank=True, default="")
    parent_key = models.CharField(max_length=400, blank=True, default="")
    depth = models.PositiveSmallIntegerField(default=0)
    conversation = models.ForeignKey("editor.Conversation", null=True, blank=True, on_delete=models.CASCADE, related_name="runs")
    # A re-run from a node: the run it re-ran and the node it re-ran from (its upstream steps were reused).
    rerun_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reruns")
    from_node = models.CharField(max_length=120, blank=True, default="")
    # Who advances the run, fenced in the database (see engine/runner.py Lease):
    # `owner` is the holder's token, `epoch` counts takeovers, `lease_until`
    # is when a silent holder loses it. Every write an owner makes for the
    # run is conditional on `owner` still being its token.
    owner = models.CharField(max_length=200, blank=True, default="")
    epoch = models.PositiveIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    # The last event number the run's owner has published: where numbering
    # continues if Redis loses the run's event counter.
    event_seq = models.PositiveIntegerField(default=0)
    # When a message to advance the run was last sent: the sweeper sends a
    # queued run again when that is older than ENGINE_QUEUED_GRACE_S.
    dispatched_at = models.DateTimeField(default=timezone.now)
    parked_at = models.DateTimeField(null=True, blank=True)  # since when it waits for a person
    parked_s = models.FloatField(default=0.0)  # time spent waiting for people, not counted against timeout_s
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "editor_run"
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
    reused = models.CharField(max_length=10, blank=True, default="")  # "cache", "pin" or "rerun": not executed, output reused
    answer = models.JSONField(null=True, blank=True)  # a person's answer to a human step: {decision, answer, by, at, comment}
    deadline = models.DateTimeField(null=True, blank=True)  # a human step's timeout
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "editor_step"
        ordering = ["seq", "id"]
        constraints = [models.UniqueConstraint(fields=["run", "node_id", "key"], name="one_step_per_activation")]


class RunEvent(models.Model):
    """One published event of a run, numbered: the run's event log.

    The database numbers events (`Run.event_seq` is the counter, raised in
    the transaction that stores them), so numbering never restarts, repeats
    or skips, whatever Redis loses; a client reconnecting with `?after=N` is
    served from here. Redis carries only the live fan-out (and a copy of the
    log's tail for cheap watchers, editor/hooks.py). Token deltas are stored
    too, coalesced (one row per step per STREAM_COALESCE_MS window), so
    numbers have no holes and a reconnecting client rebuilds the same text.
    Rows of runs finished longer than ENGINE_EVENT_LOG_KEEP_S ago are pruned
    by the sweeper; a finished run with no rows is shown from its steps."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events", db_index=False)  # (run, seq) is indexed by the constraint
    seq = models.PositiveIntegerField()
    data = models.TextField()  # the event as JSON, its seq included: sent to clients as it is stored

    class Meta:
        db_table = "engine_run_event"
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="one_event_per_seq")]


class Chunk(models.Model):
    """A share of a run's network steps (a wide fan-out's calls) sent to other
    workers, and who runs it: claimed by a compare-and-set on `claimed_by`
    (a worker, or the run's owner taking it back), so exactly one runs it.
    Its runner stamps `beat_at` while alive and `progress_at` each time it
    stores results; the owner takes back a chunk whose runner stopped beating
    (it died) or stopped delivering although it beats (it is stuck). In the
    database, not Redis: a FLUSHALL must not make the owner think a chunk
    was never started and run its model calls a second time."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="chunks", db_index=False)
    name = models.CharField(max_length=32)
    claimed_by = models.CharField(max_length=200, blank=True, default="")
    beat_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "engine_chunk"
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="one_chunk_per_name")]


class StepResult(models.Model):
    """The result of a step a remote worker executed for a run's owner, stored
    before it counts as delivered (the Redis list that also carries it is a
    wake-up): the owner lands it from here if Redis lost it, and a new owner
    after a crash lands it instead of calling the model again. Deleted when
    the run ends; the owner's Step row is the record."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+", db_index=False)
    node_id = models.CharField(max_length=120)
    key = models.CharField(max_length=400)
    payload = models.TextField()  # engine.execution.result_payload, as JSON

    class Meta:
        db_table = "engine_step_result"
        constraints = [models.UniqueConstraint(fields=["run", "node_id", "key"], name="one_result_per_activation")]
