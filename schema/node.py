"""`node(id:)`: any object by its global id, through the same guards as its own query."""

from __future__ import annotations

import strawberry

from app.errors import NotFound
from resolvers import access, learners, lessons
from resolvers.access import Op
from schema.classroom.types import Lesson
from schema.common import Info, Node, from_global_id, parse_int_id, parse_uuid_id
from schema.devices import Device
from schema.groups import Group
from schema.learners import Learner
from schema.partners import ApiKey
from schema.schools import School
from schema.staff import StaffMember


async def resolve_node(info: Info, global_id: str) -> Node:
    ctx = info.context
    kind, _ = from_global_id(global_id)
    if kind == "Learner":
        return Learner.from_model(await learners.get_learner(ctx, parse_uuid_id(global_id, kind)))
    if kind == "Group":
        return Group.from_model(await access.require_group(ctx, parse_int_id(global_id, kind)))
    if kind == "StaffMember":
        member = await access.require_staff_member(ctx, parse_int_id(global_id, kind))
        return StaffMember.from_model(member)
    if kind == "School":
        school_id = parse_int_id(global_id, kind)
        viewer, _ = access.require(ctx, Op.READ_SCHOOL)
        row = (
            await ctx.loaders.school_by_id.load(school_id)
            if school_id in viewer.school_ids
            else None
        )
        if row is not None:
            return School.from_model(row)
    if kind == "Lesson":
        return Lesson.from_model(await lessons.get_lesson(ctx, parse_int_id(global_id, kind)))
    if kind == "Device":
        return Device.from_model(await access.require_device(ctx, parse_int_id(global_id, kind)))
    if kind == "ApiKey":
        return ApiKey.from_model(await access.require_api_key(ctx, parse_int_id(global_id, kind)))
    if kind == "Assessment":
        from schema.tracking.markbook import assessment_node

        return await assessment_node(ctx, parse_int_id(global_id, kind))
    if kind == "Alert":
        from resolvers.safeguarding.concerns import visible_alert
        from schema.safeguarding.types import Alert

        return Alert.from_model(await visible_alert(ctx, parse_uuid_id(global_id, kind)))
    access.require_viewer(ctx)
    raise NotFound()


@strawberry.type
class NodeQuery:
    @strawberry.field(
        description="Any object by its global id; NOT_FOUND outside the viewer's "
        "reach, exactly as for an id that never existed."
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await resolve_node(info, id)
