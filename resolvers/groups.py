"""Teaching groups: listing within reach, and managing groups, enrolments and teachers (admins)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.errors import InvalidInput
from models.groups import Enrolment, TeachingAssignment, TeachingGroup
from models.learners import Learner
from models.staff import Membership, Role
from resolvers import access, validation
from resolvers.access import Op
from resolvers.audit import entry_for
from resolvers.classroom import announce_access_change
from resolvers.context import Context
from resolvers.pagination import Page, paginate

ORDER = ("name", "id")
MAX_BATCH = 100


@dataclass(slots=True)
class GroupData:
    name: str = ""
    subject: str = ""
    year_group: int | None = None
    academic_year: str = ""


async def list_groups(ctx: Context, *, first: int | None, after: str | None) -> Page[TeachingGroup]:
    return await paginate(
        access.groups(ctx),
        ORDER,
        lambda g: (g.name, g.id),
        first=first,
        after=after,
        maximum=ctx.services.settings.limits.max_page_size,
    )


def _validated(data: GroupData) -> GroupData:
    data.name = validation.text("name", data.name, max_length=100)
    data.subject = validation.text("subject", data.subject, max_length=100)
    data.year_group = validation.year_group("yearGroup", data.year_group)
    data.academic_year = validation.academic_year("academicYear", data.academic_year)
    return data


async def create_group(ctx: Context, data: GroupData) -> TeachingGroup:
    viewer = access.school_scoped(ctx, Op.MANAGE_GROUPS)
    data = _validated(data)
    try:
        async with in_transaction():
            group = await TeachingGroup.create(
                school_id=viewer.school_id,
                name=data.name,
                subject=data.subject,
                year_group=data.year_group,
                academic_year=data.academic_year,
            )
            await ctx.services.audit.record(
                entry_for(
                    viewer,
                    ctx.request,
                    "group.create",
                    target_type="group",
                    target_ids=[str(group.id)],
                )
            )
    except IntegrityError:
        raise InvalidInput(
            "name",
            "A group with this name already exists in that academic year.",
            reason="DUPLICATE",
        ) from None
    return group


async def update_group(ctx: Context, group_id: int, data: GroupData) -> TeachingGroup:
    viewer = access.school_scoped(ctx, Op.MANAGE_GROUPS)
    group = await access.require_group(ctx, group_id, Op.MANAGE_GROUPS)
    data = _validated(data)
    group.name, group.subject = data.name, data.subject
    group.year_group, group.academic_year = data.year_group, data.academic_year
    try:
        async with in_transaction():
            await group.save()
            await ctx.services.audit.record(
                entry_for(
                    viewer,
                    ctx.request,
                    "group.update",
                    target_type="group",
                    target_ids=[str(group.id)],
                )
            )
    except IntegrityError:
        raise InvalidInput(
            "name",
            "A group with this name already exists in that academic year.",
            reason="DUPLICATE",
        ) from None
    return group


async def _learners_of_school(
    ctx: Context, school_id: int, ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    if len(ids) > MAX_BATCH:
        raise InvalidInput("learnerIds", f"At most {MAX_BATCH} learners at a time.")
    wanted = set(ids)
    found = set(
        await Learner.filter(id__in=wanted, school_id=school_id).values_list("id", flat=True)
    )
    if found != wanted:
        # Learners of other schools look exactly like learners that do not exist.
        raise InvalidInput("learnerIds", "Some learners were not found.", reason="NOT_FOUND")
    return sorted(wanted, key=str)


async def enrol_learners(
    ctx: Context, group_id: int, learner_ids: Sequence[uuid.UUID]
) -> TeachingGroup:
    viewer = access.school_scoped(ctx, Op.MANAGE_GROUPS)
    group = await access.require_group(ctx, group_id, Op.MANAGE_GROUPS)
    ids = await _learners_of_school(ctx, viewer.school_id, learner_ids)
    async with in_transaction():
        existing = set(
            await Enrolment.filter(group_id=group.id, learner_id__in=ids).values_list(
                "learner_id", flat=True
            )
        )
        new = [i for i in ids if i not in existing]
        await Enrolment.bulk_create(
            [Enrolment(school_id=viewer.school_id, group_id=group.id, learner_id=i) for i in new]
        )
        await ctx.services.audit.record(
            entry_for(
                viewer,
                ctx.request,
                "group.enrol",
                target_type="learner",
                target_ids=[str(i) for i in new],
            )
        )
    return group


async def unenrol_learners(
    ctx: Context, group_id: int, learner_ids: Sequence[uuid.UUID]
) -> TeachingGroup:
    viewer = access.school_scoped(ctx, Op.MANAGE_GROUPS)
    group = await access.require_group(ctx, group_id, Op.MANAGE_GROUPS)
    ids = await _learners_of_school(ctx, viewer.school_id, learner_ids)
    async with in_transaction():
        await Enrolment.filter(group_id=group.id, learner_id__in=ids).delete()
        await ctx.services.audit.record(
            entry_for(
                viewer,
                ctx.request,
                "group.unenrol",
                target_type="learner",
                target_ids=[str(i) for i in ids],
            )
        )
    return group


async def assign_teacher(ctx: Context, group_id: int, user_id: int, assign: bool) -> TeachingGroup:
    """Add or remove a teacher; removing one ends their access to the group at once."""
    viewer = access.school_scoped(ctx, Op.MANAGE_GROUPS)
    group = await access.require_group(ctx, group_id, Op.MANAGE_GROUPS)
    # Only teachers can be given a group; anyone can be taken off one (they may have lost the role).
    teaches = await Membership.filter(
        school_id=viewer.school_id, user_id=user_id, role=Role.TEACHER
    ).exists()
    if assign and not teaches:
        raise InvalidInput(
            "staffId", "No teacher with this id works at this school.", reason="NOT_FOUND"
        )
    async with in_transaction():
        if assign:
            await TeachingAssignment.get_or_create(
                school_id=viewer.school_id, group_id=group.id, user_id=user_id
            )
        else:
            await TeachingAssignment.filter(group_id=group.id, user_id=user_id).delete()
        action = "group.assign_teacher" if assign else "group.unassign_teacher"
        await ctx.services.audit.record(
            entry_for(viewer, ctx.request, action, target_type="user", target_ids=[str(user_id)])
        )
    if not assign:
        # Their live views of this class end now, in every process.
        await announce_access_change(ctx, viewer.school_id, [group.id])
    return group


__all__ = [
    "GroupData",
    "assign_teacher",
    "create_group",
    "enrol_learners",
    "list_groups",
    "unenrol_learners",
    "update_group",
]
