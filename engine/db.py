"""Database calls from the I/O loop, in a thread of their own.

The threads behind `sync_to_async(thread_sensitive=False)` live on after a
call; a database connection left open in each would hold a slot of the
PostgreSQL pool for good (and a file handle on SQLite). So every such call
gives its connection back when it returns."""
from __future__ import annotations

from typing import Any, Awaitable, Callable

from asgiref.sync import sync_to_async
from django.db import connections


def off_loop(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    return sync_to_async(call, thread_sensitive=False)
