"""Opaque secrets (sessions, API keys, devices, set-password links): stored only as a digest."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from enum import Enum

# 32 random bytes = 256 bits (ASVS 5.0 7.2.3 asks for >= 128); base64url gives 43 characters.
TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 200
DISPLAY_PREFIX_LENGTH = 12


class TokenKind(Enum):
    SESSION = "pps"
    API_KEY = "ppk"
    DEVICE = "ppd"
    #: One-time set-password links (invitations and resets); never a bearer credential.
    CREDENTIAL = "ppc"


_KIND_BY_PREFIX = {kind.value: kind for kind in TokenKind}
# Explicit ASCII classes, since `\w` would also accept Unicode letters. The body is at least the
# 43 characters of TOKEN_BYTES in base64url, so short forgeries never reach a lookup.
_TOKEN_SHAPE = re.compile(r"(?P<prefix>[a-z]{3})_[A-Za-z0-9_-]{43,}")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """``text`` goes to the client once; persist only ``digest`` (and ``display_prefix``)."""

    text: str = field(repr=False)  # keep the secret out of logs and tracebacks
    digest: str
    kind: TokenKind
    display_prefix: str


def new_token(kind: TokenKind) -> IssuedToken:
    text = f"{kind.value}_{secrets.token_urlsafe(TOKEN_BYTES)}"
    return IssuedToken(
        text=text,
        digest=hash_token(text),
        kind=kind,
        display_prefix=text[:DISPLAY_PREFIX_LENGTH],
    )


def hash_token(text: str) -> str:
    """SHA-256 hex digest of a token, the only form that is stored or used as a lookup key.

    A fast hash is right here, unlike for passwords: the token carries 256 bits of entropy, so
    nobody can guess it offline however fast the hash, while a slow KDF would cost every request
    the Argon2 price. The digest still means a leaked database or Redis dump holds no usable
    tokens.
    """
    return hashlib.sha256(text.encode()).hexdigest()


def token_kind(text: str) -> TokenKind | None:
    """Classify a presented token by its prefix; None for anything we could not have issued."""
    # Bound the length first so hostile input never reaches the regex or a hash at full size.
    if len(text) > MAX_TOKEN_LENGTH:
        return None
    shape = _TOKEN_SHAPE.fullmatch(text)
    if shape is None:
        return None
    return _KIND_BY_PREFIX.get(shape["prefix"])


def constant_time_equals(left: str, right: str) -> bool:
    # hmac.compare_digest rejects non-ASCII str, so compare the UTF-8 bytes instead.
    return hmac.compare_digest(left.encode(), right.encode())


__all__ = [
    "MAX_TOKEN_LENGTH",
    "IssuedToken",
    "TokenKind",
    "constant_time_equals",
    "hash_token",
    "new_token",
    "token_kind",
]
