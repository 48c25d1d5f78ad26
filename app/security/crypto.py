"""Field-level encryption at rest: master keys, data-key wrapping, AES-GCM fields, blind indexes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import FrozenInstanceError, dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from app.errors import ConfigurationError

MASTER_KEY_BYTES = 32
DATA_KEY_BYTES = 32
BLIND_INDEX_BYTES = 16
ROTATE_AFTER_ENCRYPTIONS = 2**30
"""Encryptions per data key before a new version is due: NIST SP 800-38D §8.3 caps random 96-bit
nonces at 2**32 per key, since one repeated nonce breaks GCM; 2**30 leaves a wide margin."""

_FORMAT_V1 = b"\x01"
_VERSION_BYTES = 4
_NONCE_BYTES = 12
_TAG_BYTES = 16
_HEADER_BYTES = len(_FORMAT_V1) + _VERSION_BYTES + _NONCE_BYTES
_MAX_KEY_VERSION = 2**32 - 1
_DERIVE_PREFIX = b"pupil-progress/"
# ":" rather than "/" so no purpose passed to derive() can ever produce the key-id subkey.
_KEY_ID_INFO = b"pupil-progress:key-id"
_URLSAFE_B64 = re.compile(r"[A-Za-z0-9_-]+={0,2}")


class CryptoError(Exception):
    """Decryption or unwrap failed: wrong key, tampered or misplaced data, unknown key.

    Messages never include plaintext, ciphertext or key material.
    """


def _hkdf(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


def derive_subkey(key: bytes, purpose: str) -> bytes:
    """HKDF-SHA256 a 32-byte subkey for ``purpose`` (info ``b"pupil-progress/" + purpose``)."""
    if not purpose:
        raise ValueError("purpose must not be empty")
    return _hkdf(key, _DERIVE_PREFIX + purpose.encode("utf-8"))


class MasterKey:
    """The key-encryption key (KEK), held outside the database; immutable.

    ``key_id`` identifies the key in wrapped-key rows: the first 16 hex characters of SHA-256
    over an HKDF subkey reserved for that purpose, so it reveals nothing about the key.
    """

    __slots__ = ("_key", "key_id")

    _key: bytes
    key_id: str

    def __init__(self, key: bytes) -> None:
        if len(key) != MASTER_KEY_BYTES:
            raise ValueError(f"a master key must be exactly {MASTER_KEY_BYTES} bytes")
        object.__setattr__(self, "_key", bytes(key))
        key_id = hashlib.sha256(_hkdf(key, _KEY_ID_INFO)).hexdigest()[:16]
        object.__setattr__(self, "key_id", key_id)

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(secrets.token_bytes(MASTER_KEY_BYTES))

    @classmethod
    def from_text(cls, text: str, *, setting: str = "master key") -> MasterKey:
        """Parse urlsafe base64 (padding optional) of exactly 32 bytes.

        Raises ``ConfigurationError`` naming ``setting`` and the problem, never the value.
        """
        text = text.strip()
        if not text:
            raise ConfigurationError(f"{setting} is empty; set it to a urlsafe base64 key")
        if not _URLSAFE_B64.fullmatch(text):
            raise ConfigurationError(f"{setting} is not urlsafe base64")
        unpadded = text.rstrip("=")
        try:
            key = base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))
        except ValueError:  # binascii.Error, e.g. a stray final character
            raise ConfigurationError(f"{setting} is not urlsafe base64") from None
        if len(key) != MASTER_KEY_BYTES:
            raise ConfigurationError(
                f"{setting} must decode to exactly {MASTER_KEY_BYTES} bytes, not {len(key)}"
            )
        return cls(key)

    def to_text(self) -> str:
        return base64.urlsafe_b64encode(self._key).decode("ascii")

    def wrap(self, dek: bytes) -> bytes:
        """RFC 3394 AES key wrap; a 32-byte data key becomes 40 bytes."""
        if len(dek) != DATA_KEY_BYTES:
            raise ValueError(f"a data key must be exactly {DATA_KEY_BYTES} bytes")
        return aes_key_wrap(self._key, dek)

    def unwrap(self, wrapped: bytes) -> bytes:
        """Recover a data key wrapped by this master key; ``CryptoError`` on any failure."""
        try:
            dek = aes_key_unwrap(self._key, wrapped)
        except (InvalidUnwrap, ValueError):
            raise CryptoError(f"cannot unwrap data key with master key {self.key_id}") from None
        if len(dek) != DATA_KEY_BYTES:
            raise CryptoError(f"unwrapped data key under {self.key_id} has the wrong length")
        return dek

    def derive(self, purpose: str) -> bytes:
        """A 32-byte subkey for one purpose, e.g. the root of the blind-index keys."""
        return derive_subkey(self._key, purpose)

    def __repr__(self) -> str:
        return f"MasterKey(key_id={self.key_id!r})"

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")


@dataclass(frozen=True)
class MasterKeyRing:
    """The current master key, which wraps new data keys, plus previous ones that still unwrap.

    KEK rotation is zero-downtime: deploy the new key as current with the old one in
    ``previous``, re-wrap every data key, then drop the old key.
    """

    current: MasterKey
    previous: tuple[MasterKey, ...] = ()

    @property
    def keys(self) -> tuple[MasterKey, ...]:
        return (self.current, *self.previous)

    def by_id(self, key_id: str) -> MasterKey:
        """The master key with ``key_id``; ``CryptoError`` if this ring does not hold it."""
        for key in self.keys:
            if key.key_id == key_id:
                return key
        raise CryptoError("unknown master key id")

    @classmethod
    def from_text(
        cls, current: str, previous: str = "", *, setting: str = "master key"
    ) -> MasterKeyRing:
        """Parse the current key and a comma-separated list of previous keys."""
        current_key = MasterKey.from_text(current, setting=setting)
        seen = {current_key.key_id}
        older: list[MasterKey] = []
        entries = [entry for entry in previous.split(",") if entry.strip()]
        for position, entry in enumerate(entries, start=1):
            key = MasterKey.from_text(entry, setting=f"previous {setting} #{position}")
            # Keeping the outgoing key listed twice mid-rotation is harmless, so tolerate it.
            if key.key_id not in seen:
                seen.add(key.key_id)
                older.append(key)
        return cls(current=current_key, previous=tuple(older))


def new_data_key() -> bytes:
    """A fresh random 32-byte data-encryption key (DEK) from the OS CSPRNG."""
    return secrets.token_bytes(DATA_KEY_BYTES)


def _check_key_version(key_version: int) -> None:
    if not 0 <= key_version <= _MAX_KEY_VERSION:
        raise ValueError("key_version must fit in 4 unsigned bytes")


@dataclass(frozen=True)
class FieldContext:
    """Where an encrypted value lives; bound into the AAD so ciphertext cannot be moved."""

    school_id: int
    table: str
    column: str
    row_id: str

    def __post_init__(self) -> None:
        if isinstance(self.school_id, bool) or self.school_id < 0:
            raise ValueError("school_id must be a non-negative integer")
        for name in ("table", "column", "row_id"):
            part: str = getattr(self, name)
            # Empty usually means "no primary key yet"; binding nothing would let values be swapped.
            if not part:
                raise ValueError(f"{name} must not be empty")
            if "|" in part:
                raise ValueError(f"{name} must not contain '|'")

    def aad(self, key_version: int) -> bytes:
        """``b"pp1|<school>|<table>|<column>|<row>|<version>"``."""
        _check_key_version(key_version)
        parts = ("pp1", str(self.school_id), self.table, self.column, self.row_id, str(key_version))
        return "|".join(parts).encode("utf-8")


def encrypt_field(dek: bytes, key_version: int, plaintext: str, context: FieldContext) -> bytes:
    """AES-256-GCM encrypt ``plaintext`` bound to ``context``, with a fresh random nonce.

    Envelope: ``0x01 | key_version (4 bytes, big-endian) | nonce (12) | ciphertext || tag (16)``.
    Like any stream cipher it reveals the plaintext's UTF-8 length.
    """
    if len(dek) != DATA_KEY_BYTES:
        raise ValueError(f"a data key must be exactly {DATA_KEY_BYTES} bytes")
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(dek).encrypt(nonce, plaintext.encode("utf-8"), context.aad(key_version))
    return _FORMAT_V1 + key_version.to_bytes(_VERSION_BYTES, "big") + nonce + sealed


def envelope_key_version(envelope: bytes) -> int:
    """The data-key version an envelope was written with; ``CryptoError`` if malformed."""
    if len(envelope) < _HEADER_BYTES + _TAG_BYTES:
        raise CryptoError("encrypted field is truncated")
    if envelope[:1] != _FORMAT_V1:
        raise CryptoError("encrypted field has an unknown format")
    return int.from_bytes(envelope[1 : 1 + _VERSION_BYTES], "big")


def decrypt_field(dek: bytes, envelope: bytes, context: FieldContext) -> str:
    """Decrypt an envelope from :func:`encrypt_field`.

    Raises ``CryptoError`` on any failure: wrong data key, a value copied from another school,
    table, column or row, tampering or truncation.
    """
    key_version = envelope_key_version(envelope)
    if len(dek) != DATA_KEY_BYTES:
        raise CryptoError("data key has the wrong length")
    nonce = envelope[1 + _VERSION_BYTES : _HEADER_BYTES]
    try:
        data = AESGCM(dek).decrypt(nonce, envelope[_HEADER_BYTES:], context.aad(key_version))
        return data.decode("utf-8")
    except (InvalidTag, UnicodeDecodeError):
        raise CryptoError("cannot decrypt field: wrong key, wrong place or tampered") from None


def normalise_identifier(value: str) -> str:
    """Canonical form of a pupil identifier (UPN, ULN): NFKC, no whitespace, upper case."""
    return "".join(unicodedata.normalize("NFKC", value).split()).upper()


def blind_index(
    index_key: bytes, value: str, *, normalise: Callable[[str], str] = normalise_identifier
) -> str:
    """A searchable stand-in for an encrypted value: exact-match lookups only.

    HMAC-SHA256 of the normalised value under ``index_key``, truncated to its first 16 bytes
    (128 bits) and hex-encoded (32 characters). At 128 bits accidental collisions are negligible
    (birthday bound about 2**64 values); to be certain, decrypt the matched rows and compare.

    Leakage: anyone who can read the column learns which rows hold *equal* values (and so value
    frequencies), nothing about order, prefixes or length. Use one key per school and column
    (derive it with HKDF) so equal values cannot be linked across schools or columns, and keep
    the key out of the database: with it, low-entropy values can be guessed offline.

    Raises ``ValueError`` if the key is shorter than 32 bytes or the normalised value is empty.
    """
    if len(index_key) < 32:
        raise ValueError("a blind-index key must be at least 32 bytes")
    normalised = normalise(value)
    if not normalised:
        raise ValueError("cannot index an empty value")
    digest = hmac.new(index_key, normalised.encode("utf-8"), hashlib.sha256).digest()
    return digest[:BLIND_INDEX_BYTES].hex()


@dataclass(frozen=True)
class NonceBudget:
    """Whether a data key has done enough random-nonce encryptions to need a new version.

    Pure, because the count belongs beside the key version in the database: per-process
    counters undercount when several workers share a key.
    """

    limit: int = ROTATE_AFTER_ENCRYPTIONS

    def should_rotate(self, encryptions: int) -> bool:
        return encryptions >= self.limit


__all__ = [
    "BLIND_INDEX_BYTES",
    "DATA_KEY_BYTES",
    "MASTER_KEY_BYTES",
    "ROTATE_AFTER_ENCRYPTIONS",
    "CryptoError",
    "FieldContext",
    "MasterKey",
    "MasterKeyRing",
    "NonceBudget",
    "blind_index",
    "decrypt_field",
    "derive_subkey",
    "encrypt_field",
    "envelope_key_version",
    "new_data_key",
    "normalise_identifier",
]
