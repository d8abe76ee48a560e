"""The run WebSocket: `/ws/runs/{id}/[?after=<seq>]`.

On connect it checks the user's right to the run, joins the run's group, then
sends a snapshot: the run's status and every event so far (or only those after
`after`, for a client that reconnects). Live events follow; any event already
sent (in the snapshot or an earlier batch) is not sent again, so nothing is
lost or duplicated."""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from engine import events
from engine.streaming import coalesce, read_log_now

from .models import Membership, Run, Step, WorkflowVersion


WS_MAX_FRAME_BYTES = int(os.environ.get("WS_MAX_FRAME_BYTES", "65536"))


def _after(scope) -> int | None:
    """The `after` sequence number, 0 when absent, None when it is not a plain number.
    Checked before joining the group, so a bad one cannot leave a dead channel in it."""
    params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    value = (params.get("after") or ["0"])[0] or "0"
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        return None
    return int(value)


@lru_cache(maxsize=1)
def _summary_sql() -> str:
    """The run, its version number, who started it and whether a demo model
    answered any step, if the user is in the run's team: one query, for the
    snapshot every run's socket starts with.

    Written once as SQL (from the models' own table and column names) rather
    than built by the ORM per socket: compiling that queryset (a join, a
    deferred column, an EXISTS, the team check) was a quarter of the web
    process's CPU for a WebSocket (bench/split_cpu.py). The model's fields
    still convert the values (Run.objects.raw), and the graph, the largest
    column, is left out as before."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    q = connection.ops.quote_name
    run, version, step, membership = Run._meta, WorkflowVersion._meta, Step._meta, Membership._meta
    user_model = get_user_model()
    user = user_model._meta

    def col(meta, name: str) -> str:
        return q(meta.get_field(name).column)

    columns = ", ".join(f"r.{q(f.column)}" for f in run.concrete_fields if f.name != "graph")
    return (
        f"SELECT {columns}, v.{col(version, 'number')} AS version_number, "
        f"u.{col(user, user_model.USERNAME_FIELD)} AS triggered_by_username, "
        f"EXISTS (SELECT 1 FROM {q(step.db_table)} s WHERE s.{col(step, 'run')} = r.{q(run.pk.column)} "
        f"AND s.{col(step, 'demo')} = %s) AS has_demo_step "
        f"FROM {q(run.db_table)} r "
        f"LEFT JOIN {q(version.db_table)} v ON v.{q(version.pk.column)} = r.{col(run, 'version')} "
        f"LEFT JOIN {q(user.db_table)} u ON u.{q(user.pk.column)} = r.{col(run, 'triggered_by')} "
        f"WHERE r.{q(run.pk.column)} = %s AND r.{col(run, 'team')} IN "
        f"(SELECT m.{col(membership, 'team')} FROM {q(membership.db_table)} m WHERE m.{col(membership, 'user')} = %s)"
    )


class SentSeqs:
    """The event numbers one socket has sent: all up to `upto`, and `above` it
    those sent ahead of a number still to come.

    Live batches reach a socket at least once, not exactly once: a publisher
    whose group_send failed (Redis timed out or dropped the connection, maybe
    after delivering) sends the same stored batch again, and publishers in
    several processes (a run's owner, workers running its fan-out) deliver in
    any order. So a number above the snapshot is not proof of a new event;
    each is checked here, and a repeat is never forwarded."""

    # A number still missing after this many later ones were sent was lost on
    # the way (a full channel drops messages): count it as passed, so the set
    # stays small. The client sees the hole and reconnects with ?after=,
    # served from the database, which fills it.
    MAX_AHEAD = 4096

    def __init__(self, upto: int) -> None:
        self.upto = upto
        self.above: set[int] = set()

    def take(self, seq: int) -> bool:
        """True the first time `seq` comes (send it), False for one already sent."""
        if seq <= self.upto or seq in self.above:
            return False
        self.above.add(seq)
        if len(self.above) > self.MAX_AHEAD:
            self.upto = min(self.above) - 1
        while self.upto + 1 in self.above:
            self.upto += 1
            self.above.remove(self.upto)
        return True


class NotFoundConsumer(AsyncJsonWebsocketConsumer):
    """Every WebSocket path that is not a route: accepted, then closed with 4404."""

    async def connect(self) -> None:
        await self.accept()
        await self.close(code=4404, reason="no such WebSocket path")


class RunConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        """Accept only a signed-in user who can see the run; then send the snapshot."""
        user = self.scope.get("user")
        self.run_id = int(self.scope["url_route"]["kwargs"]["run_id"])
        # Accept, then close with a code, so a client can tell "sign in" (4401)
        # from "no such run for you" (4404) instead of a bare handshake 403.
        if user is None or not user.is_authenticated:
            await self.accept()
            await self.close(code=4401)
            return
        after = _after(self.scope)
        if after is None:
            # (A run the user cannot see is still a 4404, whatever the ?after=.)
            visible = await self._visible_summary(user)
            await self.accept()
            if visible is None:
                await self.close(code=4404)
            else:
                await self.close(code=4400, reason="?after= must be a whole number of at most 18 digits")
            return
        self.group = events.group_name(self.run_id)
        # Join before reading the log: an event published in between is then
        # both in the log and delivered live, and the seq filter drops the copy.
        await self.channel_layer.group_add(self.group, self.channel_name)
        # The right to the run, its summary and its log in one database call:
        # each call is a thread hop, and this socket is opened once per run.
        summary, log = await self._summary_and_log(user, after)
        if summary is None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            del self.group
            await self.accept()
            await self.close(code=4404)
            return
        await self.accept()
        if not log and after == 0 and summary["status"] in ("succeeded", "failed", "cancelled"):
            # Only a finished run's log can be gone (it expires); a live run's
            # events are all still to come through the group.
            log = await self._events_from_database()
        self.sent = SentSeqs(max([after] + [e.get("seq", 0) for e in log]))
        await self.send_json({"type": "snapshot", "run": summary, "events": coalesce(log) if after == 0 else log, "seq": self.sent.upto})

    async def disconnect(self, code: int) -> None:
        """Leave the run's group."""
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        """Frames from the client are only pings: one over WS_MAX_FRAME_BYTES closes the socket (4413; 1009 is not an application code)."""
        if len(text_data or bytes_data or "") > WS_MAX_FRAME_BYTES:
            await self.close(code=4413, reason=f"frames are at most {WS_MAX_FRAME_BYTES} bytes")
            return
        try:
            await super().receive(text_data=text_data, bytes_data=bytes_data, **kwargs)
        except ValueError:  # not JSON: ignored, like any frame that is not a ping
            return

    async def receive_json(self, content: Any, **kwargs) -> None:
        """The socket is read-only; a ping gets a pong so clients can check liveness."""
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def run_events(self, message: dict[str, Any]) -> None:
        """Forward live events not sent yet: not in the snapshot, not in an earlier batch."""
        fresh = [e for e in message["events"] if self.sent.take(e.get("seq", 0))]
        if fresh:
            await self.send_json({"type": "events", "events": fresh})

    async def run_status(self, message: dict[str, Any]) -> None:
        """A status change made outside the engine (a queued run cancelled)."""
        await self.send_json({"type": "status", "status": message["status"]})

    def _summary(self, user) -> dict[str, Any] | None:
        """The run's summary if the user may see it, else None."""
        from .api.serializers import RunSummarySerializer

        # list(): read the cursor to its end. A raw query's cursor is read
        # lazily, and on SQLite a statement left unfinished keeps its read
        # transaction open on the pooled connection: later queries on it
        # would see the database as it was then (a run that never finishes).
        runs = list(Run.objects.raw(_summary_sql(), [True, self.run_id, user.pk]))
        return RunSummarySerializer(runs[0]).data if runs else None

    @database_sync_to_async
    def _visible_summary(self, user) -> dict[str, Any] | None:
        return self._summary(user)

    @database_sync_to_async
    def _summary_and_log(self, user, after: int) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The summary, then the log after `after`: the summary is read first,
        so every event the log holds is at least as new as it, and the client
        never sees an older state win."""
        summary = self._summary(user)
        if summary is None:
            return None, []
        return summary, read_log_now(self.run_id, after)

    @database_sync_to_async
    def _events_from_database(self) -> list[dict[str, Any]]:
        """For a run whose event log has expired: its recorded steps as events."""
        from .api.serializers import step_as_event

        run = Run.objects.get(pk=self.run_id)
        result = [step_as_event(step) for step in run.steps.order_by("seq", "id")]
        if run.is_finished:
            result.append(
                events.event(
                    events.RUN_FINISHED, run.pk, status=run.status, output=run.output, error=run.error,
                    usage={"tokens": run.tokens, "cost_usd": run.cost_usd, "steps": run.steps_count},
                )
            )
        for seq, event in enumerate(result, start=1):
            event["seq"] = seq
        return result
