"""Django's SQLite backend with its connections kept for reuse.

Under ASGI every request, and every `database_sync_to_async` call of a
WebSocket consumer, runs in a context of its own, so Django opens a new
SQLite connection for it and closes it after: `sqlite3.connect`, thirty-odd
SQL functions registered, the PRAGMAs. In the web process that was a sixth
of its CPU at a few dozen runs a second (py-spy, bench/e2e.py). Here a closed
connection goes back to a small per-process pool and the next one is taken
from it. PostgreSQL has Django's own pool (settings.py); SQLite has none.

A pooled connection is only handed out to the same process and the same
database file (the inode is checked, so a test database deleted and made
anew is never written through an old handle), and never inside a
transaction: one is rolled back before it is kept."""
from __future__ import annotations

import os
import threading

from django.db.backends.sqlite3 import base as sqlite

IDLE_MAX = 32  # more idle connections than a process's busiest moment needs are closed

_lock = threading.Lock()
_idle: dict[tuple[int, str], list[tuple[object, int]]] = {}


def _inode(path: str) -> int:
    try:
        return os.stat(path).st_ino
    except OSError:
        return -1


class DatabaseWrapper(sqlite.DatabaseWrapper):
    def _pool_key(self) -> tuple[int, str]:
        return os.getpid(), str(self.settings_dict["NAME"])

    def get_new_connection(self, conn_params):
        if not self.is_in_memory_db():
            key = self._pool_key()
            inode = _inode(key[1])
            with _lock:
                idle = _idle.get(key, [])
                while idle:
                    conn, kept_inode = idle.pop()
                    if kept_inode == inode:
                        return conn
                    conn.close()
        return super().get_new_connection(conn_params)

    def _close(self):
        conn = self.connection
        if conn is None or self.is_in_memory_db():
            return super()._close()
        with self.wrap_database_errors:
            if conn.in_transaction:
                conn.rollback()
            conn.isolation_level = None  # back to autocommit, as Django leaves a connection it opens
            key = self._pool_key()
            with _lock:
                idle = _idle.setdefault(key, [])
                if len(idle) < IDLE_MAX:
                    idle.append((conn, _inode(key[1])))
                    return None
            return conn.close()
