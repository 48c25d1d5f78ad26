"""Planning people: students become learners, teachers and leaders staff, enrolments links."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from app.errors import InvalidInput
from models.learners import Gender, Learner
from models.roster import RosterKind
from models.staff import Role
from resolvers import validation
from resolvers.keyring import Keyring
from resolvers.learners import field_context
from resolvers.oneroster.plan import CREATE, END, UNCHANGED, UPDATE, Change, Plan
from resolvers.oneroster.reader import Mode, Row
from resolvers.oneroster.records import Parsed, User
from resolvers.oneroster.state import Current

STUDENT = "student"
#: OneRoster roles that become staff, and the role they get here. ADMIN is never granted by an
#: import: it is given by hand (create-user, updateStaff).
STAFF_ROLES = {
    "teacher": Role.TEACHER,
    "aide": Role.TEACHER,
    "teacherAssistant": Role.TEACHER,
    "administrator": Role.LEADER,
    "principal": Role.LEADER,
    "siteAdministrator": Role.LEADER,
}
GENDERS = {
    "male": Gender.MALE,
    "female": Gender.FEMALE,
    "other": Gender.OTHER,
    "unspecified": Gender.UNSPECIFIED,
}
UK_FIELDS = {
    "pupilPremium": "pupil_premium",
    "freeSchoolMeals": "free_school_meals",
    "eal": "eal",
    "senStatus": "send_status",
}
T = TypeVar("T")


def _checked(row: Row, check: Callable[[], T]) -> T:
    try:
        return check()
    except InvalidInput as problem:
        raise row.error(str(problem)) from None


#: What a user is here: STUDENT, their staff roles, or None (left alone).
Kind = str | frozenset[Role] | None


def role_of(parsed: Parsed, user: User, school_org: str, enrolled_as: dict[str, set[str]]) -> Kind:
    """``student``, staff roles, or None (guardians, other schools, roles we do not map)."""
    for _role, org in user.roles:
        if org not in parsed.orgs and org != school_org:
            raise user.row.error(f"org {org!r} of this user is not an org in orgs.csv.")
    roles = {role for role, org in user.roles if org == school_org}
    if not user.roles:
        # 1.2 without roles.csv: what they are follows from how they are enrolled.
        roles = enrolled_as.get(user.sourced_id, set())
    staff = frozenset(STAFF_ROLES[r] for r in roles if r in STAFF_ROLES)
    if STUDENT in roles and staff:
        raise user.row.error("a user cannot be both a student and a member of staff.")
    if STUDENT in roles:
        return STUDENT
    return staff or None


async def plan_people(
    parsed: Parsed, plan: Plan, current: Current, keyring: Keyring, today: date
) -> dict[str, str | frozenset[Role]]:
    """Learner and staff changes; returns what each imported user is, by sourcedId."""
    kinds: dict[str, str | frozenset[Role]] = {}
    seen: dict[str, int] = {}  # UPNs and email addresses -> the line they are first on
    enrolled_as: dict[str, set[str]] = {}
    for enrolment in parsed.enrollments.values():
        enrolled_as.setdefault(enrolment.user, set()).add(enrolment.role)
    for user in parsed.users.values():
        if user.deleted:
            _leave(plan, current, user.sourced_id)
            continue
        kind = role_of(parsed, user, plan.org_sourced_id, enrolled_as)
        if kind is None:
            plan.skipped["users without a student, teacher or leader role here"] += 1
            continue
        kinds[user.sourced_id] = kind
        if isinstance(kind, frozenset):
            plan.changes.append(_staff(current, user, kind, seen))
        else:
            _first(user, "UPN", user.upn, seen)
            plan.changes.append(await _learner(parsed, plan, current, keyring, user, today))
    if parsed.roster.table("users").mode is Mode.BULK:
        for sid in sorted(set(current.learners) | set(current.local_ids(RosterKind.STAFF))):
            if sid not in parsed.users:
                _leave(plan, current, sid)
    return kinds


def _first(user: User, what: str, value: str | None, seen: dict[str, int]) -> None:
    """Refuse a UPN or email address that an earlier line of the file already has."""
    if value:
        if value in seen:
            raise user.row.error(f"the {what} is also on line {seen[value]}.")
        seen[value] = user.row.line


def _leave(plan: Plan, current: Current, sourced_id: str) -> None:
    learner = current.learners.get(sourced_id)
    if learner is not None and learner.left_at is None:
        plan.changes.append(Change("learner", END, sourced_id, local_id=str(learner.id)))
    link = current.links.get((RosterKind.STAFF, sourced_id))
    if link is not None and link.ended_at is None:
        plan.changes.append(Change("staff", END, sourced_id, link=link, local_id=link.local_id))


async def _learner(
    parsed: Parsed,
    plan: Plan,
    current: Current,
    keyring: Keyring,
    user: User,
    today: date,
) -> Change:
    wanted = _wanted(parsed, user, today)
    learner = current.learners.get(user.sourced_id)
    if "upn" in wanted:
        index = await keyring.index(plan.school.id, "learner.upn", wanted["upn"])
        holder = current.learners_by_upn.get(index or "")
        if learner is None and holder is not None and holder.id not in current.linked_learners:
            learner = holder  # made by hand or by another system: adopt, never duplicate
        elif holder is not None and holder is not learner:
            raise user.row.error("the UPN belongs to another learner of this school.")
    if learner is None:
        created = tuple(sorted(wanted))
        return Change(
            "learner", CREATE, user.sourced_id, created, values=wanted, line=user.row.line
        )
    values = {k: v for k, v in wanted.items() if await _differs(keyring, learner, k, v)}
    fields = sorted(values)
    if user.sourced_id not in current.learners:
        values["adopt"] = True
        fields.append("external_id")
    if learner.left_at is not None:
        values["rejoin"] = True
        fields.append("left_at")
    kind = UPDATE if fields else UNCHANGED
    return Change(
        "learner",
        kind,
        user.sourced_id,
        tuple(fields),
        local_id=str(learner.id),
        values=values,
        line=user.row.line,
    )


def _wanted(parsed: Parsed, user: User, today: date) -> dict[str, Any]:
    """The learner fields the set gives (a column the set lacks leaves its field alone)."""
    row, columns = user.row, parsed.roster.table("users").columns
    wanted: dict[str, Any] = {
        "given_name": _checked(
            row, lambda: validation.text("givenName", user.given_name, max_length=100)
        ),
        "family_name": _checked(
            row, lambda: validation.text("familyName", user.family_name, max_length=100)
        ),
    }
    if "preferredGivenName" in columns or "preferredFirstName" in columns:
        wanted["preferred_name"] = _checked(
            row,
            lambda: validation.optional_text(
                "preferredGivenName", user.preferred_name, max_length=100
            ),
        )
    if "grades" in columns:
        wanted["year_group"] = user.year_group
    wanted |= {k: v for k, v in (("upn", user.upn), ("uln", user.uln)) if v}
    demo = parsed.demographics.get(user.sourced_id)
    if demo is None or demo.deleted:
        return wanted
    if demo.birth_date is not None:
        wanted["date_of_birth"] = _checked(
            demo.row, lambda: validation.date_of_birth("birthDate", demo.birth_date, today)
        )
    if demo.sex:
        wanted["gender"] = GENDERS.get(demo.sex, Gender.OTHER)
    wanted |= {name: demo.uk[key] for key, name in UK_FIELDS.items() if key in demo.uk}
    return wanted


async def _differs(keyring: Keyring, learner: Learner, name: str, value: Any) -> bool:
    if name in ("upn", "uln"):
        index = await keyring.index(learner.school_id, f"learner.{name}", value)
        return bool(getattr(learner, f"{name}_index") != index)
    if name == "date_of_birth":
        envelope = learner.date_of_birth_enc
        if envelope is None:
            return True
        stored = await keyring.decrypt(field_context(learner, name), envelope)
        return bool(stored != value.isoformat())
    return bool(getattr(learner, name) != value)


def _staff(current: Current, user: User, roles: frozenset[Role], seen: dict[str, int]) -> Change:
    email = _checked(user.row, lambda: validation.email("email", user.email))
    _first(user, "email address", email, seen)
    name = _checked(
        user.row,
        lambda: validation.text(
            "givenName familyName", f"{user.given_name} {user.family_name}", max_length=200
        ),
    )
    values: dict[str, Any] = {"email": email, "display_name": name, "roles": sorted(roles)}
    link = current.links.get((RosterKind.STAFF, user.sourced_id))
    account = (
        current.staff.get(int(link.local_id or 0)) if link else current.staff_by_email.get(email)
    )
    if account is None:
        return Change(
            "staff", CREATE, user.sourced_id, ("display_name", "email", "roles"), values=values
        )
    fields = []
    if account.display_name != name:
        fields.append("display_name")
    if any((account.id, role) not in current.memberships for role in roles):
        fields.append("roles")
    if link is None:
        fields.append("link")
    elif link.ended_at is not None:
        fields.append("ended_at")
    kind = UPDATE if fields else UNCHANGED
    return Change("staff", kind, user.sourced_id, tuple(fields), link, str(account.id), values)


__all__ = ["STAFF_ROLES", "STUDENT", "plan_people", "role_of"]
