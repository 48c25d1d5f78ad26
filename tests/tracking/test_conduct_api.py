"""Behaviour and achievement through GraphQL: recorded by the learner's teachers, listed for
those who read the learner's tracking, notes only for staff who may read sensitive details."""

from __future__ import annotations

from typing import Any

from models.audit import AuditEvent
from models.markbook import AchievementRecord, BehaviourRecord
from models.partners import Scope
from resolvers.context import Services
from schema.common import to_global_id
from tests import factories
from tests.conftest import GraphQLRunner
from tests.tracking import markbook_world
from tests.tracking.markbook_world import World, code, ok

RECORD_BEHAVIOUR = """
mutation Record($input: RecordConductInput!) {
  recordBehaviour(input: $input) {
    record { id kind learnerId points category note }
    errors { field code message }
  }
}
"""
RECORD_ACHIEVEMENT = """
mutation Record($input: RecordConductInput!) {
  recordAchievement(input: $input) {
    record { id kind points category note }
    errors { field code message }
  }
}
"""
CONDUCT = """
query Conduct($learnerId: ID!, $kind: ConductKind!, $first: Int, $after: String) {
  conduct(learnerId: $learnerId, kind: $kind, first: $first, after: $after) {
    nodes { kind points category note }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}
"""


def learner_gid(world: World, index: int = 0) -> str:
    return str(to_global_id("Learner", world.pupils[index].id))


def conduct_input(world: World, points: int, category: str, note: str | None = None) -> Any:
    values: dict[str, Any] = {"learnerId": learner_gid(world), "points": points}
    values["category"] = category
    if note is not None:
        values["note"] = note
    return values


async def test_a_teacher_records_behaviour_with_an_encrypted_note(
    services: Services, gql: GraphQLRunner
) -> None:
    # given a teacher of the learner
    world = await markbook_world.build(services, pupils=1)
    # when they record behaviour points with a note
    data = await ok(
        gql,
        RECORD_BEHAVIOUR,
        world.as_teacher,
        input=conduct_input(world, -2, "Homework", "Forgot it twice this week."),
    )
    # then the record comes back with its note, which is ciphertext at rest
    payload = data["recordBehaviour"]
    assert payload["errors"] == []
    assert payload["record"]["kind"] == "BEHAVIOUR"
    assert payload["record"]["learnerId"] == learner_gid(world)
    assert (payload["record"]["points"], payload["record"]["category"]) == (-2, "Homework")
    assert payload["record"]["note"] == "Forgot it twice this week."
    stored = await BehaviourRecord.get(learner_id=world.pupils[0].id)
    assert stored.note_enc is not None
    assert b"Forgot" not in bytes(stored.note_enc)
    # and the write is audited by field names, never values
    event = await AuditEvent.get(action="behaviour.create")
    assert sorted(event.fields_touched) == ["category", "note", "points"]
    assert "Forgot" not in str(event.fields_touched)


async def test_records_are_listed_per_kind_with_notes_for_teachers_leaders_and_admins(
    services: Services, gql: GraphQLRunner
) -> None:
    # given a behaviour and an achievement record of one learner
    world = await markbook_world.build(services, pupils=1)
    await ok(gql, RECORD_BEHAVIOUR, world.as_teacher, input=conduct_input(world, -1, "Lateness"))
    await ok(
        gql, RECORD_ACHIEVEMENT, world.as_teacher, input=conduct_input(world, 3, "Effort", "Star")
    )
    for viewer in (world.as_teacher, world.as_leader, world.as_admin):
        # when each reads the learner's achievements and behaviour
        praise = await ok(gql, CONDUCT, viewer, learnerId=learner_gid(world), kind="ACHIEVEMENT")
        behaviour = await ok(gql, CONDUCT, viewer, learnerId=learner_gid(world), kind="BEHAVIOUR")
        # then each list holds its own kind only, notes included
        assert praise["conduct"]["nodes"] == [
            {"kind": "ACHIEVEMENT", "points": 3, "category": "Effort", "note": "Star"}
        ]
        assert behaviour["conduct"]["nodes"] == [
            {"kind": "BEHAVIOUR", "points": -1, "category": "Lateness", "note": None}
        ]
    # and reading the note is in the audit trail, under the learner
    reads = await AuditEvent.filter(action="learner.read").all()
    assert any("achievement_record.note" in event.fields_touched for event in reads)
    assert all(str(world.pupils[0].id) in event.target_ids for event in reads)


async def test_a_partner_with_tracking_scope_sees_points_but_never_notes(
    services: Services, gql: GraphQLRunner
) -> None:
    # given a record with a note, and a partner the school granted tracking data
    world = await markbook_world.build(services, pupils=1)
    await ok(
        gql,
        RECORD_ACHIEVEMENT,
        world.as_teacher,
        input=conduct_input(world, 2, "Kindness", "Helped a new pupil."),
    )
    key, _ = await factories.api_key(world.school, scopes=[Scope.TRACKING_READ])
    partner = factories.partner_viewer(key, world.school)
    # when the partner lists the learner's achievements
    data = await ok(gql, CONDUCT, partner, learnerId=learner_gid(world), kind="ACHIEVEMENT")
    # then the points show and the note does not, and no note read is audited
    assert data["conduct"]["nodes"] == [
        {"kind": "ACHIEVEMENT", "points": 2, "category": "Kindness", "note": None}
    ]
    assert not await AuditEvent.filter(action="learner.read", actor_type="api_key").exists()
    # and the partner cannot record either
    result = await gql(RECORD_ACHIEVEMENT, partner, input=conduct_input(world, 1, "Effort"))
    assert code(result) == "FORBIDDEN"


async def test_outside_the_teachers_groups_the_learner_does_not_exist(
    services: Services, gql: GraphQLRunner
) -> None:
    # given a teacher of another group
    world = await markbook_world.build(services, pupils=1)
    await ok(gql, RECORD_BEHAVIOUR, world.as_teacher, input=conduct_input(world, -1, "Lateness"))
    other = world.as_other_teacher
    # when they read or record for this group's learner
    read = await gql(CONDUCT, other, learnerId=learner_gid(world), kind="BEHAVIOUR")
    write = await gql(RECORD_BEHAVIOUR, other, input=conduct_input(world, -1, "Lateness"))
    # then both answer NOT_FOUND, like a random id, and nothing more is stored
    assert code(read) == "NOT_FOUND"
    assert code(write) == "NOT_FOUND"
    assert await BehaviourRecord.filter(learner_id=world.pupils[0].id).count() == 1


async def test_leaders_read_but_do_not_record(services: Services, gql: GraphQLRunner) -> None:
    # given a leader of the school
    world = await markbook_world.build(services, pupils=1)
    # when they record behaviour
    result = await gql(RECORD_BEHAVIOUR, world.as_leader, input=conduct_input(world, -1, "Talk"))
    # then it is forbidden: points, like marks, are the teacher's
    assert code(result) == "FORBIDDEN"
    assert not await BehaviourRecord.exists()


async def test_bad_input_is_reported_and_nothing_is_stored(
    services: Services, gql: GraphQLRunner
) -> None:
    # given a teacher of the learner
    world = await markbook_world.build(services, pupils=1)
    cases = [
        (conduct_input(world, 1000, "Lateness"), "points"),
        (conduct_input(world, -1, "   "), "category"),
        (conduct_input(world, -1, "x" * 65), "category"),
        (conduct_input(world, -1, "Lateness", "n" * 4001), "note"),
        ({**conduct_input(world, -1, "Lateness"), "learnerId": "not an id"}, "learnerId"),
    ]
    for values, field in cases:
        # when they record with one bad value
        data = await ok(gql, RECORD_ACHIEVEMENT, world.as_teacher, input=values)
        # then the payload names the field, and nothing is stored
        payload = data["recordAchievement"]
        assert payload["record"] is None
        assert [e["field"] for e in payload["errors"]] == [field], payload["errors"]
        assert payload["errors"][0]["message"]
    assert not await AchievementRecord.exists()
    assert not await AuditEvent.filter(action="achievement.create").exists()


async def test_records_page_oldest_first(services: Services, gql: GraphQLRunner) -> None:
    # given three achievement records
    world = await markbook_world.build(services, pupils=1)
    for points in (1, 2, 3):
        await ok(gql, RECORD_ACHIEVEMENT, world.as_teacher, input=conduct_input(world, points, "E"))
    # when they are read two at a time
    first = await ok(
        gql, CONDUCT, world.as_teacher, learnerId=learner_gid(world), kind="ACHIEVEMENT", first=2
    )
    rest = await ok(
        gql,
        CONDUCT,
        world.as_teacher,
        learnerId=learner_gid(world),
        kind="ACHIEVEMENT",
        first=2,
        after=first["conduct"]["pageInfo"]["endCursor"],
    )
    # then the pages follow on, oldest first, and the total counts every record
    assert [n["points"] for n in first["conduct"]["nodes"]] == [1, 2]
    assert first["conduct"]["pageInfo"]["hasNextPage"] is True
    assert [n["points"] for n in rest["conduct"]["nodes"]] == [3]
    assert rest["conduct"]["pageInfo"]["hasNextPage"] is False
    assert first["conduct"]["totalCount"] == 3
