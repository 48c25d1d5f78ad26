"""Pacing: reconnect backoff with jitter, and a token bucket for outgoing messages."""

from __future__ import annotations

import random
import time
from collections.abc import Callable


class Backoff:
    """0.5 s doubling to a 30 s cap; each delay is jittered into [base/2, base].

    The jitter spreads hundreds of devices that lost the same server, so they do not
    reconnect in lock-step; keeping half the base stops a burst of instant retries.

    Example:
        >>> b = Backoff(rng=random.Random(1))
        >>> [round(b.next_delay(), 2) for _ in range(3)]
        [0.28, 0.92, 1.76]
    """

    def __init__(
        self,
        *,
        initial: float = 0.5,
        cap: float = 30.0,
        reset_after: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        self.initial, self.cap, self.reset_after = initial, cap, reset_after
        self.attempts = 0
        self._rng = rng or random.Random()

    def base(self) -> float:
        # min() on the exponent too, so a long outage cannot overflow the float.
        return float(min(self.cap, self.initial * 2 ** min(self.attempts, 32)))

    def next_delay(self) -> float:
        base = self.base()
        self.attempts += 1
        return base / 2 + self._rng.uniform(0, base / 2)

    def reset(self) -> None:
        self.attempts = 0

    def stayed_up(self, seconds: float) -> None:
        """Report how long a connection (or stream) lasted; a stable one resets the delays."""
        if seconds >= self.reset_after:
            self.reset()


class Pacer:
    """A token bucket: up to ``burst`` messages at once, then ``rate`` a second.

    The server closes a socket that sends much over 2 messages a second (1008), and
    draining a full offline buffer would otherwise send 100 batches back to back.
    """

    def __init__(
        self, rate: float = 1.5, burst: int = 60, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens, self._last = float(burst), clock()

    def delay(self) -> float:
        """Take a token; how long to wait before sending (0.0 when one was ready)."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate) - 1
        self._last = now
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


__all__ = ["Backoff", "Pacer"]
