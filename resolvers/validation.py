"""Checks on input that name the field at fault; nothing is stored until all pass."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from stdnum.exceptions import ValidationError as StdnumError
from stdnum.gb import upn as upn_checker

from app.errors import InvalidInput

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_LINE_BREAKS = "\n\r\t"
_ACADEMIC_YEAR = re.compile(r"^(\d{4})/(\d{2})$")


def text(
    field: str, value: str, *, max_length: int, required: bool = True, multiline: bool = False
) -> str:
    cleaned = value.strip()
    if required and not cleaned:
        raise InvalidInput(field, f"`{field}` must not be blank.", reason="REQUIRED")
    if len(cleaned) > max_length:
        raise InvalidInput(
            field, f"`{field}` must be at most {max_length} characters.", reason="TOO_LONG"
        )
    allowed = _LINE_BREAKS if multiline else ""
    if any(unicodedata.category(c) == "Cc" and c not in allowed for c in cleaned):
        raise InvalidInput(field, f"`{field}` must not contain control characters.")
    return cleaned


def optional_text(
    field: str, value: str | None, *, max_length: int, multiline: bool = False
) -> str | None:
    if value is None:
        return None
    return text(field, value, max_length=max_length, required=False, multiline=multiline) or None


def email(field: str, value: str) -> str:
    cleaned = text(field, value, max_length=254).lower()
    if not _EMAIL.match(cleaned):
        raise InvalidInput(field, f"`{field}` must be an email address like name@school.org.uk.")
    return cleaned


def year_group(field: str, value: int | None) -> int | None:
    # Reception is 0; year 14 covers the oldest sixth-form and FE learners.
    if value is not None and not 0 <= value <= 14:
        raise InvalidInput(field, f"`{field}` must be between 0 (Reception) and 14.")
    return value


def upn(field: str, value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return str(upn_checker.validate(value))
    except StdnumError:
        raise InvalidInput(field, f"`{field}` is not a valid unique pupil number.") from None


def uln(field: str, value: str | None) -> str | None:
    """A Unique Learner Number: ten digits whose check digit is 10 - (weighted sum mod 11)."""
    if value is None or not value.strip():
        return None
    digits = value.replace(" ", "")
    if len(digits) != 10 or not digits.isdigit() or digits[0] == "0":
        raise InvalidInput(field, f"`{field}` must be ten digits.")
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    if (10 - total % 11) % 11 != int(digits[9]):
        raise InvalidInput(field, f"`{field}` is not a valid unique learner number.")
    return digits


def date_of_birth(field: str, value: date | None, today: date) -> date | None:
    if value is not None and not (today.year - 26 <= value.year <= today.year - 2):
        raise InvalidInput(field, f"`{field}` must be a date of birth of a school-age learner.")
    return value


def academic_year(field: str, value: str) -> str:
    match = _ACADEMIC_YEAR.match(value.strip())
    if not match or (int(match[1]) + 1) % 100 != int(match[2]):
        raise InvalidInput(field, f"`{field}` must look like 2026/27.")
    return value.strip()


__all__ = [
    "academic_year",
    "date_of_birth",
    "email",
    "optional_text",
    "text",
    "uln",
    "upn",
    "year_group",
]
