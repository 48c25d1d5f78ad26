"""Lessons (a teacher's time-boxed access rules for a group) and the school's locked rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from app.errors import InvalidInput, NotFound
from models.classroom import Lesson, LessonMode, RuleKind, SchoolRule
from realtime import channels
from realtime.events import PolicyChanged
from resolvers import access
from resolvers.access import Op
from resolvers.audit import entry_for
from resolvers.context import Context
from resolvers.policy import validated_rules

MAX_LESSON = timedelta(hours=8)


@dataclass(slots=True)
class RuleLists:
    domains: list[str] = field(default_factory=list)
    url_prefixes: list[str] = field(default_factory=list)
    apps: list[str] = field(default_factory=list)

    def validated(self, prefix: str = "") -> dict[str, list[str]]:
        """Normalised lists; errors name the input field (``allowDomains``, or ``domains``)."""

        def name(base: str) -> str:
            return f"{prefix}{base}" if prefix else base[0].lower() + base[1:]

        return {
            RuleKind.DOMAIN: validated_rules(name("Domains"), self.domains, RuleKind.DOMAIN),
            RuleKind.URL_PREFIX: validated_rules(
                name("UrlPrefixes"), self.url_prefixes, RuleKind.URL_PREFIX
            ),
            RuleKind.APP: validated_rules(name("Apps"), self.apps, RuleKind.APP),
        }


def active_lessons_query(now: datetime, group_ids: list[int]) -> QuerySet[Lesson]:
    return Lesson.filter(
        group_id__in=group_ids, starts_at__lte=now, ends_at__gt=now, ended_at__isnull=True
    )


async def active_lesson(ctx: Context, group_id: int) -> Lesson | None:
    return await active_lessons_query(ctx.services.now(), [group_id]).first()


async def _announce(ctx: Context, school_id: int, groups: list[int]) -> None:
    # After commit: devices re-read their policy from the database.
    await ctx.services.broker.publish(
        channels.policy(school_id), PolicyChanged(groups=groups).encode()
    )


async def start_lesson(
    ctx: Context,
    group_id: int,
    ends_at: datetime,
    mode: LessonMode,
    allow: RuleLists,
    block: RuleLists,
) -> Lesson:
    """Start a lesson now; a lesson already running for the group is replaced."""
    viewer, _ = access.require(ctx, Op.CONTROL_CLASSROOM)
    group = await access.require_group(ctx, group_id, Op.CONTROL_CLASSROOM)
    now = ctx.services.now()
    if ends_at.tzinfo is None:
        raise InvalidInput("endsAt", "`endsAt` needs a time zone, like 2026-11-28T10:00:00Z.")
    if not now < ends_at <= now + MAX_LESSON:
        raise InvalidInput("endsAt", "`endsAt` must be in the future and at most 8 hours away.")
    rules = {"allow": allow.validated("allow"), "block": block.validated("block")}
    if mode is LessonMode.ALLOW_ONLY and not any(rules["allow"].values()):
        raise InvalidInput(
            "allowDomains", "Focus mode needs at least one allowed site or app.", reason="REQUIRED"
        )
    async with in_transaction():
        await active_lessons_query(now, [group.id]).update(ended_at=now)
        lesson = await Lesson.create(
            school_id=group.school_id,
            group_id=group.id,
            teacher_id=viewer.user_id,
            mode=mode,
            rules=rules,
            starts_at=now,
            ends_at=ends_at,
        )
        await ctx.services.audit.record(
            entry_for(
                viewer, ctx.request, "lesson.start", target_type="group", target_ids=[str(group.id)]
            )
        )
    await _announce(ctx, group.school_id, [group.id])
    return lesson


async def get_lesson(ctx: Context, lesson_id: int, op: Op = Op.WATCH_CLASSROOM) -> Lesson:
    """A lesson of a group the viewer may watch (or control); NOT_FOUND otherwise."""
    viewer, _ = access.require(ctx, op)
    lesson = await Lesson.get_or_none(id=lesson_id, school_id__in=viewer.school_ids)
    if lesson is None:
        raise NotFound("Lesson not found.")
    try:
        await access.require_group(ctx, lesson.group_id, op)
    except NotFound:
        raise NotFound("Lesson not found.") from None
    return lesson


async def end_lesson(ctx: Context, lesson_id: int) -> Lesson:
    viewer, _ = access.require(ctx, Op.CONTROL_CLASSROOM)
    lesson = await get_lesson(ctx, lesson_id, Op.CONTROL_CLASSROOM)
    now = ctx.services.now()
    if lesson.ended_at is None and lesson.ends_at > now:
        async with in_transaction():
            lesson.ended_at = now
            await lesson.save(update_fields=["ended_at"])
            await ctx.services.audit.record(
                entry_for(
                    viewer,
                    ctx.request,
                    "lesson.end",
                    target_type="group",
                    target_ids=[str(lesson.group_id)],
                )
            )
        await _announce(ctx, lesson.school_id, [lesson.group_id])
    return lesson


async def set_school_rules(ctx: Context, rules: RuleLists) -> list[SchoolRule]:
    """Replace the school's locked list: blocked on every device, whatever a lesson allows."""
    viewer = access.school_scoped(ctx, Op.MANAGE_SCHOOL_RULES)
    wanted = rules.validated()
    async with in_transaction():
        await SchoolRule.filter(school_id=viewer.school_id).delete()
        await SchoolRule.bulk_create(
            [
                SchoolRule(school_id=viewer.school_id, kind=kind, value=v)
                for kind, values in wanted.items()
                for v in values
            ]
        )
        await ctx.services.audit.record(
            entry_for(
                viewer,
                ctx.request,
                "school.rules",
                target_type="school",
                target_ids=[str(viewer.school_id)],
            )
        )
    await _announce(ctx, viewer.school_id, [])
    return await school_rules(ctx)


async def school_rules(ctx: Context) -> list[SchoolRule]:
    viewer, _ = access.require(ctx, Op.CONTROL_CLASSROOM)
    return list(await SchoolRule.filter(school_id=viewer.school_id).order_by("kind", "value"))


__all__ = [
    "RuleLists",
    "active_lesson",
    "active_lessons_query",
    "end_lesson",
    "get_lesson",
    "school_rules",
    "set_school_rules",
    "start_lesson",
]
