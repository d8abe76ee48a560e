"""One asyncio event loop per process, in a daemon thread, for everything that
waits on the network: model calls, event publishing. A fan-out of a hundred
model calls is a hundred coroutines here, not a hundred threads or processes."""
from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Any, Coroutine

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def get_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="orchestrator-io", daemon=True)
            thread.start()
            _loop = loop
        return _loop


def submit(coro: Coroutine[Any, Any, Any]) -> Future:
    return asyncio.run_coroutine_threadsafe(coro, get_loop())


def call_soon(callback, *args) -> None:
    get_loop().call_soon_threadsafe(callback, *args)
