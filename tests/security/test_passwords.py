"""Argon2id hashing: floor, rehash on login, uniform failures, concurrency bound, policy."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Literal

import pytest
from argon2 import PasswordHasher, Type

from app.errors import ConfigurationError
from app.security.passwords import (
    MIN_MEMORY_COST_KIB,
    MIN_PARALLELISM,
    MIN_TIME_COST,
    PasswordService,
    VerifyResult,
    password_parameters,
    validate_new_password,
)

PASSWORD = "correct battery horse staple"


def floor_hasher() -> PasswordHasher:
    # The cheapest parameters the service accepts (~25 ms), so most tests stay fast.
    return PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


@pytest.fixture
def service() -> PasswordService:
    return PasswordService(floor_hasher())


class GatedHasher(PasswordHasher):
    """Counts verifies running at once; each waits for ``gate`` so the overlap is observable."""

    def __init__(self) -> None:
        super().__init__(time_cost=2, memory_cost=19456, parallelism=1)
        self.gate = threading.Event()
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.calls = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        with self.lock:
            self.active += 1
            self.calls += 1
            self.peak = max(self.peak, self.active)
        try:
            self.gate.wait(timeout=5)
            return True
        finally:
            with self.lock:
                self.active -= 1


POLL_SECONDS = 0.001


async def wait_until(condition: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(POLL_SECONDS)


async def test_default_hash_uses_argon2id_at_or_above_the_floor() -> None:
    # given
    service = PasswordService()
    # when
    stored = await service.hash(PASSWORD)
    # then
    assert stored.startswith("$argon2id$v=19$")
    m, t, p = password_parameters(stored)
    assert (m, t, p) == (65536, 3, 4)
    assert m >= MIN_MEMORY_COST_KIB
    assert t >= MIN_TIME_COST
    assert p >= MIN_PARALLELISM


@pytest.mark.parametrize(
    "hasher",
    [
        PasswordHasher(time_cost=1, memory_cost=19456, parallelism=1),
        PasswordHasher(time_cost=2, memory_cost=19455, parallelism=1),
        PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, salt_len=8),
        PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4, type=Type.I),
    ],
    ids=["time", "memory", "salt", "argon2i"],
)
def test_hasher_below_the_floor_refuses_to_start(hasher: PasswordHasher) -> None:
    # when / then
    with pytest.raises(ConfigurationError):
        PasswordService(hasher)


async def test_correct_password_verifies_without_rehash(service: PasswordService) -> None:
    # given
    stored = await service.hash(PASSWORD)
    # when
    result = await service.verify(stored, PASSWORD)
    # then
    assert result == VerifyResult(ok=True, new_hash=None)


async def test_wrong_password_fails(service: PasswordService) -> None:
    # given
    stored = await service.hash(PASSWORD)
    # when
    result = await service.verify(stored, "not the password")
    # then
    assert result == VerifyResult(ok=False, new_hash=None)


async def test_login_with_old_parameters_returns_a_rehash_at_policy_parameters() -> None:
    # given a hash stored under the OWASP minimum, and the service at argon2-cffi defaults
    stored = floor_hasher().hash(PASSWORD)
    service = PasswordService()
    # when
    result = await service.verify(stored, PASSWORD)
    # then
    assert result.ok
    assert result.new_hash is not None
    assert password_parameters(result.new_hash) == (65536, 3, 4)
    assert (await service.verify(result.new_hash, PASSWORD)).new_hash is None


async def test_wrong_password_on_old_parameters_does_not_rehash() -> None:
    # given
    stored = floor_hasher().hash(PASSWORD)
    # when
    result = await PasswordService().verify(stored, "not the password")
    # then
    assert result == VerifyResult(ok=False, new_hash=None)


async def test_unknown_user_fails_after_a_dummy_verify() -> None:
    # given
    hasher = GatedHasher()
    hasher.gate.set()
    service = PasswordService(hasher)
    # when
    result = await service.verify(None, PASSWORD)
    # then the same Argon2 work was done as for a real account
    assert result == VerifyResult(ok=False, new_hash=None)
    assert hasher.calls == 1


@pytest.mark.parametrize(
    "stored",
    ["", "not-a-hash", "$argon2id$v=19$m=19456,t=2,p=1$broken", "$2b$12$" + "a" * 53],
)
async def test_malformed_stored_hash_fails_without_raising(
    service: PasswordService, stored: str
) -> None:
    # when
    result = await service.verify(stored, PASSWORD)
    # then
    assert result == VerifyResult(ok=False, new_hash=None)


async def test_at_most_max_concurrent_hashes_run_at_once() -> None:
    # given
    hasher = GatedHasher()
    service = PasswordService(hasher, max_concurrent=2)
    stored = floor_hasher().hash(PASSWORD)
    # when six logins arrive together
    logins = [asyncio.ensure_future(service.verify(stored, PASSWORD)) for _ in range(6)]
    await wait_until(lambda: hasher.active == 2)
    # Let every task run as far as it can: an unbounded implementation would hand all six to
    # worker threads now.
    for _ in range(200):
        await asyncio.sleep(0)
    blocked_active = hasher.active
    hasher.gate.set()
    results = await asyncio.gather(*logins)
    # then
    assert blocked_active == 2
    assert hasher.peak == 2
    assert hasher.calls == 6
    assert all(result.ok for result in results)


async def test_cancelled_login_keeps_its_slot_until_the_thread_finishes() -> None:
    # given one slot, taken by a login whose client then disconnects
    hasher = GatedHasher()
    service = PasswordService(hasher, max_concurrent=1)
    stored = floor_hasher().hash(PASSWORD)
    first = asyncio.ensure_future(service.verify(stored, PASSWORD))
    await wait_until(lambda: hasher.active == 1)
    first.cancel()
    # when
    second = asyncio.ensure_future(service.verify(stored, PASSWORD))
    for _ in range(200):  # let it run as far as it can without the slot
        await asyncio.sleep(0)
    # then the second waits: the first thread still holds its memory
    assert hasher.calls == 1
    hasher.gate.set()
    assert (await second).ok
    assert first.cancelled()
    assert hasher.peak == 1


def test_service_works_across_event_loops() -> None:
    # given a service shared by two loops, as when tests each get a fresh loop
    service = PasswordService(floor_hasher(), max_concurrent=1)

    async def burst() -> list[str]:
        return await asyncio.gather(*(service.hash(PASSWORD) for _ in range(3)))

    # when / then
    assert len(asyncio.run(burst())) == 3
    assert len(asyncio.run(burst())) == 3


@pytest.mark.parametrize(
    ("password", "accepted"),
    [
        ("short pass1", False),
        ("x" * 12, True),
        ("a long enough passphrase", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("password123456", False),
        ("QwertyuiopAS", False),
        ("alllowercaseletters", True),  # no composition rules
        ("ünïcödé pässwörd", True),
    ],
)
def test_new_password_policy(password: str, accepted: bool) -> None:
    # when
    error = validate_new_password(password)
    # then
    assert (error is None) == accepted
