"""A real deployment for the fault suite: its own Redis (restartable), several
Celery worker processes on the test database under a supervisor that starts
a dead one again (as `manage.py serve` does), daphne when asked, and an
effect ledger: an HTTP server on loopback that records every request's
Idempotency-Key, so a test can count effects delivered twice."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from orchestrator_site.embedded import EmbeddedRedis, free_port
from tests.conftest import _database_url

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Ledger:
    """POST /effect: records (key, body, time), answers {"n": body.n} after a random pause."""

    def __init__(self, min_s: float = 0.05, max_s: float = 0.4):
        self.lock = threading.Lock()
        self.deliveries: list[tuple[str, float, float, dict]] = []  # (key, started, answered, body)
        ledger = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                started = time.time()
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                time.sleep(random.uniform(min_s, max_s))
                payload = json.dumps({"n": body.get("n")}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                with ledger.lock:
                    ledger.deliveries.append((self.headers.get("Idempotency-Key") or "", started, time.time(), body))

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/effect"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def counts(self) -> Counter:
        with self.lock:
            return Counter(key for key, *_ in self.deliveries)

    def times_of(self, key: str) -> list[float]:
        with self.lock:
            return sorted(started for k, started, *_ in self.deliveries if k == key)

    def stop(self) -> None:
        self.server.shutdown()


class Deployment:
    def __init__(self, workers: int = 3, threads: int = 4, extra_env: dict | None = None):
        self.redis_port = free_port()
        self.redis = EmbeddedRedis(self.redis_port).start()
        self.redis_url = self.redis.url
        self.env = dict(os.environ, DATABASE_URL=_database_url(), REDIS_URL=self.redis_url, CELERY_BROKER_URL=self.redis_url,
                        CHANNEL_REDIS_URL=self.redis_url, HTTP_NODE_ALLOWED_HOSTS="127.0.0.1", ENGINE_SWEEP_ORPHANS="true",
                        DJANGO_SETTINGS_MODULE="orchestrator_site.settings", **(extra_env or {}))
        self.threads = threads
        self.workers: list[subprocess.Popen] = []
        self.exits: list[float] = []  # when a worker was found dead (killed or crashed)
        self.kills: list[float] = []
        self.restarts = 0
        self.stopping = False
        self.lock = threading.Lock()
        for i in range(workers):
            self.workers.append(self._start_worker(i))
        self.web: subprocess.Popen | None = None
        self.web_port: int | None = None
        self.supervisor = threading.Thread(target=self._supervise, daemon=True)
        self.supervisor.start()

    def wait_ready(self, timeout: float = 90.0) -> float:
        """Wait until every worker process has announced itself (engine/workers.py,
        at Celery's worker_ready): on a loaded machine a worker takes several
        seconds to boot, and faults injected before the workers consume prove
        nothing. Returns the seconds waited."""
        import redis

        from engine import workers

        started = time.monotonic()
        client = redis.Redis.from_url(self.redis_url)
        while time.monotonic() - started < timeout:
            if client.zcard(workers.KEY) >= len(self.workers):
                return time.monotonic() - started
            time.sleep(0.2)
        raise RuntimeError(f"the workers did not come up within {timeout:g} s")

    def _start_worker(self, i: int) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "celery", "-A", "orchestrator_site", "worker", "-P", "threads",
                                 "-c", str(self.threads), "-n", f"fault{i}-{time.monotonic_ns()}@%h", "-l", "error",
                                 "--without-gossip", "--without-mingle"],  # as manage.py serve starts them
                                env=self.env, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _supervise(self) -> None:
        while not self.stopping:
            with self.lock:
                for i, worker in enumerate(self.workers):
                    if worker.poll() is not None and not self.stopping:
                        self.exits.append(time.time())
                        self.workers[i] = self._start_worker(i)
                        self.restarts += 1
            time.sleep(0.3)

    def kill_random_worker(self) -> None:
        with self.lock:
            worker = random.choice([w for w in self.workers if w.poll() is None] or self.workers)
            self.kills.append(time.time())
            try:
                os.killpg(worker.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def restart_redis(self, down_s: float = 1.0) -> None:
        self.redis.stop()
        time.sleep(down_s)
        self.redis = EmbeddedRedis(self.redis_port).start()

    def flushall(self) -> None:
        import redis

        redis.Redis.from_url(self.redis_url).flushall()

    def start_web(self) -> None:
        if self.web_port is None:
            self.web_port = free_port()
        self.web = subprocess.Popen([sys.executable, "-m", "daphne", "-v", "0", "-b", "127.0.0.1", "-p", str(self.web_port),
                                     "orchestrator_site.asgi:application"], env=self.env, cwd=ROOT, start_new_session=True,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import socket

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.web_port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("daphne did not start")

    def kill_web(self) -> None:
        if self.web is not None:
            os.killpg(self.web.pid, signal.SIGKILL)
            self.web.wait(10)

    def send(self, run_id: int) -> None:
        """Queue a run on this deployment's broker, as the API does."""
        from celery import Celery

        if not hasattr(self, "_app"):
            self._app = Celery(broker=self.redis_url)
        self._app.send_task("engine.advance_run", (run_id,))

    def stop(self) -> None:
        self.stopping = True
        self.supervisor.join(2)
        for process in self.workers + ([self.web] if self.web else []):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.workers + ([self.web] if self.web else []):
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        if hasattr(self, "_app"):
            self._app.close()
        self.redis.stop()
