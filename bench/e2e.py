#!/usr/bin/env python
"""End-to-end benchmark: what a user's client gets from a running instance.

It starts Orchestrator the way `make run` does (`manage.py serve`: daphne and
one Celery worker, SQLite unless DATABASE_URL is set, an embedded Redis unless
REDIS_URL is set), the fake OpenAI-compatible model in processes of its own,
and then drives the instance from outside only, as a user's client would:

  (a) api      POST /api/workflows/{id}/runs/, then the run's WebSocket until run.finished
  (b) webhook  POST /hooks/<token>/ of a webhook trigger that answers with the output
               (measured when the instance has webhooks)

Every model call goes through a stored team credential pointing at the fake.
Beside each figure it measures the floors in the same run, because this
machine's speed drifts: the same client straight against the same fake model,
a raw Celery task round trip, a plain HTTP round trip. Quote the ratios.

    .venv/bin/python bench/e2e.py [--repeats 5] [--only latency,chain,fanout,planner,throughput,wide,tokens] [--web 1]

CPU per run is read from /proc for each process (web, worker, Redis)."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.tables import percentile  # noqa: E402

FINISHED = {"succeeded", "failed", "cancelled"}
TICKS = os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------- the instance

class Instance:
    """`manage.py serve` on a free port, with its own database and Redis."""

    def __init__(self, web: int, threads: int):
        from orchestrator_site.embedded import EmbeddedRedis, free_port

        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}  # the credential is the only way to the model
        self.redis = None
        if not self.env.get("REDIS_URL"):
            self.redis = EmbeddedRedis().start()
            self.env["REDIS_URL"] = self.redis.url
        if not self.env.get("DATABASE_URL"):
            self.env["DATABASE_URL"] = f"sqlite:///{Path(tempfile.mkdtemp(prefix='orchestrator-e2e-')) / 'db.sqlite3'}"
        self.env.update(DJANGO_SETTINGS_MODULE="orchestrator_site.settings", LOG_LEVEL="ERROR", CELERY_CONCURRENCY=str(threads))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        python = sys.executable
        subprocess.run([python, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=self.env, check=True)
        self.serve = subprocess.Popen([python, "manage.py", "serve", "--port", str(self.port), "--web", str(web), "--workers", str(threads)],
                                      cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, start_new_session=True)
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        import urllib.request

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=1) as response:
                    if response.status == 200:
                        time.sleep(2)  # the worker connects to the broker
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the instance did not answer /healthz within 60 s")

    def processes(self) -> dict[str, list[int]]:
        """The instance's processes by role, from /proc."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except OSError:
                    continue
                children.setdefault(ppid, []).append(int(entry.name))
        found, todo = [], [self.serve.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo += children.get(pid, [])
        roles: dict[str, list[int]] = {"web": [], "worker": [], "redis": []}
        for pid in found:
            try:
                cmdline = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "daphne" in cmdline or "uvicorn" in cmdline or "granian" in cmdline:
                roles["web"].append(pid)
            elif "celery" in cmdline and "worker" in cmdline:
                roles["worker"].append(pid)
            elif "redis-server" in cmdline:
                roles["redis"].append(pid)
        if self.redis and self.redis.process:
            roles["redis"].append(self.redis.process.pid)
        return roles

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far, per role."""
        result = {}
        for role, pids in self.processes().items():
            total = 0
            for pid in pids:
                try:
                    fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
                    total += int(fields[11]) + int(fields[12])
                except OSError:
                    pass
            result[role] = total / TICKS
        return result

    def peak_rss_mb(self, role: str) -> float:
        peak = 0
        for pid in self.processes()[role]:
            for line in (Path("/proc") / str(pid) / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) // 1024)
        return peak

    def stop(self) -> None:
        if self.serve.poll() is None:
            # SIGINT, as Ctrl-C: `serve` stops its children itself and waits for them.
            self.serve.send_signal(signal.SIGINT)
            try:
                self.serve.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.serve.pid, signal.SIGKILL)
        if self.redis:
            self.redis.stop()


class Fake:
    """bench/fake_server.py in its own process."""

    def __init__(self, *args: str):
        self.process = subprocess.Popen([sys.executable, str(ROOT / "bench" / "fake_server.py"), *args], stdout=subprocess.PIPE, text=True)
        info = json.loads(self.process.stdout.readline())
        self.base_url, self.control_url = info["base_url"], info["control_url"]

    def stats(self) -> dict:
        import urllib.request

        with urllib.request.urlopen(f"{self.control_url}/stats") as response:
            return json.loads(response.read())

    def reset(self) -> None:
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{self.control_url}/reset", method="POST", data=b"")).read()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(5)


def create_user_and_token(instance: Instance) -> str:
    """The one step not done over HTTP: an account (the product has no self sign-up without an invitation)."""
    script = ("from django.contrib.auth import get_user_model; from rest_framework.authtoken.models import Token; "
              "u = get_user_model().objects.create_user('bench', password='bench-password-123'); "
              "print(Token.objects.get_or_create(user=u)[0].key)")
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=instance.env, check=True,
                         capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1]


# ----------------------------------------------------------------- graphs

def doc(name: str, nodes: list, edges: list, inputs: dict | None = None) -> dict:
    return {"format": "orchestrator.workflow/v1", "name": name, "inputs": inputs or {"type": "object"},
            "settings": {"max_steps": 20000}, "nodes": nodes, "edges": [{"source": s, "target": t} for s, t in edges]}


def chain(length: int) -> dict:
    nodes = [{"id": "start", "type": "start"}]
    previous, edges = "start", []
    for i in range(length):
        nodes.append({"id": f"t{i}", "type": "transform", "config": {"value": "{{ (input.n or 0) + %d }}" % i}})
        edges.append((previous, f"t{i}"))
        previous = f"t{i}"
    nodes.append({"id": "out", "type": "output", "config": {"value": "{{ nodes.%s.output }}" % previous}})
    edges.append((previous, "out"))
    return doc(f"chain {length}", nodes, edges)


def fanout(items: int, credential: str) -> dict:
    # No max_parallel: the defaults are what is measured.
    return doc(f"fan-out {items}", [
        {"id": "start", "type": "start"},
        {"id": "fan", "type": "fanout", "config": {"items": "{{ range(%d) | list }}" % items}},
        {"id": "work", "type": "llm", "config": {"prompt": "item {{ item }}", "credential": credential}},
        {"id": "join", "type": "join"},
        {"id": "out", "type": "output", "config": {"value": "{{ nodes.join.output | length }}"}},
    ], [("start", "fan"), ("fan", "work"), ("work", "join"), ("join", "out")])


def planner_workers(workers: int, credential: str) -> dict:
    schema = {"type": "object", "properties": {"subtasks": {"type": "array", "items": {"type": "string"}, "minItems": workers,
                                                            "maxItems": workers}}, "required": ["subtasks"]}
    return doc("plan + workers + synthesis", [
        {"id": "start", "type": "start"},
        {"id": "plan", "type": "llm", "config": {"prompt": "plan", "output": "json", "json_schema": schema, "credential": credential}},
        {"id": "fan", "type": "fanout", "config": {"items": "{{ nodes.plan.output.subtasks }}"}},
        {"id": "work", "type": "llm", "config": {"prompt": "do {{ item }}", "credential": credential}},
        {"id": "join", "type": "join"},
        {"id": "synth", "type": "llm", "config": {"prompt": "merge {{ nodes.join.output | length }}", "credential": credential}},
        {"id": "out", "type": "output", "config": {"value": "{{ nodes.synth.output }}"}},
    ], [("start", "plan"), ("plan", "fan"), ("fan", "work"), ("work", "join"), ("join", "synth"), ("synth", "out")])


def streaming(credential: str) -> dict:
    return doc("stream", [
        {"id": "start", "type": "start"}, {"id": "write", "type": "llm", "config": {"prompt": "stream", "credential": credential}},
        {"id": "out", "type": "output", "config": {"value": "done"}},
    ], [("start", "write"), ("write", "out")])


# ----------------------------------------------------------------- the client

class Client:
    """One aiohttp session (kept-alive connections) and the API token."""

    def __init__(self, instance: Instance, token: str):
        import aiohttp

        self.base = instance.base
        self.ws_base = self.base.replace("http://", "ws://")
        self.token = token
        self.headers = {"Authorization": f"Token {token}"}
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def close(self) -> None:
        await self.session.close()

    async def call(self, method: str, path: str, body=None, expect=(200, 201)) -> dict:
        url = path if path.startswith("http") else self.base + path
        async with self.session.request(method, url, json=body, headers=self.headers) as response:
            data = await response.json(content_type=None)
            if response.status not in expect:
                raise RuntimeError(f"{method} {path}: {response.status} {str(data)[:300]}")
            return data

    async def workflow(self, team: int, graph: dict) -> int:
        return (await self.call("POST", "/api/workflows/", {"team": team, "graph": graph}))["id"]

    async def run_via_api(self, workflow: int, run_input: dict, on_event=None) -> float:
        """Seconds from the POST to run.finished on the run's WebSocket."""
        import websockets

        started = time.perf_counter()
        run = (await self.call("POST", f"/api/workflows/{workflow}/runs/", {"input": run_input}))["id"]
        url = f"{self.ws_base}/ws/runs/{run}/?token={self.token}"
        async with websockets.connect(url, origin=self.base, max_size=None, compression=None) as ws:
            while True:
                message = json.loads(await ws.recv())
                status = None
                if message["type"] == "snapshot" and message["run"]["status"] in FINISHED:
                    status = message["run"]["status"]
                for event in message.get("events", []):
                    if on_event:
                        on_event(event, time.time())
                    if event["type"] == "run.finished":
                        status = event["status"]
                if message["type"] == "status" and message["status"] in FINISHED:
                    status = message["status"]
                if status:
                    break
        elapsed = time.perf_counter() - started
        if status != "succeeded":
            raise RuntimeError(f"run {run} ended {status}")
        return elapsed

    async def webhook_url(self, workflow: int) -> str | None:
        """Publish the workflow and give it a webhook that answers with the output; None without webhooks."""
        async with self.session.post(f"{self.base}/api/workflows/{workflow}/publish/", json={}, headers=self.headers) as response:
            if response.status == 404:
                return None
        trigger = await self.call("POST", f"/api/workflows/{workflow}/triggers/", {"type": "webhook", "respond": "output", "timeout_s": 60})
        url = trigger["url"]
        return url if url.startswith("http") else self.base + url

    async def run_via_webhook(self, url: str, run_input: dict) -> float:
        started = time.perf_counter()
        async with self.session.post(url, json=run_input) as response:
            data = await response.json(content_type=None)
        elapsed = time.perf_counter() - started
        if response.status != 200 or data.get("status") != "succeeded":
            raise RuntimeError(f"webhook: {response.status} {str(data)[:300]}")
        return elapsed


# ----------------------------------------------------------------- floors

async def model_call(session, fake: Fake, prompt: str = "floor") -> None:
    body = {"model": "fake-model", "stream": True, "messages": [{"role": "user", "content": prompt}]}
    async with session.post(f"{fake.base_url}/chat/completions", json=body, headers={"Authorization": "Bearer sk-bench"}) as response:
        async for _ in response.content:
            pass


async def fanout_floor(client: Client, fake: Fake, items: int) -> float:
    started = time.perf_counter()
    await asyncio.gather(*(model_call(client.session, fake, f"item {i}") for i in range(items)))
    return time.perf_counter() - started


async def planner_floor(client: Client, fake: Fake, workers: int) -> float:
    started = time.perf_counter()
    await model_call(client.session, fake)
    await asyncio.gather(*(model_call(client.session, fake, f"do {i}") for i in range(workers)))
    await model_call(client.session, fake)
    return time.perf_counter() - started


def celery_round_trip(instance: Instance, repeats: int) -> list[float]:
    """A task sent to the instance's broker, picked up by its worker, answered on a Redis list."""
    import redis
    from celery import Celery

    app = Celery(broker=instance.env["REDIS_URL"])
    r = redis.Redis.from_url(instance.env["REDIS_URL"])
    times = []
    for _ in range(repeats + 1):
        key = f"bench:echo:{uuid.uuid4().hex}"
        started = time.perf_counter()
        app.send_task("orchestrator.echo", args=[key])
        if r.blpop([key], timeout=10) is None:
            raise RuntimeError("the worker did not answer orchestrator.echo within 10 s")
        times.append(time.perf_counter() - started)
    return times[1:]


async def http_round_trip(client: Client, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        async with client.session.get(f"{client.base}/healthz") as response:
            await response.read()
        times.append(time.perf_counter() - started)
    return times[1:]


# ----------------------------------------------------------------- measures

class Table:
    def __init__(self):
        self.rows: list[tuple[str, str, str, str, str, str]] = []

    def add(self, measure: str, path: str, result: str, floor: str = "", ratio: str = "", target: str = "") -> None:
        self.rows.append((measure, path, result, floor, ratio, target))
        print(f"  {measure} [{path}]: {result}  floor {floor or '-'}  ratio {ratio or '-'}  target {target or '-'}", flush=True)

    def render(self) -> str:
        header = ("measure", "path", "result", "floor", "ratio", "target")
        widths = [max(len(str(r[i])) for r in [header, *self.rows]) for i in range(6)]
        lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |",
                 "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        lines += ["| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths)) + " |" for row in self.rows]
        return "\n".join(lines)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


async def measure(args, instance: Instance, token: str, table: Table) -> None:
    client = Client(instance, token)
    fast, slow = Fake("--latency", "0"), Fake("--latency", "0.2")
    stream = Fake("--tokens", "200", "--token-delay", "0.005", "--timestamps")
    fakes = [fast, slow, stream]
    only = set(args.only.split(","))
    try:
        team = next(t for t in await client.call("GET", "/api/teams/") if t.get("personal"))["id"]
        for name, fake in (("fast", fast), ("slow", slow), ("stream", stream)):
            await client.call("POST", "/api/credentials/", {"team": team, "name": name, "base_url": fake.base_url, "api_key": "sk-bench",
                                                            "default_model": "fake-model"})
        paths = ["api"] + ([] if args.no_webhook else ["webhook"])

        async def runner(graph: dict):
            """{path: fn(input) -> seconds} for one workflow, over each path the instance offers."""
            workflow = await client.workflow(team, graph)
            fns = {"api": lambda inp: client.run_via_api(workflow, inp)}
            if "webhook" in paths:
                url = await client.webhook_url(workflow)
                if url:
                    fns["webhook"] = lambda inp: client.run_via_webhook(url, inp)
            return fns

        async def repeat(fn, n: int) -> list[float]:
            await fn()  # warm-up
            return [await fn() for _ in range(n)]

        celery = celery_round_trip(instance, 20)
        web = await http_round_trip(client, 20)
        celery_floor, web_floor = statistics.median(celery), statistics.median(web)
        table.add("floor: Celery task round trip", "broker", ms(celery_floor))
        table.add("floor: HTTP round trip (/healthz)", "http", ms(web_floor))

        if "latency" in only:
            fns = await runner(chain(1))
            for path, fn in fns.items():
                times = await repeat(lambda: fn({"n": 1}), args.repeats * 4)
                before = instance.cpu()
                extra = [await fn({"n": 1}) for _ in range(20)]
                cpu = {k: (v - before[k]) / 20 * 1000 for k, v in instance.cpu().items()}
                p50 = statistics.median(times + extra)
                table.add("1 trivial node, latency p50", path, ms(p50), f"{ms(celery_floor)} celery", f"x{p50 / celery_floor:.1f}",
                          "<= 10 ms webhook, <= 20 ms api")
                table.add("  CPU per run", path, ", ".join(f"{k} {v:.1f} ms" for k, v in cpu.items()))

        if "chain" in only:
            short, long = await runner(chain(1)), await runner(chain(51))
            for path in short:
                await short[path]({"n": 1}), await long[path]({"n": 1})
                shorts, longs = [], []
                for _ in range(args.repeats):
                    shorts.append(await short[path]({"n": 1}))
                    longs.append(await long[path]({"n": 1}))
                cost = (statistics.median(longs) - statistics.median(shorts)) / 50
                table.add("extra cost per node (51 vs 1 node chain)", path, f"{cost * 1000:.3f} ms", "", "", "<= 0.2 ms")

        if "fanout" in only:
            fns = await runner(fanout(100, "slow"))
            floor = statistics.median([await fanout_floor(client, slow, 100) for _ in range(args.repeats)])
            table.add("floor: client + fake, 100 parallel 200 ms calls", "fake", f"{floor:.3f} s")
            for path, fn in fns.items():
                await fn({})
                times, peaks, spreads = [], [], []
                for _ in range(args.repeats):
                    slow.reset()
                    times.append(await fn({}))
                    stats = slow.stats()
                    peaks.append(stats["max_in_flight"])
                    spreads.append(stats["arrival_spread_ms"])
                t = statistics.median(times)
                table.add("100 x 200 ms model calls, fan-out", path,
                          f"{t:.3f} s (max {max(peaks)} in flight, sent over {statistics.median(spreads):.0f} ms)", f"{floor:.3f} s",
                          f"x{t / floor:.2f}", "<= x1.25, all 100 in flight")

        if "planner" in only:
            fns = await runner(planner_workers(20, "slow"))
            floor = statistics.median([await planner_floor(client, slow, 20) for _ in range(args.repeats)])
            table.add("floor: client + fake, plan + 20 + synthesis", "fake", f"{floor:.3f} s")
            for path, fn in fns.items():
                t = statistics.median(await repeat(lambda: fn({}), args.repeats))
                table.add("plan + 20 parallel workers + synthesis", path, f"{t:.3f} s", f"{floor:.3f} s", f"x{t / floor:.2f}", "<= x1.05")

        if "throughput" in only:
            fns = await runner(chain(3))
            for path, fn in fns.items():
                rates, cpus = [], []
                for _ in range(max(1, args.repeats // 2)):
                    total, concurrency = 200, 10
                    left = iter(range(total))

                    async def worker():
                        while next(left, None) is not None:
                            await fn({"n": 1})

                    before = instance.cpu()
                    started = time.perf_counter()
                    await asyncio.gather(*(worker() for _ in range(concurrency)))
                    rates.append(total / (time.perf_counter() - started))
                    cpus.append({k: (v - before[k]) / total * 1000 for k, v in instance.cpu().items()})
                cpu = cpus[len(cpus) // 2]
                table.add("5-node workflow, 200 runs at concurrency 10", path, f"{statistics.median(rates):.0f} runs/s", "", "",
                          ">= 150 webhook, >= 80 api")
                table.add("  CPU per run", path, ", ".join(f"{k} {v:.1f} ms" for k, v in cpu.items()))

        if "wide" in only:
            fns = await runner(fanout(1000, "slow"))
            floor = await fanout_floor(client, slow, 1000)
            table.add("floor: client + fake, 1000 parallel 200 ms calls", "fake", f"{floor:.3f} s")
            fn = fns["api"]
            times, duplicates = [], []
            for _ in range(max(1, args.repeats // 2)):
                slow.reset()
                times.append(await fn({}))
                duplicates.append(slow.stats()["requests"] - 1000)
            t = statistics.median(times)
            table.add("1000 x 200 ms model calls, fan-out", "api", f"{t:.2f} s, {max(duplicates)} duplicate calls, worker peak RSS "
                      f"{instance.peak_rss_mb('worker')} MB", f"{floor:.2f} s", f"x{t / floor:.2f}", "<= 2 s, 0 duplicates, RSS <= 300 MB")

        if "tokens" in only:
            import re

            stamp = re.compile(r"<t(\d+\.\d+)>")
            latencies: list[float] = []

            def on_event(event, arrived):
                if event["type"] == "step.delta":
                    latencies.extend((arrived - float(t)) * 1000 for t in stamp.findall(event.get("text", "")))

            workflow = await client.workflow(team, streaming("stream"))
            for _ in range(3):
                await client.run_via_api(workflow, {}, on_event)
            table.add("token: model -> WebSocket client", "api", f"p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms",
                      "", "", "p99 <= 50 ms")
    finally:
        await client.close()
        for fake in fakes:
            fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--web", type=int, default=int(os.environ.get("WEB_PROCESSES", "1")), help="web processes (default: as make run)")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("CELERY_CONCURRENCY", "16")), help="worker threads (default: as make run)")
    parser.add_argument("--only", default="latency,chain,fanout,planner,throughput,wide,tokens")
    parser.add_argument("--no-webhook", action="store_true", help="measure only POST /runs/ + WebSocket")
    args = parser.parse_args()
    instance = Instance(args.web, args.threads)
    table = Table()
    try:
        token = create_user_and_token(instance)
        asyncio.run(measure(args, instance, token, table))
    finally:
        instance.stop()
    load = os.getloadavg()[0]
    print(f"\nOrchestrator end to end, from a client — medians of {args.repeats} repeats; {args.web} web process(es), 1 worker with "
          f"{args.threads} threads; load avg {load:.2f} on {os.cpu_count()} cores\n")
    print(table.render())


if __name__ == "__main__":
    main()
