"""`manage.py serve`: everything `make run` starts, in one process group.

An embedded Redis when REDIS_URL is unset, a Celery worker, Celery beat (the
database scheduler of django-celery-beat, which sends the schedule sweep),
and daphne. A child that dies is started again (after a pause that grows
while it keeps dying); one Ctrl-C stops all of them.

Where the embedded services listen is written to var/services.json (removed
on exit), so any other `manage.py` command started beside it — runworkflow,
shell — talks to the same Redis (orchestrator_site/settings.py reads it)."""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand

from orchestrator_site.embedded import EmbeddedRedis
from orchestrator_site.webservers import web_spawners


def _whole(setting: str):
    """An argparse type for a count of at least 1 whose default comes from the
    environment variable `setting` (argparse converts a string default too):
    a bad value is refused naming both, instead of a traceback."""

    def convert(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(f"must be a whole number of at least 1 (this option or {setting}), not {raw!r}")
        return value

    return convert


class Command(BaseCommand):
    help = "Start Redis (embedded unless REDIS_URL is set), a Celery worker and daphne."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=_whole("PORT"), default=os.environ.get("PORT") or "8000")
        parser.add_argument("--workers", type=_whole("CELERY_CONCURRENCY"), default=os.environ.get("CELERY_CONCURRENCY") or "16",
                            help="Threads of the Celery worker: how many runs it advances at once.")
        parser.add_argument("--no-beat", action="store_true", help="Start no Celery beat (another host runs one).")
        parser.add_argument("--web", type=_whole("WEB_PROCESSES"), default=os.environ.get("WEB_PROCESSES") or "1",
                            help="daphne processes sharing the port (one core each at most).")
        parser.add_argument("--worker-processes", type=_whole("WORKER_PROCESSES"), default=os.environ.get("WORKER_PROCESSES") or "1",
                            help="Celery worker processes, each with --workers threads (one core each at most).")

    def handle(self, *args, host: str, port: int, workers: int, web: int, no_beat: bool = False, worker_processes: int = 1,
               **options):
        env = dict(os.environ)
        redis = None
        if not env.get("REDIS_URL"):
            redis = EmbeddedRedis().start()
            env["REDIS_URL"] = redis.url
            self.stdout.write(f"embedded Redis on {redis.url}")
        python = sys.executable
        def worker(n: int) -> list[str]:
            # A worker process runs Python on one core at most (one GIL): with
            # cores to spare, WORKER_PROCESSES runs more of them, each its own name.
            return [python, "-m", "celery", "-A", "orchestrator_site", "worker", "-P", "threads", "-c", str(workers),
                    "-l", "warning", "-n", f"worker-{os.getpid()}-{n}@%h",
                    # Nothing here uses worker-to-worker gossip or mingle: fewer channels
                    # to reopen after a lost Redis. (The crash on a Redis restart,
                    # AttributeError('NoneType' object has no attribute 'hostname'),
                    # is fixed in orchestrator_site/kombu_fix.py, with or without them.)
                    "--without-gossip", "--without-mingle"]

        workers_ = [(lambda command=worker(n): subprocess.Popen(command, env=env)) for n in range(max(1, worker_processes))]
        spawners = [*workers_, *web_spawners(host, port, web, env)]
        if not no_beat:
            from editor.triggers import ensure_sweep_task

            ensure_sweep_task()
            # Several beats (one per host) are safe: each tick is claimed once in the database.
            beat = [python, "-m", "celery", "-A", "orchestrator_site", "beat", "-l", "warning", "--pidfile=", "-s", os.devnull]
            spawners.append(lambda: subprocess.Popen(beat, env=env))
        children = [spawn() for spawn in spawners]
        pause = [1.0] * len(children)
        services_file = _write_services(env["REDIS_URL"], f"http://{host}:{port}/")
        self.stdout.write(self.style.SUCCESS(f"Orchestrator is at http://{host}:{port}/  (Ctrl-C stops everything)"))
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        started = [time.monotonic()] * len(children)
        try:
            while not stopping:
                for i, child in enumerate(children):
                    if child.poll() is not None and not stopping:
                        # Dying again soon after a start doubles the pause (a
                        # Redis that is still away); a long life resets it.
                        pause[i] = 1.0 if time.monotonic() - started[i] > 60 else min(pause[i] * 2, 30.0)
                        self.stderr.write(f"{' '.join(map(str, child.args[1:4]))} exited with {child.returncode}; "
                                          f"starting it again in {pause[i]:g} s")
                        time.sleep(pause[i])
                        if not stopping:
                            children[i] = spawners[i]()
                            started[i] = time.monotonic()
                time.sleep(0.3)
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in children:
                try:
                    child.wait(10)
                except subprocess.TimeoutExpired:
                    child.kill()
            services_file.unlink(missing_ok=True)
            if redis:
                redis.stop()
            self.stdout.write("stopped")


def _write_services(redis_url: str, web_url: str):
    import json

    from django.conf import settings

    path = settings.BASE_DIR / "var" / "services.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"pid": os.getpid(), "redis_url": redis_url, "web_url": web_url}))
    return path
