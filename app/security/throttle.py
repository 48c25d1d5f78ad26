"""Login brute-force throttle (AUTHN-06): per-key failure counts with backoff, memory or Redis."""

from __future__ import annotations

import logging
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypedDict, Unpack

from redis.asyncio import Redis

from app.errors import ConfigurationError, RateLimited

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
ThrottleKey = tuple[str, str]  # (scope, already-hashed identifier or client address)


class ThrottleOptions(TypedDict, total=False):
    namespace: str
    policy_by_scope: Mapping[str, ThrottlePolicy] | None
    clock: Clock


# Keeps 2**n a small int whatever a policy says; 2**31 s is far above any sane cap anyway.
_MAX_EXPONENT = 31


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    free_failures: int = 5
    window_seconds: int = 3600
    max_failures_per_window: int = 100
    max_backoff_seconds: int = 900

    def __post_init__(self) -> None:
        if (
            self.free_failures < 0
            or self.window_seconds < 1
            or self.max_failures_per_window < 1
            or self.max_backoff_seconds < 0
        ):
            raise ConfigurationError(f"invalid throttle policy: {self}")


DEFAULT_POLICIES: Mapping[str, ThrottlePolicy] = MappingProxyType(
    {
        "account": ThrottlePolicy(),
        # A whole school usually shares one NAT address, so an address tolerates more failures.
        "address": ThrottlePolicy(free_failures=30, max_failures_per_window=1000),
    }
)


@dataclass(slots=True)
class _Failures:
    count: int
    window_start: float
    last_failure: float


def _retry_after(policy: ThrottlePolicy, failures: _Failures | None, now: float) -> int:
    """Whole seconds until the key may try again; 0 when it may try now."""
    if failures is None:
        return 0
    window_end = failures.window_start + policy.window_seconds
    if now >= window_end:
        return 0
    if failures.count >= policy.max_failures_per_window:
        wait_until = window_end
    elif failures.count >= policy.free_failures:
        exponent = min(failures.count - policy.free_failures, _MAX_EXPONENT)
        backoff = min(2**exponent, policy.max_backoff_seconds)
        # Never past the window's end: no lockout outlives its window.
        wait_until = min(failures.last_failure + backoff, window_end)
    else:
        return 0
    return max(0, math.ceil(wait_until - now))


class Throttle(ABC):
    """Counts login failures per (scope, key) within a fixed window opened by the first failure.

    The first ``free_failures`` failures cost nothing; after ``n`` failures (n >= free_failures)
    the next attempt must wait ``2 ** (n - free_failures)`` seconds after the last failure, capped
    at ``max_backoff_seconds``; at ``max_failures_per_window`` the key is blocked until the window
    ends. Nothing outlives the window, so there is no permanent lockout to abuse against victims.
    """

    def __init__(
        self,
        *,
        namespace: str = "pp",
        policy_by_scope: Mapping[str, ThrottlePolicy] | None = None,
        clock: Clock = time.time,
    ) -> None:
        self._namespace = namespace
        self._policies = {**DEFAULT_POLICIES, **(policy_by_scope or {})}
        self._clock = clock

    @classmethod
    def from_url(cls, url: str, **options: Unpack[ThrottleOptions]) -> Throttle:
        """``memory://`` for one process (embedded mode, tests); ``redis://`` to share counters."""
        if url == "memory://":
            return MemoryThrottle(**options)
        if url.startswith(("redis://", "rediss://", "unix://")):
            return RedisThrottle(Redis.from_url(url, **_REDIS_DEFAULTS), **options)
        # Never echo the URL: it may carry the Redis password.
        raise ConfigurationError("throttle URL must be memory://, redis://, rediss:// or unix://")

    async def check(self, keys: Sequence[ThrottleKey]) -> None:
        """Raise RateLimited with the longest wait if any key may not attempt a login now."""
        if not keys:
            return
        names = [self._name(key) for key in keys]
        now = self._clock()
        states = await self._load(names)
        retry_after = max(
            _retry_after(self._policy(scope), state, now)
            for (scope, _), state in zip(keys, states, strict=True)
        )
        if retry_after > 0:
            raise RateLimited(retry_after)

    async def record_failure(self, keys: Sequence[ThrottleKey]) -> None:
        if not keys:
            return
        names = [self._name(key) for key in keys]
        windows = [self._policy(scope).window_seconds for scope, _ in keys]
        counts = await self._increment(names, windows, self._clock())
        for (scope, key), count in zip(keys, counts, strict=True):
            if count == self._policy(scope).max_failures_per_window:
                # The key is already a digest or an address, so it is safe to log (AUTHN-06).
                logger.warning("login throttle: %s %s blocked until its window ends", scope, key)

    async def reset(self, keys: Sequence[ThrottleKey]) -> None:
        """Forget failures, e.g. the account key after a successful login (not the address)."""
        if keys:
            await self._delete([self._name(key) for key in keys])

    @abstractmethod
    async def aclose(self) -> None: ...

    @abstractmethod
    async def ping(self) -> None:
        """Raise if the backend is unreachable (readiness checks)."""

    @abstractmethod
    async def _load(self, names: Sequence[str]) -> list[_Failures | None]: ...

    @abstractmethod
    async def _increment(self, names: list[str], windows: list[int], now: float) -> list[int]: ...

    @abstractmethod
    async def _delete(self, names: Sequence[str]) -> None: ...

    def _policy(self, scope: str) -> ThrottlePolicy:
        try:
            return self._policies[scope]
        except KeyError:
            raise ValueError(f"no throttle policy for scope {scope!r}") from None

    def _name(self, key: ThrottleKey) -> str:
        scope, identifier = key
        self._policy(scope)
        # Callers must pass digests of emails and usernames: personal data stays out of Redis.
        if "@" in identifier or not identifier or len(identifier) > 200:
            raise ValueError("throttle keys must be non-empty hashed identifiers")
        return f"{self._namespace}:throttle:{scope}:{identifier}"


class MemoryThrottle(Throttle):
    """In-process counters for the embedded single-process mode and tests."""

    # How often (in clock seconds) expired entries are swept, so the dict cannot grow forever.
    _SWEEP_INTERVAL = 60.0

    def __init__(self, **options: Unpack[ThrottleOptions]) -> None:
        super().__init__(**options)
        self._failures: dict[str, tuple[_Failures, float]] = {}  # name -> (state, expires_at)
        self._next_sweep = 0.0

    async def aclose(self) -> None:
        self._failures.clear()

    async def ping(self) -> None:
        return None

    async def _load(self, names: Sequence[str]) -> list[_Failures | None]:
        entries = [self._failures.get(name) for name in names]
        return [None if entry is None else entry[0] for entry in entries]

    async def _increment(self, names: list[str], windows: list[int], now: float) -> list[int]:
        self._sweep(now)
        counts = []
        for name, window in zip(names, windows, strict=True):
            entry = self._failures.get(name)
            if entry is None or now >= entry[1]:
                entry = (_Failures(count=0, window_start=now, last_failure=now), now + window)
                self._failures[name] = entry
            failures = entry[0]
            failures.count += 1
            failures.last_failure = now
            counts.append(failures.count)
        return counts

    async def _delete(self, names: Sequence[str]) -> None:
        for name in names:
            self._failures.pop(name, None)

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + self._SWEEP_INTERVAL
        for name in [name for name, (_, expires) in self._failures.items() if now >= expires]:
            del self._failures[name]


# Fail fast rather than hang logins when Redis stalls; options in the URL take precedence.
_REDIS_DEFAULTS: dict[str, Any] = {"decode_responses": True, "socket_timeout": 5}

# One round trip, atomic per call: a window is (re)opened when absent or over by the app clock
# (the clock is injectable, so Redis' TTL alone cannot decide), then counted. The TTL only
# garbage-collects keys. KEYS[i] pairs with ARGV[i + 1] (its window); ARGV[1] is now.
_INCREMENT = """
local now = ARGV[1]
local counts = {}
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[i + 1])
  local start = tonumber(redis.call('HGET', key, 'start'))
  local count
  if start == nil or tonumber(now) >= start + window then
    redis.call('HSET', key, 'n', 1, 'start', now, 'last', now)
    redis.call('EXPIRE', key, window)
    count = 1
  else
    count = redis.call('HINCRBY', key, 'n', 1)
    redis.call('HSET', key, 'last', now)
  end
  counts[i] = count
end
return counts
"""


class RedisThrottle(Throttle):
    """Counters shared by every app process through Redis hashes with a TTL."""

    def __init__(self, redis: Redis, **options: Unpack[ThrottleOptions]) -> None:
        super().__init__(**options)
        self._redis = redis
        self._increment_script = redis.register_script(_INCREMENT)

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def ping(self) -> None:
        await self._redis.ping()

    async def _load(self, names: Sequence[str]) -> list[_Failures | None]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hmget(name, ["n", "start", "last"])
            rows: list[list[str | None]] = await pipe.execute()
        return [_parse(row) for row in rows]

    async def _increment(self, names: list[str], windows: list[int], now: float) -> list[int]:
        counts = await self._increment_script(keys=names, args=[repr(now), *windows])
        return [int(count) for count in counts]

    async def _delete(self, names: Sequence[str]) -> None:
        await self._redis.delete(*names)


def _parse(row: Sequence[str | None]) -> _Failures | None:
    count, start, last = row
    if count is None or start is None or last is None:
        return None
    return _Failures(count=int(count), window_start=float(start), last_failure=float(last))


__all__ = [
    "DEFAULT_POLICIES",
    "MemoryThrottle",
    "RedisThrottle",
    "Throttle",
    "ThrottleKey",
    "ThrottlePolicy",
]
