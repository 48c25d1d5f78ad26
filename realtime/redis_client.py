"""One way to make a Redis client for the realtime stores: bounded, blocking, time-limited."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

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


@dataclass(frozen=True, slots=True)
class _Call:
    args: tuple[Any, ...]
    script: AsyncScript | None
    future: asyncio.Future[Any]


class Autopipeline:
    """Commands of concurrent callers go out together: one pipeline per turn of the event loop.

    redis-py spends more CPU taking a connection from its pool and giving it back than on a
    command itself; at hundreds of reports a second, the calls queued in one turn share one
    checkout and one round trip. Each caller gets its own reply, or its own error (a command
    that fails does not fail the others); a lost connection fails every caller of the batch.
    """

    def __init__(self, client: Redis) -> None:
        self._client = client
        self._waiting: list[_Call] = []
        self._sender: asyncio.Task[None] | None = None
        #: Pipelines sent (tests check that concurrent calls share them).
        self.batches = 0

    def command(self, *args: Any) -> asyncio.Future[Any]:
        return self._queue(args, None)

    def script(
        self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]
    ) -> asyncio.Future[Any]:
        """EVALSHA; a script Redis does not know (restarted, flushed) is loaded and sent again:
        it never ran."""
        return self._queue(("EVALSHA", script.sha, len(keys), *keys, *args), script)

    def _queue(self, args: tuple[Any, ...], script: AsyncScript | None) -> asyncio.Future[Any]:
        future = asyncio.get_running_loop().create_future()
        self._waiting.append(_Call(args, script, future))
        if self._sender is None:  # starts after this turn's other callers have queued
            self._sender = asyncio.create_task(self._send())
        return future

    async def _send(self) -> None:
        try:
            while self._waiting:
                calls, self._waiting = self._waiting, []
                await self._answer(calls)
        finally:
            self._sender = None
            for call in self._waiting:  # cancelled at shutdown: nobody is left hanging
                call.future.cancel()
            self._waiting = []

    async def _answer(self, calls: list[_Call]) -> None:
        try:
            replies = await self._pipeline(calls)
            unknown = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
            if unknown:
                scripts = {s for s in (calls[i].script for i in unknown) if s is not None}
                for script in scripts:
                    await self._client.script_load(script.script)
                again = await self._pipeline([calls[i] for i in unknown])
                for i, reply in zip(unknown, again, strict=True):
                    replies[i] = reply
        except asyncio.CancelledError:
            for call in calls:
                call.future.cancel()
            raise
        except Exception as exc:  # the connection or the pool: every caller of the batch
            for call in calls:
                if not call.future.done():
                    call.future.set_exception(exc)
            return
        for call, reply in zip(calls, replies, strict=True):
            if call.future.done():  # its caller was cancelled meanwhile
                continue
            if isinstance(reply, Exception):
                call.future.set_exception(reply)
            else:
                call.future.set_result(reply)

    async def _pipeline(self, calls: list[_Call]) -> list[Any]:
        self.batches += 1
        pipe = self._client.pipeline(transaction=False)
        for call in calls:
            pipe.execute_command(*call.args)
        replies: list[Any] = await pipe.execute(raise_on_error=False)
        return replies


__all__ = ["IO_TIMEOUT", "MAX_CONNECTIONS", "Autopipeline", "redis_client"]
