"""Targets and working-at grades; progress against target per learner, group and subgroup;
Attainment 8 per learner and on average."""

from __future__ import annotations

from typing import Any

from models.audit import AuditEvent
from models.learners import Gender
from models.markbook import GradeKind, GradeRecord
from resolvers import progress
from resolvers.context import Services
from schema.common import to_global_id
from tests.conftest import GraphQLRunner
from tests.tracking import markbook_world
from tests.tracking.markbook_world import World

SET_TARGETS = """
mutation Targets($input: SetTargetsInput!) {
  setTargets(input: $input) { kind grades { learnerId grade } errors { field code } }
}
"""
SET_GRADES = """
mutation Grades($input: SetGradesInput!) {
  setGrades(input: $input) { kind grades { learnerId grade } errors { field code } }
}
"""
PROGRESS = """
query Progress($groupId: ID!) {
  markbook(groupId: $groupId) {
    rows {
      edges {
        node {
          target workingAt
          progress { currentGrade currentSource target difference standing }
          attainment8 { total average slots { element subject grade weight } }
        }
      }
    }
    progress {
      group { learners above onTarget below unknown percentOnOrAbove averageDifference
              attainment8Average small }
      subgroups { subgroup learners above below small }
    }
  }
}
"""


def gid(kind: str, pk: object) -> str:
    return str(to_global_id(kind, pk))


def grades(world: World, *values: str | None) -> list[dict[str, Any]]:
    return [
        {"learnerId": gid("Learner", p.id), "grade": g}
        for p, g in zip(world.pupils, values, strict=False)
    ]


async def run(gql: GraphQLRunner, world: World, document: str, **variables: Any) -> Any:
    result = await gql(document, world.as_teacher, **variables)
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


async def test_progress_compares_current_grades_with_targets(
    services: Services, gql: GraphQLRunner
) -> None:
    # given marks earning 7, 6 and 3 (June 2023 Higher), and targets of 6, 6 and 5
    world = await markbook_world.build(services, pupils=4)
    mock = await world.assessment()
    await world.marks(mock, 158, 125, 42, None)
    group = gid("Group", world.group.id)
    set_result = await run(
        gql, world, SET_TARGETS, input={"groupId": group, "grades": grades(world, "6", "6", "5")}
    )
    # when
    data = await run(gql, world, PROGRESS, groupId=group)
    # then each learner stands above, on or below target by rank (never string order)
    assert set_result["setTargets"]["errors"] == []
    rows = [e["node"]["progress"] for e in data["markbook"]["rows"]["edges"]]
    assert [(r["currentGrade"], r["target"], r["difference"], r["standing"]) for r in rows] == [
        ("7", "6", 1, "ABOVE"),
        ("6", "6", 0, "ON_TARGET"),
        ("3", "5", -2, "BELOW"),
        (None, None, None, "NO_TARGET"),
    ]
    assert rows[0]["currentSource"] == "ASSESSMENT"
    summary = data["markbook"]["progress"]["group"]
    assert (summary["learners"], summary["above"], summary["onTarget"], summary["below"]) == (
        4,
        1,
        1,
        1,
    )
    assert summary["unknown"] == 1
    assert round(summary["percentOnOrAbove"], 1) == 66.7
    assert round(summary["averageDifference"], 3) == round(-1 / 3, 3)


async def test_a_teachers_working_at_grade_overrides_the_derived_one(
    services: Services, gql: GraphQLRunner
) -> None:
    # given a mark earning a 7 and a working-at grade of 5
    world = await markbook_world.build(services, pupils=1)
    mock = await world.assessment()
    await world.marks(mock, 158)
    group = gid("Group", world.group.id)
    await run(
        gql,
        world,
        SET_GRADES,
        input={"groupId": group, "kind": "WORKING_AT", "grades": grades(world, "5")},
    )
    # when
    data = await run(gql, world, PROGRESS, groupId=group)
    # then
    node = data["markbook"]["rows"]["edges"][0]["node"]
    assert node["workingAt"] == "5"
    assert (node["progress"]["currentGrade"], node["progress"]["currentSource"]) == (
        "5",
        "WORKING_AT",
    )


async def test_bad_grades_are_all_reported_and_nothing_is_stored(
    services: Services, gql: GraphQLRunner
) -> None:
    # given a target already set
    world = await markbook_world.build(services, pupils=2)
    await world.assessment()
    group = gid("Group", world.group.id)
    await run(gql, world, SET_TARGETS, input={"groupId": group, "grades": grades(world, "6")})
    before = await GradeRecord.all().values_list("learner_id", "grade")
    # when a batch holds a grade off the scale, a learner of another group and a duplicate
    batch = [
        *grades(world, "7", "A*"),
        {"learnerId": gid("Learner", world.outsider.id), "grade": "5"},
        grades(world, "4")[0],
    ]
    data = await run(gql, world, SET_TARGETS, input={"groupId": group, "grades": batch})
    # then
    errors = [(e["field"], e["code"]) for e in data["setTargets"]["errors"]]
    assert errors == [
        ("grades.1.grade", "UNKNOWN_GRADE"),
        ("grades.2.learnerId", "NOT_IN_GROUP"),
        ("grades.3.learnerId", "DUPLICATE"),
    ]
    assert await GradeRecord.all().values_list("learner_id", "grade") == before


async def test_targets_need_a_specification_until_the_group_has_assessments(
    services: Services, gql: GraphQLRunner
) -> None:
    # given a group without assessments
    world = await markbook_world.build(services, pupils=1)
    group = gid("Group", world.group.id)
    # when targets come without, then with, a specification
    without = await run(
        gql, world, SET_TARGETS, input={"groupId": group, "grades": grades(world, "6")}
    )
    named = await run(
        gql,
        world,
        SET_TARGETS,
        input={
            "groupId": group,
            "grades": grades(world, "6"),
            "specification": {"board": "AQA", "code": "8300"},
        },
    )
    # then
    assert [e["code"] for e in without["setTargets"]["errors"]] == ["REQUIRED"]
    assert named["setTargets"]["errors"] == []
    assert await AuditEvent.exists(action="grades.set")


async def test_subgroups_are_reported_and_small_ones_flagged(
    services: Services, gql: GraphQLRunner
) -> None:
    # given three learners, one of them pupil premium
    world = await markbook_world.build(services, pupils=3, gender=Gender.FEMALE)
    world.pupils[0].pupil_premium = True
    await world.pupils[0].save()
    mock = await world.assessment()
    await world.marks(mock, 158, 158, 42)
    group = gid("Group", world.group.id)
    await run(
        gql, world, SET_TARGETS, input={"groupId": group, "grades": grades(world, "6", "8", "5")}
    )
    # when
    data = await run(gql, world, PROGRESS, groupId=group)
    # then every subgroup present is listed, flagged small (fewer than 10), never hidden
    subgroups = {s["subgroup"]: s for s in data["markbook"]["progress"]["subgroups"]}
    assert subgroups["PUPIL_PREMIUM"]["learners"] == 1
    assert subgroups["PUPIL_PREMIUM"]["above"] == 1
    assert subgroups["NOT_PUPIL_PREMIUM"]["learners"] == 2
    assert subgroups["NOT_PUPIL_PREMIUM"]["below"] == 2
    assert subgroups["FEMALE"]["learners"] == 3
    assert "MALE" not in subgroups
    assert all(s["small"] for s in subgroups.values())
    assert data["markbook"]["progress"]["group"]["small"] is True


async def test_attainment8_uses_grades_across_subjects(
    services: Services, gql: GraphQLRunner
) -> None:
    # given a maths mark earning a 7, and working-at grades in English and history
    world = await markbook_world.build(services, pupils=2)
    mock = await world.assessment()
    await world.marks(mock, 158, None)
    language = await markbook_world.specification("AQA", "8700", "GCSE", "English Language")
    literature = await markbook_world.specification("AQA", "8702", "GCSE", "English Literature")
    history = await markbook_world.specification("AQA", "8145", "GCSE", "History")
    for spec, grade in ((language, "6"), (literature, "5"), (history, "4")):
        await GradeRecord.create(
            school_id=world.school.id,
            learner_id=world.pupils[0].id,
            specification_id=spec.id,
            kind=GradeKind.WORKING_AT,
            grade=grade,
            set_at=services.now(),
        )
    # when
    data = await run(gql, world, PROGRESS, groupId=gid("Group", world.group.id))
    # then English (6 x 2) + maths (7 x 2) + history (EBacc 4) + literature (open 5) = 35
    first, second = (e["node"]["attainment8"] for e in data["markbook"]["rows"]["edges"])
    assert first["total"] == 35
    assert {(s["element"], s["subject"], s["weight"]) for s in first["slots"]} == {
        ("ENGLISH", "English Language", 2),
        ("MATHS", "Mathematics", 2),
        ("EBACC", "History", 1),
        ("OPEN", "English Literature", 1),
    }
    # the absent learner has nothing to estimate from, and the average skips them
    assert second is None
    assert data["markbook"]["progress"]["group"]["attainment8Average"] == 35


def test_standing_compares_by_rank_on_the_scale() -> None:
    # given a scale where string order would be wrong ("10" < "9" as text)
    from resolvers.grading import GradeScale

    scale = GradeScale("A level", ("A*", "A", "B", "C", "D", "E"))
    # when / then
    assert progress.compare(scale, "A*", "ASSESSMENT", "A").standing is progress.Standing.ABOVE
    assert progress.compare(scale, "B", "ASSESSMENT", "A").difference == -1
    assert progress.compare(scale, None, None, "A").standing is progress.Standing.NO_CURRENT_GRADE


def test_summaries_skip_learners_without_figures() -> None:
    # given one learner on target with an A8 of 40 and one with nothing
    on = progress.LearnerProgress("5", "ASSESSMENT", "5", 0, progress.Standing.ON_TARGET)
    none = progress.LearnerProgress(None, None, None, None, progress.Standing.NO_TARGET)
    # when
    summary = progress.summarise([(on, 40.0), (none, None)], small_at=10)
    # then averages are over learners with figures, never counting a missing one as 0
    assert summary.percent_on_or_above == 100
    assert summary.attainment8_average == 40
    assert summary.unknown == 1
    assert summary.small
