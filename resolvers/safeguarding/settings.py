"""A school's monitoring settings: when activity is scanned, screenshots, the merge window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tortoise.transactions import in_transaction

from app.errors import InvalidInput
from models.safeguarding import MonitoringWindow, SafeguardingSettings
from models.schools import School
from resolvers import access
from resolvers.access import Op
from resolvers.audit import entry_for
from resolvers.context import Context
from resolvers.safeguarding.changes import announce_rules_change

MINUTES_PER_DAY = 24 * 60
MAX_MERGE_MINUTES = 24 * 60
DEFAULT_ZONE = ZoneInfo("Europe/London")


@dataclass(frozen=True, slots=True)
class Monitoring:
    """What the ingest path needs of a school's settings, loaded once per cached detector."""

    window: MonitoringWindow = MonitoringWindow.ALWAYS
    day_starts_minute: int = 8 * 60
    day_ends_minute: int = 16 * 60
    school_days: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    screenshot_capture: bool = False
    merge_window: timedelta = timedelta(minutes=10)
    timezone: ZoneInfo = DEFAULT_ZONE
    rules_version: int = 0

    def in_school_hours(self, at: datetime) -> bool:
        local = at.astimezone(self.timezone)
        minute = local.hour * 60 + local.minute
        return (
            local.isoweekday() in self.school_days
            and self.day_starts_minute <= minute < self.day_ends_minute
        )

    def covers(self, at: datetime, *, in_lesson: bool) -> bool:
        """Whether an event at ``at`` is scanned at all under the school's window."""
        if self.window is MonitoringWindow.ALWAYS:
            return True
        if self.window is MonitoringWindow.LESSONS_ONLY:
            return in_lesson
        return self.in_school_hours(at)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return DEFAULT_ZONE


def monitoring_from(row: SafeguardingSettings | None, timezone: str) -> Monitoring:
    if row is None:
        return Monitoring(timezone=_zone(timezone))
    return Monitoring(
        window=MonitoringWindow(row.monitoring_window),
        day_starts_minute=row.day_starts_minute,
        day_ends_minute=row.day_ends_minute,
        school_days=frozenset(row.school_days),
        screenshot_capture=row.screenshot_capture,
        merge_window=timedelta(minutes=row.merge_window_minutes),
        timezone=_zone(timezone),
        rules_version=row.rules_version,
    )


async def load_monitoring(school_id: int) -> Monitoring:
    school = await School.get(id=school_id)
    row = await SafeguardingSettings.get_or_none(school_id=school_id)
    return monitoring_from(row, school.timezone)


async def settings_row(school_id: int) -> SafeguardingSettings:
    """The school's settings row, made with the defaults on first use."""
    row, _ = await SafeguardingSettings.get_or_create(school_id=school_id)
    return row


async def get_settings(ctx: Context) -> SafeguardingSettings:
    viewer = access.school_scoped(ctx, Op.MANAGE_SAFEGUARDING)
    row = await SafeguardingSettings.get_or_none(school_id=viewer.school_id)
    return row or SafeguardingSettings(school_id=viewer.school_id)


@dataclass(frozen=True, slots=True)
class SettingsChanges:
    """Only the fields given change; None leaves a setting as it is."""

    monitoring_window: MonitoringWindow | None = None
    day_starts_minute: int | None = None
    day_ends_minute: int | None = None
    school_days: list[int] | None = None
    screenshot_capture: bool | None = None
    merge_window_minutes: int | None = None


def _validated(row: SafeguardingSettings, changes: SettingsChanges) -> dict[str, object]:
    updates: dict[str, object] = {}
    for name in SettingsChanges.__dataclass_fields__:
        value = getattr(changes, name)
        if value is not None:
            updates[name] = value
    starts = updates.get("day_starts_minute", row.day_starts_minute)
    ends = updates.get("day_ends_minute", row.day_ends_minute)
    for name, value in (("dayStartsMinute", starts), ("dayEndsMinute", ends)):
        if not isinstance(value, int) or not 0 <= value <= MINUTES_PER_DAY:
            raise InvalidInput(name, f"`{name}` must be between 0 and {MINUTES_PER_DAY}.")
    if not starts < ends:  # type: ignore[operator]
        raise InvalidInput("dayEndsMinute", "The school day must end after it starts.")
    days = updates.get("school_days")
    if days is not None:
        if not days or any(d not in range(1, 8) for d in days):  # type: ignore[attr-defined]
            raise InvalidInput(
                "schoolDays", "`schoolDays` must name weekdays 1 (Monday) to 7 (Sunday)."
            )
        updates["school_days"] = sorted(set(days))  # type: ignore[call-overload]
    merge = updates.get("merge_window_minutes")
    if merge is not None and not 0 <= merge <= MAX_MERGE_MINUTES:  # type: ignore[operator]
        raise InvalidInput(
            "mergeWindowMinutes", f"`mergeWindowMinutes` must be between 0 and {MAX_MERGE_MINUTES}."
        )
    return updates


async def update_settings(ctx: Context, changes: SettingsChanges) -> SafeguardingSettings:
    """Change the school's monitoring settings; every process picks them up at once."""
    viewer = access.school_scoped(ctx, Op.MANAGE_SAFEGUARDING)
    async with in_transaction():
        row = await settings_row(viewer.school_id)
        updates = _validated(row, changes)
        for name, value in updates.items():
            setattr(row, name, value)
        row.rules_version += 1
        row.updated_at = ctx.services.now()
        row.updated_by_id = viewer.user_id
        await row.save()
        await ctx.services.audit.record(
            entry_for(
                viewer,
                ctx.request,
                "safeguarding.settings.update",
                target_type="school",
                target_ids=[str(viewer.school_id)],
                fields=sorted(updates),
            )
        )
    await announce_rules_change(ctx, viewer.school_id, row.rules_version)
    return row


__all__ = [
    "Monitoring",
    "SettingsChanges",
    "get_settings",
    "load_monitoring",
    "monitoring_from",
    "settings_row",
    "update_settings",
]
