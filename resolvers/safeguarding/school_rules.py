"""How a school tunes detection: switching built-in rules off, its own rules, exclusions.

Every change records who made it, when and why, is audited, and reaches every process's
detector at once (see ``detectors``). A bad custom rule is refused before anything is stored.
"""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.errors import InvalidInput, NotFound
from models.safeguarding import CustomRule, DisabledRule, RuleExclusion
from resolvers import access
from resolvers.access import Op
from resolvers.audit import entry_for
from resolvers.context import Context, Viewer
from resolvers.safeguarding.changes import announce_rules_change
from resolvers.safeguarding.detectors import builtin_by_id, custom_rule
from resolvers.safeguarding.settings import settings_row

MAX_REASON = 500
MAX_PHRASE = 200
MAX_WORDS = 20


def _reason(text: str) -> str:
    reason = text.strip()
    if not reason:
        raise InvalidInput("reason", "Say why, for the annual review.", reason="REASON_REQUIRED")
    if len(reason) > MAX_REASON:
        raise InvalidInput("reason", f"A reason is at most {MAX_REASON} characters.")
    return reason


def _phrase(text: str, field: str = "phrase") -> str:
    phrase = " ".join(text.split())
    if not phrase:
        raise InvalidInput(field, f"`{field}` must not be empty.")
    if len(phrase) > MAX_PHRASE:
        raise InvalidInput(field, f"`{field}` is at most {MAX_PHRASE} characters.")
    return phrase


def _phrases(values: list[str], field: str) -> list[str]:
    if len(values) > MAX_WORDS:
        raise InvalidInput(field, f"At most {MAX_WORDS} entries in `{field}`.")
    return [_phrase(v, field) for v in values]


async def _changed(ctx: Context, viewer: Viewer, action: str, target: str) -> None:
    """Inside the change's transaction: audit it and bump the school's rules version."""
    row = await settings_row(viewer.school_id)
    row.rules_version += 1
    await row.save(update_fields=["rules_version"])
    await ctx.services.audit.record(
        entry_for(viewer, ctx.request, action, target_type="safeguarding_rule", target_ids=[target])
    )


async def _announce(ctx: Context, school_id: int) -> None:
    row = await settings_row(school_id)
    await announce_rules_change(ctx, school_id, row.rules_version)


def _manager(ctx: Context) -> Viewer:
    return access.school_scoped(ctx, Op.MANAGE_SAFEGUARDING)


async def disable_rule(ctx: Context, rule_id: str, reason: str) -> DisabledRule:
    viewer = _manager(ctx)
    if rule_id not in builtin_by_id():
        raise InvalidInput("ruleId", "No built-in rule has this id.", reason="UNKNOWN_RULE")
    why = _reason(reason)
    async with in_transaction():
        row = await DisabledRule.get_or_none(school_id=viewer.school_id, rule_id=rule_id)
        if row is None:
            row = await DisabledRule.create(
                school_id=viewer.school_id,
                rule_id=rule_id,
                reason=why,
                created_by_id=viewer.user_id,
                created_at=ctx.services.now(),
            )
            await _changed(ctx, viewer, "safeguarding.rule.disable", rule_id)
    await _announce(ctx, viewer.school_id)
    return row


async def enable_rule(ctx: Context, rule_id: str) -> bool:
    """Switch a built-in rule back on; False when it was not off."""
    viewer = _manager(ctx)
    async with in_transaction():
        deleted = await DisabledRule.filter(school_id=viewer.school_id, rule_id=rule_id).delete()
        if deleted:
            await _changed(ctx, viewer, "safeguarding.rule.enable", rule_id)
    if deleted:
        await _announce(ctx, viewer.school_id)
    return bool(deleted)


async def add_custom_rule(
    ctx: Context,
    *,
    category: str,
    severity: int,
    phrase: str,
    reason: str,
    exclusions: list[str],
    context: list[str],
) -> CustomRule:
    viewer = _manager(ctx)
    if not 1 <= severity <= 5:
        raise InvalidInput("severity", "`severity` must be between 1 and 5.", reason="OUT_OF_RANGE")
    row = CustomRule(
        school_id=viewer.school_id,
        category=category,
        severity=severity,
        phrase=_phrase(phrase),
        exclusions=_phrases(exclusions, "exclusions"),
        context=_phrases(context, "context"),
        reason=_reason(reason),
        created_by_id=viewer.user_id,
        created_at=ctx.services.now(),
    )
    from resolvers.safeguarding.matcher import Detector
    from resolvers.safeguarding.rules import Category

    if category not in {c.value for c in Category}:
        raise InvalidInput("category", "Unknown category.", reason="UNKNOWN_CATEGORY")
    # Compile it alone first: the matcher refuses what it cannot use (InvalidInput).
    Detector([custom_rule(row)])
    async with in_transaction():
        await row.save()
        await _changed(ctx, viewer, "safeguarding.rule.add", f"custom:{row.id}")
    await _announce(ctx, viewer.school_id)
    return row


async def remove_custom_rule(ctx: Context, row_id: int) -> None:
    viewer = _manager(ctx)
    async with in_transaction():
        deleted = await CustomRule.filter(school_id=viewer.school_id, id=row_id).delete()
        if not deleted:
            raise NotFound("Rule not found.")
        await _changed(ctx, viewer, "safeguarding.rule.remove", f"custom:{row_id}")
    await _announce(ctx, viewer.school_id)


async def add_exclusion(ctx: Context, phrase: str, reason: str) -> RuleExclusion:
    viewer = _manager(ctx)
    text, why = _phrase(phrase).lower(), _reason(reason)
    try:
        async with in_transaction():
            row = await RuleExclusion.create(
                school_id=viewer.school_id,
                phrase=text,
                reason=why,
                created_by_id=viewer.user_id,
                created_at=ctx.services.now(),
            )
            await _changed(ctx, viewer, "safeguarding.exclusion.add", str(row.id))
    except IntegrityError:
        raise InvalidInput("phrase", "This exclusion exists already.", reason="DUPLICATE") from None
    await _announce(ctx, viewer.school_id)
    return row


async def remove_exclusion(ctx: Context, row_id: int) -> None:
    viewer = _manager(ctx)
    async with in_transaction():
        deleted = await RuleExclusion.filter(school_id=viewer.school_id, id=row_id).delete()
        if not deleted:
            raise NotFound("Exclusion not found.")
        await _changed(ctx, viewer, "safeguarding.exclusion.remove", str(row_id))
    await _announce(ctx, viewer.school_id)


async def school_rules(
    ctx: Context,
) -> tuple[list[DisabledRule], list[CustomRule], list[RuleExclusion]]:
    viewer = _manager(ctx)
    return (
        list(await DisabledRule.filter(school_id=viewer.school_id).order_by("rule_id")),
        list(await CustomRule.filter(school_id=viewer.school_id)),
        list(await RuleExclusion.filter(school_id=viewer.school_id)),
    )


__all__ = [
    "add_custom_rule",
    "add_exclusion",
    "disable_rule",
    "enable_rule",
    "remove_custom_rule",
    "remove_exclusion",
    "school_rules",
]
