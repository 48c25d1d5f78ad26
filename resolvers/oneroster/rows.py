"""Typed records of a OneRoster set: every row parsed and checked on its own, before any write."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TypeVar

from app.errors import InvalidInput
from resolvers import validation
from resolvers.oneroster import fields as f
from resolvers.oneroster.reader import Mode, RosterError, RosterSet, Row, Table
from resolvers.oneroster.records import (
    Class,
    Course,
    Demographics,
    Enrollment,
    Org,
    Parsed,
    Record,
    Session,
    User,
)

REQUIRED_COLUMNS = {
    "orgs": ("name", "type"),
    "academicSessions": ("title", "type", "startDate", "endDate", "schoolYear"),
    "courses": ("title", "orgSourcedId"),
    "classes": ("title", "courseSourcedId", "classType", "schoolSourcedId", "termSourcedIds"),
    "users": ("enabledUser", "givenName", "familyName"),
    "roles": ("userSourcedId", "roleType", "role", "orgSourcedId"),
    "enrollments": ("classSourcedId", "schoolSourcedId", "userSourcedId", "role"),
    "demographics": (),
}
#: 1.1 carries a user's role and organisations inline (roles.csv is new in 1.2).
USERS_1_1 = ("role", "orgSourcedIds")
UK_FLAGS = ("pupilPremium", "freeSchoolMeals", "eal")
SEN_CODES = {"N": "NONE", "K": "SEN_SUPPORT", "E": "EHC_PLAN"}

R = TypeVar("R", bound=Record)


def _check_columns(roster: RosterSet, table: Table) -> None:
    needed = ("sourcedId", "status", "dateLastModified", *REQUIRED_COLUMNS[table.name])
    if table.name == "users" and roster.version == "1.1":
        needed = (*needed, *USERS_1_1)
    for column in needed:
        if column not in table.columns:
            raise RosterError(table.file, 1, f"the required column {column} is missing.")


def _records(roster: RosterSet, name: str, build: Callable[[Row, str, bool], R]) -> dict[str, R]:
    table = roster.table(name)
    if table.mode is Mode.ABSENT:
        return {}
    _check_columns(roster, table)
    found: dict[str, R] = {}
    for row in table.rows:
        sourced_id = f.required(row, "sourcedId")
        if sourced_id in found:
            first = found[sourced_id].row.line
            raise row.error(f"sourcedId {sourced_id!r} is a duplicate of line {first}.")
        deleted = f.status(row, table.mode)
        found[sourced_id] = build(row, sourced_id, deleted)
    return found


def _org(row: Row, sid: str, deleted: bool) -> Org:
    return Org(
        row,
        sid,
        deleted,
        name=f.required(row, "name"),
        type=f.enum(row, "type", f.ORG_TYPES),
        identifier=row.get("identifier"),
        parent=row.get("parentSourcedId"),
    )


def _session(row: Row, sid: str, deleted: bool) -> Session:
    start, end = f.a_date(row, "startDate"), f.a_date(row, "endDate")
    if start and end and end < start:
        raise row.error("endDate is before startDate.")
    year = f.required(row, "schoolYear")
    if not (year.isdigit() and len(year) == 4):
        raise row.error(f"schoolYear {year!r} must be a year like 2027.")
    return Session(
        row,
        sid,
        deleted,
        title=f.required(row, "title"),
        type=f.enum(row, "type", f.SESSION_TYPES),
        start=start,
        end=end,
        parent=row.get("parentSourcedId"),
        school_year=year,
    )


def _course(row: Row, sid: str, deleted: bool) -> Course:
    return Course(
        row,
        sid,
        deleted,
        title=f.required(row, "title"),
        code=row.get("courseCode"),
        org=f.required(row, "orgSourcedId"),
        school_year=row.get("schoolYearSourcedId"),
        subjects=f.id_list(row, "subjects"),
    )


def _class(row: Row, sid: str, deleted: bool) -> Class:
    terms = f.id_list(row, "termSourcedIds")
    if not terms:
        raise row.error("termSourcedIds is required but blank.")
    return Class(
        row,
        sid,
        deleted,
        title=f.required(row, "title"),
        code=row.get("classCode"),
        course=f.required(row, "courseSourcedId"),
        class_type=f.enum(row, "classType", f.CLASS_TYPES),
        school=f.required(row, "schoolSourcedId"),
        terms=terms,
        year_group=f.year_group(row),
        subjects=f.id_list(row, "subjects"),
    )


def _identifiers(row: Row) -> tuple[str | None, str | None]:
    """UPN and ULN from userIds (``{UPN:…}``); a UPN may instead be the ``identifier``."""
    ids = f.user_ids(row)
    upn, uln = ids.get("UPN"), ids.get("ULN")
    if upn is None and _valid(validation.upn, row.get("identifier")):
        upn = row.get("identifier")
    for name, value, check in (("UPN", upn, validation.upn), ("ULN", uln, validation.uln)):
        if value is not None and not _valid(check, value):
            raise row.error(f"userIds {name} {value!r} is not a valid {name}.")
    return validation.upn("upn", upn), validation.uln("uln", uln)


def _valid(check: Callable[[str, str | None], str | None], value: str) -> bool:
    try:
        check("identifier", value)
    except InvalidInput:
        return False
    return bool(value)


def _user_builder(roster: RosterSet) -> Callable[[Row, str, bool], User]:
    def build(row: Row, sid: str, deleted: bool) -> User:
        f.boolean(row, "enabledUser")  # checked, not stored: sign-in is ours to decide
        upn, uln = _identifiers(row)
        roles: tuple[tuple[str, str], ...] = ()
        if roster.version == "1.1":
            role = f.enum(row, "role", f.ROLES)
            roles = tuple((role, org) for org in f.id_list(row, "orgSourcedIds"))
        preferred = row.get("preferredGivenName") or row.get("preferredFirstName")
        return User(
            row,
            sid,
            deleted,
            given_name=f.required(row, "givenName"),
            family_name=f.required(row, "familyName"),
            preferred_name=preferred or None,
            email=row.get("email"),
            year_group=f.year_group(row),
            upn=upn,
            uln=uln,
            roles=roles,
        )

    return build


def _enrollment(row: Row, sid: str, deleted: bool) -> Enrollment:
    begin, end = f.a_date(row, "beginDate", optional=True), f.a_date(row, "endDate", optional=True)
    if begin and end and end < begin:
        raise row.error("endDate is before beginDate.")
    return Enrollment(
        row,
        sid,
        deleted,
        class_id=f.required(row, "classSourcedId"),
        school=f.required(row, "schoolSourcedId"),
        user=f.required(row, "userSourcedId"),
        role=f.enum(row, "role", f.ROLES),
        primary=f.boolean(row, "primary", default=False),
        begin=begin,
        end=end,
    )


def _demographics(row: Row, sid: str, deleted: bool) -> Demographics:
    uk: dict[str, object] = {}
    for flag in UK_FLAGS:
        if row.get(f"metadata.uk.{flag}"):
            uk[flag] = f.boolean(row, f"metadata.uk.{flag}")
    sen = row.get("metadata.uk.senStatus").upper()
    if sen:
        if sen not in SEN_CODES:
            raise row.error(f"metadata.uk.senStatus {sen!r} must be N, K or E.")
        uk["senStatus"] = SEN_CODES[sen]
    return Demographics(
        row,
        sid,
        deleted,
        birth_date=f.a_date(row, "birthDate", optional=True),
        sex=f.enum(row, "sex", f.SEXES, optional=True),
        uk=uk,
    )


def _roles(roster: RosterSet) -> Iterator[tuple[Row, str, str, str]]:
    """(row, user, role, org) of each active roles.csv row (1.2)."""
    table = roster.table("roles")
    if table.mode is Mode.ABSENT:
        return
    _check_columns(roster, table)
    seen: dict[str, int] = {}
    for row in table.rows:
        sid = f.required(row, "sourcedId")
        if sid in seen:
            raise row.error(f"sourcedId {sid!r} is a duplicate of line {seen[sid]}.")
        seen[sid] = row.line
        f.enum(row, "roleType", f.ROLE_TYPES)
        f.a_date(row, "beginDate", optional=True)
        f.a_date(row, "endDate", optional=True)
        if not f.status(row, table.mode):
            role = f.enum(row, "role", f.ROLES)
            yield row, f.required(row, "userSourcedId"), role, f.required(row, "orgSourcedId")


def parse(roster: RosterSet) -> Parsed:
    """Every row typed and checked; the first problem raises RosterError with file and line."""
    users = _records(roster, "users", _user_builder(roster))
    for row, user, role, org in _roles(roster):
        if user not in users:
            raise row.error(f"userSourcedId {user!r} is not a user in users.csv.")
        current = users[user]
        users[user] = _with_role(current, (role, org))
    return Parsed(
        roster=roster,
        orgs=_records(roster, "orgs", _org),
        sessions=_records(roster, "academicSessions", _session),
        courses=_records(roster, "courses", _course),
        classes=_records(roster, "classes", _class),
        users=users,
        enrollments=_records(roster, "enrollments", _enrollment),
        demographics=_records(roster, "demographics", _demographics),
    )


def _with_role(user: User, role: tuple[str, str]) -> User:
    return replace(user, roles=(*user.roles, role))


__all__ = ["REQUIRED_COLUMNS", "parse"]
