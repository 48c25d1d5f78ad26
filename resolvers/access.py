"""Authorization and tenancy: every lookup of a tenant-owned row goes through here.

The rules are data (:data:`POLICY`): for each operation, how far each role reaches. A principal's
school comes only from its token. Objects of other schools, or outside the viewer's reach, answer
``NOT_FOUND`` exactly like a random id, so ids are no existence oracle. A role that may not
perform an operation at all gets ``FORBIDDEN`` before anything is looked up.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from enum import Enum, IntEnum

from tortoise.expressions import Subquery
from tortoise.queryset import QuerySet

from app.errors import Forbidden, NotAuthenticated, NotFound
from models.devices import Device
from models.groups import Enrolment, TeachingAssignment, TeachingGroup
from models.learners import Learner
from models.partners import ApiKey, Scope
from models.staff import Membership, Role, User
from resolvers.context import Context, PrincipalKind, Viewer


class Op(Enum):
    READ_SCHOOL = "READ_SCHOOL"
    READ_LEARNERS = "READ_LEARNERS"
    READ_LEARNER_IDENTIFIERS = "READ_LEARNER_IDENTIFIERS"
    READ_LEARNER_SENSITIVE = "READ_LEARNER_SENSITIVE"
    READ_GROUPS = "READ_GROUPS"
    READ_STAFF = "READ_STAFF"
    READ_SAFEGUARDING = "READ_SAFEGUARDING"
    MANAGE_STAFF = "MANAGE_STAFF"
    MANAGE_LEARNERS = "MANAGE_LEARNERS"
    MANAGE_GROUPS = "MANAGE_GROUPS"
    MANAGE_DEVICES = "MANAGE_DEVICES"
    MANAGE_API_KEYS = "MANAGE_API_KEYS"
    READ_AUDIT = "READ_AUDIT"
    WATCH_CLASSROOM = "WATCH_CLASSROOM"
    CONTROL_CLASSROOM = "CONTROL_CLASSROOM"
    MANAGE_SCHOOL_RULES = "MANAGE_SCHOOL_RULES"
    READ_TRACKING_REFERENCE = "READ_TRACKING_REFERENCE"
    TRIAGE_ALERTS = "TRIAGE_ALERTS"
    MANAGE_SAFEGUARDING = "MANAGE_SAFEGUARDING"
    RAISE_CONCERN = "RAISE_CONCERN"
    READ_TRACKING = "READ_TRACKING"
    ENTER_MARKS = "ENTER_MARKS"
    MANAGE_ALERT_ROUTES = "MANAGE_ALERT_ROUTES"
    EXPORT_SAFEGUARDING = "EXPORT_SAFEGUARDING"
    READ_TRACKER_SETTINGS = "READ_TRACKER_SETTINGS"
    MANAGE_TRACKER_SETTINGS = "MANAGE_TRACKER_SETTINGS"


class Reach(IntEnum):
    """How far an operation extends: nothing, the groups one teaches, or the whole school."""

    NONE = 0
    TAUGHT = 1
    SCHOOL = 2


_A, _T, _D, _L = Role.ADMIN, Role.TEACHER, Role.SAFEGUARDING_LEAD, Role.LEADER
_ALL_STAFF_SCHOOL = {_A: Reach.SCHOOL, _T: Reach.SCHOOL, _D: Reach.SCHOOL, _L: Reach.SCHOOL}
_ADMIN_ONLY = {_A: Reach.SCHOOL}

#: Role x operation -> reach. Anything absent is Reach.NONE (default deny).
POLICY: Mapping[Op, Mapping[Role, Reach]] = {
    Op.READ_SCHOOL: _ALL_STAFF_SCHOOL,
    Op.READ_LEARNERS: {_A: Reach.SCHOOL, _T: Reach.TAUGHT, _D: Reach.SCHOOL, _L: Reach.SCHOOL},
    # UPN, ULN and date of birth: identifiers that follow a child between schools.
    Op.READ_LEARNER_IDENTIFIERS: _ADMIN_ONLY,
    # SEN details: teachers of the learner need them to teach; leaders and DSLs school-wide.
    Op.READ_LEARNER_SENSITIVE: {
        _A: Reach.SCHOOL,
        _T: Reach.TAUGHT,
        _D: Reach.SCHOOL,
        _L: Reach.SCHOOL,
    },
    Op.READ_GROUPS: {_A: Reach.SCHOOL, _T: Reach.TAUGHT, _D: Reach.SCHOOL, _L: Reach.SCHOOL},
    Op.READ_STAFF: _ALL_STAFF_SCHOOL,
    # Need-to-know (KCSIE): safeguarding leads only.
    Op.READ_SAFEGUARDING: {_D: Reach.SCHOOL},
    Op.MANAGE_STAFF: _ADMIN_ONLY,
    Op.MANAGE_LEARNERS: _ADMIN_ONLY,
    Op.MANAGE_GROUPS: _ADMIN_ONLY,
    Op.MANAGE_DEVICES: _ADMIN_ONLY,
    Op.MANAGE_API_KEYS: _ADMIN_ONLY,
    Op.READ_AUDIT: _ADMIN_ONLY,
    # Live screens and lesson controls: a class's own teachers, and admins for cover.
    Op.WATCH_CLASSROOM: {_A: Reach.SCHOOL, _T: Reach.TAUGHT},
    Op.CONTROL_CLASSROOM: {_A: Reach.SCHOOL, _T: Reach.TAUGHT},
    Op.MANAGE_SCHOOL_RULES: _ADMIN_ONLY,
    # Published specifications and boundaries: public reference data, not any school's.
    Op.READ_TRACKING_REFERENCE: _ALL_STAFF_SCHOOL,
    # Alert triage, detection rules and monitoring settings: the DSL's own tools. Admins run
    # the system but do not read alerts, and custom phrases can themselves reveal a concern.
    Op.TRIAGE_ALERTS: {_D: Reach.SCHOOL},
    Op.MANAGE_SAFEGUARDING: {_D: Reach.SCHOOL},
    # Every member of staff acts on concerns (KCSIE); teachers about the learners they teach.
    Op.RAISE_CONCERN: {_A: Reach.SCHOOL, _T: Reach.TAUGHT, _D: Reach.SCHOOL, _L: Reach.SCHOOL},
    # Markbooks, grades and progress: a group's teachers (a DSL only as a teacher of the group),
    # leaders and admins school-wide.
    Op.READ_TRACKING: {_A: Reach.SCHOOL, _T: Reach.TAUGHT, _D: Reach.TAUGHT, _L: Reach.SCHOOL},
    # Assessments, marks and grades: the group's teachers, and admins (data managers, cover).
    # Leaders read only: grades a leader could change would no longer be the teacher's.
    Op.ENTER_MARKS: {_A: Reach.SCHOOL, _T: Reach.TAUGHT, _D: Reach.TAUGHT},
    # Who is told about alerts, and exports of alerts and chronologies to CPOMS or MyConcern:
    # the DSL decides both (KCSIE). Exports carry evidence, so admins do not get them either.
    Op.MANAGE_ALERT_ROUTES: {_D: Reach.SCHOOL},
    Op.EXPORT_SAFEGUARDING: {_D: Reach.SCHOOL},
    # The whole tracker's boundary shift and small-subgroup threshold: every member of staff
    # reads them (they explain the grades shown); the data manager (an admin) and leaders set
    # them, as school-wide tracking policy. Partners get neither: policy, not pupil data.
    Op.READ_TRACKER_SETTINGS: _ALL_STAFF_SCHOOL,
    Op.MANAGE_TRACKER_SETTINGS: {_A: Reach.SCHOOL, _L: Reach.SCHOOL},
}

#: The scope a partner key needs for an operation; it then reaches each granted school whole.
PARTNER_SCOPES: Mapping[Op, frozenset[Scope]] = {
    Op.READ_SCHOOL: frozenset(Scope),
    Op.READ_LEARNERS: frozenset({Scope.LEARNERS_READ}),
    Op.READ_LEARNER_IDENTIFIERS: frozenset({Scope.LEARNER_IDENTIFIERS_READ}),
    Op.READ_LEARNER_SENSITIVE: frozenset(),
    Op.READ_GROUPS: frozenset({Scope.GROUPS_READ}),
    Op.READ_TRACKING_REFERENCE: frozenset({Scope.TRACKING_READ}),
    Op.READ_TRACKING: frozenset({Scope.TRACKING_READ}),
}


#: Operations on a group that follow the viewer's reach (a teacher's own groups).
_GROUP_REACH_OPS = frozenset(
    {Op.READ_GROUPS, Op.WATCH_CLASSROOM, Op.CONTROL_CLASSROOM, Op.READ_TRACKING, Op.ENTER_MARKS}
)


def reach(viewer: Viewer, op: Op) -> Reach:
    if viewer.kind is PrincipalKind.STAFF:
        rules = POLICY.get(op, {})
        return max((rules.get(role, Reach.NONE) for role in viewer.roles), default=Reach.NONE)
    if viewer.kind is PrincipalKind.PARTNER and viewer.scopes & PARTNER_SCOPES.get(op, frozenset()):
        return Reach.SCHOOL
    return Reach.NONE


async def still_allowed(viewer: Viewer, op: Op) -> bool:
    """Whether the staff viewer's roles as stored now (not as at login) still allow ``op``.

    For long-lived streams, re-checked per delivered event: a role taken away or an account
    deactivated ends the stream even though the session's roles are older.
    """
    if viewer.kind is not PrincipalKind.STAFF or viewer.user_id is None:
        return reach(viewer, op) is not Reach.NONE
    allowed = [role for role, r in POLICY.get(op, {}).items() if r is not Reach.NONE]
    return await Membership.filter(
        school_id=viewer.school_id,
        user_id=viewer.user_id,
        role__in=allowed,
        user__is_active=True,
    ).exists()


def require_device_principal(ctx: Context) -> Viewer:
    """The device principal; staff and partners get FORBIDDEN (device-only operations)."""
    viewer = require_viewer(ctx)
    if viewer.kind is not PrincipalKind.DEVICE or viewer.device_id is None:
        raise Forbidden("Only an enrolled device can do this.")
    return viewer


def require_viewer(ctx: Context) -> Viewer:
    if ctx.viewer is None:
        raise NotAuthenticated()
    return ctx.viewer


def require(ctx: Context, op: Op) -> tuple[Viewer, Reach]:
    """The viewer and their reach for ``op``; FORBIDDEN when the role has none at all."""
    viewer = require_viewer(ctx)
    granted = reach(viewer, op)
    if granted is Reach.NONE:
        raise Forbidden()
    return viewer, granted


def _taught_group_ids(viewer: Viewer) -> Subquery:
    return Subquery(
        TeachingAssignment.filter(user_id=viewer.user_id, school_id=viewer.school_id).values(
            "group_id"
        )
    )


def learners(ctx: Context, op: Op = Op.READ_LEARNERS) -> QuerySet[Learner]:
    """Learners the viewer may see for ``op``: their school(s), narrowed to taught groups."""
    viewer, granted = require(ctx, op)
    rows = Learner.filter(school_id__in=viewer.school_ids, left_at__isnull=True)
    if granted is Reach.TAUGHT:
        taught = Enrolment.filter(group_id__in=_taught_group_ids(viewer)).values("learner_id")
        rows = rows.filter(id__in=Subquery(taught))
    return rows


def groups(ctx: Context, op: Op = Op.READ_GROUPS) -> QuerySet[TeachingGroup]:
    viewer, granted = require(ctx, op)
    rows = TeachingGroup.filter(school_id__in=viewer.school_ids)
    if granted is Reach.TAUGHT:
        rows = rows.filter(id__in=_taught_group_ids(viewer))
    return rows


async def require_learner(
    ctx: Context, learner_id: uuid.UUID, op: Op = Op.READ_LEARNERS
) -> Learner:
    row = await learners(ctx, op).get_or_none(id=learner_id)
    if row is None:
        raise NotFound("Learner not found.")
    return row


async def require_group(ctx: Context, group_id: int, op: Op = Op.READ_GROUPS) -> TeachingGroup:
    if op in _GROUP_REACH_OPS:
        row = await groups(ctx, op).get_or_none(id=group_id)
    else:
        viewer, _ = require(ctx, op)
        row = await TeachingGroup.get_or_none(id=group_id, school_id=viewer.school_id)
    if row is None:
        raise NotFound("Group not found.")
    return row


def school_scoped(ctx: Context, op: Op) -> Viewer:
    """For whole-school operations: the viewer, who must reach their whole school."""
    viewer, granted = require(ctx, op)
    if granted is not Reach.SCHOOL:
        raise Forbidden()
    return viewer


async def require_staff_member(ctx: Context, user_id: int, op: Op = Op.READ_STAFF) -> User:
    viewer = school_scoped(ctx, op)
    row = await User.filter(id=user_id, memberships__school_id=viewer.school_id).first()
    if row is None:
        raise NotFound("Staff member not found.")
    return row


async def require_device(ctx: Context, device_id: int) -> Device:
    viewer = school_scoped(ctx, Op.MANAGE_DEVICES)
    row = await Device.get_or_none(id=device_id, school_id=viewer.school_id)
    if row is None:
        raise NotFound("Device not found.")
    return row


async def require_api_key(ctx: Context, key_id: int) -> ApiKey:
    viewer = school_scoped(ctx, Op.MANAGE_API_KEYS)
    row = await ApiKey.filter(id=key_id, grants__school_id=viewer.school_id).first()
    if row is None:
        raise NotFound("API key not found.")
    return row


__all__ = [
    "PARTNER_SCOPES",
    "POLICY",
    "Op",
    "Reach",
    "groups",
    "learners",
    "reach",
    "require",
    "require_api_key",
    "require_device",
    "require_device_principal",
    "require_group",
    "require_learner",
    "require_staff_member",
    "require_viewer",
    "school_scoped",
]
