#!/usr/bin/env python
"""The fake OpenAI-compatible model in a process of its own, for benchmarks.

In its own process it neither shares a GIL with the client that measures nor
with the system measured. A second port serves its counters:

    GET  /stats  -> {"requests": n, "max_in_flight": m, "arrival_spread_ms": first to last arrival}
    POST /reset  -> counters back to zero

    .venv/bin/python bench/fake_server.py --latency 0.2 [--tokens 200 --token-delay 0.005 --timestamps]

It prints one JSON line when it listens: {"base_url", "control_url"}."""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fake_openai import FakeOpenAI, Reply  # noqa: E402


class CountingFake(FakeOpenAI):
    """Counts requests and, from their arrival times, how many were in flight
    at once (a reply takes `latency_s`, so those that arrived within one
    latency of each other overlapped)."""

    def __post_init__(self):
        super().__post_init__()
        self.arrivals: list[float] = []

    def next_reply(self, body) -> Reply:
        with self._lock:
            self.arrivals.append(time.monotonic())
        return super().next_reply(body)

    def stats(self) -> dict:
        with self._lock:
            arrivals = sorted(self.arrivals)
            count = len(self.requests)
        window = max(self.latency_s, 0.001)
        peak, first = 0, 0
        for last, at in enumerate(arrivals):
            while arrivals[first] <= at - window:
                first += 1
            peak = max(peak, last - first + 1)
        # How long the requests took to arrive, first to last: a fan-out's
        # calls leave one after another, and this is how far apart.
        spread_ms = (arrivals[-1] - arrivals[0]) * 1000 if arrivals else 0.0
        return {"requests": count, "max_in_flight": peak, "arrival_spread_ms": round(spread_ms, 1)}

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self.arrivals.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--tokens", type=int, default=None, help="pad each reply to this many streamed chunks")
    parser.add_argument("--token-delay", type=float, default=0.0)
    parser.add_argument("--timestamps", action="store_true", help="prefix each chunk with its send time")
    args = parser.parse_args()
    fake = CountingFake(latency_s=args.latency, token_delay_s=args.token_delay, timestamp_tokens=args.timestamps,
                        tokens_per_reply=args.tokens)
    # A real endpoint accepts a thousand connections at once; the default backlog of 5 would not.
    fake.httpd.socket.listen(2048)
    fake.start()

    class Control(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def _answer(self, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._answer(fake.stats())

        def do_POST(self):
            fake.clear()
            self._answer({"ok": True})

    control = ThreadingHTTPServer(("127.0.0.1", 0), Control)
    threading.Thread(target=control.serve_forever, daemon=True).start()
    print(json.dumps({"base_url": fake.base_url, "control_url": f"http://127.0.0.1:{control.server_address[1]}"}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
