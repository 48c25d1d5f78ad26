"""Argon2id password hashing (AUTHN-01..03, AUTHN-05) with bounded concurrency (AVAIL-03)."""

from __future__ import annotations

import asyncio
import secrets
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from app.errors import ConfigurationError

_T = TypeVar("_T")

# OWASP Password Storage Cheat Sheet minimum for argon2id; RFC 9106 asks for a 128-bit salt.
MIN_MEMORY_COST_KIB = 19456
MIN_TIME_COST = 2
MIN_PARALLELISM = 1
MIN_SALT_BYTES = 16

MIN_PASSWORD_LENGTH = 12
# Long enough for passphrases, short enough that hashing a hostile input stays cheap.
MAX_PASSWORD_LENGTH = 128

# Lower-cased; only entries that pass the length rule matter, shorter ones are rejected anyway.
_COMMON_PASSWORDS = frozenset(
    {
        "123456789012",
        "1234567890123",
        "12345678901234",
        "123456123456",
        "123123123123",
        "111111111111",
        "000000000000",
        "aaaaaaaaaaaa",
        "abcdefghijkl",
        "abc123abc123",
        "abcd1234abcd",
        "qwertyuiopas",
        "qwertyuiop12",
        "qwertyuiop123",
        "qwerty123456",
        "1qaz2wsx3edc",
        "1q2w3e4r5t6y",
        "zaq12wsxcde3",
        "asdfghjkl123",
        "password1234",
        "password123456",
        "password12345",
        "password2024",
        "password2025",
        "password2026",
        "passwordpassword",
        "p@ssw0rd1234",
        "passw0rd1234",
        "iloveyou1234",
        "letmein12345",
        "welcome12345",
        "welcome123456",
        "changeme1234",
        "changeme123!",
        "football1234",
        "liverpool1234",
        "manchesterunited",
        "arsenal12345",
        "chelsea12345",
        "monkey123456",
        "sunshine1234",
        "princess1234",
        "superman1234",
        "trustno11234",
        "teacher12345",
        "school123456",
        "pupilprogress",
        "pupilprogress1",
        "administrator",
        "correcthorsebatterystaple",
    }
)


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """``new_hash`` is set when the login succeeded and the stored hash must be replaced."""

    ok: bool
    new_hash: str | None = None


_FAILED = VerifyResult(ok=False)


class PasswordService:
    """Hashes and verifies passwords in worker threads, at most ``max_concurrent`` at a time."""

    def __init__(self, hasher: PasswordHasher | None = None, *, max_concurrent: int = 2) -> None:
        if max_concurrent < 1:
            raise ConfigurationError("max_concurrent must be at least 1")
        self._hasher = hasher if hasher is not None else PasswordHasher()
        _require_floor(self._hasher)
        self._max_concurrent = max_concurrent
        # One semaphore per event loop: asyncio primitives bind to the first loop that waits on
        # them, and tests (and the embedded mode) may drive this service from several loops.
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self._jobs: set[asyncio.Future[Any]] = set()
        # Verified against when the account is unknown, so the response costs the same time.
        # Computed once here (one blocking hash), so build the service at startup.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(32))

    async def hash(self, password: str) -> str:
        return await self._in_worker(lambda: self._hasher.hash(password))

    async def verify(self, stored_hash: str | None, password: str) -> VerifyResult:
        """Never raises for a bad password or a malformed hash; unknown users cost one verify."""
        return await self._in_worker(lambda: self._verify_blocking(stored_hash, password))

    def _verify_blocking(self, stored_hash: str | None, password: str) -> VerifyResult:
        if stored_hash is None:
            self._matches(self._dummy_hash, password)
            return _FAILED
        try:
            self._hasher.verify(stored_hash, password)
        except VerifyMismatchError:
            return _FAILED
        except (VerificationError, InvalidHashError):
            # A corrupt or disabled hash must not answer faster than a wrong password would.
            self._matches(self._dummy_hash, password)
            return _FAILED
        if self._hasher.check_needs_rehash(stored_hash):
            return VerifyResult(ok=True, new_hash=self._hasher.hash(password))
        return VerifyResult(ok=True)

    def _matches(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def _in_worker(self, work: Callable[[], _T]) -> _T:
        slot = self._slot()
        await slot.acquire()
        try:
            job = asyncio.ensure_future(asyncio.to_thread(work))
        except BaseException:
            slot.release()
            raise
        self._jobs.add(job)

        # The slot is released when the thread finishes, not when the caller gives up: a
        # cancelled login cannot stop its thread, which still holds 64 MiB until it returns.
        def finished(done: asyncio.Future[_T]) -> None:
            slot.release()
            self._jobs.discard(done)
            if not done.cancelled():
                done.exception()  # marks it retrieved when the caller has already gone

        job.add_done_callback(finished)
        return await asyncio.shield(job)

    def _slot(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        slot = self._slots.get(loop)
        if slot is None:
            slot = self._slots[loop] = asyncio.Semaphore(self._max_concurrent)
        return slot


def _require_floor(hasher: PasswordHasher) -> None:
    if hasher.type is not Type.ID:
        raise ConfigurationError("password hasher must use argon2id")
    if (
        hasher.memory_cost < MIN_MEMORY_COST_KIB
        or hasher.time_cost < MIN_TIME_COST
        or hasher.parallelism < MIN_PARALLELISM
        or hasher.salt_len < MIN_SALT_BYTES
    ):
        raise ConfigurationError(
            "password hasher parameters are below the OWASP floor "
            f"(m>={MIN_MEMORY_COST_KIB}, t>={MIN_TIME_COST}, p>={MIN_PARALLELISM}, "
            f"salt>={MIN_SALT_BYTES} bytes)"
        )


def validate_new_password(password: str) -> str | None:
    """Return why ``password`` is not acceptable, or None; deliberately no composition rules."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    if password.lower() in _COMMON_PASSWORDS:
        return "This password is too common; choose another."
    return None


def password_parameters(stored_hash: str) -> tuple[int, int, int]:
    """Return ``(memory_cost, time_cost, parallelism)``; raises InvalidHashError if malformed."""
    params = extract_parameters(stored_hash)
    return params.memory_cost, params.time_cost, params.parallelism


__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MIN_MEMORY_COST_KIB",
    "MIN_PARALLELISM",
    "MIN_PASSWORD_LENGTH",
    "MIN_TIME_COST",
    "PasswordService",
    "VerifyResult",
    "password_parameters",
    "validate_new_password",
]
