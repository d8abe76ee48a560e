"""Editor benchmark in headless Chromium (Playwright + Debian's chromium).

    .venv/bin/python bench/editor.py [--repeats 3]

Measures, on a 300-node workflow served by a real daphne (SQLite and an
embedded Redis in a temp dir):
- open: navigation start → every node of the first screen drawn and the
  server's validation shown (the page is usable);
- pan: frame times (requestAnimationFrame deltas) while the canvas is panned
  with the wheel, median and p95;
- fan-out: a 100-item fan-out's streamed updates (started, deltas, finished
  for each item: 400 events) fed through the page's own reducer path
  (window.__orchestratorFeed, the WebSocket's message handler) → the frame
  after the canvas shows 100/100.
Prints a table of medians over the repeats."""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.tables import percentile  # noqa: E402


def setup() -> dict:
    from orchestrator_site.embedded import EmbeddedRedis, free_port

    state: dict = {"tmp": tempfile.mkdtemp(prefix="orchestrator-bench-editor-")}
    if not os.environ.get("REDIS_URL"):
        state["redis"] = EmbeddedRedis().start()
        os.environ["REDIS_URL"] = state["redis"].url
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{state['tmp']}/bench.sqlite3")
    os.environ.update(DJANGO_SETTINGS_MODULE="orchestrator_site.settings", LOG_LEVEL="ERROR", OPENAI_API_KEY="")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    state["port"] = free_port()
    state["proc"] = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(state["port"]), "orchestrator_site.asgi:application"],
                                     cwd=ROOT, env=dict(os.environ), stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", state["port"]), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("daphne did not start")
            time.sleep(0.1)
    return state


def big_graph(size: int = 300) -> dict:
    """start → a fan-out of 100 items over `work` → join, then layers of transforms, width 12: `size` nodes in all."""
    nodes = [
        {"id": "start", "type": "start"},
        {"id": "fan", "type": "fanout", "config": {"items": "{{ [1, 2, 3] }}"}},
        {"id": "work", "type": "transform", "config": {"value": "{{ item }}"}},
        {"id": "collect", "type": "join"},
    ]
    edges = [{"source": "start", "target": "fan"}, {"source": "fan", "target": "work"}, {"source": "work", "target": "collect"}]
    previous = ["collect"]
    while len(nodes) < size - 1:
        layer = []
        for j in range(min(12, size - 1 - len(nodes))):
            nid = f"t{len(nodes)}"
            nodes.append({"id": nid, "type": "transform", "config": {"value": "{{ input.topic }}"}})
            edges.append({"source": previous[j % len(previous)], "target": nid})
            layer.append(nid)
        previous = layer
    nodes.append({"id": "out", "type": "output", "config": {"value": "done"}})
    edges += [{"source": p, "target": "out"} for p in previous]
    from engine.format import FORMAT_V1

    return {"format": FORMAT_V1, "name": "Bench 300", "inputs": {"type": "object", "properties": {"topic": {"type": "string"}}}, "nodes": nodes, "edges": edges}


PAN_JS = """async () => {
  const pane = document.querySelector('.react-flow__pane');
  const box = pane.getBoundingClientRect();
  const deltas = [];
  let last = performance.now();
  let running = true;
  const tick = (t) => { deltas.push(t - last); last = t; if (running) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  for (let i = 0; i < 120; i++) {
    pane.dispatchEvent(new WheelEvent('wheel', {deltaX: (i % 40 < 20 ? 25 : -25), deltaY: 15 * (i % 20 < 10 ? 1 : -1), clientX: box.x + box.width / 2, clientY: box.y + box.height / 2, bubbles: true, cancelable: true}));
    await new Promise((r) => requestAnimationFrame(r));
  }
  running = false;
  return deltas.slice(2);
}"""

FEED_JS = """async (n) => {
  const feed = window.__orchestratorFeed;
  const t0 = performance.now();
  const ev = (e) => feed({type: 'events', events: [e]});
  ev({type: 'step.finished', run: RUN, node: 'fan', key: '1', status: 'succeeded', output: Array.from({length: n}, (_, i) => i)});
  for (let i = 0; i < n; i++) ev({type: 'step.started', run: RUN, node: 'work', key: `fan#1[${i}]/1`, node_type: 'transform'});
  for (let i = 0; i < n; i++) ev({type: 'step.delta', run: RUN, node: 'work', key: `fan#1[${i}]/1`, text: 'partial '});
  for (let i = 0; i < n; i++) ev({type: 'step.delta', run: RUN, node: 'work', key: `fan#1[${i}]/1`, text: 'result'});
  for (let i = 0; i < n; i++) ev({type: 'step.finished', run: RUN, node: 'work', key: `fan#1[${i}]/1`, status: 'succeeded', output: i});
  const done = () => /100\\/(100|\\?)/.test(document.querySelector('.react-flow__node[data-id=work]')?.textContent || '');
  while (!done()) {
    if (performance.now() - t0 > 20000) throw new Error('the canvas never showed 100 items done: ' + document.querySelector('.react-flow__node[data-id=work]')?.textContent);
    await new Promise((r) => requestAnimationFrame(r));
  }
  await new Promise((r) => requestAnimationFrame(r));
  return performance.now() - t0;
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        sys.exit("no Chromium found: apt-get install chromium, or set CHROMIUM=/path")
    state = setup()
    try:
        from django.contrib.auth import get_user_model

        from editor import services
        from editor.models import Run
        from playwright.sync_api import sync_playwright
        from tests.e2e.conftest import real_password

        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        user = get_user_model().objects.create_user("bench", password="x")
        real_password(user, "bench-password")
        workflow = services.create_workflow(team=user.personal_team, user=user, graph=big_graph())
        server = f"http://127.0.0.1:{state['port']}"
        opens, frames, feeds = [], [], []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            context = browser.new_context(viewport={"width": 1280, "height": 720})
            page = context.new_page()
            page.goto(f"{server}/login/")
            page.get_by_label("Username").fill("bench")
            page.get_by_label("Password").fill("bench-password")
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{server}/")
            for _ in range(args.repeats):
                run = Run.objects.create(workflow=workflow, version=workflow.latest_version, graph=workflow.latest_version.graph,
                                         team=workflow.team, input={"topic": "x"}, status=Run.Status.RUNNING)
                t0 = time.perf_counter()
                page.goto(f"{server}/workflows/{workflow.pk}/?run={run.pk}")
                page.locator(".react-flow__node").first.wait_for()
                page.wait_for_function("() => /valid|problem/.test(document.querySelector('[data-testid=validity]')?.textContent || '')", timeout=60000)
                page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
                opens.append((time.perf_counter() - t0) * 1000)
                page.wait_for_function("() => !!window.__orchestratorFeed")
                page.locator('.react-flow__node[data-id="work"]').wait_for()
                feeds.append(page.evaluate(FEED_JS.replace("RUN", str(run.pk)), 100))
                frames += page.evaluate(PAN_JS)
            browser.close()
        rows = [
            ("open + render 300 nodes (ms, median)", statistics.median(opens)),
            ("pan frame time (ms, median)", statistics.median(frames)),
            ("pan frame time (ms, p95)", percentile(frames, 95)),
            ("apply 100-item fan-out, 400 events (ms, median)", statistics.median(feeds)),
        ]
        print(f"\n{'measure':<52}{'value':>10}")
        print("-" * 62)
        for name, value in rows:
            print(f"{name:<52}{value:>10.1f}")
        print(f"({args.repeats} repeats; {len(frames)} frames)")
    finally:
        state["proc"].terminate()
        state["proc"].wait(10)
        if "redis" in state:
            state["redis"].stop()
        shutil.rmtree(state["tmp"], ignore_errors=True)


if __name__ == "__main__":
    main()
