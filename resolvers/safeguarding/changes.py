"""Telling every process that a school's detection rules or settings changed."""

from __future__ import annotations

from realtime import channels
from realtime.events import SafeguardingRulesChanged
from resolvers.context import Context


async def announce_rules_change(ctx: Context, school_id: int, version: int) -> None:
    """After commit: every process drops its cached detector for the school."""
    ctx.services.safeguarding.detectors.forget(school_id)
    await ctx.services.broker.publish(
        channels.safeguarding_rules(school_id), SafeguardingRulesChanged(version=version).encode()
    )


__all__ = ["announce_rules_change"]
