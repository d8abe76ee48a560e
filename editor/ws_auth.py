"""Token auth for WebSockets (`?token=<key>`), for API clients that have no
session cookie. Browsers use their session through AuthMiddlewareStack."""
from __future__ import annotations

from urllib.parse import parse_qs

from channels.db import database_sync_to_async


@database_sync_to_async
def _user_for_token(key: str):
    from .tokens import token_and_user

    found = token_and_user(key)
    return found[0] if found else None


class TokenAuthMiddleware:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        params = parse_qs(scope.get("query_string", b"").decode())
        key = (params.get("token") or [None])[0]
        if key:
            user = await _user_for_token(key)
            if user is not None:
                scope = dict(scope, user=user)
        return await self.inner(scope, receive, send)
