"""What an import would change in a school: creates, updates, unchanged rows and ends, per entity.

Nothing here writes. Every reference is resolved against the set and the school's earlier
imports, so a bad row fails the whole import (file and line) before anything is written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from models.roster import RosterKind, RosterLink
from models.schools import School
from resolvers.oneroster.reader import Mode, RosterError
from resolvers.oneroster.records import Class, Course, Parsed, Record, Session
from resolvers.oneroster.state import Current

CREATE, UPDATE, UNCHANGED, END = "create", "update", "unchanged", "end"
KINDS = (CREATE, UPDATE, END, UNCHANGED)
#: Entities in the order they are written (later ones refer to earlier ones).
ENTITIES = ("org", "academicSession", "course", "class", "staff", "learner", "enrolment")
SCHOOL_ORG_TYPES = frozenset({"school"})


@dataclass(slots=True)
class Change:
    """One planned change. ``values`` is what apply writes; names and ids only in ``fields``."""

    entity: str
    kind: str
    sourced_id: str
    fields: tuple[str, ...] = ()
    link: RosterLink | None = None
    local_id: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    #: The users.csv line of a learner, to name it if the learner use-cases refuse a value.
    line: int | None = None

    def describe(self) -> str:
        changed = f" ({', '.join(self.fields)})" if self.fields and self.kind == UPDATE else ""
        return f"{self.kind:<9} {self.entity} {self.sourced_id}{changed}"


@dataclass(slots=True)
class Plan:
    school: School
    org_sourced_id: str
    changes: list[Change] = field(default_factory=list)
    #: Rows left alone on purpose (guardians, roles we do not map), by what they were.
    skipped: Counter[str] = field(default_factory=Counter)

    def counts(self) -> dict[str, Counter[str]]:
        table: dict[str, Counter[str]] = {entity: Counter() for entity in ENTITIES}
        for change in self.changes:
            table[change.entity][change.kind] += 1
        return table

    @property
    def writes(self) -> list[Change]:
        return [c for c in self.changes if c.kind != UNCHANGED]

    def of(self, entity: str) -> list[Change]:
        return [c for c in self.writes if c.entity == entity]


def link_change(
    entity: str, kind: RosterKind, record: Record, data: Mapping[str, Any], current: Current
) -> Change | None:
    """The change a link-only object (org, session, course) needs; None to leave it alone."""
    link = current.links.get((kind, record.sourced_id))
    if record.deleted:
        if link is None or link.ended_at is not None:
            return None
        return Change(entity, END, record.sourced_id, link=link)
    values = dict(data)
    if link is None:
        return Change(entity, CREATE, record.sourced_id, values=values)
    changed = tuple(k for k in values if link.data.get(k) != values[k])
    if link.ended_at is not None:
        changed = (*changed, "ended_at")
    return Change(
        entity, UPDATE if changed else UNCHANGED, record.sourced_id, changed, link, values=values
    )


def missing_from_bulk(
    entity: str, kind: RosterKind, mode: Mode, present: Iterable[str], current: Current
) -> list[Change]:
    """A bulk file is the whole truth: links it no longer lists are ended (never deleted)."""
    if mode is not Mode.BULK:
        return []
    listed = set(present)
    return [
        Change(entity, END, sid, link=link)
        for (k, sid), link in sorted(current.links.items())
        if k is kind and sid not in listed and link.ended_at is None
    ]


def school_org(parsed: Parsed, school: School, current: Current) -> str:
    """The sourcedId of the school's org: the stored one, or the set's only school org."""
    stored = current.org_sourced_id
    orgs = parsed.orgs
    if stored is not None:
        if orgs and stored not in orgs:
            raise RosterError(
                "orgs.csv",
                None,
                f"this set is for another school: {school.slug} is org {stored!r}.",
            )
        return stored
    schools = [o for o in orgs.values() if o.type in SCHOOL_ORG_TYPES and not o.deleted]
    by_urn = [o for o in schools if school.urn and o.identifier == school.urn]
    if by_urn:
        return by_urn[0].sourced_id
    if len(schools) == 1:
        only = schools[0]
        if school.urn and only.identifier and only.identifier != school.urn:
            raise only.row.error(
                f"this org's identifier {only.identifier!r} is not {school.slug}'s URN "
                f"({school.urn}): is this set for another school?"
            )
        return only.sourced_id
    if not schools:
        raise RosterError("orgs.csv", None, "has no org of type school for this school.")
    raise RosterError(
        "orgs.csv",
        schools[1].row.line,
        f"has {len(schools)} schools and none has {school.slug}'s URN as its identifier.",
    )


def plan_structure(parsed: Parsed, plan: Plan, current: Current) -> None:
    """Orgs, academic sessions and courses (links only) and classes (teaching groups)."""
    roster = parsed.roster
    _plan_orgs(parsed, plan, current)
    for session in parsed.sessions.values():
        _add(plan, _session_change(parsed, current, session))
    plan.changes += missing_from_bulk(
        "academicSession",
        RosterKind.ACADEMIC_SESSION,
        roster.table("academicSessions").mode,
        parsed.sessions,
        current,
    )
    for course in parsed.courses.values():
        _add(plan, _course_change(parsed, current, course))
    plan.changes += missing_from_bulk(
        "course", RosterKind.COURSE, roster.table("courses").mode, parsed.courses, current
    )
    for klass in parsed.classes.values():
        _add(plan, _class_change(parsed, plan, klass, current))
    plan.changes += missing_from_bulk(
        "class", RosterKind.CLASS, roster.table("classes").mode, parsed.classes, current
    )


def _plan_orgs(parsed: Parsed, plan: Plan, current: Current) -> None:
    for org in parsed.orgs.values():
        if org.parent and not _org_known(parsed, current, org.parent):
            raise org.row.error(f"parentSourcedId {org.parent!r} is not an org in orgs.csv.")
        if org.sourced_id == plan.org_sourced_id:
            data = {"name": org.name, "type": org.type, "identifier": org.identifier}
            _add(plan, link_change("org", RosterKind.ORG, org, data, current))
    if not _org_known(parsed, current, plan.org_sourced_id):
        raise RosterError("orgs.csv", None, f"org {plan.org_sourced_id!r} is missing.")


def _session_change(parsed: Parsed, current: Current, session: Session) -> Change | None:
    if session.parent and not _session_known(parsed, current, session.parent):
        raise session.row.error(f"parentSourcedId {session.parent!r} is not an academic session.")
    data = {
        "title": session.title,
        "type": session.type,
        "startDate": _iso(session.start),
        "endDate": _iso(session.end),
        "parent": session.parent,
        "schoolYear": session.school_year,
    }
    return link_change("academicSession", RosterKind.ACADEMIC_SESSION, session, data, current)


def _course_change(parsed: Parsed, current: Current, course: Course) -> Change | None:
    if not _org_known(parsed, current, course.org):
        raise course.row.error(f"orgSourcedId {course.org!r} is not an org in orgs.csv.")
    if course.school_year and not _session_known(parsed, current, course.school_year):
        raise course.row.error(
            f"schoolYearSourcedId {course.school_year!r} is not an academic session."
        )
    data: dict[str, Any] = {
        "title": course.title,
        "courseCode": course.code,
        "org": course.org,
        "schoolYear": course.school_year,
        "subjects": list(course.subjects),
    }
    return link_change("course", RosterKind.COURSE, course, data, current)


def _class_change(parsed: Parsed, plan: Plan, klass: Class, current: Current) -> Change | None:
    link = current.links.get((RosterKind.CLASS, klass.sourced_id))
    if klass.deleted:
        if link is None or link.ended_at is not None:
            return None
        return Change("class", END, klass.sourced_id, link=link, local_id=link.local_id)
    if klass.school != plan.org_sourced_id:
        raise klass.row.error(
            f"schoolSourcedId {klass.school!r} is not this school ({plan.org_sourced_id}): "
            "import one school's set at a time."
        )
    course = _course_data(parsed, current, klass)
    years = {_session_year(parsed, current, klass, term) for term in klass.terms}
    if len(years) != 1:
        raise klass.row.error("termSourcedIds span more than one school year.")
    subject = (klass.subjects or tuple(course.get("subjects", ())) or (course["title"],))[0]
    values: dict[str, Any] = {
        "name": klass.title[:100],
        "subject": subject[:100],
        "year_group": klass.year_group,
        "academic_year": years.pop(),
    }
    data = {
        "course": klass.course,
        "classCode": klass.code,
        "classType": klass.class_type,
        "terms": list(klass.terms),
    }
    values["data"] = data
    clash = current.group_names.get((values["academic_year"], values["name"]))
    if link is None:
        if clash is not None:
            raise klass.row.error(
                f"a teaching group called {values['name']!r} already exists in "
                f"{values['academic_year']}: rename one of them first."
            )
        current.group_names[(values["academic_year"], values["name"])] = -1
        return Change("class", CREATE, klass.sourced_id, values=values)
    group = current.groups[int(link.local_id or 0)]
    changed = [
        k
        for k in ("name", "subject", "year_group", "academic_year")
        if getattr(group, k) != values[k]
    ]
    if clash is not None and clash != group.id and "name" in changed:
        raise klass.row.error(f"another teaching group is already called {values['name']!r}.")
    changed += [k for k in data if link.data.get(k) != data[k]]
    if link.ended_at is not None:
        changed.append("ended_at")
    kind = UPDATE if changed else UNCHANGED
    return Change("class", kind, klass.sourced_id, tuple(changed), link, link.local_id, values)


def _course_data(parsed: Parsed, current: Current, klass: Class) -> dict[str, Any]:
    course = parsed.courses.get(klass.course)
    if course is not None:
        return {"title": course.title, "subjects": list(course.subjects)}
    link = current.links.get((RosterKind.COURSE, klass.course))
    if link is None:
        raise klass.row.error(f"courseSourcedId {klass.course!r} is not a course in courses.csv.")
    return dict(link.data)


def _session_year(parsed: Parsed, current: Current, klass: Class, term: str) -> str:
    session = parsed.sessions.get(term)
    if session is not None:
        year = session.school_year
    elif (link := current.links.get((RosterKind.ACADEMIC_SESSION, term))) is not None:
        year = str(link.data.get("schoolYear", ""))
    else:
        raise klass.row.error(f"termSourcedIds names {term!r}, which is not an academic session.")
    # OneRoster names a school year by the calendar year it ends in: 2027 is 2026/27.
    end = int(year)
    return f"{end - 1}/{end % 100:02d}"


def _org_known(parsed: Parsed, current: Current, sourced_id: str) -> bool:
    return sourced_id in parsed.orgs or current.known(RosterKind.ORG, sourced_id)


def _session_known(parsed: Parsed, current: Current, sourced_id: str) -> bool:
    return sourced_id in parsed.sessions or current.known(RosterKind.ACADEMIC_SESSION, sourced_id)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _add(plan: Plan, change: Change | None) -> None:
    if change is not None:
        plan.changes.append(change)


__all__ = [
    "CREATE",
    "END",
    "ENTITIES",
    "KINDS",
    "UNCHANGED",
    "UPDATE",
    "Change",
    "Plan",
    "link_change",
    "missing_from_bulk",
    "plan_structure",
    "school_org",
]
