"""The simulated learner: deterministic, mostly on task, with the odd concern and screenshot."""

from __future__ import annotations

import struct
from collections import Counter
from urllib.parse import urlsplit

from agent.activity import (
    CONCERN_TEST_PHRASES,
    KINDS,
    OFF_TASK_SITES,
    ON_TASK_SITES,
    THUMBNAIL_JPEG,
    SimulatedBrowsing,
)

N = 20_000


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the SOF0 segment, walking the JPEG's marker segments."""
    assert data[:2] == b"\xff\xd8"
    assert data[-2:] == b"\xff\xd9"
    i = 2
    while i < len(data):
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2 : i + 4])[0]
        if marker == 0xC0:
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    raise AssertionError("no SOF0 segment")


def test_the_same_seed_gives_the_same_learner() -> None:
    a, b, c = SimulatedBrowsing(42), SimulatedBrowsing(42), SimulatedBrowsing(43)
    first = [(a.next_attempt(), a.delay()) for _ in range(300)]
    assert first == [(b.next_attempt(), b.delay()) for _ in range(300)]
    assert first != [(c.next_attempt(), c.delay()) for _ in range(300)]


def test_a_learner_is_mostly_on_task() -> None:
    # given
    source = SimulatedBrowsing(1)
    attempts = [source.next_attempt() for _ in range(N)]
    kinds = Counter(a.kind for a in attempts)
    hosts = Counter(urlsplit(a.url).hostname for a in attempts if a.kind == "URL_VISIT")
    on_task = {urlsplit(url).hostname for url, _ in ON_TASK_SITES}
    off_task = {urlsplit(url).hostname for url, _ in OFF_TASK_SITES}
    # then
    assert attempts[0].kind == "LOGIN"
    assert set(kinds) <= KINDS
    assert {"URL_VISIT", "APP_FOCUS", "SEARCH", "TYPED_TEXT", "SCREENSHOT", "IDLE"} <= set(kinds)
    visits_on = sum(n for host, n in hosts.items() if host in on_task)
    visits_off = sum(n for host, n in hosts.items() if host in off_task)
    assert visits_on > 3 * visits_off > 0


def test_concerning_test_phrases_are_rare_but_present() -> None:
    source = SimulatedBrowsing(5)
    concerns = sum(source.next_attempt().text in CONCERN_TEST_PHRASES for _ in range(N))
    assert N / 400 < concerns < N / 100  # about 1 in 200


def test_screenshots_carry_a_small_valid_jpeg_every_few_events() -> None:
    source = SimulatedBrowsing(9)
    attempts = [source.next_attempt() for _ in range(1_000)]
    shots = [a for a in attempts if a.kind == "SCREENSHOT"]
    assert 1_000 / 9 < len(shots) < 1_000 / 3
    assert all(a.thumbnail is THUMBNAIL_JPEG for a in shots)
    assert len(THUMBNAIL_JPEG) < 2_048
    assert jpeg_size(THUMBNAIL_JPEG) == (48, 32)


def test_delays_scale_with_the_interval() -> None:
    source = SimulatedBrowsing(3, interval=0.1)
    delays = []
    for _ in range(500):
        source.next_attempt()
        delays.append(source.delay())
    assert min(delays) >= 0.05
    assert max(delays) <= 0.6  # idle stretches wait longest
