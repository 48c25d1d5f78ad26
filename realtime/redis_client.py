"""One way to make a Redis client for the realtime stores: bounded, blocking, time-limited."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry

#: Bounds connect and every round trip: a dead Redis never hangs a caller.
IO_TIMEOUT = 5.0
#: Connections per client; more concurrent calls wait their turn (up to IO_TIMEOUT) instead of
#: failing at once, as redis-py's default pool does when every connection is busy.
MAX_CONNECTIONS = 128


def redis_client(url: str, *, client_name: str | None, retry: Retry) -> Redis:
    return Redis.from_pool(
        BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=IO_TIMEOUT,
            retry=retry,
            client_name=client_name,
            socket_connect_timeout=IO_TIMEOUT,
            socket_timeout=IO_TIMEOUT,
        )
    )


__all__ = ["IO_TIMEOUT", "MAX_CONNECTIONS", "redis_client"]
