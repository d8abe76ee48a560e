"""Token auth for WebSockets (`?token=<key>`), for API clients that have no
session cookie. Browsers use their session through AuthMiddlewareStack.

A socket whose token names an active user goes straight to the routes: the
session and auth middlewares (a cookie parse, a session lookup and a thread
hop for a user the token already gave) are only for sockets without a good
token. A token this process remembers (editor/tokens.py) is checked without
a thread hop at all. Measured as a fifth of the web process's CPU for a run
socket of an API client (py-spy, bench/e2e.py)."""
from __future__ import annotations

from urllib.parse import parse_qs

from channels.db import database_sync_to_async


@database_sync_to_async
def _user_for_token(key: str):
    from .tokens import token_and_user

    found = token_and_user(key)
    return found[0] if found else None


async def user_for_token(key: str):
    from .tokens import remembered

    hit = remembered(key)
    return hit[0] if hit is not None else await _user_for_token(key)


class TokenAuthMiddleware:
    """A good `?token=` sets the user and skips `fallback` (the session stack,
    given the same inner application); anything else goes through it."""

    def __init__(self, inner, fallback=None):
        self.inner = inner
        self.fallback = fallback or inner

    async def __call__(self, scope, receive, send):
        params = parse_qs(scope.get("query_string", b"").decode())
        key = (params.get("token") or [None])[0]
        if key:
            user = await user_for_token(key)
            if user is not None:
                return await self.inner(dict(scope, user=user), receive, send)
        return await self.fallback(scope, receive, send)
