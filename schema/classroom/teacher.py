"""Teachers' side of the classroom: the snapshot, lessons, commands and the school's rules."""

from __future__ import annotations

import datetime
from collections.abc import AsyncGenerator
from contextlib import aclosing

import strawberry

from models.classroom import CommandKind, LessonMode
from resolvers import classroom, commands, lessons
from resolvers.lessons import RuleLists
from schema.classroom.types import (
    Classroom,
    ClassroomActivity,
    ClassroomTile,
    DeviceCommand,
    Lesson,
    LessonPayload,
    RuleSet,
)
from schema.common import Info, UserError, attempt, parse_int_id
from schema.groups import Group

strawberry.enum(CommandKind, description="What a teacher can tell devices to do.")


@strawberry.input(description="Start a lesson now for a group, until `endsAt` (at most 8 hours).")
class StartLessonInput:
    group_id: strawberry.ID
    ends_at: datetime.datetime
    mode: LessonMode = LessonMode.BLOCK_LIST
    allow_domains: list[str] = strawberry.field(default_factory=list)
    allow_url_prefixes: list[str] = strawberry.field(default_factory=list)
    allow_apps: list[str] = strawberry.field(default_factory=list)
    block_domains: list[str] = strawberry.field(default_factory=list)
    block_url_prefixes: list[str] = strawberry.field(default_factory=list)
    block_apps: list[str] = strawberry.field(default_factory=list)


@strawberry.input(description="One command to a group's devices, or to chosen devices.")
class SendDeviceCommandInput:
    kind: CommandKind
    group_id: strawberry.ID | None = None
    device_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    url: str | None = strawberry.field(default=None, description="For OPEN_URL and CLOSE_TAB.")
    message: str | None = strawberry.field(default=None, description="For MESSAGE.")
    expires_in_seconds: int = strawberry.field(
        default=300, description="Offline devices get it when they return, unless it expired."
    )


@strawberry.input(description="The school's locked list: blocked everywhere, always.")
class SchoolRulesInput:
    domains: list[str] = strawberry.field(default_factory=list)
    url_prefixes: list[str] = strawberry.field(default_factory=list)
    apps: list[str] = strawberry.field(default_factory=list)


@strawberry.type
class SendDeviceCommandPayload:
    commands: list[DeviceCommand] = strawberry.field(default_factory=list)
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SchoolRulesPayload:
    rules: RuleSet | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _rules_payload(rows: list[object] | None, errors: list[UserError]) -> SchoolRulesPayload:
    if rows is None:
        return SchoolRulesPayload(errors=errors)
    lists: dict[str, list[str]] = {}
    for row in rows:
        lists.setdefault(row.kind, []).append(row.value)  # type: ignore[attr-defined]
    return SchoolRulesPayload(rules=RuleSet.from_lists(lists))


@strawberry.type
class ClassroomQuery:
    @strawberry.field(description="One tile per learner of the group: what their screen shows.")
    async def classroom(self, info: Info, group_id: strawberry.ID) -> Classroom:
        gid = parse_int_id(group_id, "Group", "groupId")
        group, views = await classroom.snapshot(info.context, gid)
        lesson = await lessons.active_lesson(info.context, group.id)
        return Classroom(
            group=Group.from_model(group),
            lesson=Lesson.from_model(lesson) if lesson else None,
            tiles=[ClassroomTile.from_view(v) for v in views],
        )


@strawberry.type
class ClassroomMutation:
    @strawberry.mutation(description="Start a lesson with access rules; it ends by itself.")
    async def start_lesson(self, info: Info, input: StartLessonInput) -> LessonPayload:
        row, errors = await attempt(
            lambda: lessons.start_lesson(
                info.context,
                parse_int_id(input.group_id, "Group", "groupId"),
                input.ends_at,
                input.mode,
                RuleLists(input.allow_domains, input.allow_url_prefixes, input.allow_apps),
                RuleLists(input.block_domains, input.block_url_prefixes, input.block_apps),
            )
        )
        return LessonPayload(lesson=Lesson.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(description="End a lesson now.")
    async def end_lesson(self, info: Info, id: strawberry.ID) -> LessonPayload:
        row, errors = await attempt(
            lambda: lessons.end_lesson(info.context, parse_int_id(id, "Lesson"))
        )
        return LessonPayload(lesson=Lesson.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(description="Lock, unlock, open or close a page, or show a message.")
    async def send_device_command(
        self, info: Info, input: SendDeviceCommandInput
    ) -> SendDeviceCommandPayload:
        rows, errors = await attempt(
            lambda: commands.send_device_command(
                info.context,
                input.kind,
                group_id=(
                    parse_int_id(input.group_id, "Group", "groupId")
                    if input.group_id is not None
                    else None
                ),
                device_ids=[parse_int_id(d, "Device", "deviceIds") for d in input.device_ids],
                url=input.url,
                message=input.message,
                ttl=datetime.timedelta(seconds=max(0, min(input.expires_in_seconds, 10**6))),
            )
        )
        return SendDeviceCommandPayload(
            commands=[DeviceCommand.from_model(c) for c in rows or []], errors=errors
        )

    @strawberry.mutation(description="Replace the school's locked list (school admins).")
    async def set_school_rules(self, info: Info, input: SchoolRulesInput) -> SchoolRulesPayload:
        rows, errors = await attempt(
            lambda: lessons.set_school_rules(
                info.context, RuleLists(input.domains, input.url_prefixes, input.apps)
            )
        )
        return _rules_payload(rows, errors)  # type: ignore[arg-type]


@strawberry.type
class ClassroomSubscription:
    @strawberry.subscription(
        description="Each change to the group's tiles, live. Ends with "
        "FORBIDDEN or NOT_FOUND when the viewer loses access."
    )
    async def classroom_activity(
        self, info: Info, group_id: strawberry.ID
    ) -> AsyncGenerator[ClassroomActivity, None]:
        gid = parse_int_id(group_id, "Group", "groupId")
        async with aclosing(classroom.stream_activity(info.context, gid)) as stream:
            async for event in stream:
                yield ClassroomActivity.from_event(event)
