"""Durable records of a run and its steps. The runner's thread is the only
writer for a run (it holds the run's lease), so steps are numbered in the
order the scheduler saw them finish — the order replay feeds them back."""
from __future__ import annotations

import json
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from . import runsql
from .models import Run, Step


# What a finished network step overwrites in the row written when it started.
FINISHED_FIELDS = ("node_type", "status", "input", "output", "ports", "set_vars", "error", "attempts", "tokens_in", "tokens_out",
                   "cost_usd", "model", "demo", "started_at", "finished_at", "seq", "executor", "cache_key", "reused")


def _upsert(rows: list[dict[str, Any]], update: tuple[str, ...]) -> None:
    """Write step rows (dicts of field values, the rest defaulted) in one
    statement run for many rows: a new activation is inserted; an existing one
    is left alone, or has the `update` columns overwritten. What
    `bulk_create(..., update_conflicts=True)` does, without building a model
    instance per row and the SQL per row and field, which cost a fan-out of a
    hundred steps 30 ms a write. SQLite and PostgreSQL share this ON CONFLICT."""
    if not rows:
        return
    from django.db import connections

    connection = connections["default"]
    quote = connection.ops.quote_name
    fields = [f for f in Step._meta.concrete_fields if not f.primary_key]
    defaults = {f.attname: f.get_default() for f in fields}
    columns = ", ".join(quote(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    target = ", ".join(quote(c) for c in ("run_id", "node_id", "key"))
    if update:
        column_of = {f.name: f.column for f in fields}
        action = "DO UPDATE SET " + ", ".join(f"{quote(column_of[n])} = excluded.{quote(column_of[n])}" for n in update)
    else:
        action = "DO NOTHING"
    sql = f"INSERT INTO {Step._meta.db_table} ({columns}) VALUES ({placeholders}) ON CONFLICT ({target}) {action}"
    prepared = [(f.attname, defaults[f.attname], runsql.preparer(f)) for f in fields]
    params = [[value if prepare is None else prepare(value)
               for name, default, prepare in prepared for value in (row.get(name, default),)] for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


class Recorder:
    """Finished quick steps are buffered and written in bulk at `flush()`,
    which the runner calls before it waits on anything, before a step with
    outside effects starts, and at the end: a crash loses only unflushed
    steps, which replay then runs again — executed at least once, recorded
    exactly once."""

    def __init__(self, run: Run, lease=None):
        self.run = run
        self.lease = lease  # the runner's Lease: every write below is conditional on still holding it
        self.seq: int | None = None  # the last step number; read with the steps, at the first need
        self._buffer: list[dict[str, Any]] = []  # new rows: quick steps, skips
        self._finished: list[dict[str, Any]] = []  # rows of started network steps, now finished
        # Whether a step row of this run may be `running` (left by an owner before, or
        # started here): only then does the run's end look for such rows to close.
        self.may_have_running = run.status != Run.Status.QUEUED

    def flush(self) -> None:
        if not (self._buffer or self._finished):
            return
        with transaction.atomic():
            # Fenced: the run's row is updated first, on condition that this
            # worker still owns it (which also renews the lease). On PostgreSQL
            # that row stays locked to the end of the transaction, so no
            # takeover can slip in between the check and the step rows; on
            # SQLite the transaction holds the database's write lock.
            self._fence()
            self._write_buffered()

    def _write_buffered(self) -> None:
        """The buffered step rows, in a transaction the caller has fenced."""
        _upsert(self._buffer, update=())
        _upsert(self._finished, update=FINISHED_FIELDS)
        self._buffer, self._finished = [], []

    def _fence(self, **also: Any) -> None:
        """Renew the lease and write `also` to the run, or raise OwnershipLost."""
        from .runner import OwnershipLost

        values = dict(also)
        if self.lease is None:
            if values:
                runsql.update(self.run.pk, values)
            return
        values.setdefault("lease_until", self.lease.expiry())
        if not self.lease.write(**values):
            raise OwnershipLost(f"run {self.run.pk}: lease lost")
        if values.get("owner") == "":
            # The run ended or parked with this write: once it commits, no lease is left to release.
            transaction.on_commit(self.lease.let_go)

    @staticmethod
    def close_running_steps(run_id: int, reason: str) -> None:
        """A run that ends leaves no step `running` (one whose result never came: cancelled)."""
        Step.objects.filter(run_id=run_id, status__in=[Step.Status.RUNNING]).update(
            status=Step.Status.CANCELLED, error=reason, finished_at=timezone.now())

    @property
    def buffered(self) -> int:
        return len(self._buffer) + len(self._finished)

    def _next_seq(self) -> int:
        if self.seq is None:
            self.seq = self.run.steps.aggregate(m=Max("seq"))["m"] or 0
        self.seq += 1
        return self.seq

    def succeeded_steps(self) -> list[dict[str, Any]]:
        """The run's succeeded steps in the order they finished (what replay
        needs), with the failed steps of fan-out items (a run still going
        after one was tolerated by its fan-out's `on_item_error`) marked
        `"failed": True`; one query, which also gives the last step number.
        A run still queued has no steps unless it is a re-run (its reused
        steps are written with it): no query for it."""
        if self.run.status == Run.Status.QUEUED and not self.run.from_node:
            self.seq = 0
            return []
        rows = list(self.run.steps.values("status", "seq", "node_id", "key", "output", "ports", "set_vars", "tokens_in", "tokens_out",
                                          "cost_usd", "error"))
        self.seq = max((row["seq"] for row in rows), default=0)
        kept = sorted((row for row in rows if row["status"] == Step.Status.SUCCEEDED
                       or (row["status"] == Step.Status.FAILED and "/" in row["key"])), key=lambda row: row["seq"])
        return [{**{k: v for k, v in row.items() if k not in ("status", "seq", "error")},
                 **({"failed": True, "error": row["error"]} if row["status"] == Step.Status.FAILED else {})} for row in kept]

    def mark_running(self) -> bool:
        """The run as it was read under the lease goes on running: from the
        queue, or back from waiting for a person (that time not counted).
        False if it changed meanwhile (cancelled while queued or waiting)."""
        now = timezone.now()
        owner = self.lease.token if self.lease is not None else None
        if self.run.status == Run.Status.QUEUED:
            changed = runsql.update(self.run.pk, {"status": Run.Status.RUNNING, "started_at": now}, owner=owner,
                                    also_where={"status": Run.Status.QUEUED})
            self.run.started_at = now
        else:
            waited = (now - self.run.parked_at).total_seconds() if self.run.parked_at else 0.0
            self.run.parked_s += waited
            changed = runsql.update(self.run.pk, {"status": Run.Status.RUNNING, "parked_at": None, "parked_s": self.run.parked_s},
                                    owner=owner, also_where={"status": Run.Status.WAITING})
            self.run.parked_at = None
        self.run.status = Run.Status.RUNNING
        return bool(changed)

    def steps_started(self, started: list[tuple[str, str, str, Any, Any]], *, flush: bool = False) -> None:
        """Rows for network steps as they start, so a crash shows them interrupted
        (a row left by a crashed owner is taken over: same activation, attempt 1 again).
        With `flush`, the buffered steps that led here are written first in the
        same fenced transaction (one commit per phase of a run instead of two)."""
        with transaction.atomic():
            self._fence()
            if flush:
                self._write_buffered()
            self._steps_started(started)

    def _steps_started(self, started: list[tuple[str, str, str, Any, Any]]) -> None:
        self.may_have_running = True
        _upsert([dict(run_id=self.run.pk, node_id=node, key=key, node_type=node_type, status=Step.Status.RUNNING, input=rendered, attempts=1,
                      started_at=started_at, seq=0) for node, key, node_type, rendered, started_at in started],
                update=("status", "input", "attempts", "started_at"))

    def step_finished(self, *, node: str, key: str, node_type: str, status: str, rendered: Any, output: Any, ports, set_vars,
                      error: str, attempts: int, usage, model: str, demo: bool, started_at, finished_at, existing: bool,
                      executor: str = "", cache_key: str = "", reused: str = "") -> None:
        values = dict(
            node_type=node_type,
            status=status,
            input=rendered,
            output=output,
            ports=ports,
            set_vars=set_vars,
            error=error,
            attempts=attempts,
            tokens_in=usage.tokens_in,
            tokens_out=usage.tokens_out,
            cost_usd=usage.cost_usd,
            model=model,
            demo=demo,
            started_at=started_at,
            finished_at=finished_at,
            seq=self._next_seq(),
            executor=executor,
            cache_key=cache_key,
            reused=reused,
        )
        step = dict(run_id=self.run.pk, node_id=node, key=key, **values)
        (self._finished if existing else self._buffer).append(step)

    def steps_skipped(self, skipped: list[tuple[str, str, str]]) -> None:
        if not skipped:
            return
        now = timezone.now()
        self._buffer += [
            dict(run_id=self.run.pk, node_id=n, key=k, node_type=t, status=Step.Status.SKIPPED, started_at=now, finished_at=now, seq=self._next_seq())
            for n, k, t in skipped
        ]

    def cached_step(self, cache_key: str) -> Step | None:
        """The latest identical step of the same team, to reuse instead of executing."""
        return (Step.objects.filter(cache_key=cache_key, status=Step.Status.SUCCEEDED, run__team_id=self.run.team_id, reused="")
                .order_by("-id").first())

    def conversation_scope(self) -> dict[str, Any]:
        """`conversation` in templates, for a run that is a chat turn."""
        from engine.templating import Scope

        from .product import product

        conversation = product().conversation(self.run.conversation_id) if self.run.conversation_id else None
        if conversation is None:
            return {}
        history = [{"role": m["role"], "content": m["content"]} for m in conversation["history"]]
        return {"conversation": Scope("conversation", {
            "history": history, "state": conversation["state"], "summary": conversation["summary"], "turn": conversation["turns"] + 1,
            # About four characters a token: enough to decide when to summarise.
            "history_tokens": sum(len(str(m["content"])) for m in history) // 4,
        })}

    def conversation_turn(self, output: Any, updating_nodes: list[str]) -> dict[str, Any] | None:
        """What a chat turn that succeeded adds to its conversation (the message,
        the reply, what its steps remembered): written by `finish`, in the
        transaction that ends the run under the lease — never by an owner that
        lost the run, and never twice."""
        if self.run.conversation_id is None:
            return None
        self.flush()
        reply = output.get("reply") if isinstance(output, dict) and "reply" in output else output
        updates = list(self.run.steps.filter(node_id__in=updating_nodes, status=Step.Status.SUCCEEDED).order_by("seq")
                       .values_list("output", flat=True))
        return {"conversation_id": self.run.conversation_id, "run_id": self.run.pk, "message": (self.run.input or {}).get("message", ""),
                "reply": reply, "updates": [u for u in updates if isinstance(u, dict)]}

    def find_step(self, node: str, key: str) -> Step | None:
        return Step.objects.filter(run=self.run, node_id=node, key=key).first()

    def step_waiting(self, *, node: str, key: str, node_type: str, rendered: Any, started_at, deadline) -> None:
        with transaction.atomic():
            self._fence()
            self._step_waiting(node=node, key=key, node_type=node_type, rendered=rendered, started_at=started_at, deadline=deadline)

    def _step_waiting(self, *, node: str, key: str, node_type: str, rendered: Any, started_at, deadline) -> None:
        Step.objects.update_or_create(
            run=self.run, node_id=node, key=key,
            defaults={"node_type": node_type, "status": Step.Status.WAITING, "input": rendered, "attempts": 1,
                      "started_at": started_at, "deadline": deadline, "seq": 0},
        )

    def park(self, for_person: bool = True) -> None:
        """Waiting, and let go: the run has no owner until something wakes it.
        `parked_at` marks time that does not count against timeout_s (a
        person's); a run waiting only for its sub-workflows does not set it."""
        self._fence(status=Run.Status.WAITING, parked_at=timezone.now() if for_person else None, owner="", lease_until=None)

    def steps_cancelled(self, keys: list[tuple[str, str]], reason: str) -> None:
        now = timezone.now()
        with transaction.atomic():
            self._fence()
            for node, key in keys:
                Step.objects.filter(run=self.run, node_id=node, key=key, status=Step.Status.RUNNING).update(
                    status=Step.Status.CANCELLED, error=reason, finished_at=now
                )

    def cancel_requested(self) -> bool:
        return Run.objects.filter(pk=self.run.pk, cancel_requested=True).exists()

    def checkpoint(self, tokens: int, cost: float, steps: int) -> bool:
        """The runner's periodic check in one fenced statement: renew the
        lease, write the usage so far, and read whether a user asked to
        cancel (what it returns). OwnershipLost if the lease is gone."""
        import time

        from .runner import OwnershipLost

        values = {"tokens": tokens, "cost_usd": cost, "steps_count": steps}
        if self.lease is None:
            runsql.update(self.run.pk, values)
            return self.cancel_requested()
        values["lease_until"] = self.lease.expiry()
        row = runsql.update(self.run.pk, values, owner=self.lease.token, returning=("cancel_requested",))
        if row is None:
            raise OwnershipLost(f"run {self.run.pk}: lease lost")
        self.lease.renewed = time.monotonic()
        return bool(row[0])

    def finish(self, *, status: str, output: Any, error: dict | None, tokens: int, cost: float, steps: int,
               turn: dict[str, Any] | None = None, events: list[dict[str, Any]] | None = None) -> None:
        """End the run, fenced: its steps, its status, its last events
        (numbered and stored here; the publisher only sends them) and (a chat
        turn) its conversation's new messages in one transaction, or none."""
        from .streaming import store_events

        with transaction.atomic():
            # The fence first (it locks the run's row, or fails with nothing
            # written), then the buffered steps and the rest under it.
            self._fence(status=status, output=output, error=error, tokens=tokens, cost_usd=cost, steps_count=steps,
                        finished_at=timezone.now(), owner="", lease_until=None)
            self._write_buffered()
            if events:
                store_events(self.run.pk, events)
            if turn is not None:
                from .product import product

                turn = dict(turn)
                product().record_turn(turn.pop("conversation_id"), **turn)
            if self.may_have_running:
                self.close_running_steps(self.run.pk, f"the run {status} before this step's result came")
