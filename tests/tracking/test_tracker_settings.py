"""The whole tracker's settings: read by staff, set by admins and leaders, validated, audited,
and followed by the grades and subgroup flags shown."""

from __future__ import annotations

from models.audit import AuditEvent
from models.markbook import TrackerSettings
from models.partners import Scope
from models.staff import Role
from resolvers.context import Services
from schema.common import to_global_id
from tests import factories
from tests.conftest import GraphQLRunner
from tests.tracking import markbook_world
from tests.tracking.markbook_world import code, ok

SETTINGS = "query { trackerSettings { boundaryShiftPercent smallSubgroupThreshold } }"
UPDATE = """
mutation Update($input: UpdateTrackerSettingsInput!) {
  updateTrackerSettings(input: $input) {
    settings { boundaryShiftPercent smallSubgroupThreshold }
    errors { field code message }
  }
}
"""
MARKBOOK = """
query Markbook($groupId: ID!) {
  markbook(groupId: $groupId) {
    rows { nodes { marks { grade } } }
    progress { group { learners small } }
  }
}
"""


async def test_every_member_of_staff_reads_the_defaults_until_set(
    services: Services, gql: GraphQLRunner
) -> None:
    # given a school that never set its tracker
    world = await markbook_world.build(services, pupils=1)
    dsl = factories.viewer(
        await factories.staff(world.school, Role.SAFEGUARDING_LEAD),
        world.school,
        Role.SAFEGUARDING_LEAD,
    )
    for viewer in (world.as_teacher, world.as_leader, world.as_admin, dsl):
        # when a member of staff reads the settings
        data = await ok(gql, SETTINGS, viewer)
        # then they are the defaults: no shift, subgroups under 10 flagged
        assert data["trackerSettings"] == {
            "boundaryShiftPercent": 0.0,
            "smallSubgroupThreshold": 10,
        }


async def test_an_admin_sets_them_and_the_change_is_audited_by_field_name(
    services: Services, gql: GraphQLRunner
) -> None:
    # given the school's admin (the data manager)
    world = await markbook_world.build(services, pupils=1)
    # when they set both settings
    data = await ok(
        gql,
        UPDATE,
        world.as_admin,
        input={"boundaryShiftPercent": 2.5, "smallSubgroupThreshold": 5},
    )
    # then the payload and every later read show them
    expected = {"boundaryShiftPercent": 2.5, "smallSubgroupThreshold": 5}
    assert data["updateTrackerSettings"] == {"settings": expected, "errors": []}
    assert (await ok(gql, SETTINGS, world.as_teacher))["trackerSettings"] == expected
    # and the audit trail names the fields changed, not their values
    event = await AuditEvent.get(action="tracker_settings.update")
    assert sorted(event.fields_touched) == ["shift_percent", "small_subgroup"]
    assert event.target_ids == [str(world.school.id)]
    assert "2.5" not in str(event.fields_touched)


async def test_a_leader_changes_one_setting_and_the_other_stays(
    services: Services, gql: GraphQLRunner
) -> None:
    # given settings an admin set
    world = await markbook_world.build(services, pupils=1)
    await ok(
        gql,
        UPDATE,
        world.as_admin,
        input={"boundaryShiftPercent": -3.0, "smallSubgroupThreshold": 8},
    )
    # when a leader changes the threshold only
    data = await ok(gql, UPDATE, world.as_leader, input={"smallSubgroupThreshold": 12})
    # then the shift is kept
    assert data["updateTrackerSettings"]["settings"] == {
        "boundaryShiftPercent": -3.0,
        "smallSubgroupThreshold": 12,
    }
    assert await TrackerSettings.filter(school_id=world.school.id).count() == 1


async def test_teachers_safeguarding_leads_and_partners_cannot_set_them(
    services: Services, gql: GraphQLRunner
) -> None:
    # given a teacher, a safeguarding lead and a partner holding every scope
    world = await markbook_world.build(services, pupils=1)
    dsl = factories.viewer(
        await factories.staff(world.school, Role.SAFEGUARDING_LEAD),
        world.school,
        Role.SAFEGUARDING_LEAD,
    )
    key, _ = await factories.api_key(world.school, scopes=list(Scope))
    partner = factories.partner_viewer(key, world.school)
    for viewer in (world.as_teacher, dsl, partner):
        # when they try to set a shift
        result = await gql(UPDATE, viewer, input={"boundaryShiftPercent": 5.0})
        # then it is forbidden
        assert code(result) == "FORBIDDEN"
    # and a partner cannot even read the school's policy
    assert code(await gql(SETTINGS, partner)) == "FORBIDDEN"
    assert not await TrackerSettings.exists()
    assert not await AuditEvent.filter(action="tracker_settings.update").exists()


async def test_out_of_range_values_are_reported_and_nothing_changes(
    services: Services, gql: GraphQLRunner
) -> None:
    # given settings already stored
    world = await markbook_world.build(services, pupils=1)
    stored = {"boundaryShiftPercent": 1.0, "smallSubgroupThreshold": 6}
    await ok(gql, UPDATE, world.as_admin, input=stored)
    for shift, threshold in ((20.5, 0), (-25.0, 101)):
        # when both values are out of range
        data = await ok(
            gql,
            UPDATE,
            world.as_admin,
            input={"boundaryShiftPercent": shift, "smallSubgroupThreshold": threshold},
        )
        # then each is named, and the stored settings are untouched
        payload = data["updateTrackerSettings"]
        assert payload["settings"] is None
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [
            ("boundaryShiftPercent", "OUT_OF_RANGE"),
            ("smallSubgroupThreshold", "OUT_OF_RANGE"),
        ]
        assert "20" in payload["errors"][0]["message"]
        assert "100" in payload["errors"][1]["message"]
        assert (await ok(gql, SETTINGS, world.as_admin))["trackerSettings"] == stored
    # and the limits themselves are allowed
    edges = {"boundaryShiftPercent": -20.0, "smallSubgroupThreshold": 100}
    data = await ok(gql, UPDATE, world.as_admin, input=edges)
    assert data["updateTrackerSettings"]["settings"] == edges
    data = await ok(gql, UPDATE, world.as_admin, input={"boundaryShiftPercent": 20.0})
    assert data["updateTrackerSettings"]["errors"] == []
    data = await ok(gql, UPDATE, world.as_admin, input={"smallSubgroupThreshold": 1})
    assert data["updateTrackerSettings"]["errors"] == []


async def test_the_markbook_follows_the_settings(services: Services, gql: GraphQLRunner) -> None:
    # given three pupils with a mid-range mark in a Higher mock
    world = await markbook_world.build(services, pupils=3)
    assessment = await world.assessment()
    await world.marks(assessment, 150, 150, 150)
    group = str(to_global_id("Group", world.group.id))
    before = (await ok(gql, MARKBOOK, world.as_teacher, groupId=group))["markbook"]
    assert before["progress"]["group"] == {"learners": 3, "small": True}
    # when the admin makes every boundary 20% harder and flags only subgroups under 2
    await ok(
        gql,
        UPDATE,
        world.as_admin,
        input={"boundaryShiftPercent": 20.0, "smallSubgroupThreshold": 2},
    )
    after = (await ok(gql, MARKBOOK, world.as_teacher, groupId=group))["markbook"]
    # then the same mark earns a lower grade, and the group is no longer small
    grade_before = before["rows"]["nodes"][0]["marks"][0]["grade"]
    grade_after = after["rows"]["nodes"][0]["marks"][0]["grade"]
    assert grade_before.isdigit()
    assert grade_after == "U" or int(grade_after) < int(grade_before)
    assert after["progress"]["group"] == {"learners": 3, "small": False}
