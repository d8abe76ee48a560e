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
stock handler's."""
from __future__ import annotations

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler


class SyncChainASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        # thread_sensitive: the request's database connection stays on one thread
        # (the request's own, from the ThreadSensitiveContext the handler opens).
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)
