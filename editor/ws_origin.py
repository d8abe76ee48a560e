"""Which WebSocket handshakes are let in, by their Origin header.

Cross-site WebSocket hijacking needs a browser, and a browser always sends
`Origin`; so a handshake without one (the CLI, a script using `websockets`
with `?token=`) is allowed, and one with an Origin must come from this very
site: the Origin's host *and port* equal the Host the client connected to, or
the Origin is one of CSRF_TRUSTED_ORIGINS (for a proxy that rewrites Host).
Channels' AllowedHostsOriginValidator refused the first and ignored ports."""
from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import validate_host


def _netloc(url: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(parts.scheme)
    return parts.scheme, parts.hostname.lower(), port or default


def origin_allowed(origin: str | None, host: str | None) -> bool:
    if origin is None:
        return True
    theirs = _netloc(origin)
    if theirs is None:
        return False
    trusted = {_netloc(o) for o in settings.CSRF_TRUSTED_ORIGINS}
    if theirs in trusted:
        return True
    if not host:
        return False
    ours = _netloc(f"{theirs[0]}://{host}")
    if ours is None or not validate_host(ours[1], settings.ALLOWED_HOSTS):
        return False
    return (theirs[1], theirs[2]) == (ours[1], ours[2])


class OriginValidator:
    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers") or [])
        origin = headers.get(b"origin")
        host = headers.get(b"host")
        if origin_allowed(origin.decode("latin-1") if origin is not None else None, host.decode("latin-1") if host else None):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
