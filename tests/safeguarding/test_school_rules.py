"""How a school tunes detection and monitoring: applied at once, recorded, DSL-only."""

from __future__ import annotations

from typing import Any

import pytest

from models.audit import AuditEvent
from models.safeguarding import CustomRule, RuleExclusion
from models.staff import Role
from realtime import channels
from realtime.events import SafeguardingRulesChanged
from resolvers.context import Services
from resolvers.safeguarding import detectors
from resolvers.safeguarding.detectors import builtin_by_id
from schema.common import to_global_id
from tests import factories
from tests.classroom.helpers import error_code, ok, wait_until
from tests.conftest import Clock, GraphQLRunner
from tests.safeguarding.alert_helpers import (
    a_phrase,
    a_school,
    alerts_of,
    report,
    routing_settles,  # noqa: F401 (fixture)
    typed,
)

SETTINGS = """
query {
  safeguardingSettings {
    monitoringWindow dayStartsMinute dayEndsMinute schoolDays screenshotCapture
    mergeWindowMinutes
    disabledRules { ruleId reason }
    customRules { id ruleId category severity phrase reason }
    exclusions { id phrase reason }
  }
}
"""

PAYLOAD = """
settings {
  monitoringWindow dayStartsMinute dayEndsMinute schoolDays screenshotCapture mergeWindowMinutes
  disabledRules { ruleId reason } customRules { id ruleId phrase } exclusions { id phrase }
}
errors { field code message }
"""

UPDATE = f"""
mutation U($input: UpdateSafeguardingSettingsInput!) {{
  updateSafeguardingSettings(input: $input) {{ {PAYLOAD} }}
}}
"""
ADD_RULE = f"""
mutation A($input: AddSafeguardingRuleInput!) {{
  addSafeguardingRule(input: $input) {{ {PAYLOAD} }}
}}
"""
REMOVE_RULE = f"mutation R($id: ID!) {{ removeSafeguardingRule(id: $id) {{ {PAYLOAD} }} }}"
DISABLE = f"""
mutation D($ruleId: String!, $reason: String!) {{
  disableSafeguardingRule(ruleId: $ruleId, reason: $reason) {{ {PAYLOAD} }}
}}
"""
ENABLE = f"""
mutation E($ruleId: String!) {{ enableSafeguardingRule(ruleId: $ruleId) {{ {PAYLOAD} }} }}
"""
ADD_EXCLUSION = f"""
mutation X($phrase: String!, $reason: String!) {{
  addSafeguardingExclusion(phrase: $phrase, reason: $reason) {{ {PAYLOAD} }}
}}
"""
REMOVE_EXCLUSION = (
    f"mutation Y($id: ID!) {{ removeSafeguardingExclusion(id: $id) {{ {PAYLOAD} }} }}"
)


def rule_input(phrase: str, **overrides: Any) -> dict[str, Any]:
    return {
        "category": "BULLYING",
        "severity": 3,
        "phrase": phrase,
        "reason": "Nickname used to bully in Year 9",
        **overrides,
    }


async def test_the_defaults_are_always_on_no_screenshots_ten_minute_merges(
    services: Services, gql: GraphQLRunner
) -> None:
    # given a school that changed nothing
    world = await a_school(services, rule=False)
    # when the lead reads the settings
    settings = ok(await gql(SETTINGS, world.dsl_viewer))["safeguardingSettings"]
    # then they are the documented defaults
    assert settings["monitoringWindow"] == "ALWAYS"
    assert settings["screenshotCapture"] is False
    assert settings["mergeWindowMinutes"] == 10
    assert settings["schoolDays"] == [1, 2, 3, 4, 5]
    assert (settings["dayStartsMinute"], settings["dayEndsMinute"]) == (480, 960)


async def test_a_custom_rule_applies_without_a_restart_and_removal_stops_it(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given a school whose detector is already cached
    world = await a_school(services, rule=False)
    phrase = a_phrase()
    await report(gql, world.pupil_viewer, typed(phrase, clock.now))
    assert await alerts_of(world) == []
    # when the lead adds a rule for the phrase
    data = ok(await gql(ADD_RULE, world.dsl_viewer, input=rule_input(phrase)))
    added = data["addSafeguardingRule"]["settings"]["customRules"]
    # then the next matching event raises an alert under that rule
    await report(gql, world.pupil_viewer, typed(f"you {phrase}", clock.now))
    (alert,) = await alerts_of(world)
    assert alert.rule_id == added[0]["ruleId"]
    assert alert.severity == 3
    # and once removed, the phrase raises nothing more
    ok(await gql(REMOVE_RULE, world.dsl_viewer, id=added[0]["id"]))
    await report(gql, world.pupil_viewer, typed(phrase, clock.now))
    assert len(await alerts_of(world)) == 1


async def test_an_exclusion_suppresses_a_match_inside_it(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given a rule
    world = await a_school(services, rule=False)
    ok(await gql(ADD_RULE, world.dsl_viewer, input=rule_input("blorfy")))
    # when the lead excludes "blorfy sweater" (as a school would "ugly sweater")
    data = ok(
        await gql(
            ADD_EXCLUSION, world.dsl_viewer, phrase="Blorfy  Sweater", reason="Xmas jumper day"
        )
    )["addSafeguardingExclusion"]
    (exclusion,) = data["settings"]["exclusions"]
    # then the jumper raises nothing, while the insult still does
    await report(gql, world.pupil_viewer, typed("my blorfy sweater is the best", clock.now))
    assert await alerts_of(world) == []
    await report(gql, world.pupil_viewer, typed("you are blorfy", clock.now))
    assert len(await alerts_of(world)) == 1
    # and a duplicate exclusion is an input error; removal works
    dup = ok(await gql(ADD_EXCLUSION, world.dsl_viewer, phrase="blorfy sweater", reason="again"))
    assert dup["addSafeguardingExclusion"]["errors"][0]["code"] == "DUPLICATE"
    ok(await gql(REMOVE_EXCLUSION, world.dsl_viewer, id=exclusion["id"]))
    assert await RuleExclusion.all().count() == 0


async def test_disabling_a_built_in_rule_is_recorded_and_reversible(
    services: Services, gql: GraphQLRunner
) -> None:
    # given a built-in rule
    world = await a_school(services, rule=False)
    rules = builtin_by_id()
    if not rules:
        pytest.skip("no built-in library in this checkout")
    rule_id = next(iter(rules))
    # when the lead disables it, with a reason
    data = ok(await gql(DISABLE, world.dsl_viewer, ruleId=rule_id, reason="Too noisy in art"))
    # then it is listed as off with the reason, and audited
    off = data["disableSafeguardingRule"]["settings"]["disabledRules"]
    assert off == [{"ruleId": rule_id, "reason": "Too noisy in art"}]
    assert await AuditEvent.filter(action="safeguarding.rule.disable").count() == 1
    # and enabling it again empties the list
    back = ok(await gql(ENABLE, world.dsl_viewer, ruleId=rule_id))["enableSafeguardingRule"]
    assert back["settings"]["disabledRules"] == []


async def test_unknown_rules_and_missing_reasons_are_input_errors(
    services: Services, gql: GraphQLRunner
) -> None:
    # given a lead
    world = await a_school(services, rule=False)
    # when they disable a rule that does not exist, or add rules without what they need
    unknown = ok(await gql(DISABLE, world.dsl_viewer, ruleId="no-such-rule", reason="x"))
    no_reason = ok(await gql(ADD_RULE, world.dsl_viewer, input=rule_input("abc", reason=" ")))
    bad_category = ok(
        await gql(ADD_RULE, world.dsl_viewer, input=rule_input("abc", category="GOSSIP"))
    )
    bad_severity = ok(await gql(ADD_RULE, world.dsl_viewer, input=rule_input("abc", severity=7)))
    empty = ok(await gql(ADD_RULE, world.dsl_viewer, input=rule_input("   ")))
    # then each names its field, and nothing was stored
    assert unknown["disableSafeguardingRule"]["errors"][0]["code"] == "UNKNOWN_RULE"
    assert no_reason["addSafeguardingRule"]["errors"][0]["field"] == "reason"
    assert bad_category["addSafeguardingRule"]["errors"][0]["field"] == "category"
    assert bad_severity["addSafeguardingRule"]["errors"][0]["field"] == "severity"
    assert empty["addSafeguardingRule"]["errors"][0]["field"] == "phrase"
    assert await CustomRule.all().count() == 0


async def test_settings_are_validated_and_kept_when_wrong(
    services: Services, gql: GraphQLRunner
) -> None:
    # given a lead
    world = await a_school(services, rule=False)
    good = {"monitoringWindow": "SCHOOL_HOURS", "dayStartsMinute": 510, "mergeWindowMinutes": 5}
    changed = ok(await gql(UPDATE, world.dsl_viewer, input=good))["updateSafeguardingSettings"]
    assert changed["settings"]["monitoringWindow"] == "SCHOOL_HOURS"
    # when they send impossible settings
    for bad, field in [
        ({"dayStartsMinute": 1000}, "dayEndsMinute"),
        ({"dayEndsMinute": 2000}, "dayEndsMinute"),
        ({"schoolDays": [0, 8]}, "schoolDays"),
        ({"schoolDays": []}, "schoolDays"),
        ({"mergeWindowMinutes": -1}, "mergeWindowMinutes"),
    ]:
        data = ok(await gql(UPDATE, world.dsl_viewer, input=bad))["updateSafeguardingSettings"]
        # then each is refused naming the field, and the stored settings stay
        assert data["errors"][0]["field"] == field, bad
    settings = ok(await gql(SETTINGS, world.dsl_viewer))["safeguardingSettings"]
    assert (settings["dayStartsMinute"], settings["mergeWindowMinutes"]) == (510, 5)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.TEACHER, Role.LEADER])
async def test_only_safeguarding_leads_tune_detection(
    services: Services, gql: GraphQLRunner, role: Role
) -> None:
    # given another member of staff
    world = await a_school(services, rule=False)
    user = await factories.staff(world.room.school, role)
    viewer = factories.viewer(user, world.room.school, role)
    # when they read or change the settings, then it is forbidden
    assert error_code(await gql(SETTINGS, viewer)) == "FORBIDDEN"
    assert error_code(await gql(ADD_RULE, viewer, input=rule_input("abc"))) == "FORBIDDEN"
    assert error_code(await gql(UPDATE, viewer, input={"screenshotCapture": True})) == "FORBIDDEN"


async def test_a_rule_of_another_school_is_not_found(
    services: Services, gql: GraphQLRunner
) -> None:
    # given a custom rule in one school
    world = await a_school(services, rule=False)
    data = ok(await gql(ADD_RULE, world.dsl_viewer, input=rule_input("abc def")))
    rule_id = data["addSafeguardingRule"]["settings"]["customRules"][0]["id"]
    # when a lead of another school removes it, then it is not found there
    other = await a_school(services, rule=False)
    assert error_code(await gql(REMOVE_RULE, other.dsl_viewer, id=rule_id)) == "NOT_FOUND"
    missing = to_global_id("SafeguardingCustomRule", 999999)
    assert error_code(await gql(REMOVE_RULE, world.dsl_viewer, id=missing)) == "NOT_FOUND"
    assert await CustomRule.all().count() == 1


async def test_another_process_changing_the_rules_drops_the_cached_detector(
    services: Services,
) -> None:
    # given a cached detector for a school
    world = await a_school(services, rule=False)
    school_id = world.room.school.id
    cache = services.safeguarding.detectors
    first = await cache.get(school_id)
    channel = channels.safeguarding_rules(school_id)
    await wait_until(lambda: services.broker.subscriber_count(channel) > 0)
    # when another process announces a change on the school's channel
    await services.broker.publish(channel, SafeguardingRulesChanged(version=7).encode())

    # then this process builds a fresh detector on next use
    async def rebuilt() -> bool:
        return (await cache.get(school_id)) is not first

    await wait_until(rebuilt)


async def test_an_expired_entry_reuses_its_detector_unless_the_rules_changed(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a cached detector, and a clock this test moves
    world = await a_school(services, rule=False)
    school_id = world.room.school.id
    now = [1000.0]
    monkeypatch.setattr(detectors.time, "monotonic", lambda: now[0])
    cache = services.safeguarding.detectors
    first = await cache.get(school_id)
    # when the entry expires with the rules unchanged
    now[0] += detectors.CACHE_SECONDS + 1
    second = await cache.get(school_id)
    # then the entry is renewed around the same compiled detector (no recompiling each minute)
    assert second is not first
    assert second.detector is first.detector
    # and when a rule was added whose announcement this process missed, the detector is
    # compiled afresh at the next expiry
    await CustomRule.create(
        school_id=school_id,
        category="BULLYING",
        severity=3,
        phrase="zebra stripes",
        reason="local slang",
        created_at=services.now(),
    )
    now[0] += detectors.CACHE_SECONDS + 1
    third = await cache.get(school_id)
    assert third.detector is not first.detector
    assert [m.rule_id for m in third.detector.scan("zebra stripes again")] != []
