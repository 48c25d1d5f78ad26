"""Safeguarding over GraphQL: alerts and their feed, triage, concerns, settings and rules."""

from schema.safeguarding.alerts import AlertMutation, AlertQuery, AlertSubscription
from schema.safeguarding.settings import SafeguardingSettingsMutation, SafeguardingSettingsQuery

__all__ = [
    "AlertMutation",
    "AlertQuery",
    "AlertSubscription",
    "SafeguardingSettingsMutation",
    "SafeguardingSettingsQuery",
]
