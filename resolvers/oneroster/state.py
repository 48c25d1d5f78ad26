"""A school's current roster data, loaded once so a plan is a diff made in memory."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from models.groups import Enrolment, TeachingAssignment, TeachingGroup
from models.learners import ExternalId, Learner
from models.roster import RosterKind, RosterLink
from models.staff import Membership, Role, User

#: The ``system`` of a learner's ExternalId that holds their OneRoster sourcedId.
SYSTEM = "oneroster"


@dataclass(slots=True)
class Current:
    links: dict[tuple[RosterKind, str], RosterLink]
    #: Learners linked to a OneRoster sourcedId.
    learners: dict[str, Learner]
    #: Every learner of the school by UPN blind index, to adopt learners made by hand.
    learners_by_upn: dict[str, Learner]
    groups: dict[int, TeachingGroup]
    #: (academic year, name) -> group id; -1 for a group this plan creates.
    group_names: dict[tuple[str, str], int]
    staff: dict[int, User]
    staff_by_email: dict[str, User]
    memberships: set[tuple[int, Role]] = field(default_factory=set)
    enrolments: dict[tuple[int, uuid.UUID], int] = field(default_factory=dict)
    assignments: dict[tuple[int, int], int] = field(default_factory=dict)
    #: Ids of the learners in ``learners``.
    linked_learners: set[uuid.UUID] = field(default_factory=set)

    @property
    def org_sourced_id(self) -> str | None:
        orgs = [sid for (kind, sid) in self.links if kind is RosterKind.ORG]
        return orgs[0] if orgs else None

    def known(self, kind: RosterKind, sourced_id: str) -> bool:
        return (kind, sourced_id) in self.links

    def local_ids(self, kind: RosterKind) -> dict[str, int]:
        """sourcedId -> local integer id of the links of one kind (groups, staff)."""
        return {sid: int(link.local_id or 0) for (k, sid), link in self.links.items() if k is kind}


async def load(school_id: int, emails: set[str]) -> Current:
    """Everything of the school a plan compares with; staff also by the set's email addresses."""
    links = {(r.kind, r.sourced_id): r for r in await RosterLink.filter(school_id=school_id)}
    external = [
        (str(value), uuid.UUID(str(learner_id)))
        for value, learner_id in await ExternalId.filter(
            school_id=school_id, system=SYSTEM
        ).values_list("value", "learner_id")
    ]
    pupils = {p.id: p for p in await Learner.filter(school_id=school_id)}
    groups = {g.id: g for g in await TeachingGroup.filter(school_id=school_id)}
    staff_ids = [int(link.local_id or 0) for (k, _), link in links.items() if k is RosterKind.STAFF]
    staff = await User.filter(id__in=staff_ids) if staff_ids else []
    by_email = await User.filter(email__in=sorted(emails)) if emails else []
    members = await Membership.filter(school_id=school_id).values_list("user_id", "role")
    enrolled = await Enrolment.filter(school_id=school_id).values_list(
        "group_id", "learner_id", "id"
    )
    taught = await TeachingAssignment.filter(school_id=school_id).values_list(
        "group_id", "user_id", "id"
    )
    return Current(
        links=links,
        learners={sid: pupils[lid] for sid, lid in external if lid in pupils},
        learners_by_upn={p.upn_index: p for p in pupils.values() if p.upn_index},
        groups=groups,
        group_names={(g.academic_year, g.name): g.id for g in groups.values()},
        staff={u.id: u for u in [*staff, *by_email]},
        staff_by_email={u.email: u for u in by_email},
        memberships={(int(u), Role(r)) for u, r in members},
        enrolments={(int(g), uuid.UUID(str(lid))): int(i) for g, lid, i in enrolled},
        assignments={(int(g), int(u)): int(i) for g, u, i in taught},
        linked_learners={lid for _, lid in external},
    )


__all__ = ["SYSTEM", "Current", "load"]
