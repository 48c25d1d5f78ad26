"""Triage (acknowledge, regrade, assign, note, close) and concerns raised by staff."""

from __future__ import annotations

from typing import Any

import pytest
from tortoise.connection import get_connection

from models.audit import AuditEvent
from models.safeguarding import AlertAction, AlertActionKind, AlertSource, AlertStatus
from models.staff import Role
from resolvers.context import Services
from schema.common import to_global_id
from tests import factories
from tests.classroom.helpers import error_code, ok
from tests.conftest import Clock, GraphQLRunner
from tests.safeguarding.alert_helpers import (
    ALERT_FIELDS,
    PHRASE,
    School,
    a_school,
    alerts_of,
    report,
    routing_settles,  # noqa: F401 (fixture)
    typed,
)

ACK = f"""
mutation Ack($id: ID!) {{
  acknowledgeAlert(id: $id) {{ alert {{ {ALERT_FIELDS} }} errors {{ field code message }} }}
}}
"""

UPDATE = f"""
mutation Update($input: UpdateAlertInput!) {{
  updateAlert(input: $input) {{
    alert {{ {ALERT_FIELDS} actions {{ kind fromStatus toStatus fromSeverity toSeverity note
      actor {{ id }} }} }}
    errors {{ field code message }}
  }}
}}
"""

CONCERN = """
mutation Concern($input: RaiseConcernInput!) {
  raiseConcern(input: $input) {
    alert { id source category severity excerpt raisedBy { id } learner { id } }
    errors { field code }
  }
}
"""

MINE = "query { myConcerns { id excerpt status } }"
ALERT_IDS = "query { alerts { edges { node { id source } } } }"


async def an_alert(services: Services, gql: GraphQLRunner, clock: Clock) -> tuple[School, str]:
    world = await a_school(services)
    await report(gql, world.pupil_viewer, typed(PHRASE, clock.now))
    (alert,) = await alerts_of(world)
    return world, to_global_id("Alert", alert.id)


def staff_id(user: Any) -> str:
    return to_global_id("StaffMember", user.id)


async def test_acknowledging_takes_the_alert_and_records_it(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given a new alert
    world, alert_id = await an_alert(services, gql, clock)
    # when the lead acknowledges it (twice: the second changes nothing)
    first = ok(await gql(ACK, world.dsl_viewer, id=alert_id))["acknowledgeAlert"]
    ok(await gql(ACK, world.dsl_viewer, id=alert_id))
    # then it is ACKNOWLEDGED and theirs, with one history entry
    assert first["errors"] == []
    assert first["alert"]["status"] == "ACKNOWLEDGED"
    assert first["alert"]["assignee"]["id"] == staff_id(world.dsl)
    actions = await AlertAction.all()
    assert [a.kind for a in actions] == [AlertActionKind.ACKNOWLEDGED, AlertActionKind.ASSIGNED]
    assert actions[0].actor_id == world.dsl.id


async def test_regrading_escalating_and_notes_build_the_chronology(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given an alert
    world, alert_id = await an_alert(services, gql, clock)
    # when the lead regrades it with a note, then escalates it
    ok(
        await gql(
            UPDATE, world.dsl_viewer, input={"id": alert_id, "severity": 5, "note": "Said twice"}
        )
    )
    data = ok(await gql(UPDATE, world.dsl_viewer, input={"id": alert_id, "status": "ESCALATED"}))[
        "updateAlert"
    ]
    # then the alert shows both, and its history holds them in order, with the note
    assert data["alert"]["severity"] == 5
    assert data["alert"]["status"] == "ESCALATED"
    actions = data["alert"]["actions"]
    assert [a["kind"] for a in actions] == ["SEVERITY_CHANGED", "STATUS_CHANGED"]
    assert (actions[0]["fromSeverity"], actions[0]["toSeverity"]) == (4, 5)
    assert actions[0]["note"] == "Said twice"
    assert (actions[1]["fromStatus"], actions[1]["toStatus"]) == ("NEW", "ESCALATED")
    assert actions[1]["actor"]["id"] == staff_id(world.dsl)


async def test_notes_are_encrypted_at_rest(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given a note on an alert
    world, alert_id = await an_alert(services, gql, clock)
    ok(await gql(UPDATE, world.dsl_viewer, input={"id": alert_id, "note": "Spoke to mum"}))
    # when the raw column is read, then the note is not there
    rows = await get_connection("default").execute_query_dict(
        "SELECT note_enc FROM safeguarding_alert_action"
    )
    assert rows
    assert all(b"mum" not in bytes(row["note_enc"]) for row in rows)


@pytest.mark.parametrize("status", ["RESOLVED", "FALSE_POSITIVE"])
async def test_closing_needs_a_reason(
    services: Services, gql: GraphQLRunner, clock: Clock, status: str
) -> None:
    # given an alert
    world, alert_id = await an_alert(services, gql, clock)
    # when the lead closes it without a note
    refused = ok(await gql(UPDATE, world.dsl_viewer, input={"id": alert_id, "status": status}))
    # then it is refused, naming the note, and nothing changed
    assert refused["updateAlert"]["errors"][0]["field"] == "note"
    assert refused["updateAlert"]["errors"][0]["code"] == "REASON_REQUIRED"
    assert (await alerts_of(world))[0].status is AlertStatus.NEW
    assert await AlertAction.all().count() == 0
    # and with a reason it closes
    closed = ok(
        await gql(
            UPDATE, world.dsl_viewer, input={"id": alert_id, "status": status, "note": "Song lyric"}
        )
    )["updateAlert"]
    assert closed["alert"]["status"] == status


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"severity": 6}, "severity", "OUT_OF_RANGE"),
        ({"severity": 0}, "severity", "OUT_OF_RANGE"),
        ({"status": "NEW", "note": "x"}, None, None),
        ({"note": "x" * 4001}, "note", "TOO_LONG"),
    ],
)
async def test_bad_changes_are_refused_as_input_errors(
    services: Services,
    gql: GraphQLRunner,
    clock: Clock,
    change: dict[str, Any],
    field: str | None,
    code: str | None,
) -> None:
    # given an alert
    world, alert_id = await an_alert(services, gql, clock)
    # when the lead sends a bad change
    data = ok(await gql(UPDATE, world.dsl_viewer, input={"id": alert_id, **change}))
    errors = data["updateAlert"]["errors"]
    # then it is refused with the field at fault (NEW -> NEW is no change at all)
    if field is None:
        assert errors == []
    else:
        assert (errors[0]["field"], errors[0]["code"]) == (field, code)
        assert (await alerts_of(world))[0].severity == 4


async def test_going_back_to_new_is_refused(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given an acknowledged alert
    world, alert_id = await an_alert(services, gql, clock)
    ok(await gql(ACK, world.dsl_viewer, id=alert_id))
    # when the lead sets it NEW again, then that is an input error
    data = ok(await gql(UPDATE, world.dsl_viewer, input={"id": alert_id, "status": "NEW"}))
    assert data["updateAlert"]["errors"][0]["code"] == "INVALID_STATUS"


async def test_alerts_are_assigned_only_to_safeguarding_leads(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given an alert, a deputy lead and a teacher
    world, alert_id = await an_alert(services, gql, clock)
    deputy = await factories.staff(world.room.school, Role.SAFEGUARDING_LEAD)
    # when the lead assigns it to the teacher, then to the deputy
    refused = ok(
        await gql(
            UPDATE,
            world.dsl_viewer,
            input={"id": alert_id, "assigneeId": staff_id(world.room.teacher)},
        )
    )["updateAlert"]
    taken = ok(
        await gql(UPDATE, world.dsl_viewer, input={"id": alert_id, "assigneeId": staff_id(deputy)})
    )["updateAlert"]
    # then only the deputy can take it
    assert refused["errors"][0]["code"] == "NOT_A_SAFEGUARDING_LEAD"
    assert taken["alert"]["assignee"]["id"] == staff_id(deputy)


async def test_changes_are_audited_by_field(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given an alert
    world, alert_id = await an_alert(services, gql, clock)
    # when the lead regrades it with a note
    ok(await gql(UPDATE, world.dsl_viewer, input={"id": alert_id, "severity": 2, "note": "Joke"}))
    # then the audit trail names the fields, never the note
    audit = await AuditEvent.get(action="safeguarding.alert.update")
    assert audit.fields_touched == ["severity"]
    assert "Joke" not in str(audit.__dict__)


@pytest.mark.parametrize("role", [Role.TEACHER, Role.ADMIN, Role.LEADER])
async def test_only_safeguarding_leads_triage(
    services: Services, gql: GraphQLRunner, clock: Clock, role: Role
) -> None:
    # given an alert and another member of staff
    world, alert_id = await an_alert(services, gql, clock)
    user = await factories.staff(world.room.school, role)
    viewer = factories.viewer(user, world.room.school, role)
    # when they try to triage it, then it is forbidden
    assert error_code(await gql(ACK, viewer, id=alert_id)) == "FORBIDDEN"
    result = await gql(UPDATE, viewer, input={"id": alert_id, "severity": 1})
    assert error_code(result) == "FORBIDDEN"


async def test_a_lead_of_another_school_gets_not_found(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given an alert and a lead of another school
    _world, alert_id = await an_alert(services, gql, clock)
    other = await a_school(services, rule=False)
    # when they acknowledge it, then it does not exist for them
    assert error_code(await gql(ACK, other.dsl_viewer, id=alert_id)) == "NOT_FOUND"


async def test_a_teacher_raises_a_concern_the_leads_see_and_only_they_see_theirs(
    services: Services, gql: GraphQLRunner
) -> None:
    # given a teacher and a learner they teach
    world = await a_school(services, rule=False)
    teacher = world.room.teacher_viewer
    # when the teacher raises a concern
    data = ok(
        await gql(
            CONCERN,
            teacher,
            input={
                "learnerId": world.learner_id,
                "category": "BULLYING",
                "description": "Crying after lunch, mentioned older pupils",
            },
        )
    )["raiseConcern"]
    # then it is an alert raised by them, and the lead lists it
    assert data["errors"] == []
    concern = data["alert"]
    assert concern["source"] == AlertSource.CONCERN.value
    assert concern["severity"] == 3
    assert concern["raisedBy"]["id"] == staff_id(world.room.teacher)
    listed = ok(await gql(ALERT_IDS, world.dsl_viewer))["alerts"]["edges"]
    assert [e["node"]["id"] for e in listed] == [concern["id"]]
    # and the teacher sees their own concern, but still cannot list alerts
    mine = ok(await gql(MINE, teacher))["myConcerns"]
    assert [(m["id"], m["excerpt"]) for m in mine] == [
        (concern["id"], "Crying after lunch, mentioned older pupils")
    ]
    assert error_code(await gql(ALERT_IDS, teacher)) == "FORBIDDEN"
    # and another teacher sees none of it
    other = await factories.staff(world.room.school, Role.TEACHER)
    other_viewer = factories.viewer(other, world.room.school, Role.TEACHER)
    assert ok(await gql(MINE, other_viewer))["myConcerns"] == []
    node = "query N($id: ID!) { node(id: $id) { id } }"
    assert error_code(await gql(node, other_viewer, id=concern["id"])) == "NOT_FOUND"
    assert ok(await gql(node, teacher, id=concern["id"]))["node"]["id"] == concern["id"]


async def test_a_teacher_cannot_raise_a_concern_about_a_learner_they_do_not_teach(
    services: Services, gql: GraphQLRunner
) -> None:
    # given a learner of the school outside the teacher's groups
    world = await a_school(services, rule=False)
    stranger = await factories.learner(services, world.room.school)
    # when the teacher raises a concern about them, then the learner is not found
    result = await gql(
        CONCERN,
        world.room.teacher_viewer,
        input={
            "learnerId": to_global_id("Learner", stranger.id),
            "category": "BULLYING",
            "description": "Overheard something",
        },
    )
    assert error_code(result) == "NOT_FOUND"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"category": "GOSSIP"}, "category"),
        ({"description": "  "}, "description"),
        ({"severity": 9}, "severity"),
    ],
)
async def test_a_bad_concern_is_refused(
    services: Services, gql: GraphQLRunner, change: dict[str, Any], field: str
) -> None:
    # given a teacher
    world = await a_school(services, rule=False)
    concern = {"learnerId": world.learner_id, "category": "BULLYING", "description": "Upset"}
    # when the concern is malformed, then the field is named and nothing is stored
    data = ok(await gql(CONCERN, world.room.teacher_viewer, input={**concern, **change}))
    assert data["raiseConcern"]["errors"][0]["field"] == field
    assert await alerts_of(world) == []
