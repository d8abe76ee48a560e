"""Which worker processes are alive: a Redis sorted set each worker process
stamps every ANNOUNCE_EVERY_S.

The owner of a run asks it before sharing a wide fan-out: with no other
worker process alive, chunks sent through the broker come back to the same
process after a round trip and a claim, for nothing (a 100-item fan-out took
0.52 s that way and 0.39 s kept in-process, bench/e2e.py). The answer is a
hint, not a truth: a worker that appears later just takes no share of a
fan-out already launched, and one that died is still counted for a few
seconds, in which case its chunks come back through the usual reclaim path."""
from __future__ import annotations

import logging
import os
import socket
import threading
import time

from . import redis_client

log = logging.getLogger(__name__)

KEY = "orchestrator:workers"
ANNOUNCE_EVERY_S = 2.0
ALIVE_WITHIN_S = 3 * ANNOUNCE_EVERY_S

_lock = threading.Lock()
_started = False
_seen: tuple[float, bool] = (0.0, False)  # (until, answer): asked at most once a second


def me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def announce_forever() -> None:
    """Start this process's stamps (once per process; a Redis outage only pauses them)."""
    global _started
    with _lock:
        if _started:
            return
        _started = True

    def stamp() -> None:
        while True:
            try:
                now = time.time()
                client = redis_client.client()
                client.zadd(KEY, {me(): now})
                client.zremrangebyscore(KEY, 0, now - 60)
            except Exception:  # Redis away for a moment: try again at the next stamp
                log.debug("could not announce this worker", exc_info=True)
            time.sleep(ANNOUNCE_EVERY_S)

    threading.Thread(target=stamp, name="worker-announcer", daemon=True).start()


def others_alive() -> bool:
    """Whether another worker process stamped within ALIVE_WITHIN_S."""
    global _seen
    now = time.monotonic()
    if _seen[0] > now:
        return _seen[1]
    try:
        names = redis_client.client().zrangebyscore(KEY, time.time() - ALIVE_WITHIN_S, "+inf")
        answer = any(name.decode() != me() for name in names)
    except Exception:  # without Redis nobody could take a chunk anyway
        answer = False
    _seen = (now + 1.0, answer)
    return answer
