"""enterMarks: one batch, all or nothing, every bad row reported, grades derived, audited."""

from __future__ import annotations

from typing import Any

from models.audit import AuditEvent
from models.markbook import Mark
from resolvers.context import Services
from schema.common import to_global_id
from tests import factories
from tests.conftest import GraphQLRunner
from tests.tracking import markbook_world
from tests.tracking.markbook_world import World

ENTER = """
mutation Enter($input: EnterMarksInput!) {
  enterMarks(input: $input) {
    assessment { id }
    marks { learnerId rawMark status scaledMark grade }
    errors { field code message }
  }
}
"""


def gid(kind: str, pk: object) -> str:
    return str(to_global_id(kind, pk))


def row(world: World, i: int, mark: int | None, status: str = "PRESENT") -> dict[str, Any]:
    return {"learnerId": gid("Learner", world.pupils[i].id), "mark": mark, "status": status}


async def enter(gql: GraphQLRunner, world: World, assessment_id: int, rows: list[Any]) -> Any:
    result = await gql(
        ENTER,
        world.as_teacher,
        input={"assessmentId": gid("Assessment", assessment_id), "marks": rows},
    )
    assert result.errors is None, result.errors
    return result.data["enterMarks"]  # type: ignore[index]


async def stored() -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in await Mark.all()
        .order_by("id")
        .values_list("learner_id", "raw_mark", "status", "updated_at")
    ]


async def test_a_batch_returns_the_derived_grades(services: Services, gql: GraphQLRunner) -> None:
    # given a Higher mock graded by June 2024 (4 at 61, 3 at 44)
    world = await markbook_world.build(services, pupils=4)
    mock = await world.assessment(series="June 2024")
    # when the class's marks go in at once
    payload = await enter(
        gql,
        world,
        mock.id,
        [
            row(world, 0, 61),
            row(world, 1, 60),
            row(world, 2, None, "ABSENT"),
            row(world, 3, None, "NOT_REQUIRED"),
        ],
    )
    # then every row comes back with its grade; absent and not required have none
    assert payload["errors"] == []
    assert [(m["rawMark"], m["status"], m["grade"]) for m in payload["marks"]] == [
        (61, "PRESENT", "4"),
        (60, "PRESENT", "3"),
        (None, "ABSENT", None),
        (None, "NOT_REQUIRED", None),
    ]
    assert await Mark.filter(assessment_id=mock.id).count() == 4


async def test_every_bad_row_is_reported_and_nothing_is_written(
    services: Services, gql: GraphQLRunner
) -> None:
    # given marks already stored
    world = await markbook_world.build(services, pupils=4)
    mock = await world.assessment()
    await world.marks(mock, 100, 100, 100, 100)
    before = await stored()
    outsider = {"learnerId": gid("Learner", world.outsider.id), "mark": 10, "status": "PRESENT"}
    # when a batch mixes good rows with every kind of bad one
    payload = await enter(
        gql,
        world,
        mock.id,
        [
            row(world, 0, 120),  # good
            row(world, 1, 241),  # above the maximum of 240
            row(world, 2, -1),  # negative
            outsider,  # not in the group
            row(world, 3, 50, "ABSENT"),  # an absent learner with a mark
            row(world, 0, None),  # present without a mark, and a duplicate
        ],
    )
    # then each bad row is named by index and field, and nothing changed
    errors = [(e["field"], e["code"]) for e in payload["errors"]]
    assert errors == [
        ("marks.1.mark", "ABOVE_MAXIMUM"),
        ("marks.2.mark", "NEGATIVE"),
        ("marks.3.learnerId", "NOT_IN_GROUP"),
        ("marks.4.mark", "MARK_NOT_ALLOWED"),
        ("marks.5.learnerId", "DUPLICATE"),
        ("marks.5.mark", "MARK_REQUIRED"),
    ]
    assert payload["marks"] == []
    assert await stored() == before


async def test_a_custom_tests_maximum_is_its_own(services: Services, gql: GraphQLRunner) -> None:
    # given a 50-mark test
    world = await markbook_world.build(services, pupils=1)
    quiz = await world.assessment(out_of=50)
    # when 51 is entered, then 50
    too_many = await enter(gql, world, quiz.id, [row(world, 0, 51)])
    full = await enter(gql, world, quiz.id, [row(world, 0, 50)])
    # then
    assert [e["code"] for e in too_many["errors"]] == ["ABOVE_MAXIMUM"]
    assert full["marks"][0]["scaledMark"] == 240.0
    assert full["marks"][0]["grade"] == "9"


async def test_entering_again_updates_in_place(services: Services, gql: GraphQLRunner) -> None:
    # given a mark
    world = await markbook_world.build(services, pupils=1)
    mock = await world.assessment()
    await enter(gql, world, mock.id, [row(world, 0, 100)])
    # when it is corrected to absent
    payload = await enter(gql, world, mock.id, [row(world, 0, None, "ABSENT")])
    # then the one mark changed
    assert payload["errors"] == []
    marks = await Mark.filter(assessment_id=mock.id).values_list("raw_mark", "status")
    assert marks == [(None, "ABSENT")]


async def test_marks_are_audited_by_count_never_by_value(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    world = await markbook_world.build(services, pupils=2)
    mock = await world.assessment()
    # when
    await enter(gql, world, mock.id, [row(world, 0, 173), row(world, 1, 37)])
    # then who entered marks for which assessment is recorded, with how many, not the marks
    event = await AuditEvent.get(action="marks.enter")
    assert event.actor_id == str(world.teacher.id)
    assert event.target_type == "assessment"
    assert event.target_ids == [str(mock.id)]
    assert "rows=2" in event.fields_touched
    assert not {"173", "37"} & set(map(str, [*event.fields_touched, *event.target_ids]))


async def test_only_the_groups_teachers_and_admins_enter_marks(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    world = await markbook_world.build(services, pupils=1)
    mock = await world.assessment()
    variables = {"input": {"assessmentId": gid("Assessment", mock.id), "marks": [row(world, 0, 5)]}}
    # when
    other = await gql(ENTER, world.as_other_teacher, **variables)
    leader = await gql(ENTER, world.as_leader, **variables)
    admin = await gql(ENTER, world.as_admin, **variables)
    # then
    assert other.errors is not None
    assert other.errors[0].extensions == {"code": "NOT_FOUND"}
    assert leader.errors is not None
    assert leader.errors[0].extensions == {"code": "FORBIDDEN"}
    assert admin.errors is None
    assert admin.data["enterMarks"]["errors"] == []  # type: ignore[index]


async def test_standardised_boundaries_come_from_cohort_shares(services: Services) -> None:
    # given 20 learners and a test where the top 10% get a 9 and the next 40% a 5
    world = await markbook_world.build(services, pupils=20)
    test = await world.assessment(standardised_shares={"9": 10, "5": 40})
    # when marks 20, 19 ... 1 go in
    await world.marks(test, *range(20, 0, -1))
    # then grades follow the shares, not the series
    from resolvers.graders import graders_for

    grader = (await graders_for([test]))[test.id]
    from models.markbook import MarkStatus

    grades = [grader.grade(m, MarkStatus.PRESENT) for m in range(20, 0, -1)]
    assert grades == ["9"] * 2 + ["5"] * 8 + ["U"] * 10
    assert grader.notional


async def test_partners_cannot_enter_marks(services: Services, gql: GraphQLRunner) -> None:
    # given a partner with the tracking scope
    world = await markbook_world.build(services, pupils=1)
    mock = await world.assessment()
    key, _ = await factories.api_key(world.school)
    # when
    result = await gql(
        ENTER,
        factories.partner_viewer(key, world.school),
        input={"assessmentId": gid("Assessment", mock.id), "marks": [row(world, 0, 5)]},
    )
    # then
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "FORBIDDEN"}
