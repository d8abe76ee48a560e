"""API tokens, looked up once and then remembered for a few seconds.

Every API request and every run WebSocket of a client authenticates with its
token; reading the token and its user is a query each time, for an answer
that changes about never. A positive answer is kept in this process for
TOKEN_CACHE_S seconds (default 10). Deleting a token or deactivating a user
forgets it here at once; another process stops accepting it within
TOKEN_CACHE_S. Set TOKEN_CACHE_S=0 to look the token up every time."""
from __future__ import annotations

import threading
import time

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

_MAX = 4096
_lock = threading.Lock()
_cache: dict[str, tuple[float, object, Token]] = {}


def _ttl() -> float:
    return float(getattr(settings, "TOKEN_CACHE_S", 10))


def remembered(key: str):
    """(user, token) when this process remembers the token as good, else None
    (not known, or kept too long): no database, so an async caller can ask
    before deciding whether it needs a thread for the lookup."""
    with _lock:
        hit = _cache.get(key)
    if hit and hit[0] > time.monotonic():
        return hit[1], hit[2]
    return None


def token_and_user(key: str):
    """(user, token) for an active user's token, else None."""
    hit = remembered(key)
    if hit is not None:
        return hit
    now = time.monotonic()
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    ttl = _ttl()
    if ttl > 0:
        with _lock:
            if len(_cache) >= _MAX:
                _cache.clear()  # a flood of distinct tokens costs a query each, never memory
            _cache[key] = (now + ttl, token.user, token)
    return token.user, token


def forget(key: str | None = None, user_id: int | None = None) -> None:
    with _lock:
        for cached in list(_cache):
            if cached == key or (user_id is not None and _cache[cached][1].pk == user_id):
                _cache.pop(cached, None)


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's token authentication (`Authorization: Token <key>`) through the cache above."""

    def authenticate_credentials(self, key):
        from rest_framework import exceptions

        found = token_and_user(key)
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid token, or its user is inactive.")
        return found


def _token_deleted(sender, instance, **kwargs):
    forget(key=instance.key)


def _user_saved(sender, instance, **kwargs):
    forget(user_id=instance.pk)  # deactivated, renamed: read it afresh


post_delete.connect(_token_deleted, sender=Token, dispatch_uid="forget-deleted-token")
post_save.connect(_user_saved, sender=settings.AUTH_USER_MODEL, dispatch_uid="forget-saved-user")
