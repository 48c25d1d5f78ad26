"""Waiting on a condition, never for a fixed time: poll briefly, fail after a deadline."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

TIMEOUT = 5.0
POLL_SECONDS = 0.005


async def wait_until(
    condition: Callable[[], bool | Awaitable[bool]], within: float = TIMEOUT
) -> None:
    """Return once ``condition()`` (sync or async) is true; TimeoutError after ``within`` s."""
    async with asyncio.timeout(within):
        while True:
            value = condition()
            if await value if inspect.isawaitable(value) else value:
                return
            await asyncio.sleep(POLL_SECONDS)


__all__ = ["POLL_SECONDS", "TIMEOUT", "wait_until"]
