"""The typed records of a OneRoster set, as rows.py parses them (references not yet checked)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from resolvers.oneroster.reader import RosterSet, Row


@dataclass(frozen=True, slots=True)
class Record:
    row: Row
    sourced_id: str
    #: ``status=tobedeleted`` in a delta file.
    deleted: bool


@dataclass(frozen=True, slots=True)
class Org(Record):
    name: str = ""
    type: str = ""
    identifier: str = ""
    parent: str = ""


@dataclass(frozen=True, slots=True)
class Session(Record):
    title: str = ""
    type: str = ""
    start: date | None = None
    end: date | None = None
    parent: str = ""
    school_year: str = ""


@dataclass(frozen=True, slots=True)
class Course(Record):
    title: str = ""
    code: str = ""
    org: str = ""
    school_year: str = ""
    subjects: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Class(Record):
    title: str = ""
    code: str = ""
    course: str = ""
    class_type: str = ""
    school: str = ""
    terms: tuple[str, ...] = ()
    year_group: int | None = None
    subjects: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class User(Record):
    given_name: str = ""
    family_name: str = ""
    preferred_name: str | None = None
    email: str = ""
    year_group: int | None = None
    upn: str | None = None
    uln: str | None = None
    #: (role, org sourcedId): inline in 1.1, from roles.csv in 1.2.
    roles: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Enrollment(Record):
    class_id: str = ""
    school: str = ""
    user: str = ""
    role: str = ""
    primary: bool = False
    begin: date | None = None
    end: date | None = None


@dataclass(frozen=True, slots=True)
class Demographics(Record):
    birth_date: date | None = None
    sex: str = ""
    #: UK flags from ``metadata.uk.*`` columns, only those present.
    uk: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Parsed:
    """Every file of the set as typed records, in file order, keyed by sourcedId."""

    roster: RosterSet
    orgs: dict[str, Org]
    sessions: dict[str, Session]
    courses: dict[str, Course]
    classes: dict[str, Class]
    users: dict[str, User]
    enrollments: dict[str, Enrollment]
    demographics: dict[str, Demographics]


__all__ = [
    "Class",
    "Course",
    "Demographics",
    "Enrollment",
    "Org",
    "Parsed",
    "Record",
    "Session",
    "User",
]
