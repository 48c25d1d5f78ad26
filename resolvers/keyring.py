"""Per-school data keys: created, unwrapped with the master key, cached, rotated."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Final, Literal, TypeAlias

from tortoise.transactions import in_transaction

from app.security.crypto import (
    CryptoError,
    FieldContext,
    MasterKeyRing,
    blind_index,
    decrypt_field,
    derive_subkey,
    encrypt_field,
    envelope_key_version,
    new_data_key,
)
from models.schools import SchoolKey

DATA = "data"
INDEX = "index"
CACHE_SECONDS = 300.0


class _NotCached(Enum):
    NOT_CACHED = "NOT_CACHED"


#: What :meth:`Keyring.decrypt_cached` answers when it would need the database.
NOT_CACHED: Final = _NotCached.NOT_CACHED
NotCached: TypeAlias = Literal[_NotCached.NOT_CACHED]


@dataclass(frozen=True, slots=True)
class Sealer:
    """Encrypts one school's fields of one table with its active data key, without waiting.

    For batches: one key lookup (:meth:`Keyring.sealer`) serves every field of every row,
    where :meth:`Keyring.encrypt` awaits the cache once per field. The envelopes are exactly
    :meth:`Keyring.encrypt`'s (``encrypt_field`` bound to school, table, column and row).
    """

    school_id: int
    table: str
    version: int
    _key: bytes = field(repr=False)

    def __call__(self, column: str, row_id: str, plaintext: str | None) -> bytes | None:
        if plaintext is None:
            return None
        context = FieldContext(self.school_id, self.table, column, row_id)
        return encrypt_field(self._key, self.version, plaintext, context)


@dataclass(frozen=True, slots=True)
class _SchoolKeys:
    data: dict[int, bytes]
    active_version: int
    index: bytes
    loaded_at: float


class Keyring:
    """Encrypts and decrypts one school's fields; the only holder of unwrapped keys.

    Unwrapped keys are cached for a few minutes so reads cost no database round trip; a
    rotation elsewhere is picked up when the cache expires, and old versions keep decrypting.
    """

    def __init__(self, masters: MasterKeyRing) -> None:
        self.masters = masters
        self._cache: dict[int, _SchoolKeys] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    async def create_school_keys(self, school_id: int) -> None:
        """Make a school's first data key and its blind-index key (at school creation)."""
        kek = self.masters.current
        for purpose in (DATA, INDEX):
            await SchoolKey.create(
                school_id=school_id,
                purpose=purpose,
                version=1,
                wrapped_key=kek.wrap(new_data_key()),
                kek_id=kek.key_id,
            )

    def _fresh(self, school_id: int) -> _SchoolKeys | None:
        cached = self._cache.get(school_id)
        if cached is not None and time.monotonic() - cached.loaded_at < CACHE_SECONDS:
            return cached
        return None

    async def _keys(self, school_id: int) -> _SchoolKeys:
        cached = self._fresh(school_id)
        if cached is not None:
            return cached
        lock = self._locks.setdefault(school_id, asyncio.Lock())
        async with lock:
            cached = self._cache.get(school_id)
            if cached is not None and time.monotonic() - cached.loaded_at < CACHE_SECONDS:
                return cached
            loaded = await self._load(school_id)
            self._cache[school_id] = loaded
            return loaded

    async def _load(self, school_id: int) -> _SchoolKeys:
        rows = await SchoolKey.filter(school_id=school_id)
        data: dict[int, bytes] = {}
        active = 0
        index: bytes | None = None
        for row in rows:
            key = self.masters.by_id(row.kek_id).unwrap(bytes(row.wrapped_key))
            if row.purpose == INDEX:
                index = key
            else:
                data[row.version] = key
                if row.active:
                    active = max(active, row.version)
        if not active or index is None:
            raise CryptoError(f"School {school_id} has no active keys.")
        return _SchoolKeys(data, active, index, time.monotonic())

    def forget(self, school_id: int | None = None) -> None:
        if school_id is None:
            self._cache.clear()
        else:
            self._cache.pop(school_id, None)

    async def encrypt(self, context: FieldContext, plaintext: str | None) -> bytes | None:
        if plaintext is None:
            return None
        keys = await self._keys(context.school_id)
        version = keys.active_version
        return encrypt_field(keys.data[version], version, plaintext, context)

    async def sealer(self, school_id: int, table: str) -> Sealer:
        """Encrypt many fields of ``table`` for the school with one key lookup."""
        keys = await self._keys(school_id)
        version = keys.active_version
        return Sealer(school_id, table, version, keys.data[version])

    def decrypt_cached(self, context: FieldContext, envelope: bytes) -> str | NotCached:
        """Decrypt with the cached keys alone, without waiting: for lists of rows.

        :data:`NOT_CACHED` when the school's keys are not cached (or have expired), or lack the
        envelope's version: then :meth:`decrypt` loads them. Otherwise exactly :meth:`decrypt`.
        """
        keys = self._fresh(context.school_id)
        if keys is None:
            return NOT_CACHED
        envelope = bytes(envelope)
        dek = keys.data.get(envelope_key_version(envelope))
        if dek is None:
            return NOT_CACHED
        return decrypt_field(dek, envelope, context)

    async def decrypt(self, context: FieldContext, envelope: bytes | None) -> str | None:
        if envelope is None:
            return None
        envelope = bytes(envelope)
        keys = await self._keys(context.school_id)
        version = envelope_key_version(envelope)
        dek = keys.data.get(version)
        if dek is None:
            # A rotation in another process made a version this cache has not seen yet.
            self.forget(context.school_id)
            keys = await self._keys(context.school_id)
            dek = keys.data.get(version)
            if dek is None:
                raise CryptoError(f"Unknown data key version {version}.")
        return decrypt_field(dek, envelope, context)

    async def index(self, school_id: int, column: str, value: str | None) -> str | None:
        if value is None:
            return None
        keys = await self._keys(school_id)
        return blind_index(_column_key(keys.index, column), value)

    async def rotate_data_key(self, school_id: int, now: datetime | None = None) -> int:
        """Start writing with a new data key version; old versions still decrypt.

        ``now`` stamps the version on the caller's clock, the one its retirement is timed by.
        """
        kek = self.masters.current
        async with in_transaction():
            latest = (
                await SchoolKey.filter(school_id=school_id, purpose=DATA)
                .order_by("-version")
                .first()
            )
            version = (latest.version if latest else 0) + 1
            await SchoolKey.filter(school_id=school_id, purpose=DATA).update(active=False)
            row = SchoolKey(
                school_id=school_id,
                purpose=DATA,
                version=version,
                wrapped_key=kek.wrap(new_data_key()),
                kek_id=kek.key_id,
            )
            if now is not None:
                row.created_at = now
            await row.save()
        self.forget(school_id)
        return version

    async def rewrap_all(self) -> int:
        """Re-wrap every key still wrapped by an older master key; returns how many changed."""
        kek = self.masters.current
        changed = 0
        for row in await SchoolKey.exclude(kek_id=kek.key_id):
            key = self.masters.by_id(row.kek_id).unwrap(bytes(row.wrapped_key))
            row.wrapped_key = kek.wrap(key)
            row.kek_id = kek.key_id
            await row.save(update_fields=["wrapped_key", "kek_id"])
            changed += 1
        return changed

    async def retire(self, school_id: int, versions: list[int]) -> None:
        """Delete these data-key versions: nothing may be sealed with them any more."""
        if versions:
            await SchoolKey.filter(school_id=school_id, purpose=DATA, version__in=versions).delete()
        self.forget(school_id)


def _column_key(index_key: bytes, column: str) -> bytes:
    # One index key per column, so equal values in two columns do not share an index.
    return derive_subkey(index_key, f"blind-index/{column}")


__all__ = ["NOT_CACHED", "Keyring", "NotCached", "Sealer"]
