"""A worker must ride out a Redis restart; celery 5.7 + kombu 5.7 kill it.

Measured (tests/faults, a Redis restart under load, with or without gossip
and mingle): within ~50 ms of losing Redis a worker logged `Unrecoverable
error: AttributeError('NoneType' object has no attribute 'hostname')` and
exited. The traceback, shortened:

    celery/worker/consumer/consumer.py  Consumer.on_connection_error_after_connected
        self.connection.collect(...)            # kombu Connection._do_close_transport(): transport.client = None
        ignore_errors(connection, connection.close)
    kombu/connection.py        _close -> _do_close_self -> maybe_close_channel(default channel)
    kombu/transport/redis.py   Channel.close: _disconnect_pools(), then virtual Channel.close
    kombu/transport/virtual    Channel.close -> QoS.restore_unacked_once()
    kombu/transport/redis.py   QoS.restore_unacked -> conn_or_acquire -> _create_client -> pool
                               -> _get_pool -> _connparams: self.connection.client.hostname

That is: after a connection loss, celery first *collects* the broken
connection (which unhooks the transport from its Connection), then closes
it; closing the consumer's channel puts the worker's unacknowledged messages
back (acks_late tasks in flight: why it happens under load and not on an
idle worker), which needs a Redis client, whose pool must be rebuilt from a
transport whose `client` is now None. An AttributeError is not one of the
connection errors `ignore_errors` swallows, so it escapes the restart and
ends the worker. (The same failing line as celery/kombu issue #582, reached
there through gossip's channel; turning gossip and mingle off, as done
before, does not avoid this path.)

A second path ends the same way: a task that was running when the
connection was lost finishes after the reconnect and acknowledges its
message through the old, collected channel (kombu Message.ack -> redis
QoS.ack -> pipe_or_acquire -> ... -> _connparams).

The fix: a channel whose transport was collected has no connection left;
asking it for a new Redis client raises a Redis ConnectionError instead of
the AttributeError — one of the transport's connection errors, which the
close (`ignore_errors`) and the acknowledgement (`ack_log_error`) already
treat as "the connection is gone" and survive. The unacknowledged messages
stay in Redis's unacked set, where kombu's visibility timeout restores them
(a task delivered again is harmless: only the lease holder advances a run,
and the engine's sweeper re-sends from the database any run whose worker is
gone, within seconds): nothing is lost. Applied once, when the Celery app is
imported; drop it when kombu guards this itself."""
from __future__ import annotations


def apply() -> None:
    from kombu.transport import redis as kombu_redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    original = kombu_redis.Channel._connparams
    if getattr(original, "_collected_transport_guard", False):
        return

    def _connparams(self, asynchronous=False):
        transport = getattr(self, "connection", None)
        if transport is None or getattr(transport, "client", None) is None:
            raise RedisConnectionError("this broker channel's connection was closed after a connection loss")
        return original(self, asynchronous=asynchronous)

    _connparams._collected_transport_guard = True
    kombu_redis.Channel._connparams = _connparams


def reuse_clients() -> None:
    """One redis-py client per broker channel instead of one per call.

    kombu's Redis channel builds a new `redis.Redis` object for every call
    that does not hold one (`conn_or_acquire`): each acknowledgement, each
    unacked-index update, each publish. The object only wraps the channel's
    connection pool, but building it (its response-callback table) was ~5 %
    of the worker's CPU per short run. A client is safe to share between
    threads (each command or pipeline takes its own pooled connection), so
    one is kept per channel and pool; when the channel drops its pool (a
    connection loss), the next call builds a new client on the new pool —
    through `_connparams`, so the collected-transport guard above still
    applies."""
    from kombu.transport import redis as kombu_redis

    original = kombu_redis.Channel._create_client
    if getattr(original, "_reused", False):
        return

    def _create_client(self, asynchronous=False):
        if asynchronous:
            return original(self, asynchronous=True)
        pool = self.pool  # rebuilt (or refused, see apply) after a connection loss
        cached = self.__dict__.get("_orchestrator_client")
        if cached is not None and cached.connection_pool is pool:
            return cached
        client = original(self, asynchronous=False)
        self.__dict__["_orchestrator_client"] = client
        return client

    _create_client._reused = True
    kombu_redis.Channel._create_client = _create_client
