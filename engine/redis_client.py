"""One Redis client (and connection pool) per process and URL, and one async
client per event loop: opening a connection costs more than the calls
themselves (redis-py even reads its package metadata for each one)."""
from __future__ import annotations

import asyncio
import os
import weakref
from functools import lru_cache

import redis
import redis.asyncio as aioredis
from django.conf import settings

ASYNC_POOL_SIZE = int(os.environ.get("REDIS_ASYNC_POOL_SIZE", "64"))
_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, aioredis.Redis]]" = weakref.WeakKeyDictionary()


# A call that meets a dropped connection (Redis restarted) reconnects and is
# tried again a few times with backoff before the error reaches the caller.
def _retry():
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    return Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=6)


def _aretry():
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff

    return Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=6)


_RETRY_ON = [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError]


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, retry=_retry(), retry_on_error=_RETRY_ON, health_check_interval=10)


def client() -> redis.Redis:
    return _client(settings.REDIS_URL)


def async_client() -> aioredis.Redis:
    """The running event loop's client (an async client is bound to one loop)."""
    per_loop = _async_clients.setdefault(asyncio.get_running_loop(), {})
    client = per_loop.get(settings.REDIS_URL)
    if client is None:
        # A blocking pool: past REDIS_ASYNC_POOL_SIZE connections a call waits
        # for a free one instead of failing with "Too many connections" (which
        # lost a wide fan-out's results and made its model calls twice).
        pool = aioredis.BlockingConnectionPool.from_url(settings.REDIS_URL, max_connections=ASYNC_POOL_SIZE, timeout=None,
                                                        retry=_aretry(), retry_on_error=_RETRY_ON, health_check_interval=10)
        client = per_loop[settings.REDIS_URL] = aioredis.Redis(connection_pool=pool)
    return client


async def close_async_clients() -> None:
    """Close the running loop's clients: for a short-lived loop, before it ends."""
    for client in _async_clients.pop(asyncio.get_running_loop(), {}).values():
        await client.aclose()
