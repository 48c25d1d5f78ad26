"""The school's whole-tracker settings: reading and changing them."""

from __future__ import annotations

import strawberry

from resolvers import tracker_settings
from resolvers.tracker_settings import SettingsChange
from schema.common import Info, UserError


@strawberry.type(description="Choices that apply to every assessment and analysis of the school.")
class TrackerSettings:
    boundary_shift_percent: float = strawberry.field(
        description="Percent of the maximum every boundary moves by, on top of each "
        "assessment's own shift (positive: harder to reach)."
    )
    small_subgroup_threshold: int = strawberry.field(
        description="Subgroups with fewer learners are flagged as too small to read much into."
    )

    @classmethod
    def from_settings(cls, s: tracker_settings.Settings) -> TrackerSettings:
        return cls(
            boundary_shift_percent=s.shift_percent, small_subgroup_threshold=s.small_subgroup
        )


@strawberry.input(description="Settings to change; a null or missing value is left as it is.")
class UpdateTrackerSettingsInput:
    boundary_shift_percent: float | None = strawberry.field(
        default=None,
        description=f"Between -{tracker_settings.MAX_SHIFT:g} and "
        f"{tracker_settings.MAX_SHIFT:g} percent of the maximum.",
    )
    small_subgroup_threshold: int | None = strawberry.field(
        default=None,
        description=f"Between {tracker_settings.MIN_SMALL_SUBGROUP} and "
        f"{tracker_settings.MAX_SMALL_SUBGROUP} learners.",
    )


@strawberry.type
class UpdateTrackerSettingsPayload:
    settings: TrackerSettings | None = strawberry.field(
        default=None, description="The settings now in force; null when there are errors."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="Every bad value; if any, nothing is changed."
    )


@strawberry.type
class TrackerSettingsQuery:
    @strawberry.field(
        description="The school's tracker settings (the defaults until set). Every member of staff."
    )
    async def tracker_settings(self, info: Info) -> TrackerSettings:
        return TrackerSettings.from_settings(await tracker_settings.get_settings(info.context))


@strawberry.type
class TrackerSettingsMutation:
    @strawberry.mutation(
        description="Change the whole tracker's boundary shift or small-subgroup threshold: "
        "the school's admins (the data manager) and leaders."
    )
    async def update_tracker_settings(
        self, info: Info, input: UpdateTrackerSettingsInput
    ) -> UpdateTrackerSettingsPayload:
        change = SettingsChange(
            shift_percent=input.boundary_shift_percent,
            small_subgroup=input.small_subgroup_threshold,
        )
        result = await tracker_settings.update_settings(info.context, change)
        if result.errors or result.settings is None:
            return UpdateTrackerSettingsPayload(
                errors=[UserError.from_exception(e) for e in result.errors]
            )
        return UpdateTrackerSettingsPayload(settings=TrackerSettings.from_settings(result.settings))


__all__ = ["TrackerSettings", "TrackerSettingsMutation", "TrackerSettingsQuery"]
