"""Field encryption, key wrapping and blind indexes (CRYPTO-01..03, 05, 07, 10)."""

from __future__ import annotations

import base64
import dataclasses
import os

import pytest

from app.errors import ConfigurationError
from app.security.crypto import (
    MASTER_KEY_BYTES,
    CryptoError,
    FieldContext,
    MasterKey,
    MasterKeyRing,
    NonceBudget,
    blind_index,
    decrypt_field,
    encrypt_field,
    envelope_key_version,
    new_data_key,
    normalise_identifier,
)

CONTEXT = FieldContext(school_id=7, table="pupils", column="medical_notes", row_id="1042")
PLAINTEXT = "Asthma: blue inhaler in the office"
HEADER_BYTES = 1 + 4 + 12
TAG_BYTES = 16


def _b64(raw: bytes, *, padded: bool = True) -> str:
    text = base64.urlsafe_b64encode(raw).decode("ascii")
    return text if padded else text.rstrip("=")


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


# Field encryption (AES-256-GCM envelopes)


def test_roundtrip_and_envelope_layout() -> None:
    # given
    dek = new_data_key()
    # when
    envelope = encrypt_field(dek, 3, PLAINTEXT, CONTEXT)
    # then
    assert envelope[:1] == b"\x01"
    assert envelope[1:5] == (3).to_bytes(4, "big")
    assert len(envelope) == HEADER_BYTES + len(PLAINTEXT.encode()) + TAG_BYTES
    assert PLAINTEXT.encode() not in envelope
    assert envelope_key_version(envelope) == 3
    assert decrypt_field(dek, envelope, CONTEXT) == PLAINTEXT


def test_same_plaintext_twice_gives_different_envelopes() -> None:
    # given
    dek = new_data_key()
    # when
    first = encrypt_field(dek, 1, PLAINTEXT, CONTEXT)
    second = encrypt_field(dek, 1, PLAINTEXT, CONTEXT)
    # then
    assert first != second
    assert first[5:HEADER_BYTES] != second[5:HEADER_BYTES]  # fresh nonce each time
    assert decrypt_field(dek, first, CONTEXT) == decrypt_field(dek, second, CONTEXT) == PLAINTEXT


@pytest.mark.parametrize(
    "plaintext", ["", "Zoë Ó'Brien-Łukasz", "日本語のメモ", "emoji 🙂🏫", "line\nbreak\x00nul"]
)
def test_unicode_plaintext_roundtrips(plaintext: str) -> None:
    # given
    dek = new_data_key()
    # when
    envelope = encrypt_field(dek, 1, plaintext, CONTEXT)
    # then
    assert decrypt_field(dek, envelope, CONTEXT) == plaintext


def test_one_byte_tamper_anywhere_fails() -> None:
    # given
    dek = new_data_key()
    envelope = encrypt_field(dek, 1, PLAINTEXT, CONTEXT)
    # when / then: format byte, key version, nonce, ciphertext and tag alike
    for index in range(len(envelope)):
        with pytest.raises(CryptoError):
            decrypt_field(dek, _flip(envelope, index), CONTEXT)


def test_truncated_or_extended_envelope_fails() -> None:
    # given
    dek = new_data_key()
    envelope = encrypt_field(dek, 1, PLAINTEXT, CONTEXT)
    # when / then
    for length in range(len(envelope)):
        with pytest.raises(CryptoError):
            decrypt_field(dek, envelope[:length], CONTEXT)
    with pytest.raises(CryptoError):
        decrypt_field(dek, envelope + b"\x00", CONTEXT)


@pytest.mark.parametrize(
    "moved",
    [
        pytest.param({"row_id": "1043"}, id="another-row"),
        pytest.param({"school_id": 8}, id="another-school"),
        pytest.param({"column": "dietary_notes"}, id="another-column"),
        pytest.param({"table": "staff"}, id="another-table"),
    ],
)
def test_ciphertext_moved_elsewhere_fails(moved: dict[str, object]) -> None:
    # given
    dek = new_data_key()
    envelope = encrypt_field(dek, 1, PLAINTEXT, CONTEXT)
    elsewhere = dataclasses.replace(CONTEXT, **moved)  # type: ignore[arg-type]
    # when / then
    with pytest.raises(CryptoError):
        decrypt_field(dek, envelope, elsewhere)


def test_wrong_data_key_fails_without_leaking() -> None:
    # given
    dek, other = new_data_key(), new_data_key()
    envelope = encrypt_field(dek, 1, PLAINTEXT, CONTEXT)
    # when
    with pytest.raises(CryptoError) as failure:
        decrypt_field(other, envelope, CONTEXT)
    # then
    message = str(failure.value)
    assert PLAINTEXT not in message
    assert dek.hex() not in message
    assert other.hex() not in message


def test_wrong_key_version_fails() -> None:
    # given: a value written under version 1, relabelled as version 2
    dek = new_data_key()
    envelope = encrypt_field(dek, 1, PLAINTEXT, CONTEXT)
    relabelled = envelope[:1] + (2).to_bytes(4, "big") + envelope[5:]
    # when / then: the version is in the AAD, so even the right key refuses it
    assert envelope_key_version(relabelled) == 2
    with pytest.raises(CryptoError):
        decrypt_field(dek, relabelled, CONTEXT)


def test_data_key_of_wrong_length_fails() -> None:
    # given: AES-128 would be accepted by AESGCM, so the module must refuse it
    short = os.urandom(16)
    envelope = encrypt_field(new_data_key(), 1, PLAINTEXT, CONTEXT)
    # when / then
    with pytest.raises(ValueError, match="32 bytes"):
        encrypt_field(short, 1, PLAINTEXT, CONTEXT)
    with pytest.raises(CryptoError):
        decrypt_field(short, envelope, CONTEXT)


@pytest.mark.parametrize(
    "envelope",
    [b"", b"\x01", b"\x02" + bytes(40), b"\x00" + bytes(40)],
    ids=["empty", "header-only", "future-format", "zero-format"],
)
def test_envelope_key_version_rejects_malformed(envelope: bytes) -> None:
    # when / then
    with pytest.raises(CryptoError):
        envelope_key_version(envelope)


@pytest.mark.parametrize("version", [-1, 2**32])
def test_key_version_must_fit_four_bytes(version: int) -> None:
    # when / then
    with pytest.raises(ValueError, match="key_version"):
        encrypt_field(new_data_key(), version, PLAINTEXT, CONTEXT)


def test_aad_binds_school_table_column_row_and_version() -> None:
    # when
    aad = CONTEXT.aad(5)
    # then
    assert aad == b"pp1|7|pupils|medical_notes|1042|5"


@pytest.mark.parametrize(
    "fields",
    [
        {"table": "pupils|x"},
        {"column": "notes|1"},
        {"row_id": "1|2"},
        {"row_id": ""},
        {"school_id": -1},
    ],
)
def test_field_context_rejects_ambiguous_parts(fields: dict[str, object]) -> None:
    # given
    values: dict[str, object] = {**dataclasses.asdict(CONTEXT), **fields}
    # when / then
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies by field
        FieldContext(**values).aad(1)  # type: ignore[arg-type]


def test_new_data_keys_are_random_32_bytes() -> None:
    # when
    keys = {new_data_key() for _ in range(50)}
    # then
    assert len(keys) == 50
    assert all(len(key) == 32 for key in keys)


def test_nonce_budget_tiny_threshold_triggers_rotation() -> None:
    # given
    budget = NonceBudget(limit=3)
    # when / then
    assert not budget.should_rotate(2)
    assert budget.should_rotate(3)
    assert NonceBudget().limit == 2**30


# Master keys and data-key wrapping


def test_wrap_unwrap_roundtrip_and_wrapped_size() -> None:
    # given
    kek, dek = MasterKey.generate(), new_data_key()
    # when
    wrapped = kek.wrap(dek)
    # then
    assert len(wrapped) == 40
    assert dek not in wrapped
    assert kek.unwrap(wrapped) == dek


def test_unwrap_with_wrong_master_key_fails() -> None:
    # given
    wrapped = MasterKey.generate().wrap(new_data_key())
    # when / then
    with pytest.raises(CryptoError):
        MasterKey.generate().unwrap(wrapped)


@pytest.mark.parametrize("mangle", ["tamper", "truncate", "extend", "empty"])
def test_unwrap_of_damaged_wrapped_key_fails(mangle: str) -> None:
    # given
    kek = MasterKey.generate()
    wrapped = kek.wrap(new_data_key())
    damaged = {
        "tamper": _flip(wrapped, 20),
        "truncate": wrapped[:32],
        "extend": wrapped + bytes(8),
        "empty": b"",
    }[mangle]
    # when / then
    with pytest.raises(CryptoError):
        kek.unwrap(damaged)


def test_master_key_text_roundtrip_with_or_without_padding() -> None:
    # given
    raw = os.urandom(MASTER_KEY_BYTES)
    # when
    padded = MasterKey.from_text(_b64(raw))
    unpadded = MasterKey.from_text(f"  {_b64(raw, padded=False)}\n")
    # then
    assert padded.key_id == unpadded.key_id
    assert MasterKey.from_text(padded.to_text()).key_id == padded.key_id
    assert base64.urlsafe_b64decode(padded.to_text()) == raw


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(_b64(os.urandom(16)), id="16-bytes"),
        pytest.param(_b64(os.urandom(31), padded=False), id="31-bytes"),
        pytest.param(_b64(os.urandom(33)), id="33-bytes"),
        pytest.param(_b64(os.urandom(64)), id="64-bytes"),
        pytest.param(base64.b64encode(b"\xfb\xff" * 16).decode(), id="standard-alphabet"),
        pytest.param("this is not base64 at all!!", id="not-base64"),
        pytest.param(_b64(os.urandom(32), padded=False) + "A", id="stray-character"),
        pytest.param("c2VjcmV0LWtleS1tYXRlcmlhbA==" + "===", id="too-much-padding"),
    ],
)
def test_master_key_from_text_rejects_without_echoing(text: str) -> None:
    # when
    with pytest.raises(ConfigurationError) as failure:
        MasterKey.from_text(text, setting="PP_MASTER_KEY")
    # then
    message = str(failure.value)
    assert "PP_MASTER_KEY" in message
    assert text not in message
    assert text.rstrip("=") not in message


@pytest.mark.parametrize("text", ["", "   "])
def test_master_key_from_text_rejects_empty(text: str) -> None:
    # when / then
    with pytest.raises(ConfigurationError, match="empty"):
        MasterKey.from_text(text)


def test_repr_hides_the_key() -> None:
    # given
    kek = MasterKey.generate()
    raw = base64.urlsafe_b64decode(kek.to_text())
    # when
    shown = [repr(kek), str(kek), repr(MasterKeyRing(current=kek))]
    # then
    for text in shown:
        assert kek.key_id in text
        assert kek.to_text().rstrip("=") not in text
        assert raw.hex() not in text
        assert str(raw) not in text


def test_master_key_is_immutable() -> None:
    # given
    kek = MasterKey.generate()
    # when / then
    with pytest.raises(dataclasses.FrozenInstanceError):
        kek.key_id = "0" * 16


def test_key_id_is_stable_short_and_distinct() -> None:
    # given
    text = MasterKey.generate().to_text()
    # when
    first, again = MasterKey.from_text(text), MasterKey.from_text(text)
    other = MasterKey.generate()
    # then
    assert first.key_id == again.key_id
    assert first.key_id != other.key_id
    assert len(first.key_id) == 16
    int(first.key_id, 16)
    assert first.key_id not in base64.urlsafe_b64decode(text).hex()


def test_derive_differs_per_purpose_and_per_master_key() -> None:
    # given
    kek, other = MasterKey.generate(), MasterKey.generate()
    # when
    index_key = kek.derive("blind-index")
    # then
    assert len(index_key) == 32
    assert index_key == kek.derive("blind-index")
    assert index_key != kek.derive("audit-hmac")
    assert index_key != other.derive("blind-index")
    with pytest.raises(ValueError, match="purpose"):
        kek.derive("")


def test_ring_finds_current_and_previous_keys_by_id() -> None:
    # given
    new, old, older = MasterKey.generate(), MasterKey.generate(), MasterKey.generate()
    # when
    ring = MasterKeyRing.from_text(new.to_text(), f" {old.to_text()} ,, {older.to_text()},")
    # then
    assert ring.current.key_id == new.key_id
    assert [key.key_id for key in ring.previous] == [old.key_id, older.key_id]
    assert ring.by_id(old.key_id).key_id == old.key_id
    assert ring.by_id(new.key_id).key_id == new.key_id


def test_ring_unwraps_a_data_key_wrapped_before_rotation() -> None:
    # given: a data key wrapped under the old master key
    old, new = MasterKey.generate(), MasterKey.generate()
    dek = new_data_key()
    wrapped = old.wrap(dek)
    ring = MasterKeyRing.from_text(new.to_text(), old.to_text())
    # when: the keyring re-wraps it under the current key
    rewrapped = ring.current.wrap(ring.by_id(old.key_id).unwrap(wrapped))
    # then
    assert new.unwrap(rewrapped) == dek


def test_ring_by_unknown_id_fails() -> None:
    # given
    ring = MasterKeyRing(current=MasterKey.generate())
    # when / then
    with pytest.raises(CryptoError):
        ring.by_id(MasterKey.generate().key_id)


def test_ring_ignores_duplicate_keys() -> None:
    # given
    key = MasterKey.generate()
    # when
    ring = MasterKeyRing.from_text(key.to_text(), key.to_text())
    # then
    assert ring.previous == ()


def test_ring_rejects_bad_previous_key_without_echoing() -> None:
    # given
    bad = _b64(os.urandom(24))
    # when
    with pytest.raises(ConfigurationError) as failure:
        MasterKeyRing.from_text(MasterKey.generate().to_text(), bad)
    # then
    assert "previous" in str(failure.value)
    assert bad not in str(failure.value)


# Blind indexes


def test_blind_index_ignores_spacing_and_case() -> None:
    # given
    index_key = MasterKey.generate().derive("blind-index/school/1/pupils.upn")
    # when
    loose = blind_index(index_key, "a123 456")
    tight = blind_index(index_key, "A123456")
    # then
    assert loose == tight
    assert blind_index(index_key, " A 123 457 ") != tight


def test_blind_index_is_32_hex_chars() -> None:
    # when
    index = blind_index(new_data_key(), "A123456789012")
    # then
    assert len(index) == 32
    assert index == index.lower()
    int(index, 16)


def test_blind_index_differs_between_schools() -> None:
    # given: one index key per school, derived from the same master key
    kek = MasterKey.generate()
    school_1 = kek.derive("blind-index/school/1/pupils.upn")
    school_2 = kek.derive("blind-index/school/2/pupils.upn")
    # when / then
    assert blind_index(school_1, "A123456789012") != blind_index(school_2, "A123456789012")


def test_blind_index_custom_normaliser_and_refusals() -> None:
    # given
    index_key = new_data_key()
    # when / then
    assert blind_index(index_key, "Ab", normalise=str) != blind_index(index_key, "AB")
    with pytest.raises(ValueError, match="empty"):
        blind_index(index_key, "   ")
    with pytest.raises(ValueError, match="32 bytes"):
        blind_index(os.urandom(16), "A123")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a123 456", "A123456"),
        ("  k 8012 3456 789\t", "K80123456789"),
        ("\uff21\uff11\uff12\uff13", "A123"),
    ],
)
def test_normalise_identifier(raw: str, expected: str) -> None:
    # when / then
    assert normalise_identifier(raw) == expected
