"""Monitoring settings and rule tuning, for the school's safeguarding leads."""

from __future__ import annotations

import datetime

import strawberry

from models import safeguarding as db
from resolvers.safeguarding import school_rules, settings
from resolvers.safeguarding.detectors import builtin_by_id, custom_rule_id
from schema.common import Info, UserError, attempt, parse_int_id, to_global_id

strawberry.enum(
    db.MonitoringWindow, description="When learners' activity is scanned for safeguarding."
)
MonitoringWindow = db.MonitoringWindow


@strawberry.type(description="A built-in detection rule.")
class SafeguardingRule:
    id: str = strawberry.field(description="Stable rule id, as alerts and `detect` name it.")
    category: str = strawberry.field(description="Its UK monitoring category.")
    severity: int = strawberry.field(description="1 to 5.")
    phrase: str = strawberry.field(description="What it matches, before normalisation.")
    enabled: bool = strawberry.field(description="False when the school switched it off.")


@strawberry.type(description="A built-in rule the school switched off.")
class DisabledSafeguardingRule:
    rule_id: str = strawberry.field(description="The built-in rule's id.")
    reason: str = strawberry.field(description="Why, for the annual review.")
    created_at: datetime.datetime = strawberry.field(description="When.")


@strawberry.type(description="A school's own detection rule.")
class CustomSafeguardingRule:
    id: strawberry.ID = strawberry.field(description="Opaque id, for removal.")
    rule_id: str = strawberry.field(description="The id alerts name it by (`custom:<n>`).")
    category: str = strawberry.field(description="Its UK monitoring category.")
    severity: int = strawberry.field(description="1 to 5.")
    phrase: str = strawberry.field(description="What it matches, before normalisation.")
    exclusions: list[str] = strawberry.field(description="Phrases around it that cancel a match.")
    context: list[str] = strawberry.field(description="Words that must be near for a match.")
    reason: str = strawberry.field(description="Why it was added.")
    created_at: datetime.datetime = strawberry.field(description="When.")

    @classmethod
    def from_model(cls, row: db.CustomRule) -> CustomSafeguardingRule:
        return cls(
            id=to_global_id("SafeguardingCustomRule", row.id),
            rule_id=custom_rule_id(row.id),
            category=row.category,
            severity=row.severity,
            phrase=row.phrase,
            exclusions=list(row.exclusions),
            context=list(row.context),
            reason=row.reason,
            created_at=row.created_at,
        )


@strawberry.type(description="A phrase that cancels any match inside it, in this school.")
class SafeguardingExclusion:
    id: strawberry.ID = strawberry.field(description="Opaque id, for removal.")
    phrase: str = strawberry.field(description="E.g. `ugly sweater`.")
    reason: str = strawberry.field(description="Why it was added.")
    created_at: datetime.datetime = strawberry.field(description="When.")


@strawberry.type(description="The school's monitoring settings and detection tuning.")
class SafeguardingSettings:
    monitoring_window: MonitoringWindow = strawberry.field(description="When scanning runs.")
    day_starts_minute: int = strawberry.field(description="School day start, minutes after 0:00.")
    day_ends_minute: int = strawberry.field(description="School day end, minutes after 0:00.")
    school_days: list[int] = strawberry.field(description="ISO weekdays, 1 is Monday.")
    screenshot_capture: bool = strawberry.field(description="Keep a screenshot with alerts.")
    merge_window_minutes: int = strawberry.field(description="Repeats within it merge.")
    updated_at: datetime.datetime | None = strawberry.field(description="Last settings change.")
    _school_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, row: db.SafeguardingSettings) -> SafeguardingSettings:
        return cls(
            monitoring_window=row.monitoring_window,
            day_starts_minute=row.day_starts_minute,
            day_ends_minute=row.day_ends_minute,
            school_days=list(row.school_days),
            screenshot_capture=row.screenshot_capture,
            merge_window_minutes=row.merge_window_minutes,
            updated_at=row.updated_at,
            _school_id=row.school_id,
        )

    @strawberry.field(description="Built-in rules switched off, with who and why.")
    async def disabled_rules(self, info: Info) -> list[DisabledSafeguardingRule]:
        disabled, _, _ = await school_rules.school_rules(info.context)
        return [
            DisabledSafeguardingRule(rule_id=r.rule_id, reason=r.reason, created_at=r.created_at)
            for r in disabled
        ]

    @strawberry.field(description="The school's own rules.")
    async def custom_rules(self, info: Info) -> list[CustomSafeguardingRule]:
        _, custom, _ = await school_rules.school_rules(info.context)
        return [CustomSafeguardingRule.from_model(r) for r in custom]

    @strawberry.field(description="The school's exclusions.")
    async def exclusions(self, info: Info) -> list[SafeguardingExclusion]:
        _, _, rows = await school_rules.school_rules(info.context)
        return [
            SafeguardingExclusion(
                id=to_global_id("SafeguardingExclusion", r.id),
                phrase=r.phrase,
                reason=r.reason,
                created_at=r.created_at,
            )
            for r in rows
        ]

    @strawberry.field(description="The built-in rules, optionally of one category.")
    async def builtin_rules(
        self, info: Info, category: str | None = None
    ) -> list[SafeguardingRule]:
        disabled, _, _ = await school_rules.school_rules(info.context)
        off = {r.rule_id for r in disabled}
        return [
            SafeguardingRule(
                id=rule.id,
                category=str(rule.category),
                severity=rule.severity,
                phrase=rule.phrase,
                enabled=rule.id not in off,
            )
            for rule in builtin_by_id().values()
            if category is None or str(rule.category) == category
        ]


@strawberry.input(description="Settings to change; fields left out stay as they are.")
class UpdateSafeguardingSettingsInput:
    monitoring_window: MonitoringWindow | None = None
    day_starts_minute: int | None = None
    day_ends_minute: int | None = None
    school_days: list[int] | None = None
    screenshot_capture: bool | None = None
    merge_window_minutes: int | None = None


@strawberry.input(description="A school's own detection rule.")
class AddSafeguardingRuleInput:
    category: str = strawberry.field(description="A UK monitoring category, e.g. BULLYING.")
    severity: int = strawberry.field(description="1 to 5.")
    phrase: str = strawberry.field(description="What to match; normalised like built-ins.")
    reason: str = strawberry.field(description="Why, for the annual review.")
    exclusions: list[str] = strawberry.field(default_factory=list, description="Cancel phrases.")
    context: list[str] = strawberry.field(default_factory=list, description="Required nearby.")


@strawberry.type(description="The settings after a change, or what was wrong.")
class SafeguardingSettingsPayload:
    settings: SafeguardingSettings | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def _after(info: Info, errors: list[UserError]) -> SafeguardingSettingsPayload:
    if errors:
        return SafeguardingSettingsPayload(errors=errors)
    row = await settings.get_settings(info.context)
    return SafeguardingSettingsPayload(settings=SafeguardingSettings.from_model(row))


@strawberry.type
class SafeguardingSettingsQuery:
    @strawberry.field(description="Monitoring settings and rule tuning (safeguarding leads).")
    async def safeguarding_settings(self, info: Info) -> SafeguardingSettings:
        return SafeguardingSettings.from_model(await settings.get_settings(info.context))


@strawberry.type
class SafeguardingSettingsMutation:
    @strawberry.mutation(description="Change monitoring settings; applies at once.")
    async def update_safeguarding_settings(
        self, info: Info, input: UpdateSafeguardingSettingsInput
    ) -> SafeguardingSettingsPayload:
        changes = settings.SettingsChanges(
            monitoring_window=input.monitoring_window,
            day_starts_minute=input.day_starts_minute,
            day_ends_minute=input.day_ends_minute,
            school_days=input.school_days,
            screenshot_capture=input.screenshot_capture,
            merge_window_minutes=input.merge_window_minutes,
        )
        _, errors = await attempt(lambda: settings.update_settings(info.context, changes))
        return await _after(info, errors)

    @strawberry.mutation(description="Switch a built-in rule off for this school, with a reason.")
    async def disable_safeguarding_rule(
        self, info: Info, rule_id: str, reason: str
    ) -> SafeguardingSettingsPayload:
        _, errors = await attempt(lambda: school_rules.disable_rule(info.context, rule_id, reason))
        return await _after(info, errors)

    @strawberry.mutation(description="Switch a built-in rule back on.")
    async def enable_safeguarding_rule(
        self, info: Info, rule_id: str
    ) -> SafeguardingSettingsPayload:
        _, errors = await attempt(lambda: school_rules.enable_rule(info.context, rule_id))
        return await _after(info, errors)

    @strawberry.mutation(description="Add a school rule; a rule the matcher cannot use is refused.")
    async def add_safeguarding_rule(
        self, info: Info, input: AddSafeguardingRuleInput
    ) -> SafeguardingSettingsPayload:
        _, errors = await attempt(
            lambda: school_rules.add_custom_rule(
                info.context,
                category=input.category,
                severity=input.severity,
                phrase=input.phrase,
                reason=input.reason,
                exclusions=input.exclusions,
                context=input.context,
            )
        )
        return await _after(info, errors)

    @strawberry.mutation(description="Remove one of the school's own rules.")
    async def remove_safeguarding_rule(
        self, info: Info, id: strawberry.ID
    ) -> SafeguardingSettingsPayload:
        _, errors = await attempt(
            lambda: school_rules.remove_custom_rule(
                info.context, parse_int_id(id, "SafeguardingCustomRule")
            )
        )
        return await _after(info, errors)

    @strawberry.mutation(description="Add a phrase that cancels matches inside it.")
    async def add_safeguarding_exclusion(
        self, info: Info, phrase: str, reason: str
    ) -> SafeguardingSettingsPayload:
        _, errors = await attempt(lambda: school_rules.add_exclusion(info.context, phrase, reason))
        return await _after(info, errors)

    @strawberry.mutation(description="Remove an exclusion.")
    async def remove_safeguarding_exclusion(
        self, info: Info, id: strawberry.ID
    ) -> SafeguardingSettingsPayload:
        _, errors = await attempt(
            lambda: school_rules.remove_exclusion(
                info.context, parse_int_id(id, "SafeguardingExclusion")
            )
        )
        return await _after(info, errors)


__all__ = ["SafeguardingSettingsMutation", "SafeguardingSettingsQuery"]
