"""Planning enrolments: students into teaching groups, teachers onto them; ends, never deletes."""

from __future__ import annotations

from typing import Any

from models.roster import RosterKind
from models.staff import Role
from resolvers.oneroster.people import STAFF_ROLES, STUDENT
from resolvers.oneroster.plan import CREATE, END, UNCHANGED, UPDATE, Change, Plan, missing_from_bulk
from resolvers.oneroster.reader import Mode
from resolvers.oneroster.records import Enrollment, Parsed
from resolvers.oneroster.state import Current


def plan_enrolments(
    parsed: Parsed, plan: Plan, current: Current, people: dict[str, str | frozenset[Role]]
) -> None:
    for enrolment in parsed.enrollments.values():
        change = _change(parsed, plan, current, people, enrolment)
        if change is not None:
            plan.changes.append(change)
    plan.changes += missing_from_bulk(
        "enrolment",
        RosterKind.ENROLMENT,
        parsed.roster.table("enrollments").mode,
        parsed.enrollments,
        current,
    )


def _change(
    parsed: Parsed,
    plan: Plan,
    current: Current,
    people: dict[str, str | frozenset[Role]],
    enrolment: Enrollment,
) -> Change | None:
    row, sid = enrolment.row, enrolment.sourced_id
    link = current.links.get((RosterKind.ENROLMENT, sid))
    if enrolment.deleted:
        if link is None or link.ended_at is not None:
            return None
        return Change("enrolment", END, sid, link=link, local_id=link.local_id)
    if enrolment.school != plan.org_sourced_id:
        raise row.error(f"schoolSourcedId {enrolment.school!r} is not this school.")
    # A bulk file lists everything there is; a delta file only what changed since before.
    classes_bulk = parsed.roster.table("classes").mode is Mode.BULK
    if enrolment.class_id not in parsed.classes and (
        classes_bulk or not current.known(RosterKind.CLASS, enrolment.class_id)
    ):
        raise row.error(f"classSourcedId {enrolment.class_id!r} is not a class in classes.csv.")
    klass = parsed.classes.get(enrolment.class_id)
    if klass is not None and klass.deleted:
        raise row.error(f"classSourcedId {enrolment.class_id!r} is a class being deleted.")
    users_bulk = parsed.roster.table("users").mode is Mode.BULK
    kind = people.get(enrolment.user) if users_bulk else _person(current, people, enrolment)
    if kind is None:
        if enrolment.role != STUDENT and enrolment.role not in STAFF_ROLES:
            plan.skipped[f"enrolments as {enrolment.role}"] += 1
            return None
        if enrolment.user in parsed.users:
            raise row.error(f"user {enrolment.user!r} is neither a student nor staff here.")
        raise row.error(f"userSourcedId {enrolment.user!r} is not a user in users.csv.")
    if (kind == STUDENT) != (enrolment.role == STUDENT):
        raise row.error(f"role {enrolment.role} does not fit user {enrolment.user!r}.")
    if kind != STUDENT and enrolment.role not in STAFF_ROLES:
        plan.skipped[f"enrolments as {enrolment.role}"] += 1
        return None
    data: dict[str, Any] = {
        "class": enrolment.class_id,
        "user": enrolment.user,
        "role": enrolment.role,
        "primary": enrolment.primary,
        "beginDate": enrolment.begin.isoformat() if enrolment.begin else None,
        "endDate": enrolment.end.isoformat() if enrolment.end else None,
    }
    values = {"student": kind == STUDENT, "data": data}
    if link is None:
        return Change("enrolment", CREATE, sid, values=values)
    changed = tuple(k for k in data if link.data.get(k) != data[k])
    if link.ended_at is not None:
        changed = (*changed, "ended_at")
    state = UPDATE if changed else UNCHANGED
    return Change("enrolment", state, sid, changed, link, link.local_id, values)


def _person(
    current: Current, people: dict[str, str | frozenset[Role]], enrolment: Enrollment
) -> str | frozenset[Role] | None:
    if enrolment.user in people:
        return people[enrolment.user]
    if enrolment.user in current.learners:
        return STUDENT
    if (RosterKind.STAFF, enrolment.user) in current.links:
        return frozenset({Role.TEACHER})
    return None


__all__ = ["plan_enrolments"]
