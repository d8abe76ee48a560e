"""Django's ASGI handler with the middleware chain run synchronously, in one thread hop.

Django's stock ASGIHandler builds its middleware chain in async mode. Every
view here but the webhook is synchronous (DRF), and so are some middlewares
(WhiteNoise, the CSP one), so a request went event loop -> thread (the
synchronous middlewares) -> event loop (the async-capable ones, each of which
runs its process_request/process_response through sync_to_async, a thread hop
each) -> thread (the view) and back: a dozen hops per request, measured as
about a fifth of the web process's CPU for a `POST /runs/` (bench/split_cpu.py).

Here the chain is built in sync mode, the way WSGI runs it, and the whole
request (middlewares and view) is one `sync_to_async` call. An async view (the
webhook) is run by Django's sync path with `async_to_sync`: its thread waits
for it, as it already did behind the synchronous middlewares. Everything
else (reading the body, streaming the response, disconnects, signals) is the
stock handler's.

Each request still has a thread of its own (a waiting webhook holds one, and
must not hold up the others), but the threads are kept: the stock handler's
per-request ThreadSensitiveContext made a new single-thread executor for each
request, started its thread, and started another thread to join it at the
end (py-spy: Thread.start and ThreadPoolExecutor's bookkeeping, 5-8 % of the
web process under load). Here a request borrows an idle one-thread executor
and gives it back."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler

IDLE_THREADS_MAX = 64  # kept beyond this many at once, a request's thread is let go after it


class _RequestThreads:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[ThreadPoolExecutor] = []

    def take(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        # One thread, one call at a time: what asgiref's ThreadSensitiveContext requires.
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")

    def give_back(self, executor: ThreadPoolExecutor) -> None:
        """Idle again once everything already queued on it has run: a request
        whose client went away can leave its view still running there (a
        webhook waiting out its timeout_s), and the next request must not
        wait behind it."""
        executor.submit(lambda: None).add_done_callback(lambda _: self._idle_again(executor))

    def _idle_again(self, executor: ThreadPoolExecutor) -> None:
        with self._lock:
            if len(self._idle) < IDLE_THREADS_MAX:
                self._idle.append(executor)
                return
        executor.shutdown(wait=False)


_threads = _RequestThreads()


class SyncChainASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def handle(self, scope, receive, send):
        # The outermost ThreadSensitiveContext decides: the stock handler's own
        # (inside super().handle) then uses this borrowed thread.
        executor = _threads.take()
        try:
            async with ThreadSensitiveContext(executor=executor):
                return await super().handle(scope, receive, send)
        finally:
            _threads.give_back(executor)

    async def get_response_async(self, request):
        # thread_sensitive: the request's database connection stays on one thread
        # (the request's own, from the ThreadSensitiveContext opened above).
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)
