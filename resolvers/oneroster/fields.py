"""Parsing single OneRoster values (dates, booleans, enums, id lists, grades), naming the row."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import date, datetime

from resolvers.oneroster.reader import Mode, Row

ORG_TYPES = frozenset(
    {"school", "district", "state", "local", "national", "department"}
    | {"academicTrust", "localAuthority", "trust", "college", "campus", "region"}
)
SESSION_TYPES = frozenset({"schoolYear", "term", "semester", "gradingPeriod"})
CLASS_TYPES = frozenset({"homeroom", "scheduled"})
#: Roles of 1.1 and 1.2 together, plus the Microsoft SDS ones UK exports use.
ROLES = frozenset(
    {"student", "teacher", "administrator", "aide", "guardian", "parent", "proctor", "relative"}
    | {"districtAdministrator", "siteAdministrator", "systemAdministrator", "principal"}
    | {"counselor", "teacherAssistant", "officeStaff", "credentialUser"}
)
ROLE_TYPES = frozenset({"primary", "secondary"})
SEXES = frozenset({"male", "female", "other", "unspecified"})
_USER_ID = re.compile(r"\{\s*([^:{}]+?)\s*:\s*([^{}]*?)\s*\}")
_YEAR = re.compile(r"^(?:year\s*|y)?(\d{1,2})$", re.IGNORECASE)
_RECEPTION = frozenset({"r", "reception", "kg", "yr"})
_NO_YEAR = frozenset({"other", "ug", "ps", "it", "pr", "pk", "tk"})


def required(row: Row, column: str) -> str:
    value = row.get(column)
    if not value:
        raise row.error(f"{column} is required but blank.")
    return value


def status(row: Row, mode: Mode) -> bool:
    """True when the row deletes its object (``tobedeleted``); bulk rows are always active."""
    value = row.get("status")
    modified = row.get("dateLastModified")
    if mode is Mode.DELTA:
        if value not in ("active", "tobedeleted"):
            raise row.error(f"status must be active or tobedeleted in a delta file, not {value!r}.")
        if not modified:
            raise row.error("dateLastModified is required in a delta file.")
    elif value not in ("", "active"):
        raise row.error(f"status must be blank or active in a bulk file, not {value!r}.")
    if modified:
        try:
            datetime.fromisoformat(modified.replace("Z", "+00:00"))
        except ValueError:
            raise row.error(f"dateLastModified {modified!r} is not an ISO 8601 time.") from None
    return value == "tobedeleted"


def a_date(row: Row, column: str, *, optional: bool = False) -> date | None:
    value = row.get(column) if optional else required(row, column)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise row.error(f"{column} {value!r} is not a date like 2026-09-01.") from None


def boolean(row: Row, column: str, *, default: bool | None = None) -> bool:
    value = row.get(column).lower()
    if not value and default is not None:
        return default
    if value in ("true", "yes", "y", "1"):
        return True
    if value in ("false", "no", "n", "0"):
        return False
    raise row.error(f"{column} must be true or false, not {row.get(column)!r}.")


def enum(row: Row, column: str, allowed: Collection[str], *, optional: bool = False) -> str:
    value = row.get(column) if optional else required(row, column)
    if not value or value in allowed or value.startswith("ext:"):
        return value
    listed = ", ".join(sorted(allowed))
    raise row.error(f"{column} {value!r} is not one of: {listed} (or ext:…).")


def id_list(row: Row, column: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in row.get(column).split(",") if part.strip())


def user_ids(row: Row) -> dict[str, str]:
    """``{UPN:A123…},{ULN:…}`` as a dict keyed by the upper-cased type."""
    return {kind.upper(): value for kind, value in _USER_ID.findall(row.get("userIds"))}


def year_group(row: Row, column: str = "grades") -> int | None:
    """The first grade as a National Curriculum year (``07``, ``Year 7``, ``Y7``; R is 0)."""
    grades = id_list(row, column)
    if not grades:
        return None
    first = grades[0]
    if first.lower() in _RECEPTION:
        return 0
    if first.lower() in _NO_YEAR:
        return None
    match = _YEAR.match(first)
    if match is None or not 0 <= int(match[1]) <= 14:
        raise row.error(f"{column} {first!r} is not a year group (07, Year 7, Y7 or R).")
    return int(match[1])


__all__ = [
    "CLASS_TYPES",
    "ORG_TYPES",
    "ROLES",
    "ROLE_TYPES",
    "SESSION_TYPES",
    "SEXES",
    "a_date",
    "boolean",
    "enum",
    "id_list",
    "required",
    "status",
    "user_ids",
    "year_group",
]
