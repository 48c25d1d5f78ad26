"""In-process backend for tests and single-process development, with a failure hook."""

import asyncio
from collections import deque
from collections.abc import Sequence

from realtime.backends.base import BackendUnavailable

# Redis drops a pub/sub client whose output buffer overflows; the memory backend does the same
# instead of buffering without bound when the listener cannot keep up.
OUTPUT_LIMIT = 10_000


class MemoryBackend:
    """Delivers what this instance publishes to this instance's subscriptions."""

    def __init__(self) -> None:
        self._connected = False
        self._broken: str | None = None
        self._down: str | None = None
        self._channels: set[str] = set()
        self._inbox: deque[tuple[str, bytes]] = deque()
        self._ready = asyncio.Event()

    @property
    def subscriptions(self) -> frozenset[str]:
        """The channels currently subscribed at the backend (for ref-counting tests)."""
        return frozenset(self._channels)

    async def connect(self) -> None:
        if self._down is not None:
            raise BackendUnavailable(self._down)
        self._reset()
        self._connected = True
        self._broken = None

    async def disconnect(self) -> None:
        self._reset()
        self._connected = False

    async def subscribe(self, channel: str) -> None:
        self._check()
        self._channels.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._check()
        self._channels.discard(channel)

    async def publish(self, channel: str, data: bytes) -> None:
        await self.publish_many(((channel, data),))

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        self._check()
        for channel, data in messages:
            if channel not in self._channels:
                continue
            if len(self._inbox) >= OUTPUT_LIMIT:
                self.fail("subscriber output buffer limit reached")
                return
            self._inbox.append((channel, data))
            self._ready.set()
        # Yield like a network round trip would, so a publishing loop cannot starve the listener.
        await asyncio.sleep(0)

    async def next_message(self) -> tuple[str, bytes]:
        while True:
            self._check()
            if self._inbox:
                return self._inbox.popleft()
            self._ready.clear()
            await self._ready.wait()

    async def ping(self) -> None:
        self._check()

    def fail(self, reason: str = "simulated connection loss", *, stay_down: bool = False) -> None:
        """Test hook: drop the connection like a killed Redis client.

        With `stay_down`, reconnecting fails until `restore()`, to simulate an outage.
        """
        self._broken = reason
        if stay_down:
            self._down = reason
        self._reset()

    def restore(self) -> None:
        """Test hook: end an outage started with `fail(..., stay_down=True)`."""
        self._down = None

    def _reset(self) -> None:
        self._channels.clear()
        self._inbox.clear()
        self._ready.set()  # wake a waiting next_message() so it sees the new state

    def _check(self) -> None:
        if self._broken is not None:
            raise BackendUnavailable(self._broken)
        if not self._connected:
            raise BackendUnavailable("memory backend is not connected")


__all__ = ["OUTPUT_LIMIT", "MemoryBackend"]
