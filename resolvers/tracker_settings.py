"""A school's whole-tracker settings: a boundary shift on top of every assessment's own, and
the size below which a subgroup is flagged as too small to read much into.

Graders and progress read the stored row directly (absent: the defaults); this module is how
staff read and change it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from app.errors import InvalidInput
from models.markbook import TrackerSettings
from resolvers import access
from resolvers.access import Op
from resolvers.audit import entry_for
from resolvers.context import Context
from resolvers.progress import DEFAULT_SMALL_SUBGROUP

#: A whole-tracker shift moves every boundary of every assessment: wider than one assessment's
#: own (±10) so a school can model a much harder or easier year, but never past a fifth.
MAX_SHIFT = 20.0
MIN_SMALL_SUBGROUP = 1
MAX_SMALL_SUBGROUP = 100


@dataclass(frozen=True, slots=True)
class Settings:
    shift_percent: float
    small_subgroup: int


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """What to change; None leaves a setting as it is."""

    shift_percent: float | None = None
    small_subgroup: int | None = None


@dataclass(frozen=True, slots=True)
class UpdateResult:
    settings: Settings | None
    errors: list[InvalidInput]


def _settings(row: TrackerSettings | None) -> Settings:
    if row is None:
        return Settings(shift_percent=0.0, small_subgroup=DEFAULT_SMALL_SUBGROUP)
    return Settings(shift_percent=row.shift_percent, small_subgroup=row.small_subgroup)


async def get_settings(ctx: Context) -> Settings:
    """The viewer's school's settings (the defaults until someone sets them)."""
    viewer = access.school_scoped(ctx, Op.READ_TRACKER_SETTINGS)
    return _settings(await TrackerSettings.get_or_none(school_id=viewer.school_id))


def _problems(change: SettingsChange) -> list[InvalidInput]:
    errors = []
    shift = change.shift_percent
    if shift is not None and not (math.isfinite(shift) and -MAX_SHIFT <= shift <= MAX_SHIFT):
        errors.append(
            InvalidInput(
                "boundaryShiftPercent",
                f"The boundary shift must be between -{MAX_SHIFT:g} and {MAX_SHIFT:g} percent.",
                reason="OUT_OF_RANGE",
            )
        )
    small = change.small_subgroup
    if small is not None and not MIN_SMALL_SUBGROUP <= small <= MAX_SMALL_SUBGROUP:
        errors.append(
            InvalidInput(
                "smallSubgroupThreshold",
                f"The small-subgroup threshold must be between {MIN_SMALL_SUBGROUP} and "
                f"{MAX_SMALL_SUBGROUP} learners.",
                reason="OUT_OF_RANGE",
            )
        )
    return errors


async def update_settings(ctx: Context, change: SettingsChange) -> UpdateResult:
    """Change the viewer's school's settings: every bad value is reported, none is stored."""
    viewer = access.school_scoped(ctx, Op.MANAGE_TRACKER_SETTINGS)
    errors = _problems(change)
    if errors:
        return UpdateResult(settings=None, errors=errors)
    values: dict[str, float | int] = {}
    if change.shift_percent is not None:
        values["shift_percent"] = change.shift_percent
    if change.small_subgroup is not None:
        values["small_subgroup"] = change.small_subgroup
    async with in_transaction():
        row = await TrackerSettings.select_for_update().get_or_none(school_id=viewer.school_id)
        if row is None:
            row = TrackerSettings(school_id=viewer.school_id)
            row.update_from_dict(values)
            await row.save()
        elif values:
            row.update_from_dict(values)
            await row.save(update_fields=list(values))
        await ctx.services.audit.record(
            entry_for(
                viewer,
                ctx.request,
                "tracker_settings.update",
                target_type="school",
                target_ids=[str(viewer.school_id)],
                fields=list(values),
            )
        )
    return UpdateResult(settings=_settings(row), errors=[])


__all__ = [
    "MAX_SHIFT",
    "MAX_SMALL_SUBGROUP",
    "MIN_SMALL_SUBGROUP",
    "Settings",
    "SettingsChange",
    "UpdateResult",
    "get_settings",
    "update_settings",
]
