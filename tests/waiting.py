"""Waiting on a condition, never for a fixed time: poll briefly, fail after a deadline."""

from __future__ import annotations

import asyncio
import inspect
import re
import subprocess
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

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


class ProcessOutput:
    """A subprocess's output, copied line by line to a log file by a reader thread, so tests
    wait for the line that says it is ready instead of polling for it."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        if process.stdout is None:
            raise ValueError("start the process with stdout=subprocess.PIPE")
        self._stdout = process.stdout
        self._log_path = log_path
        self._lines: list[str] = []
        self._ended = False
        self._changed = threading.Condition()
        threading.Thread(target=self._copy, daemon=True).start()

    def _copy(self) -> None:
        with self._log_path.open("ab") as log:
            for raw in iter(self._stdout.readline, b""):
                log.write(raw)
                log.flush()
                with self._changed:
                    self._lines.append(raw.decode(errors="replace"))
                    self._changed.notify_all()
        self._stdout.close()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def wait_for(self, pattern: re.Pattern[str], within: float) -> re.Match[str] | None:
        """The first line matching ``pattern``; None if the output ends or ``within`` passes."""
        found: list[re.Match[str]] = []

        def ready() -> bool:
            found[:] = [m for line in self._lines if (m := pattern.search(line))][:1]
            return bool(found) or self._ended

        with self._changed:
            self._changed.wait_for(ready, timeout=within)
        return found[0] if found else None


__all__ = ["POLL_SECONDS", "TIMEOUT", "ProcessOutput", "wait_until"]
