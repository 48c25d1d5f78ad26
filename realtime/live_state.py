"""Live classroom tiles and event de-duplication shared by every process, in batches."""

import asyncio
import math
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Final, Self
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError, ResponseError

from realtime.redis_client import Autopipeline, redis_client

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


#: SET NX for each id of a batch in one command (not one per id): 1 where it was new.
CLAIM_SCRIPT = """
local claimed = {}
for i, key in ipairs(KEYS) do
  claimed[i] = redis.call('SET', key, '1', 'NX', 'PX', ARGV[1]) and 1 or 0
end
return claimed
"""
#: One tile's update in one command: KEYS = tile, thumbnail; ARGV = tile TTL (ms), thumbnail
#: TTL (ms), "1" with a thumbnail (ARGV[4]) or "0", the count of fields, then the field/value
#: pairs, then the increment name/amount pairs. In the order the MULTI it replaced had.
WRITE_SCRIPT = """
local fields = tonumber(ARGV[5])
if fields > 0 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 6, 5 + 2 * fields))
end
for i = 6 + 2 * fields, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
if ARGV[3] == '1' then
  redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[2])
end
return 1
"""


class RedisStore:
    """One Redis client; every call is one round trip, every failure `LiveStateUnavailable`.

    The ingest path's writes are server-side scripts: one command per batch of ids and one
    per tile, where a pipeline of single commands cost redis-py more to pack and parse than
    the rest of a report.
    """

    def __init__(self, url: str, client_name: str | None = None) -> None:
        self._url, self._client_name = url, client_name  # the URL may hold a password: never log it
        self._client: Redis | None = None
        self._calls: Autopipeline | None = None
        self._claim: AsyncScript | None = None
        self._write: AsyncScript | None = None

    async def open(self) -> None:
        await self.close()
        # No retries: a SET NX or HINCRBY retried after a lost reply would apply twice. (A
        # script Redis does not know yet is loaded and sent again: it never ran.)
        client = redis_client(self._url, client_name=self._client_name, retry=Retry(NoBackoff(), 0))
        self._client = client
        self._calls = Autopipeline(client)
        self._claim = client.register_script(CLAIM_SCRIPT)
        self._write = client.register_script(WRITE_SCRIPT)
        try:
            await self.ping()
        except LiveStateUnavailable:
            await self.close()
            raise

    async def close(self) -> None:
        client, self._client = self._client, None
        self._calls = self._claim = self._write = None
        if client is not None:
            with suppress(RedisError, OSError):
                await client.aclose()

    @property
    def batches(self) -> int:
        """Pipelines the ingest calls went out in (a test checks that they share them)."""
        return self._calls.batches if self._calls is not None else 0

    async def ping(self) -> None:
        pipe = self._pipeline()
        pipe.ping()
        await self._execute(pipe, "PING")

    async def claim(self, keys: list[str], ttl: float) -> list[bool]:
        if not keys:
            return []
        calls, claim = self._scripts(self._claim)
        # A repeat within the batch finds the key its first SET made.
        flags = await self._run(calls.script(claim, keys, [round(ttl * 1000)]), "SET NX")
        return [bool(flag) for flag in flags]

    async def write(self, writes: list[_Write], tile_ttl: float, thumbnail_ttl: float) -> None:
        calls, script = self._scripts(self._write)
        ttls = (round(tile_ttl * 1000), round(thumbnail_ttl * 1000))
        # Each script is atomic for its tile; the calls of one turn share a round trip.
        pending = [
            calls.script(script, [key, thumbnail_key], [*ttls, *_write_args(update)])
            for key, thumbnail_key, update in writes
        ]
        await self._run(asyncio.gather(*pending), "tile update")

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

    def _pipeline(self) -> Pipeline:
        if self._client is None:
            raise LiveStateUnavailable("live state is not open")
        return self._client.pipeline(transaction=False)

    def _scripts(self, script: AsyncScript | None) -> tuple[Autopipeline, AsyncScript]:
        if self._calls is None or script is None:
            raise LiveStateUnavailable("live state is not open")
        return self._calls, script

    @classmethod
    async def _execute(cls, pipe: Pipeline, what: str) -> list[Any]:
        results: list[Any] = await cls._run(pipe.execute(), what)
        return results

    @staticmethod
    async def _run(call: Awaitable[Any], what: str) -> Any:
        try:
            return await call
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


def _write_args(update: TileUpdate) -> list[str | bytes | int]:
    thumbnail = update.thumbnail
    args: list[str | bytes | int] = ["0" if thumbnail is None else "1", thumbnail or b""]
    args.append(len(update.fields))
    for name, value in update.fields.items():
        args += (name, value)
    for name, by in update.increments.items():
        args += (name, by)
    return args


def _valid(values: Sequence[str], pattern: re.Pattern[str]) -> Sequence[str]:
    """Check a whole batch before any write, so a bad key never leaves it half applied."""
    if isinstance(values, str):  # a lone string would be a batch of one-letter ids
        raise TypeError(f"expected a sequence of strings, not the string {values!r}")
    for value in values:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise ValueError(f"{value!r} does not match {pattern.pattern}")
    return values


__all__ = ["LiveState", "LiveStateUnavailable", "MemoryStore", "RedisStore", "Tile", "TileUpdate"]
