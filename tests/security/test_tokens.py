"""Opaque tokens: format, entropy, digest-only storage and strict parsing."""

from __future__ import annotations

import hashlib

import pytest

from app.security.tokens import (
    MAX_TOKEN_LENGTH,
    TokenKind,
    constant_time_equals,
    hash_token,
    new_token,
    token_kind,
)


@pytest.mark.parametrize("kind", list(TokenKind))
def test_new_token_has_prefix_256_bits_and_a_sha256_digest(kind: TokenKind) -> None:
    # when
    issued = new_token(kind)
    # then
    prefix, body = issued.text.split("_", 1)
    assert prefix == kind.value
    assert len(body) == 43  # base64url of 32 random bytes
    assert issued.kind is kind
    assert issued.digest == hashlib.sha256(issued.text.encode()).hexdigest()
    assert issued.display_prefix == issued.text[:12]
    assert token_kind(issued.text) is kind


def test_tokens_are_unique() -> None:
    # when
    texts = {new_token(TokenKind.SESSION).text for _ in range(1000)}
    # then
    assert len(texts) == 1000


def test_secret_is_not_in_the_repr() -> None:
    # given
    issued = new_token(TokenKind.API_KEY)
    # when
    shown = repr(issued)
    # then
    assert issued.text not in shown
    assert issued.digest in shown


def test_hash_token_is_stable_hex() -> None:
    # given
    text = new_token(TokenKind.DEVICE).text
    # when
    digest = hash_token(text)
    # then
    assert digest == hash_token(text)
    assert len(digest) == 64
    assert int(digest, 16) >= 0


VALID_BODY = "A" * 43


@pytest.mark.parametrize(
    "text",
    [
        "",
        "pps",
        "pps_",
        "pps_short",
        f"xyz_{VALID_BODY}",
        f"PPS_{VALID_BODY}",
        f"pps-{VALID_BODY}",
        f"pps_{VALID_BODY}\n",
        f"pps_{VALID_BODY}=",
        f"pps_{VALID_BODY} ",
        f"pps_{'é' * 43}",
        "pps_" + "A" * (MAX_TOKEN_LENGTH - 3),
        f"Bearer pps_{VALID_BODY}",
    ],
)
def test_malformed_tokens_have_no_kind(text: str) -> None:
    # when / then
    assert token_kind(text) is None


def test_longest_allowed_token_is_accepted() -> None:
    # given
    text = "ppk_" + "A" * (MAX_TOKEN_LENGTH - 4)
    # when / then
    assert token_kind(text) is TokenKind.API_KEY


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [("abc", "abc", True), ("abc", "abd", False), ("abc", "abcd", False), ("é", "é", True)],
)
def test_constant_time_equals(left: str, right: str, equal: bool) -> None:
    # when / then
    assert constant_time_equals(left, right) is equal
