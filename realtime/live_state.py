"""Live classroom tiles and event de-duplication shared by every process, in batches."""

import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Final, Self
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError

from realtime.redis_client import redis_client

# Memory mode is bounded without a background task: expired entries are swept at most once per
# SWEEP_INTERVAL; past MAX_SEEN the oldest ids are forgotten (a duplicate may pass, none is lost).
SWEEP_INTERVAL = 1.0
MAX_SEEN = 1_000_000

_NAMESPACE = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # as the broker's: also in the client name
_KEY = re.compile(r"[a-z0-9:_-]{1,200}")  # callers build keys from ints: no globs, no spaces
_EVENT_ID = re.compile(r"[!-~]{1,64}")  # printable ASCII without spaces
_Write = tuple[str, str, "TileUpdate"]  # (tile key, thumbnail key, update), both namespaced
_TTLs = tuple[float, float, float]  # seconds: (tile, dedupe, thumbnail)


class LiveStateUnavailable(Exception):
    """The live state store is unreachable or not open; the message says why."""


@dataclass(frozen=True, slots=True)
class TileUpdate:
    """Set `fields`, add `increments` and (when given) replace the thumbnail of one tile."""

    key: str
    fields: Mapping[str, str]
    increments: Mapping[str, int] = field(default_factory=dict)
    thumbnail: bytes | None = None


@dataclass(frozen=True, slots=True)
class Tile:
    """One live tile; `thumbnail` is None when absent, expired or not asked for."""

    fields: dict[str, str]
    thumbnail: bytes | None


class MemoryStore:
    """The embedded mode's store: dicts with expiry on an injectable clock."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_seen: int = MAX_SEEN):
        self._clock, self._max_seen = clock, max_seen
        self._values: dict[str, tuple[float, Any]] = {}  # (expiry, tile dict or thumbnail bytes)
        # Oldest first (one TTL: expiry order); a dict's first key costs O(holes) to pop, not O(1).
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._open, self._swept = False, -math.inf

    def size(self) -> int:
        """Entries held, expired or not: what the sweep and the cap bound."""
        return len(self._values) + len(self._seen)

    async def open(self) -> None:
        self._open = True

    async def close(self) -> None:
        self._open = False

    async def ping(self) -> None:
        self._now()

    async def claim(self, keys: list[str], ttl: float) -> list[bool]:
        now, claimed = self._now(), []
        for key in keys:
            new = self._seen.get(key, -math.inf) <= now
            if new:
                self._seen[key] = now + ttl
                self._seen.move_to_end(key)  # an expired id seen again: latest expiry, so last
            claimed.append(new)
        while len(self._seen) > self._max_seen:
            self._seen.popitem(last=False)
        return claimed

    async def write(self, writes: list[_Write], tile_ttl: float, thumbnail_ttl: float) -> None:
        now = self._now()
        for key, thumbnail_key, update in writes:
            fields = self._alive(key, now) or {}
            fields.update(update.fields)
            for name, by in update.increments.items():  # int() raises ValueError, as HINCRBY
                fields[name] = str(int(fields.get(name, "0")) + by)
            if fields:  # as in Redis: no empty hash, so a bare TTL refresh creates nothing
                self._values[key] = (now + tile_ttl, fields)
            if update.thumbnail is not None:
                self._values[thumbnail_key] = (now + thumbnail_ttl, update.thumbnail)

    async def read(self, keys: list[str], thumb_keys: list[str]) -> list[Tile | None]:
        now = self._now()
        hashes = [self._alive(key, now) for key in keys]
        thumbs = [self._alive(key, now) for key in thumb_keys] or [None] * len(keys)
        return [Tile(dict(h), t) if h else None for h, t in zip(hashes, thumbs, strict=True)]

    async def delete(self, keys: list[str]) -> None:
        self._now()
        for key in keys:
            self._values.pop(key, None)
            self._seen.pop(key, None)

    def _now(self) -> float:
        if not self._open:
            raise LiveStateUnavailable("live state is not open")
        now = self._clock()
        if now - self._swept >= SWEEP_INTERVAL:
            self._swept = now
            for key in [k for k, (expires, _) in self._values.items() if expires <= now]:
                del self._values[key]
            while self._seen and next(iter(self._seen.values())) <= now:
                self._seen.popitem(last=False)
        return now

    def _alive(self, key: str, now: float) -> Any:
        if key in self._values and self._values[key][0] <= now:
            del self._values[key]  # expired: gone, as in Redis
        return self._values[key][1] if key in self._values else None


class RedisStore:
    """One Redis client; every call is one round trip, every failure `LiveStateUnavailable`."""

    def __init__(self, url: str, client_name: str | None = None) -> None:
        self._url, self._client_name = url, client_name  # the URL may hold a password: never log it
        self._client: Redis | None = None

    async def open(self) -> None:
        await self.close()
        # No retries: a SET NX or HINCRBY retried after a lost reply would apply twice.
        self._client = redis_client(
            self._url, client_name=self._client_name, retry=Retry(NoBackoff(), 0)
        )
        try:
            await self.ping()
        except LiveStateUnavailable:
            await self.close()
            raise

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with suppress(RedisError, OSError):
                await client.aclose()

    async def ping(self) -> None:
        pipe = self._pipeline()
        pipe.ping()
        await self._execute(pipe, "PING")

    async def claim(self, keys: list[str], ttl: float) -> list[bool]:
        pipe = self._pipeline()
        for key in keys:  # a repeat within the batch finds the key its first SET made
            pipe.set(key, b"1", nx=True, px=round(ttl * 1000))
        return [bool(result) for result in await self._execute(pipe, "SET NX")]

    async def write(self, writes: list[_Write], tile_ttl: float, thumbnail_ttl: float) -> None:
        # MULTI/EXEC (one round trip): a cut connection never leaves a tile without its PEXPIRE.
        pipe = self._pipeline(transaction=True)
        for key, thumbnail_key, update in writes:
            if update.fields:
                pipe.hset(key, items=[part for pair in update.fields.items() for part in pair])
            for name, by in update.increments.items():
                pipe.hincrby(key, name, by)
            pipe.pexpire(key, round(tile_ttl * 1000))
            if update.thumbnail is not None:
                pipe.set(thumbnail_key, update.thumbnail, px=round(thumbnail_ttl * 1000))
        await self._execute(pipe, "tile update")

    async def read(self, keys: list[str], thumb_keys: list[str]) -> list[Tile | None]:
        pipe = self._pipeline()
        for key in keys:
            pipe.hgetall(key)
        for key in thumb_keys:  # none when not asked for
            pipe.get(key)
        results = await self._execute(pipe, "tile read")
        thumbnails = results[len(keys) :] or [None] * len(keys)
        decoded = [{k.decode(): v.decode() for k, v in h.items()} for h in results[: len(keys)]]
        return [Tile(h, t) if h else None for h, t in zip(decoded, thumbnails, strict=True)]

    async def delete(self, keys: list[str]) -> None:
        pipe = self._pipeline()
        for key in keys:  # one DEL each, so that an empty batch sends nothing
            pipe.delete(key)
        await self._execute(pipe, "DEL")

    def _pipeline(self, *, transaction: bool = False) -> Pipeline:
        if self._client is None:
            raise LiveStateUnavailable("live state is not open")
        return self._client.pipeline(transaction=transaction)

    @staticmethod
    async def _execute(pipe: Pipeline, what: str) -> list[Any]:
        try:
            return await pipe.execute()
        except (RedisError, OSError) as exc:  # connection, timeout, auth, OOM, READONLY
            if isinstance(exc, ResponseError) and "not an integer" in str(exc):  # HINCRBY on text
                raise ValueError(f"tile field is not an integer: {exc}") from exc
            raise LiveStateUnavailable(f"Redis {what} failed: {exc!r}") from exc


class LiveState:
    """Tiles (latest-wins hashes with a TTL) and seen event ids; usually built by `from_url`."""

    def __init__(self, store: MemoryStore | RedisStore, namespace: str, ttls: _TTLs) -> None:
        if not _NAMESPACE.fullmatch(namespace):
            raise ValueError(f"namespace must match {_NAMESPACE.pattern}, got {namespace!r}")
        if not all(0.001 <= ttl < math.inf for ttl in ttls):  # Redis counts milliseconds
            raise ValueError(f"TTLs must be finite and at least 0.001 s, got {ttls}")
        self.store: Final = store
        self.namespace: Final = namespace
        self._tile_ttl, self._dedupe_ttl, self._thumbnail_ttl = ttls

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        namespace: str = "pp",
        tile_ttl: float = 120.0,
        dedupe_ttl: float = 86400.0,
        thumbnail_ttl: float = 600.0,
    ) -> Self:
        """Build a live state for `memory://`, `redis://` or `rediss://`."""
        scheme = urlsplit(url).scheme
        if scheme not in ("memory", "redis", "rediss"):  # name only the scheme: not a password
            raise ValueError(f"unsupported live state scheme {scheme!r}: use memory or redis")
        store = MemoryStore() if scheme == "memory" else RedisStore(url, f"{namespace}:live")
        return cls(store, namespace, (tile_ttl, dedupe_ttl, thumbnail_ttl))

    async def __aenter__(self) -> Self:
        await self.store.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.store.close()

    async def ping(self) -> None:
        """Readiness check: raise `LiveStateUnavailable` unless the store answers."""
        await self.store.ping()

    async def first_seen(self, device_key: str, event_ids: Sequence[str]) -> list[bool]:
        """Record the ids; True for each one not seen for this device within `dedupe_ttl`.

        A repeat inside the batch is False after its first. After `LiveStateUnavailable` the ids
        may or may not be recorded: process them anyway (a duplicate is harmless, a loss is not).
        """
        _valid([device_key], _KEY)
        keys = [f"{self.namespace}:seen:v1:{device_key}:{i}" for i in _valid(event_ids, _EVENT_ID)]
        return await self.store.claim(keys, self._dedupe_ttl)

    async def forget_seen(self, device_key: str, event_ids: Sequence[str]) -> None:
        """Release ids claimed by `first_seen` for a batch that then failed, so a resend counts."""
        _valid([device_key], _KEY)
        keys = [f"{self.namespace}:seen:v1:{device_key}:{i}" for i in _valid(event_ids, _EVENT_ID)]
        await self.store.delete(keys)

    async def update_tiles(self, updates: Sequence[TileUpdate]) -> None:
        """Apply every update and restart each tile's TTL; a thumbnail keeps its own TTL."""
        names = map(self._names, _valid([update.key for update in updates], _KEY))
        writes = [(*name, update) for name, update in zip(names, updates, strict=True)]
        await self.store.write(writes, self._tile_ttl, self._thumbnail_ttl)

    async def read_tiles(
        self, keys: Sequence[str], *, thumbnails: bool = True
    ) -> list[Tile | None]:
        """The tiles in `keys` order, None where missing or expired."""
        names = [self._names(key) for key in _valid(keys, _KEY)]
        thumb_keys = [thumbnail for _, thumbnail in names] if thumbnails else []
        return await self.store.read([tile for tile, _ in names], thumb_keys)

    async def delete_tiles(self, keys: Sequence[str]) -> None:
        await self.store.delete([name for key in _valid(keys, _KEY) for name in self._names(key)])

    def _names(self, key: str) -> tuple[str, str]:
        # Thumbnails live apart (own prefix: a tile key may end in anything), so HGETALL is small.
        return f"{self.namespace}:live:v1:{key}", f"{self.namespace}:thumb:v1:{key}"


def _valid(values: Sequence[str], pattern: re.Pattern[str]) -> Sequence[str]:
    """Check a whole batch before any write, so a bad key never leaves it half applied."""
    if isinstance(values, str):  # a lone string would be a batch of one-letter ids
        raise TypeError(f"expected a sequence of strings, not the string {values!r}")
    for value in values:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise ValueError(f"{value!r} does not match {pattern.pattern}")
    return values


__all__ = ["LiveState", "LiveStateUnavailable", "MemoryStore", "RedisStore", "Tile", "TileUpdate"]
