"""`manage.py runworkflow FILE.json --input key=value ...`: validate a workflow
file, run it on the worker, print each step as it streams; exit non-zero on failure."""
from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from editor import services
from engine.graph import validate


def _parse_inputs(pairs: list[str]) -> dict:
    result = {}
    for pair in pairs:
        if "=" not in pair:
            raise CommandError(f"--input {pair!r}: write it as key=value (the value may be JSON, e.g. n=3 or tags='[\"a\"]')")
        key, raw = pair.split("=", 1)
        try:
            result[key] = json.loads(raw)
        except json.JSONDecodeError:
            result[key] = raw
    return result


class Command(BaseCommand):
    help = "Run a workflow file headless on the Celery worker and stream its steps to the terminal."

    def add_arguments(self, parser):
        parser.add_argument("file", help="A format v1 workflow JSON file.")
        parser.add_argument("--input", action="append", default=[], metavar="KEY=VALUE", help="An input value (repeatable; JSON values allowed).")
        parser.add_argument("--input-json", help="All inputs as one JSON object.")
        parser.add_argument("--inline", action="store_true", help="Advance the run in this process instead of on a worker.")
        parser.add_argument("--quiet-tokens", action="store_true", help="Do not print streamed tokens, only steps.")

    def handle(self, *args, file: str, input: list[str], input_json: str | None, inline: bool, quiet_tokens: bool, **options):
        path = Path(file)
        if not path.exists():
            raise CommandError(f"{file}: no such file")
        try:
            graph = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise CommandError(f"{file}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
        problems = [p for p in validate(graph) if p.severity == "error"]
        if problems:
            for problem in problems:
                self.stderr.write(f"{file}: {problem.message}")
            raise CommandError(f"{file}: {len(problems)} problem(s); nothing was run")
        run_input = json.loads(input_json) if input_json else {}
        run_input.update(_parse_inputs(input))
        try:
            run = services.start_run(workflow=None, version=None, graph=graph, team=None, user=None, run_input=run_input, trigger="cli")
        except services.ServiceError as exc:
            raise CommandError(exc.message)
        self.stdout.write(f"run {run.pk} queued")
        if inline:
            import threading

            from engine.runner import RunExecutor

            threading.Thread(target=RunExecutor(run.pk).execute, daemon=True).start()
        status = asyncio.run(self._follow_then_close(run.pk, quiet_tokens))
        if status != "succeeded":
            sys.exit(1)

    async def _follow_then_close(self, run_id: int, quiet_tokens: bool) -> str:
        from engine import redis_client

        try:
            return await self._follow(run_id, quiet_tokens)
        finally:
            await redis_client.close_async_clients()  # this loop ends here

    async def _follow(self, run_id: int, quiet_tokens: bool) -> str:
        """Print events from the run's channel group until it finishes."""
        from channels.layers import get_channel_layer

        from editor.models import Run
        from engine import events
        from engine.streaming import read_log

        layer = get_channel_layer()
        channel = await layer.new_channel()
        # Join the group, then read what was published before we joined; the
        # seq numbers drop anything seen twice.
        await layer.group_add(events.group_name(run_id), channel)
        backlog = await read_log(run_id)
        seen = max((e["seq"] for e in backlog), default=0)
        streaming = None
        try:
            while True:
                if backlog:
                    batch, backlog = backlog, []
                else:
                    try:
                        message = await asyncio.wait_for(layer.receive(channel), timeout=2)
                    except asyncio.TimeoutError:
                        run = await Run.objects.aget(pk=run_id)
                        if run.is_finished:
                            self._finished(run.status, run.output, run.error)
                            return run.status
                        continue
                    batch = [e for e in message.get("events", []) if e.get("seq", 0) > seen]
                    seen = max([seen] + [e.get("seq", 0) for e in batch])
                for event in batch:
                    kind = event["type"]
                    label = f"{event.get('node')} [{event.get('key')}]"
                    if kind == events.STEP_DELTA:
                        if not quiet_tokens:
                            if streaming != label:
                                self.stdout.write(f"\n  {label} ▸ ", ending="")
                                streaming = label
                            self.stdout.write(event["text"], ending="")
                            self.stdout.flush()
                        continue
                    if streaming:
                        self.stdout.write("")
                        streaming = None
                    if kind == events.STEP_STARTED:
                        self.stdout.write(f"• {label} started ({event.get('node_type')})")
                    elif kind == events.STEP_FINISHED:
                        out = json.dumps(event.get("output"), ensure_ascii=False, default=str)
                        demo = " [demo model]" if event.get("demo") else ""
                        self.stdout.write(f"✓ {label} {event.get('duration_ms')} ms{demo}: {out[:300]}")
                    elif kind == events.STEP_FAILED:
                        self.stdout.write(f"✗ {label} failed after {event.get('attempts')} attempt(s): {event.get('error')}")
                    elif kind == events.STEP_SKIPPED:
                        self.stdout.write(f"- {label} skipped")
                    elif kind == events.STEP_RETRYING:
                        self.stdout.write(f"↻ {label} retrying (attempt {event.get('attempt')}): {event.get('error')}")
                    elif kind == events.RUN_FINISHED:
                        self._finished(event["status"], event.get("output"), event.get("error"))
                        return event["status"]
        finally:
            await layer.group_discard(events.group_name(run_id), channel)

    def _finished(self, status: str, output, error) -> None:
        if status == "succeeded":
            self.stdout.write(self.style.SUCCESS("run succeeded"))
            self.stdout.write(json.dumps(output, indent=2, ensure_ascii=False, default=str))
        else:
            self.stderr.write(f"run {status}: {(error or {}).get('message', '')}")
