#!/usr/bin/env python
"""Engine benchmark: prints a table of medians over repeats.

Everything is real but the model's weights: a Celery worker process (threads
pool) on Redis (embedded unless REDIS_URL is set), daphne for the API and
WebSockets, SQLite (or DATABASE_URL), and the fake OpenAI-compatible server
on loopback answering with a fixed latency.

    .venv/bin/python bench/engine.py [--repeats 5]

The machine is shared and noisy: each figure is the median of the repeats,
with the spread (max/min of the repeats) beside it."""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.tables import percentile  # noqa: E402


def setup_environment(workers: int, web: int = 1) -> dict:
    from orchestrator_site.embedded import EmbeddedRedis, free_port
    from orchestrator_site.webservers import start_web
    from tests.fake_openai import FakeOpenAI

    state: dict = {}
    if not os.environ.get("REDIS_URL"):
        state["redis"] = EmbeddedRedis().start()
        os.environ["REDIS_URL"] = state["redis"].url
    if not os.environ.get("DATABASE_URL"):
        db = Path(tempfile.mkdtemp(prefix="orchestrator-bench-")) / "bench.sqlite3"
        os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    fake = FakeOpenAI().start()
    state["fake"] = fake
    os.environ.update(OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=fake.base_url, ORCHESTRATOR_DEFAULT_MODEL="fake-model",
                      DJANGO_SETTINGS_MODULE="orchestrator_site.settings", LOG_LEVEL="ERROR")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    state["port"] = free_port()
    python = sys.executable
    state["procs"] = [
        subprocess.Popen([python, "-m", "celery", "-A", "orchestrator_site", "worker", "-P", "threads", "-c", "16", "-l", "error",
                          "-n", f"bench-{os.getpid()}-{n}@%h"], cwd=ROOT, env=dict(os.environ))
        for n in range(workers)
    ] + start_web("127.0.0.1", state["port"], web, dict(os.environ), quiet=True)
    return state


def teardown(state: dict) -> None:
    for proc in state["procs"]:
        proc.terminate()
    for proc in state["procs"]:
        proc.wait(10)
    state["fake"].stop()
    if "redis" in state:
        state["redis"].stop()


# ----------------------------------------------------------------- graphs

def chain(length: int) -> dict:
    nodes = [{"id": "start", "type": "start"}]
    edges = []
    previous = "start"
    for i in range(length):
        nodes.append({"id": f"t{i}", "type": "transform", "config": {"value": "{{ input.n + %d }}" % i}})
        edges.append({"source": previous, "target": f"t{i}"})
        previous = f"t{i}"
    nodes.append({"id": "out", "type": "output", "config": {"value": "{{ nodes.%s.output }}" % previous}})
    edges.append({"source": previous, "target": "out"})
    return {"format": "orchestrator.workflow/v1", "name": f"chain {length}", "inputs": {"type": "object"},
            "settings": {"max_steps": 10000}, "nodes": nodes, "edges": edges}


def fanout(items: int) -> dict:
    return {"format": "orchestrator.workflow/v1", "name": "fanout", "settings": {"max_steps": 10000}, "nodes": [
        {"id": "start", "type": "start"},
        {"id": "fan", "type": "fanout", "config": {"items": "{{ range(%d) | list }}" % items, "max_parallel": 1000}},
        {"id": "work", "type": "llm", "config": {"prompt": "item {{ item }}"}},
        {"id": "join", "type": "join"},
        {"id": "out", "type": "output", "config": {"value": "{{ nodes.join.output | length }}"}},
    ], "edges": [{"source": "start", "target": "fan"}, {"source": "fan", "target": "work"}, {"source": "work", "target": "join"},
                 {"source": "join", "target": "out"}]}


def planner_workers(workers: int) -> dict:
    schema = {"type": "object", "properties": {"subtasks": {"type": "array", "items": {"type": "string"}, "minItems": workers, "maxItems": workers}},
              "required": ["subtasks"]}
    return {"format": "orchestrator.workflow/v1", "name": "orchestrator-workers", "settings": {"max_steps": 10000}, "nodes": [
        {"id": "start", "type": "start"},
        {"id": "plan", "type": "llm", "config": {"prompt": "plan", "output": "json", "json_schema": schema}},
        {"id": "fan", "type": "fanout", "config": {"items": "{{ nodes.plan.output.subtasks }}", "max_parallel": 100}},
        {"id": "work", "type": "llm", "config": {"prompt": "do {{ item }}"}},
        {"id": "join", "type": "join"},
        {"id": "synth", "type": "llm", "config": {"prompt": "merge {{ nodes.join.output | length }}"}},
        {"id": "out", "type": "output", "config": {"value": "{{ nodes.synth.output }}"}},
    ], "edges": [{"source": "start", "target": "plan"}, {"source": "plan", "target": "fan"}, {"source": "fan", "target": "work"},
                 {"source": "work", "target": "join"}, {"source": "join", "target": "synth"}, {"source": "synth", "target": "out"}]}


# ----------------------------------------------------------------- measuring

def run_once(graph: dict, run_input: dict | None = None) -> float:
    """Wall time from starting a run (as the API does) to its finish, in seconds."""
    from editor import services
    from editor.models import Run

    from django.db import connection

    started = time.perf_counter()
    run = services.start_run(workflow=None, version=None, graph=graph, team=None, user=None, run_input=run_input or {}, trigger="bench")
    # Poll with one plain query every 2 ms: an ORM query every millisecond
    # took a third of a core from the system being measured.
    with connection.cursor() as cursor:
        while True:
            cursor.execute(f"SELECT status FROM {Run._meta.db_table} WHERE id = %s", [run.pk])
            status = cursor.fetchone()[0]
            if status in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(0.002)
    elapsed = time.perf_counter() - started
    if status != "succeeded":
        raise RuntimeError(f"bench run {run.pk} {status}: {Run.objects.get(pk=run.pk).error}")
    return elapsed


def repeat(fn, repeats: int) -> list[float]:
    fn()  # warm-up: imports, connections, compiled templates
    return [fn() for _ in range(repeats)]


def per_node_cost(repeats: int) -> tuple[float, float, list[float]]:
    """(median 51-node chain - median 1-node chain) / 50, so the run's fixed
    cost cancels out; the spread is that of the long chain's times, since a
    ratio of differences near zero says nothing."""
    short, long = chain(1), chain(51)
    run_once(short, {"n": 1}), run_once(long, {"n": 1})  # warm-up
    shorts, longs = [], []
    for _ in range(repeats):
        shorts.append(run_once(short, {"n": 1}))
        longs.append(run_once(long, {"n": 1}))
    cost = (statistics.median(longs) - statistics.median(shorts)) / 50 * 1000
    return cost, max(longs) / min(longs), longs


def bench_user():
    from django.contrib.auth import get_user_model

    User = get_user_model()
    return User.objects.filter(username="bench").first() or User.objects.create_user("bench", password="bench-password")


def wait_for_web(port: int) -> None:
    """The web process may still be starting: its port answers first."""
    import socket

    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def post_concurrently(port: int, path: str, body: bytes, headers: dict[str, str], expect: int, total: int = 200,
                      concurrency: int = 10) -> tuple[float, list[bytes]]:
    """`total` POSTs of `body` to `path` from `concurrency` clients, each on one
    kept-alive connection (as HTTP clients and load tools use): the seconds
    they took and the answers. Any answer but `expect` fails the measure —
    an error in a client thread must not pass for a fast run (it once did:
    threads that died on their first answer left nothing to wait for, and the
    table said 1540 runs/s)."""
    import http.client

    lock = threading.Lock()
    counter = iter(range(total))
    answers: list[bytes] = []
    errors: list[str] = []

    def client():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        try:
            while not errors:
                with lock:
                    if next(counter, None) is None:
                        return
                connection.request("POST", path, body=body, headers={"Content-Type": "application/json", **headers})
                response = connection.getresponse()
                payload = response.read()
                with lock:
                    (answers if response.status == expect else errors).append(
                        payload if response.status == expect else f"{response.status} {payload[:200]!r}")
        except Exception as exc:  # a refused or broken connection counts as a failed call
            errors.append(repr(exc))
        finally:
            connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors or len(answers) != total:
        raise RuntimeError(f"POST {path}: {len(errors)} of {total} calls failed, e.g. {errors[0] if errors else 'none answered'}")
    return elapsed, answers


def api_throughput(port: int, total: int = 200, concurrency: int = 10) -> float:
    """Runs per second through POST /runs/, from the first POST until every run has finished
    (polled in the database here: bench/e2e.py measures the same with each run's WebSocket)."""
    from rest_framework.authtoken.models import Token

    from editor import services
    from editor.models import Run

    user = bench_user()
    token = Token.objects.get_or_create(user=user)[0].key
    workflow = services.create_workflow(team=user.personal_team, user=user, graph=chain(3), name="five nodes")
    path = f"/api/workflows/{workflow.pk}/runs/"
    started = time.perf_counter()
    posted, answers = post_concurrently(port, path, json.dumps({"input": {"n": 1}}).encode(), {"Authorization": f"Token {token}"}, 201,
                                        total, concurrency)
    ids = [json.loads(answer)["id"] for answer in answers]
    while Run.objects.filter(pk__in=ids).exclude(status__in=["succeeded", "failed", "cancelled"]).exists():
        time.sleep(0.005)
    elapsed = time.perf_counter() - started
    failed = Run.objects.filter(pk__in=ids).exclude(status="succeeded").count()
    if failed:
        raise RuntimeError(f"{failed} of {total} throughput runs did not succeed")
    print(f"  (throughput: {total} POSTs took {posted:.2f} s, all runs finished at {elapsed:.2f} s)")
    return total / elapsed


def token_latency(port: int, fake) -> list[float]:
    """Milliseconds from a token leaving the fake server to its arrival at a WebSocket client."""
    import re

    from rest_framework.authtoken.models import Token
    from websockets.sync.client import connect

    from editor import services
    from editor.models import Team

    user = bench_user()
    token = Token.objects.get_or_create(user=user)[0].key
    fake.timestamp_tokens = True
    fake.tokens_per_reply = 200
    fake.token_delay_s = 0.005
    graph = {"format": "orchestrator.workflow/v1", "name": "stream", "nodes": [
        {"id": "start", "type": "start"}, {"id": "write", "type": "llm", "config": {"prompt": "stream"}},
        {"id": "out", "type": "output", "config": {"value": "done"}}],
        "edges": [{"source": "start", "target": "write"}, {"source": "write", "target": "out"}]}
    latencies: list[float] = []
    stamp = re.compile(r"<t(\d+\.\d+)>")
    for _ in range(3):
        run = services.start_run(workflow=None, version=None, graph=graph, team=Team.objects.get(personal_owner=user), user=user,
                                 run_input={}, trigger="bench")
        with connect(f"ws://127.0.0.1:{port}/ws/runs/{run.pk}/?token={token}", additional_headers={"Origin": f"http://127.0.0.1:{port}"}) as ws:
            done = False
            while not done:
                message = json.loads(ws.recv(timeout=30))
                arrived = time.time()
                for event in message.get("events", []):
                    if message["type"] == "events" and event["type"] == "step.delta":
                        latencies += [(arrived - float(t)) * 1000 for t in stamp.findall(event["text"])]
                    done = done or event["type"] == "run.finished"
    fake.timestamp_tokens = False
    fake.tokens_per_reply = None
    fake.token_delay_s = 0
    return latencies


# ----------------------------------------------------------------- webhooks


def webhook_for(graph: dict, name: str) -> str:
    """A published workflow of `graph` with a webhook that answers with the output: its path."""
    from editor import services, triggers
    from editor.models import Trigger

    user = bench_user()
    workflow = services.create_workflow(team=user.personal_team, user=user, graph=graph, name=name)
    triggers.publish(workflow, None)
    trigger = Trigger.objects.create(workflow=workflow, type="webhook", token=triggers.new_token(),
                                     config=triggers.clean_config("webhook", {"respond": "output", "timeout_s": 120}))
    return f"/hooks/{trigger.token}/"


def webhook_once(port: int, path: str, body: dict) -> float:
    """Wall time from the client's POST to the webhook until the response with the output is in hand."""
    import http.client

    payload = json.dumps(body).encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    started = time.perf_counter()
    connection.request("POST", path, body=payload, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    data = response.read()
    elapsed = time.perf_counter() - started
    connection.close()
    if response.status != 200:
        raise RuntimeError(f"POST {path}: {response.status} {data[:300]!r}")
    return elapsed


def webhook_throughput(port: int, path: str, total: int = 200, concurrency: int = 10) -> float:
    """Runs per second for `total` webhook calls answered with the output, `concurrency` clients on kept-alive connections."""
    elapsed, _ = post_concurrently(port, path, json.dumps({"n": 1}).encode(), {}, 200, total, concurrency)
    return total / elapsed


def webhook_rows(port: int, fake, repeats: int) -> list[tuple[str, str, str, str]]:
    """The five workloads through a webhook that answers with the output (how peers are measured)."""
    rows = []
    short, long = webhook_for(chain(1), "hook chain 1"), webhook_for(chain(51), "hook chain 51")
    webhook_once(port, short, {"n": 1}), webhook_once(port, long, {"n": 1})  # warm-up
    shorts = [webhook_once(port, short, {"n": 1}) for _ in range(repeats)]
    longs = [webhook_once(port, long, {"n": 1}) for _ in range(repeats)]
    rows.append(("webhook: 1-node workflow, POST -> output", f"{statistics.median(shorts) * 1000:.1f} ms",
                 f"x{max(shorts) / min(shorts):.2f}", "(round trip)"))
    rows.append(("webhook: 50-node chain, extra cost per node", f"{(statistics.median(longs) - statistics.median(shorts)) / 50 * 1000:.3f} ms",
                 f"x{max(longs) / min(longs):.2f}", "<= 0.5 ms"))
    fake.latency_s = 0.2
    hook = webhook_for(fanout(100), "hook fanout")
    times = repeat(lambda: webhook_once(port, hook, {}), repeats)
    rows.append(("webhook: 100-item fan-out of 200 ms llm calls", f"{statistics.median(times):.3f} s", f"x{max(times) / min(times):.2f}", "<= 0.30 s"))
    hook = webhook_for(planner_workers(20), "hook planner")
    times = repeat(lambda: webhook_once(port, hook, {}), repeats)
    rows.append(("webhook: planner + 20 workers + synthesis", f"{statistics.median(times):.3f} s", f"x{max(times) / min(times):.2f}", "<= 0.66 s"))
    fake.latency_s = 0.0
    hook = webhook_for(chain(3), "hook five nodes")
    rates = [webhook_throughput(port, hook) for _ in range(max(1, repeats // 2))]
    rows.append(("webhook: 5-node runs, 200 at concurrency 10", f"{statistics.median(rates):.0f} runs/s", f"x{max(rates) / min(rates):.2f}",
                 ">= 150 runs/s"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="Celery worker processes (default: one per core).")
    parser.add_argument("--web", type=int, default=1, help="daphne processes sharing the API's port (default: 1).")
    parser.add_argument("--only", default="node,fanout,planner,api,tokens,webhook",
                        help="Comma-separated measures to run: node, fanout, planner, api, tokens, webhook (default: all).")
    args = parser.parse_args()
    only = set(args.only.split(","))
    state = setup_environment(args.workers, args.web)
    fake = state["fake"]
    rows = []
    try:
        time.sleep(3)  # the worker connects to the broker
        wait_for_web(state["port"])
        if "node" in only:
            median, spread, _ = per_node_cost(args.repeats)
            rows.append(("extra cost per node, 50-node transform chain", f"{median:.3f} ms", f"x{spread:.2f}", "<= 0.5 ms (n8n ~0.5 ms)"))

        fake.latency_s = 0.2
        if "fanout" in only:
            times = repeat(lambda: run_once(fanout(100)), args.repeats)
            rows.append(("100-item fan-out of 200 ms llm calls", f"{statistics.median(times):.3f} s", f"x{max(times) / min(times):.2f}",
                         "<= 0.30 s (ideal 0.2, sequential 20)"))
        if "planner" in only:
            times = repeat(lambda: run_once(planner_workers(20)), args.repeats)
            rows.append(("planner + 20 workers + synthesis, 200 ms each", f"{statistics.median(times):.3f} s", f"x{max(times) / min(times):.2f}",
                         "<= 0.66 s (ideal 0.6)"))
        fake.latency_s = 0.0

        if "api" in only:
            rates = [api_throughput(state["port"]) for _ in range(max(1, args.repeats // 2))]
            rows.append(("5-node runs through the API, 200 at concurrency 10", f"{statistics.median(rates):.0f} runs/s",
                         f"x{max(rates) / min(rates):.2f}", ">= 150 runs/s (n8n ~20)"))

        if "webhook" in only:
            rows.extend(webhook_rows(state["port"], fake, args.repeats))

        if "tokens" in only:
            latencies = token_latency(state["port"], fake)
            rows.append(("token: fake server -> WebSocket client", f"p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms",
                         f"n={len(latencies)}", "p99 <= 50 ms"))
    finally:
        teardown(state)
    load = os.getloadavg()[0]
    width = max(len(r[0]) for r in rows)
    print(f"\nOrchestrator engine benchmark — median of {args.repeats} repeats; spread = max/min of the repeats; "
          f"{args.workers} worker process(es), {args.web} web process(es); load avg {load:.2f} on {os.cpu_count()} cores")
    print(f"{'measure'.ljust(width)}  {'result':>28}  {'spread':>8}  target")
    for name, result, spread, target in rows:
        print(f"{name.ljust(width)}  {result:>28}  {spread:>8}  {target}")


if __name__ == "__main__":
    main()
