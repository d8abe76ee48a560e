#!/usr/bin/env python
"""The web process's CPU per request, by kind of request a run's client makes.

bench/e2e.py prints the web CPU of a whole run (its POST, its WebSocket);
this splits it, so a change to one part is measured on that part alone:

  POST /runs/          start a run (the worker runs it meanwhile)
  WebSocket snapshot   open the run's socket, read the snapshot, close (runs finished)
  GET /healthz         the floor: a request through the middlewares to a trivial view

    .venv/bin/python bench/split_cpu.py [--n 300] [--concurrency 10]
    WEB_SERVER=uvicorn .venv/bin/python bench/split_cpu.py   # the same with uvicorn"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.e2e import Client, Instance, chain, create_user_and_token  # noqa: E402


async def measure(instance: Instance, token: str, n: int, concurrency: int) -> None:
    import websockets

    client = Client(instance, token)
    team = next(t for t in await client.call("GET", "/api/teams/") if t.get("personal"))["id"]
    workflow = await client.workflow(team, chain(3))
    runs: list[int] = []

    async def post(count: int) -> None:
        for _ in range(count):
            runs.append((await client.call("POST", f"/api/workflows/{workflow}/runs/", {"input": {"n": 1}}))["id"])

    async def snapshot(ids: list[int]) -> None:
        for run in ids:
            async with websockets.connect(f"{client.ws_base}/ws/runs/{run}/?token={token}", origin=client.base, compression=None) as ws:
                await ws.recv()

    async def health(count: int) -> None:
        for _ in range(count):
            async with client.session.get(f"{client.base}/healthz") as response:
                await response.read()

    kinds = {
        "POST /runs/": lambda: [post(n // concurrency) for _ in range(concurrency)],
        "WebSocket snapshot": lambda: [snapshot(runs[i::concurrency]) for i in range(concurrency)],
        "GET /healthz": lambda: [health(n // concurrency) for _ in range(concurrency)],
    }
    try:
        await post(20), await snapshot(runs[:20]), await health(20)  # warm-up
        runs.clear()
        for kind, calls in kinds.items():
            if kind == "WebSocket snapshot":
                await asyncio.sleep(5)  # the runs finish: only the web process works below
            before = instance.cpu()["web"]
            started = time.perf_counter()
            await asyncio.gather(*calls())
            wall = time.perf_counter() - started
            cpu = (instance.cpu()["web"] - before) / n * 1000
            print(f"{os.environ.get('WEB_SERVER') or 'daphne':8} {kind:20} web CPU {cpu:5.2f} ms/request  ({n / wall:.0f}/s)", flush=True)
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=300, help="requests of each kind")
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    instance = Instance(1, 16)
    try:
        asyncio.run(measure(instance, create_user_and_token(instance), args.n, args.concurrency))
    finally:
        instance.stop()


if __name__ == "__main__":
    main()
