"""The tiny pub/sub interface every realtime backend implements."""

from collections.abc import Sequence
from typing import Protocol


class BackendUnavailable(Exception):
    """The backend connection is lost or cannot be established; the message says why."""


class Backend(Protocol):
    """One connection to a pub/sub transport, shared by every subscriber of a process.

    Channel names arrive fully namespaced and exact (no patterns). Once any method has raised
    `BackendUnavailable`, `next_message()` raises it too until `disconnect()` and `connect()`
    start afresh: the broker owns reconnection, so a backend never reconnects silently and
    never hides the messages lost in the gap.
    """

    async def connect(self) -> None:
        """Open the connection; raise `BackendUnavailable` when that is impossible."""

    async def disconnect(self) -> None:
        """Release every connection and forget every subscription; never raises."""

    async def subscribe(self, channel: str) -> None:
        """Start receiving `channel`; idempotent."""

    async def unsubscribe(self, channel: str) -> None:
        """Stop receiving `channel`; idempotent."""

    async def publish(self, channel: str, data: bytes) -> None:
        """Send `data` to every subscriber of `channel`, in any process."""

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """Publish several messages in one round trip, in order."""

    async def next_message(self) -> tuple[str, bytes]:
        """Wait for the next message of a subscribed channel, as (channel, data)."""
        ...

    async def ping(self) -> None:
        """Round-trip to the transport; raise `BackendUnavailable` when it does not answer."""


__all__ = ["Backend", "BackendUnavailable"]
