"""Redis pub/sub backend: one client for publishing and one PubSub connection for every channel."""

import asyncio
import contextlib
from collections import deque
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from realtime.backends.base import BackendUnavailable
from realtime.redis_client import IO_TIMEOUT, Autopipeline, redis_client

# Never 0.0 (the redis-py default): polling get_message() then spins the CPU (redis-py#3208).
READ_TIMEOUT = 1.0
# Bounds connect, publish and SUBSCRIBE confirmation, so a dead server never hangs a caller.
_LOST = (RedisConnectionError, RedisTimeoutError, OSError)


class RedisBackend:
    """Redis pub/sub over exact channel names (no PSUBSCRIBE), reconnected only by the broker."""

    def __init__(self, url: str, *, client_name: str | None = None) -> None:
        self._url = url  # may hold a password: never put it in a message
        self._client_name = client_name
        self._client: Redis | None = None
        self._calls: Autopipeline | None = None
        self._sub_client: Redis | None = None
        self._pubsub: PubSub | None = None
        self._channels: set[str] = set()
        self._confirming: dict[str, deque[asyncio.Future[None]]] = {}
        self._reading = False
        self._broken: str | None = None
        self._wakeup = asyncio.Event()

    @property
    def client_name(self) -> str | None:
        """The CLIENT SETNAME of both connections, so an operator (or a test) can find them."""
        return self._client_name

    async def connect(self) -> None:
        await self.disconnect()
        # Publishing may retry briefly (a pooled connection can be stale after a restart).
        self._client = self._make_client(
            Retry(ExponentialWithJitterBackoff(cap=0.25, base=0.01), 2)
        )
        self._calls = Autopipeline(self._client)
        # The PubSub must not: redis-py would reconnect and resubscribe silently, hiding the
        # messages lost in the gap. It fails loudly and the broker reconnects instead.
        self._sub_client = self._make_client(Retry(NoBackoff(), 0, supported_errors=()))
        self._pubsub = self._sub_client.pubsub()
        self._broken = None
        try:
            await self._client.ping()
            # Open (and name) the connection now, not on the first SUBSCRIBE; untyped in redis-py.
            await self._pubsub.connect()  # type: ignore[no-untyped-call]
        except (RedisError, OSError) as exc:  # also a wrong password or database number
            await self.disconnect()
            raise BackendUnavailable(f"cannot connect to Redis: {_describe(exc)}") from exc

    async def disconnect(self) -> None:
        pubsub, sub_client, client = self._pubsub, self._sub_client, self._client
        self._pubsub = self._sub_client = self._client = None
        self._calls = None
        self._channels.clear()
        self._fail_confirmations("disconnected")
        self._wakeup.set()
        for closing in (pubsub, sub_client, client):
            if closing is not None:
                with contextlib.suppress(RedisError, OSError):
                    await closing.aclose()

    async def subscribe(self, channel: str) -> None:
        pubsub = self._require_pubsub()
        waiter: asyncio.Future[None] | None = None
        if self._reading:
            # The reader resolves this when Redis confirms, so a message published right after
            # subscribe() returns is delivered. While the broker resubscribes after a reconnect
            # nobody reads, and nobody needs the confirmation.
            waiter = asyncio.get_running_loop().create_future()
            self._confirming.setdefault(channel, deque()).append(waiter)
        try:
            await pubsub.subscribe(channel)
        except _LOST as exc:
            if waiter is not None:
                waiter.cancel()  # nobody will await it now
            raise self._lost(f"SUBSCRIBE failed: {_describe(exc)}") from exc
        self._channels.add(channel)
        self._wakeup.set()
        if waiter is not None:
            try:
                async with asyncio.timeout(IO_TIMEOUT):
                    await waiter
            except TimeoutError:
                raise self._lost("SUBSCRIBE was not confirmed in time") from None

    async def unsubscribe(self, channel: str) -> None:
        pubsub = self._require_pubsub()
        self._channels.discard(channel)
        try:
            await pubsub.unsubscribe(channel)
        except _LOST as exc:
            raise self._lost(f"UNSUBSCRIBE failed: {_describe(exc)}") from exc

    async def publish(self, channel: str, data: bytes) -> None:
        await self.publish_many([(channel, data)])

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        calls = self._require_calls()
        try:
            # The publishes of one turn (every report in it) share a pipeline.
            await asyncio.gather(*(calls.command("PUBLISH", c, d) for c, d in messages))
        except _LOST as exc:
            raise BackendUnavailable(f"PUBLISH failed: {_describe(exc)}") from exc

    async def ping(self) -> None:
        client = self._require_client()
        try:
            await client.ping()
        except _LOST as exc:
            raise BackendUnavailable(f"PING failed: {_describe(exc)}") from exc

    async def next_message(self) -> tuple[str, bytes]:
        self._reading = True
        try:
            while True:
                pubsub = self._require_pubsub()
                if not self._channels:
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                try:
                    message = await pubsub.get_message(timeout=READ_TIMEOUT)
                except _LOST as exc:
                    raise self._lost(f"connection lost: {_describe(exc)}") from exc
                received = self._handle(message)
                if received is not None:
                    return received
        except BaseException:
            self._fail_confirmations("stopped reading before SUBSCRIBE was confirmed")
            raise
        finally:
            self._reading = False

    def _handle(self, message: dict[str, Any] | None) -> tuple[str, bytes] | None:
        if message is None:
            return None
        channel, data = message.get("channel"), message.get("data")
        if not isinstance(channel, bytes):
            return None
        name = channel.decode()
        if message["type"] == "message" and isinstance(data, bytes):
            return name, data
        if message["type"] == "subscribe":
            waiters = self._confirming.get(name)
            if waiters:
                waiter = waiters.popleft()
                if not waiters:
                    del self._confirming[name]
                if not waiter.done():
                    waiter.set_result(None)
        return None

    def _make_client(self, retry: Retry) -> Redis:
        return redis_client(self._url, client_name=self._client_name, retry=retry)

    def _require_client(self) -> Redis:
        if self._client is None:
            raise BackendUnavailable("not connected to Redis")
        return self._client

    def _require_calls(self) -> Autopipeline:
        if self._calls is None:
            raise BackendUnavailable("not connected to Redis")
        return self._calls

    def _require_pubsub(self) -> PubSub:
        if self._broken is not None:
            raise BackendUnavailable(self._broken)
        if self._pubsub is None:
            raise BackendUnavailable("not connected to Redis")
        return self._pubsub

    def _lost(self, reason: str) -> BackendUnavailable:
        # Remember the loss, so the reader raises too even if its socket still looks alive.
        self._broken = reason
        self._wakeup.set()
        self._fail_confirmations(reason)
        return BackendUnavailable(reason)

    def _fail_confirmations(self, reason: str) -> None:
        for waiters in self._confirming.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(BackendUnavailable(reason))
        self._confirming.clear()


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


__all__ = ["IO_TIMEOUT", "READ_TIMEOUT", "RedisBackend"]
