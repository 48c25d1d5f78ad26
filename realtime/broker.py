"""Process-wide pub/sub broker: one backend connection fanned out to bounded subscriber queues."""

import asyncio
import logging
import re
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Final, Self
from urllib.parse import urlsplit

from realtime.backends.base import Backend, BackendUnavailable
from realtime.backends.memory import MemoryBackend
from realtime.backends.redis import RedisBackend

logger = logging.getLogger(__name__)

_BACKOFF_START = 0.1
_BACKOFF_MAX = 5.0
_NAMESPACE = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # also in the Redis client name: no spaces


class BrokerError(Exception):
    """A subscription ended abnormally; the client resubscribes and re-queries."""


class BrokerUnavailable(BrokerError):
    """The backend is unreachable or the broker is closed; pub/sub is not working."""


class SubscriberLagged(BrokerError):
    """The subscriber fell too far behind and was dropped so that others are never delayed."""


@dataclass(frozen=True, slots=True)
class Message:
    """One published payload; `channel` is the name given to publish(), without namespace."""

    channel: str
    data: bytes


class Subscription:
    """Async iterator of the messages of one or more channels; ends with a `BrokerError`."""

    def __init__(
        self, channels: tuple[str, ...], max_pending: int, max_bytes: int | None = None
    ) -> None:
        self.channels = channels
        self._max_pending = max_pending
        self._max_bytes = max_bytes
        self._pending_bytes = 0
        self._pending: deque[Message] = deque()
        self._ready = asyncio.Event()
        self._finished = False
        self._error: BrokerError | None = None

    def __aiter__(self) -> Self:
        return self

    @property
    def pending(self) -> int:
        """Messages received and not yet read."""
        return len(self._pending)

    async def __anext__(self) -> Message:
        while not self._pending and not self._finished:
            self._ready.clear()
            await self._ready.wait()
        if self._error is not None:
            raise self._error  # pending messages were dropped: the error comes first
        if not self._pending:
            raise StopAsyncIteration
        message = self._pending.popleft()
        self._pending_bytes -= len(message.data)
        return message

    def _deliver(self, message: Message) -> None:
        if self._finished:
            return
        if len(self._pending) >= self._max_pending:
            lag = f"more than {self._max_pending} messages behind on {', '.join(self.channels)}"
            self._finish(SubscriberLagged(f"subscriber fell {lag} and was dropped; resubscribe"))
            return
        if (
            self._max_bytes is not None
            and self._pending_bytes + len(message.data) > self._max_bytes
        ):
            lag = f"more than {self._max_bytes} bytes behind on {', '.join(self.channels)}"
            self._finish(SubscriberLagged(f"subscriber fell {lag} and was dropped; resubscribe"))
            return
        self._pending.append(message)
        self._pending_bytes += len(message.data)
        self._ready.set()

    def _finish(self, error: BrokerError | None) -> None:
        """End the stream: with `error` now (pending messages are dropped), or cleanly."""
        if self._finished:
            return
        self._finished, self._error = True, error
        if error is not None:
            self._pending.clear()
            self._pending_bytes = 0
        self._ready.set()


class Broker:
    """Fans one backend subscription per channel out to every local subscriber (at-most-once)."""

    def __init__(self, backend: Backend, *, namespace: str = "pp", max_pending: int = 256) -> None:
        if not _NAMESPACE.fullmatch(namespace):
            raise ValueError(f"namespace must match {_NAMESPACE.pattern}, got {namespace!r}")
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, got {max_pending}")
        self.backend: Final = backend
        self.namespace: Final = namespace
        self._prefix = f"{namespace}:"
        self._max_pending = max_pending
        self._listeners: dict[str, set[Subscription]] = {}
        self._lock = asyncio.Lock()  # serialises backend (un)subscribe with the listener map
        self._task: asyncio.Task[None] | None = None
        self._healthy = False
        self._failure: str | None = "broker not started"

    @classmethod
    def from_url(cls, url: str, *, namespace: str = "pp", max_pending: int = 256) -> Self:
        """Build a broker for `memory://`, `redis://` or `rediss://`."""
        scheme = urlsplit(url).scheme
        if scheme in ("redis", "rediss"):
            backend: Backend = RedisBackend(url, client_name=f"{namespace}:realtime")
        elif scheme == "memory":
            backend = MemoryBackend()
        else:  # name the scheme only: the URL may carry a password
            raise ValueError(f"unsupported broker scheme {scheme!r}: use memory, redis or rediss")
        return cls(backend, namespace=namespace, max_pending=max_pending)

    @property
    def healthy(self) -> bool:
        """True while the backend connection works; /readyz reports 503 otherwise."""
        return self._healthy

    @property
    def failure(self) -> str | None:
        """Why the broker is unhealthy, or None when it is healthy."""
        return None if self._healthy else self._failure

    async def __aenter__(self) -> Self:
        if self._task is not None:
            raise RuntimeError("broker is already running")
        try:
            await self.backend.connect()
        except BackendUnavailable as exc:
            self._failure = str(exc)
            raise BrokerUnavailable(f"cannot start broker: {exc}") from exc
        self._healthy, self._failure = True, None
        self._task = asyncio.create_task(self._listen(), name=f"broker-listener-{self.namespace}")
        await asyncio.sleep(0)  # let the listener start reading: SUBSCRIBE then waits for its reply
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        task, self._task = self._task, None
        self._healthy, self._failure = False, "broker closed"
        self._end_streams("broker closed")
        if task is not None:
            task.cancel()
            await asyncio.wait([task])  # unlike `await task`, never swallows our own cancellation
        async with self._lock:  # an (un)subscribe in flight finishes before the connection goes
            await self.backend.disconnect()

    def subscribe(
        self, channel: str, *, max_pending: int | None = None, max_bytes: int | None = None
    ) -> AbstractAsyncContextManager[Subscription]:
        """Receive the messages published to `channel` while the block runs.

        `max_pending` (default: the broker's) and `max_bytes` bound what may wait unread; a
        subscriber past either is dropped with `SubscriberLagged`.
        """
        return self.subscribe_many((channel,), max_pending=max_pending, max_bytes=max_bytes)

    @asynccontextmanager
    async def subscribe_many(
        self,
        channels: Sequence[str],
        *,
        max_pending: int | None = None,
        max_bytes: int | None = None,
    ) -> AsyncIterator[Subscription]:
        """One subscription receiving from several channels (e.g. a device and its school)."""
        if isinstance(channels, str):
            raise TypeError("subscribe_many() takes a sequence of channel names, not one str")
        names = tuple(dict.fromkeys(channels))
        if not names:
            raise ValueError("subscribe_many() needs at least one channel")
        self._require_healthy()
        if (max_pending is not None and max_pending < 1) or (
            max_bytes is not None and max_bytes < 1
        ):
            raise ValueError("max_pending and max_bytes must be at least 1")
        subscription = Subscription(names, max_pending or self._max_pending, max_bytes)
        await self._attach(subscription)
        try:
            yield subscription
        finally:
            subscription._finish(None)
            emptied = self._detach(subscription)  # synchronous, so cancellation cannot leak it
            if emptied:
                await asyncio.shield(self._release(emptied))

    def subscriber_count(self, channel: str) -> int:
        """Local subscriptions open on `channel` (tests wait on this instead of sleeping)."""
        return len(self._listeners.get(channel, ()))

    async def publish(self, channel: str, data: bytes) -> None:
        if not isinstance(data, bytes):
            raise TypeError(f"data must be bytes, not {type(data).__name__}")
        self._require_healthy()
        try:
            await self.backend.publish(self._key(channel), data)
        except BackendUnavailable as exc:
            raise BrokerUnavailable(str(exc)) from exc

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """Publish in one backend round trip (the ingest path publishes per batch)."""
        if not messages:
            return
        self._require_healthy()
        try:
            await self.backend.publish_many([(self._key(c), d) for c, d in messages])
        except BackendUnavailable as exc:
            raise BrokerUnavailable(str(exc)) from exc

    async def ping(self) -> None:
        """Readiness check: raise `BrokerUnavailable` unless the backend answers."""
        self._require_healthy()
        try:
            await self.backend.ping()
        except BackendUnavailable as exc:
            raise BrokerUnavailable(str(exc)) from exc

    async def _attach(self, subscription: Subscription) -> None:
        async with self._lock:
            self._require_healthy()  # again: the backend may have failed while we waited
            try:
                for channel in subscription.channels:
                    listeners = self._listeners.setdefault(channel, set())
                    if not listeners:
                        await self.backend.subscribe(self._key(channel))  # first local listener
                    listeners.add(subscription)
            except BaseException as exc:
                self._detach(subscription)  # also when cancelled mid-SUBSCRIBE: leave no listener
                if not isinstance(exc, BackendUnavailable):
                    raise
                self._fail(str(exc))
                raise BrokerUnavailable(str(exc)) from exc

    def _detach(self, subscription: Subscription) -> list[str]:
        emptied = []
        for channel in subscription.channels:
            listeners = self._listeners.get(channel)
            if listeners is not None:
                listeners.discard(subscription)
                if not listeners:
                    del self._listeners[channel]
                    emptied.append(channel)
        return emptied

    async def _release(self, channels: list[str]) -> None:
        async with self._lock:
            if not self._healthy:
                return  # the connection is gone; recovery resubscribes only channels in use
            try:
                for channel in channels:
                    if channel not in self._listeners:  # nobody re-subscribed meanwhile
                        await self.backend.unsubscribe(self._key(channel))  # last one out
            except BackendUnavailable as exc:
                self._fail(str(exc))  # never mask the exception that ended the caller's block

    async def _listen(self) -> None:
        delay = _BACKOFF_START
        while True:
            try:
                if self._healthy:
                    channel, data = await self.backend.next_message()
                    self._dispatch(channel, data)
                    continue
                await asyncio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX)
                await self._recover()
                delay = _BACKOFF_START
            except BackendUnavailable as exc:
                self._fail(str(exc))
            except Exception as exc:  # a bug must not silently kill the only listener
                logger.exception("realtime broker listener failed")
                self._fail(f"listener error: {exc!r}")

    async def _recover(self) -> None:
        async with self._lock:
            await self.backend.disconnect()
        await self.backend.connect()  # outside the lock: it may take seconds
        async with self._lock:
            for channel in tuple(self._listeners):  # blocks may end (and detach) meanwhile
                await self.backend.subscribe(self._key(channel))
            self._healthy, self._failure = True, None
        logger.info("realtime broker recovered")

    def _dispatch(self, key: str, data: bytes) -> None:
        channel = key.removeprefix(self._prefix)  # the backend only has our own channels
        message = Message(channel, data)
        for subscription in self._listeners.get(channel, ()):
            subscription._deliver(message)  # never awaits: a slow subscriber cannot delay others

    def _fail(self, reason: str) -> None:
        if self._task is None:
            return  # closed: keep saying so
        self._failure = reason
        if self._healthy:
            self._healthy = False
            logger.warning("realtime broker unavailable: %s", reason)
            self._end_streams(f"broker unavailable: {reason}")

    def _end_streams(self, reason: str) -> None:
        for listeners in self._listeners.values():
            for subscription in listeners:
                subscription._finish(BrokerUnavailable(reason))  # one instance per stream

    def _require_healthy(self) -> None:
        if not self._healthy:
            raise BrokerUnavailable(self._failure or "broker unavailable")

    def _key(self, channel: str) -> str:
        return f"{self._prefix}{channel}"


__all__ = [
    "Broker",
    "BrokerError",
    "BrokerUnavailable",
    "Message",
    "SubscriberLagged",
    "Subscription",
]
