"""One Redis client (and connection pool) per process and URL, and one async
client per event loop: opening a connection costs more than the calls
themselves (redis-py even reads its package metadata for each one)."""
from __future__ import annotations

import asyncio
import weakref
from functools import lru_cache

import redis
import redis.asyncio as aioredis
from django.conf import settings

_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, aioredis.Redis]]" = weakref.WeakKeyDictionary()


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def client() -> redis.Redis:
    return _client(settings.REDIS_URL)


def async_client() -> aioredis.Redis:
    """The running event loop's client (an async client is bound to one loop)."""
    per_loop = _async_clients.setdefault(asyncio.get_running_loop(), {})
    client = per_loop.get(settings.REDIS_URL)
    if client is None:
        client = per_loop[settings.REDIS_URL] = aioredis.from_url(settings.REDIS_URL)
    return client


async def close_async_clients() -> None:
    """Close the running loop's clients: for a short-lived loop, before it ends."""
    for client in _async_clients.pop(asyncio.get_running_loop(), {}).values():
        await client.aclose()
