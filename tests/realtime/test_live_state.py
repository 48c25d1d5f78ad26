"""Live state: the same test bodies on the memory store and, with REDIS_URL, on Redis."""

import asyncio
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Protocol

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from realtime.live_state import (
    SWEEP_INTERVAL,
    LiveState,
    LiveStateUnavailable,
    MemoryStore,
    RedisStore,
    Tile,
    TileUpdate,
)

TIMEOUT = 5.0
SHORT = 0.5  # a TTL short enough to watch expire, long enough that no check races it
DEVICE = "school:7:device:42"
KEY = "school:7:device:42"
OTHER_KEY = "school:7:device:43"
PNG = b"\x89PNG\r\n\x1a\n\x00\xff" + bytes(range(256))  # NUL bytes and invalid UTF-8

#: Real time one tick takes against Redis, whose TTLs run on its own clock.
REAL_TICK_SECONDS = 0.02


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Time:
    """Lets time pass: the memory store's clock jumps, while Redis keeps real time and we poll."""

    def __init__(self, clock: FakeClock | None) -> None:
        self._clock = clock

    def now(self) -> float:
        return time.monotonic() if self._clock is None else self._clock.now

    async def tick(self) -> None:
        if self._clock is None:
            await asyncio.sleep(REAL_TICK_SECONDS)
        else:
            self._clock.now += 0.05
            await asyncio.sleep(0)


class OpenLive(Protocol):
    async def __call__(
        self,
        *,
        suffix: str = "",
        tile_ttl: float = 120.0,
        dedupe_ttl: float = 86400.0,
        thumbnail_ttl: float = 600.0,
    ) -> LiveState: ...


async def eventually(condition: Callable[[], Awaitable[bool]], passing: Time) -> None:
    """Let time pass until `condition` holds; fail after TIMEOUT instead of sleeping blindly."""
    async with asyncio.timeout(TIMEOUT):
        while not await condition():
            await passing.tick()


def admin_client() -> Redis:
    """A separate connection for inspecting and cleaning up what the live state stored."""
    url = os.environ["REDIS_URL"]  # no retries: an unreachable Redis answers at once
    return Redis.from_url(url, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0))


async def delete_namespace(namespace: str) -> None:
    async with admin_client() as client:
        keys = [key async for key in client.scan_iter(match=f"{namespace}:*")]
        if keys:
            await client.delete(*keys)


@asynccontextmanager
async def redis_live(namespace: str, **options: float) -> AsyncIterator[LiveState]:
    """A live state on the test Redis; its keys are deleted afterwards."""
    url = await reachable_redis_url()
    try:
        async with LiveState.from_url(url, namespace=namespace, **options) as live:
            yield live
    finally:
        await delete_namespace(namespace)


async def reachable_redis_url() -> str:
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set")
    async with admin_client() as client:
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            message = f"REDIS_URL is set but Redis does not answer: {exc}"
            if os.environ.get("CI") == "true":
                pytest.fail(message)  # CI promised Redis: a silent skip would hide the gap
            pytest.skip(message)
    return url


@pytest.fixture(params=["memory", "redis"])
async def backend_url(request: pytest.FixtureRequest) -> str:
    return "memory://" if request.param == "memory" else await reachable_redis_url()


@pytest.fixture
def namespace() -> str:
    return f"test-{secrets.token_hex(6)}"  # isolates concurrent runs sharing one Redis


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def passing(backend_url: str, clock: FakeClock) -> Time:
    return Time(clock if backend_url == "memory://" else None)


@pytest.fixture
async def open_live(backend_url: str, namespace: str, clock: FakeClock) -> AsyncIterator[OpenLive]:
    async with AsyncExitStack() as stack:

        async def open_one(
            *,
            suffix: str = "",
            tile_ttl: float = 120.0,
            dedupe_ttl: float = 86400.0,
            thumbnail_ttl: float = 600.0,
        ) -> LiveState:
            ttls = {"tile_ttl": tile_ttl, "dedupe_ttl": dedupe_ttl, "thumbnail_ttl": thumbnail_ttl}
            if backend_url == "memory://":  # the memory store runs on the test's clock
                store = MemoryStore(clock=clock)
                live = LiveState(store, namespace + suffix, (tile_ttl, dedupe_ttl, thumbnail_ttl))
            else:
                live = LiveState.from_url(backend_url, namespace=namespace + suffix, **ttls)
            return await stack.enter_async_context(live)

        yield open_one
    if backend_url != "memory://":
        async with admin_client() as client:  # the suffixed namespaces too
            keys = [key async for key in client.scan_iter(match=f"{namespace}*")]
            if keys:
                await client.delete(*keys)


@pytest.fixture
async def live(open_live: OpenLive) -> LiveState:
    return await open_live()


async def test_first_seen_accepts_each_event_id_once(live: LiveState) -> None:
    # given
    assert await live.first_seen(DEVICE, ["e1", "e2"]) == [True, True]
    # when
    seen = await live.first_seen(DEVICE, ["e2", "e3", "e3", "e1", "e4", "e3"])
    # then: across calls and, within one batch, only the first of repeats is new
    assert seen == [False, True, False, False, True, False]
    assert await live.first_seen(DEVICE, []) == []


async def test_first_seen_is_per_device(live: LiveState) -> None:
    # given
    assert await live.first_seen(DEVICE, ["e1"]) == [True]
    # when / then
    assert await live.first_seen("school:7:device:43", ["e1"]) == [True]
    assert await live.first_seen("school:8:device:42", ["e1"]) == [True]
    assert await live.first_seen(DEVICE, ["e1"]) == [False]


async def test_seen_ids_expire_after_the_dedupe_ttl(open_live: OpenLive, passing: Time) -> None:
    # given
    live = await open_live(dedupe_ttl=SHORT)
    start = passing.now()
    assert await live.first_seen(DEVICE, ["e1"]) == [True]
    assert await live.first_seen(DEVICE, ["e1"]) == [False]

    # when time passes, then the id is new again, and not before the TTL
    async def new_again() -> bool:
        return await live.first_seen(DEVICE, ["e1"]) == [True]

    await eventually(new_again, passing)
    assert passing.now() - start >= SHORT


async def test_updates_merge_fields_and_add_increments(live: LiveState) -> None:
    # given
    await live.update_tiles([TileUpdate(KEY, {"app": "docs", "url": "https://a.test"}, {"n": 1})])
    # when
    await live.update_tiles(
        [
            TileUpdate(KEY, {"app": "maths ✓"}, {"n": 2, "blocked": -1}),
            TileUpdate(OTHER_KEY, {}, {"n": 5}),  # increments alone create a tile
        ]
    )
    # then
    assert await live.read_tiles([KEY, OTHER_KEY]) == [
        Tile({"app": "maths ✓", "url": "https://a.test", "n": "3", "blocked": "-1"}, None),
        Tile({"n": "5"}, None),
    ]


async def test_missing_tiles_read_as_none_in_order(live: LiveState) -> None:
    # given
    await live.update_tiles([TileUpdate(KEY, {"app": "docs"})])
    await live.update_tiles([TileUpdate(OTHER_KEY, {})])  # nothing to set: creates nothing
    # when
    tiles = await live.read_tiles(["school:9:device:1", KEY, OTHER_KEY, KEY])
    # then
    assert tiles == [None, Tile({"app": "docs"}, None), None, Tile({"app": "docs"}, None)]
    assert await live.read_tiles([]) == []
    await live.update_tiles([])


async def test_thumbnails_are_stored_apart_and_optional(live: LiveState) -> None:
    # given
    await live.update_tiles([TileUpdate(KEY, {"app": "docs"}, thumbnail=PNG)])
    # when an update brings no thumbnail, then the last one stays
    await live.update_tiles([TileUpdate(KEY, {"app": "maths"})])
    assert await live.read_tiles([KEY]) == [Tile({"app": "maths"}, PNG)]
    # and a read can leave thumbnails out
    assert await live.read_tiles([KEY], thumbnails=False) == [Tile({"app": "maths"}, None)]
    # and a new thumbnail replaces the old one
    await live.update_tiles([TileUpdate(KEY, {}, thumbnail=b"\x00")])
    assert await live.read_tiles([KEY]) == [Tile({"app": "maths"}, b"\x00")]


async def test_thumbnails_expire_on_their_own_ttl(open_live: OpenLive, passing: Time) -> None:
    # given
    live = await open_live(thumbnail_ttl=SHORT)
    await live.update_tiles([TileUpdate(KEY, {"app": "docs"}, thumbnail=PNG)])
    assert await live.read_tiles([KEY]) == [Tile({"app": "docs"}, PNG)]

    # when time passes, then the thumbnail goes and the tile stays
    async def thumbnail_gone() -> bool:
        return await live.read_tiles([KEY]) == [Tile({"app": "docs"}, None)]

    await eventually(thumbnail_gone, passing)


async def test_updates_keep_a_tile_alive_until_they_stop(
    open_live: OpenLive, passing: Time
) -> None:
    # given
    live = await open_live(tile_ttl=SHORT)
    start = passing.now()
    await live.update_tiles([TileUpdate(KEY, {"app": "docs"})])
    # when updates keep coming for longer than the TTL, then each one restarts it
    while passing.now() - start < 2 * SHORT:
        await live.update_tiles([TileUpdate(KEY, {})])  # a bare refresh, as a heartbeat sends
        assert await live.read_tiles([KEY]) == [Tile({"app": "docs"}, None)]
        await passing.tick()

    # and once they stop, the tile expires
    async def tile_gone() -> bool:
        return await live.read_tiles([KEY]) == [None]

    await eventually(tile_gone, passing)


async def test_delete_tiles_removes_fields_and_thumbnails(live: LiveState) -> None:
    # given
    updates = [TileUpdate(key, {"app": "docs"}, thumbnail=PNG) for key in (KEY, OTHER_KEY)]
    await live.update_tiles(updates)
    # when
    await live.delete_tiles([KEY, "school:9:device:1"])
    await live.delete_tiles([])
    # then
    assert await live.read_tiles([KEY, OTHER_KEY]) == [None, Tile({"app": "docs"}, PNG)]
    await live.update_tiles([TileUpdate(KEY, {"app": "again"})])
    assert await live.read_tiles([KEY]) == [Tile({"app": "again"}, None)]


async def test_incrementing_a_text_field_is_rejected(live: LiveState) -> None:
    # given
    await live.update_tiles([TileUpdate(KEY, {"app": "docs"})])
    # when / then
    with pytest.raises(ValueError, match=r"not an integer|invalid literal"):
        await live.update_tiles([TileUpdate(KEY, {}, {"app": 1})])


BAD_CALLS: list[tuple[str, Callable[[LiveState], Awaitable[object]]]] = [
    ("uppercase key", lambda live: live.read_tiles(["School:7"])),
    ("key with a space", lambda live: live.update_tiles([TileUpdate("school:7 x", {})])),
    ("glob in key", lambda live: live.delete_tiles(["school:*"])),
    ("empty key", lambda live: live.read_tiles([""])),
    ("non-ASCII key", lambda live: live.read_tiles(["schööl:7"])),
    ("key too long", lambda live: live.read_tiles(["7" * 201])),
    ("bad device key", lambda live: live.first_seen("device 42", ["e1"])),
    ("empty event id", lambda live: live.first_seen(DEVICE, [""])),
    ("event id with space", lambda live: live.first_seen(DEVICE, ["e 1"])),
    ("event id too long", lambda live: live.first_seen(DEVICE, ["e" * 65])),
    ("non-ASCII event id", lambda live: live.first_seen(DEVICE, ["é"])),
    ("control char in id", lambda live: live.first_seen(DEVICE, ["e1\n"])),
]


@pytest.mark.parametrize(("case", "call"), BAD_CALLS, ids=[case for case, _ in BAD_CALLS])
async def test_bad_keys_and_event_ids_are_rejected(
    live: LiveState, case: str, call: Callable[[LiveState], Awaitable[object]]
) -> None:
    with pytest.raises(ValueError, match="does not match"):
        await call(live)


async def test_a_bad_key_rejects_the_whole_batch(live: LiveState) -> None:
    # when
    with pytest.raises(ValueError, match="does not match"):
        await live.update_tiles([TileUpdate(KEY, {"app": "docs"}), TileUpdate("BAD", {})])
    with pytest.raises(ValueError, match="does not match"):
        await live.first_seen(DEVICE, ["e1", "bad id"])
    # then: nothing was applied
    assert await live.read_tiles([KEY]) == [None]
    assert await live.first_seen(DEVICE, ["e1"]) == [True]
    assert await live.first_seen(DEVICE, ["e" * 64, "!~:/#"]) == [True, True]  # the limits


async def test_a_lone_string_is_not_a_batch(live: LiveState) -> None:
    with pytest.raises(TypeError, match="not the string"):
        await live.first_seen(DEVICE, "e1")
    with pytest.raises(TypeError, match="not the string"):
        await live.read_tiles(KEY)


async def test_namespaces_are_isolated(open_live: OpenLive) -> None:
    # given: a second live state (another deployment) on the same backend
    ours, theirs = await open_live(), await open_live(suffix="-other")
    # when
    await ours.update_tiles([TileUpdate(KEY, {"app": "docs"})])
    assert await ours.first_seen(DEVICE, ["e1"]) == [True]
    # then
    assert await theirs.read_tiles([KEY]) == [None]
    assert await theirs.first_seen(DEVICE, ["e1"]) == [True]


async def test_a_closed_live_state_is_unavailable(backend_url: str, namespace: str) -> None:
    # given
    live = LiveState.from_url(backend_url, namespace=namespace)
    with pytest.raises(LiveStateUnavailable, match="not open"):
        await live.first_seen(DEVICE, ["e1"])
    async with live:
        await live.ping()
    # when the block has ended, then
    with pytest.raises(LiveStateUnavailable, match="not open"):
        await live.ping()
    with pytest.raises(LiveStateUnavailable, match="not open"):
        await live.read_tiles([KEY])


async def test_unreachable_redis_is_unavailable_at_once() -> None:
    # given: nothing listens on port 1
    live = LiveState.from_url("redis://:secret@127.0.0.1:1/0", namespace="test")
    async with asyncio.timeout(TIMEOUT):  # fails instead of hanging
        # when / then
        with pytest.raises(LiveStateUnavailable, match="PING failed") as raised:
            async with live:
                pass
        with pytest.raises(LiveStateUnavailable, match="not open"):
            await live.update_tiles([TileUpdate(KEY, {"app": "docs"})])
    assert "secret" not in str(raised.value)


async def test_redis_keys_follow_the_documented_layout(namespace: str) -> None:
    # given
    async with redis_live(namespace, tile_ttl=60) as live:
        # when
        await live.update_tiles([TileUpdate(KEY, {"app": "docs"}, thumbnail=PNG)])
        await live.first_seen(DEVICE, ["e1"])
        # then: each with its TTL, and the thumbnail outside the tile hash
        async with admin_client() as client:
            assert await client.type(f"{namespace}:live:v1:{KEY}") == b"hash"
            assert await client.hgetall(f"{namespace}:live:v1:{KEY}") == {b"app": b"docs"}
            assert 0 < await client.pttl(f"{namespace}:live:v1:{KEY}") <= 60_000
            assert await client.get(f"{namespace}:thumb:v1:{KEY}") == PNG
            assert 0 < await client.pttl(f"{namespace}:thumb:v1:{KEY}") <= 600_000
            assert 0 < await client.pttl(f"{namespace}:seen:v1:{DEVICE}:e1") <= 86_400_000


async def test_redis_forgetting_the_scripts_loses_no_write(namespace: str) -> None:
    # given a live state that has used its scripts
    async with redis_live(namespace) as live:
        await live.first_seen(DEVICE, ["e1"])
        await live.update_tiles([TileUpdate(KEY, {"app": "docs"}, {"n": 1})])
        # when Redis forgets them (a restart, SCRIPT FLUSH)
        async with admin_client() as client:
            await client.script_flush()
        # then each call loads its script again and applies once
        assert await live.first_seen(DEVICE, ["e1", "e2", "e2"]) == [False, True, False]
        await live.update_tiles([TileUpdate(KEY, {"app": "maths"}, {"n": 1})])
        assert await live.read_tiles([KEY]) == [Tile({"app": "maths", "n": "2"}, None)]


async def test_redis_calls_of_one_turn_share_one_round_trip(namespace: str) -> None:
    # given
    async with redis_live(namespace) as live:
        store = live.store
        assert isinstance(store, RedisStore)
        await live.update_tiles([TileUpdate(KEY, {"app": "docs"})])
        sent = store.batches
        # when fifty reports claim their ids in the same turn of the event loop
        flags = await asyncio.gather(
            *(live.first_seen(f"school:7:device:{n}", ["e1", "e1"]) for n in range(50))
        )
        # then each has its own answer, and all went in one pipeline
        assert flags == [[True, False]] * 50
        assert store.batches - sent == 1


async def test_redis_a_failing_call_fails_only_its_caller(namespace: str) -> None:
    # given a tile with a text field
    async with redis_live(namespace) as live:
        await live.update_tiles([TileUpdate(KEY, {"app": "docs"})])
        # when, in the same pipeline, one call increments that text and another claims ids
        bad, good = await asyncio.gather(
            live.update_tiles([TileUpdate(KEY, {}, {"app": 1})]),
            live.first_seen(DEVICE, ["e9"]),
            return_exceptions=True,
        )
        # then only the bad call fails, and says why
        assert isinstance(bad, ValueError)
        assert "not an integer" in str(bad)
        assert good == [True]


async def test_memory_sweeps_expired_entries_at_most_once_a_second(clock: FakeClock) -> None:
    # given
    store = MemoryStore(clock=clock)
    async with LiveState(store, "test", (SHORT, SHORT, SHORT)) as live:
        await live.first_seen(DEVICE, [f"e{n}" for n in range(100)])
        tiles = [TileUpdate(f"school:1:device:{n}", {"a": "1"}, thumbnail=b"x") for n in range(10)]
        await live.update_tiles(tiles)
        assert store.size() == 120
        # when everything has expired but the last sweep was under a second ago
        clock.now += SWEEP_INTERVAL - 0.1
        await live.ping()
        # then nothing is swept yet (reads would still see nothing expired)
        assert store.size() == 120
        # when a second has passed since that sweep, then everything expired is gone
        clock.now += 0.1
        await live.ping()
        assert store.size() == 0


async def test_memory_dedupe_cap_forgets_the_oldest_ids(clock: FakeClock) -> None:
    # given
    store = MemoryStore(clock=clock, max_seen=3)
    async with LiveState(store, "test", (SHORT, 60.0, SHORT)) as live:
        # when
        assert await live.first_seen(DEVICE, ["a", "b", "c", "d"]) == [True] * 4
        # then: memory stays bounded and the newest ids are still known
        assert store.size() == 3
        assert await live.first_seen(DEVICE, ["b", "c", "d"]) == [False] * 3
        # and a forgotten id is accepted twice: a duplicate, never a lost event
        assert await live.first_seen(DEVICE, ["a"]) == [True]


@pytest.mark.parametrize("url", ["redis://localhost:6379/0", "rediss://cache.example:6380/1"])
def test_from_url_accepts_redis_schemes(url: str) -> None:
    assert isinstance(LiveState.from_url(url).store, RedisStore)  # nothing connects yet


def test_from_url_accepts_memory() -> None:
    assert isinstance(LiveState.from_url("memory://").store, MemoryStore)


@pytest.mark.parametrize("url", ["amqp://user:secret@host/", "localhost:6379", "memcached://x"])
def test_from_url_names_an_unsupported_scheme_without_the_url(url: str) -> None:
    with pytest.raises(ValueError, match="unsupported live state scheme") as raised:
        LiveState.from_url(url)
    assert "secret" not in str(raised.value)


@pytest.mark.parametrize(
    "settings",
    [{"namespace": ""}, {"namespace": "a:b"}, {"tile_ttl": 0}, {"dedupe_ttl": float("inf")}],
)
def test_from_url_rejects_bad_settings(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"namespace|TTL"):
        LiveState.from_url("memory://", **settings)  # type: ignore[arg-type]
