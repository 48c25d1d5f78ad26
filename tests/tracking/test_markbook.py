"""The markbook: learners x assessments with marks, scaled marks and grades, within reach."""

from __future__ import annotations

from typing import Any

from models.audit import AuditEvent
from models.partners import Scope
from models.staff import Role
from resolvers.context import Services
from schema.common import to_global_id
from tests import factories
from tests.conftest import GraphQLRunner
from tests.tracking import markbook_world
from tests.tracking.markbook_world import World

MARKBOOK = """
query Markbook($groupId: ID!, $first: Int, $after: String) {
  markbook(groupId: $groupId, first: $first, after: $after) {
    group { name }
    specification { board code }
    assessments { id title series tier fullMark maxMark notional }
    rows {
      edges {
        node {
          learnerKey
          learner { familyName }
          marks { assessmentId rawMark status scaledMark grade }
        }
      }
      pageInfo { hasNextPage endCursor }
      totalCount
    }
  }
}
"""

CREATE = """
mutation Create($input: CreateAssessmentInput!) {
  createAssessment(input: $input) {
    assessment { id title fullMark maxMark series tier notional }
    errors { field code message }
  }
}
"""


def gid(kind: str, pk: object) -> str:
    return str(to_global_id(kind, pk))


async def markbook(gql: GraphQLRunner, world: World, viewer: Any = None, **variables: Any) -> Any:
    result = await gql(
        MARKBOOK, viewer or world.as_teacher, groupId=gid("Group", world.group.id), **variables
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data["markbook"]


def cells(book: Any) -> list[list[tuple[Any, ...]]]:
    return [
        [(c["rawMark"], c["status"], c["grade"]) for c in edge["node"]["marks"]]
        for edge in book["rows"]["edges"]
    ]


async def test_marks_become_grades_on_the_subject_total(
    services: Services, gql: GraphQLRunner
) -> None:
    # given a Higher mock on every Higher paper, graded by June 2023 (9 at 214, 7 at 158)
    world = await markbook_world.build(services, pupils=4)
    mock = await world.assessment()
    await world.marks(mock, 240, 158, 157, None)
    # when the teacher opens the markbook
    book = await markbook(gql, world)
    # then each mark has its grade, and the absent learner has none (never a zero)
    assert book["assessments"][0]["fullMark"] == 240
    assert book["assessments"][0]["notional"] is False
    assert cells(book) == [
        [(240, "PRESENT", "9")],
        [(158, "PRESENT", "7")],
        [(157, "PRESENT", "6")],
        [(None, "ABSENT", None)],
    ]
    names = [e["node"]["learner"]["familyName"] for e in book["rows"]["edges"]]
    assert names == ["Pupil00", "Pupil01", "Pupil02", "Pupil03"]
    assert book["specification"] == {"board": "AQA", "code": "8300"}


async def test_a_custom_test_is_scaled_to_the_full_mark(
    services: Services, gql: GraphQLRunner
) -> None:
    # given a 50-mark test standing for all three Higher papers (240)
    world = await markbook_world.build(services, pupils=2)
    quiz = await world.assessment(title="Quick test", out_of=50)
    # 33/50 -> 158.4 (a 7); 32/50 -> 153.6 (a 6)
    await world.marks(quiz, 33, 32)
    # when
    book = await markbook(gql, world)
    # then raw and scaled marks are both kept, and the grade follows the scaled one
    row = [edge["node"]["marks"][0] for edge in book["rows"]["edges"]]
    assert [(c["rawMark"], round(c["scaledMark"], 1), c["grade"]) for c in row] == [
        (33, 158.4, "7"),
        (32, 153.6, "6"),
    ]
    assert book["assessments"][0]["maxMark"] == 50


async def test_one_paper_uses_its_notional_boundaries(
    services: Services, gql: GraphQLRunner
) -> None:
    # given a Paper 1 Higher mock: June 2023 notional 8300/1H has 7 at 49
    world = await markbook_world.build(services, pupils=2)
    paper = await world.assessment(title="Paper 1", components=["8300/1H"])
    await world.marks(paper, 49, 48)
    # when
    book = await markbook(gql, world)
    # then
    assert book["assessments"][0]["fullMark"] == 80
    assert book["assessments"][0]["notional"] is True
    assert [c[0][2] for c in cells(book)] == ["7", "6"]


async def test_a_shift_moves_every_boundary(services: Services, gql: GraphQLRunner) -> None:
    # given the same marks graded without and with a +5% shift (12 marks of 240)
    world = await markbook_world.build(services, pupils=1)
    plain = await world.assessment(title="Plain")
    harder = await world.assessment(title="Harder", shift_percent=5)
    await world.marks(plain, 158)
    await world.marks(harder, 158)
    # when
    book = await markbook(gql, world)
    # then 158 is a 7 unshifted but below the shifted 7 (170)
    assert cells(book) == [[(158, "PRESENT", "7"), (158, "PRESENT", "6")]]


async def test_foundation_grades_are_capped_at_5(services: Services, gql: GraphQLRunner) -> None:
    # given a Foundation mock: June 2023 5 at 189
    world = await markbook_world.build(services, pupils=2)
    mock = await world.assessment(tier="FOUNDATION")
    await world.marks(mock, 240, 34)
    # when
    book = await markbook(gql, world)
    # then the top is a capped 5 and 34 is below the grade 1 boundary
    assert [c[0][2] for c in cells(book)] == ["5", "U"]


async def test_pages_of_learners_follow_each_other(services: Services, gql: GraphQLRunner) -> None:
    # given five learners
    world = await markbook_world.build(services, pupils=5)
    # when paging two at a time
    first = await markbook(gql, world, first=2)
    second = await markbook(gql, world, first=2, after=first["rows"]["pageInfo"]["endCursor"])

    # then
    def names(book: Any) -> list[str]:
        return [e["node"]["learner"]["familyName"] for e in book["rows"]["edges"]]

    assert names(first) == ["Pupil00", "Pupil01"]
    assert names(second) == ["Pupil02", "Pupil03"]
    assert first["rows"]["totalCount"] == 5


async def test_pages_are_bounded(services: Services, gql: GraphQLRunner) -> None:
    # given
    world = await markbook_world.build(services, pupils=1)
    # when more than a page's maximum is asked for
    result = await gql(MARKBOOK, world.as_teacher, groupId=gid("Group", world.group.id), first=101)
    # then
    assert result.errors is not None
    assert result.errors[0].extensions is not None
    assert result.errors[0].extensions["code"] == "INVALID_INPUT"
    assert result.errors[0].extensions["field"] == "first"


async def test_other_teachers_groups_are_not_found(services: Services, gql: GraphQLRunner) -> None:
    # given a teacher of another group
    world = await markbook_world.build(services, pupils=1)
    # when they ask for this group's markbook
    result = await gql(MARKBOOK, world.as_other_teacher, groupId=gid("Group", world.group.id))
    # then it does not exist for them
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "NOT_FOUND"}


async def test_leaders_read_every_markbook_but_cannot_create_assessments(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    world = await markbook_world.build(services, pupils=1)
    # when a leader reads, then tries to create an assessment
    book = await markbook(gql, world, world.as_leader)
    result = await gql(CREATE, world.as_leader, input=create_input(world))
    # then reading works and writing is forbidden
    assert book["group"]["name"] == "10X Maths"
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "FORBIDDEN"}


def create_input(world: World, **fields: Any) -> dict[str, Any]:
    values = {
        "groupId": gid("Group", world.group.id),
        "title": "Autumn mock",
        "specification": {"board": "AQA", "code": "8300"},
        "series": "June 2024",
        "takenOn": "2026-11-20",
        "tier": "HIGHER",
    }
    values.update(fields)
    return values


async def test_teachers_create_assessments_of_their_groups(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    world = await markbook_world.build(services, pupils=1)
    # when
    result = await gql(CREATE, world.as_teacher, input=create_input(world))
    # then
    assert result.errors is None
    payload = result.data["createAssessment"]  # type: ignore[index]
    assert payload["errors"] == []
    assert payload["assessment"]["fullMark"] == 240
    assert payload["assessment"]["series"] == "June 2024"
    assert await AuditEvent.exists(action="assessment.create")


async def test_bad_assessments_are_refused_with_the_field_named(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    world = await markbook_world.build(services, pupils=1)
    cases = {
        "tier": create_input(world, tier=None),
        "series": create_input(world, series="June 1999"),
        "specification": create_input(world, specification={"board": "AQA", "code": "0000"}),
        "components.0": create_input(world, components=["8300/1F"]),
        "shiftPercent": create_input(world, shiftPercent=25),
        "outOf": create_input(world, outOf=0),
    }
    for field, values in cases.items():
        # when
        result = await gql(CREATE, world.as_teacher, input=values)
        # then
        payload = result.data["createAssessment"]  # type: ignore[index]
        assert payload["assessment"] is None
        assert [e["field"] for e in payload["errors"]] == [field], payload["errors"]


PARTNER_MARKBOOK = """
query Markbook($groupId: ID!) {
  markbook(groupId: $groupId) {
    rows { edges { node { learnerKey learner { id familyName } marks { grade } } } }
  }
}
"""


async def test_partners_see_pseudonyms_unless_granted_names(
    services: Services, gql: GraphQLRunner
) -> None:
    # given two tracking keys, one also granted learner names
    world = await markbook_world.build(services, pupils=2)
    mock = await world.assessment()
    await world.marks(mock, 200, 100)
    tracking_only, _ = await factories.api_key(world.school, scopes=[Scope.TRACKING_READ])
    with_names, _ = await factories.api_key(
        world.school, scopes=[Scope.TRACKING_READ, Scope.LEARNERS_READ]
    )
    group = gid("Group", world.group.id)
    # when each reads the markbook (the first one twice)
    anonymous = await gql(
        PARTNER_MARKBOOK, factories.partner_viewer(tracking_only, world.school), groupId=group
    )
    again = await gql(
        PARTNER_MARKBOOK, factories.partner_viewer(tracking_only, world.school), groupId=group
    )
    named = await gql(
        PARTNER_MARKBOOK, factories.partner_viewer(with_names, world.school), groupId=group
    )
    # then the first sees stable pseudonyms and no names, the second real ids and names
    assert anonymous.errors is None
    assert named.errors is None
    rows = [e["node"] for e in anonymous.data["markbook"]["rows"]["edges"]]  # type: ignore[index]
    keys = [r["learnerKey"] for r in rows]
    assert all(k.startswith("pseudonym:") for k in keys)
    assert not any(str(p.id) in k for p in world.pupils for k in keys)
    assert [r["learner"] for r in rows] == [None, None]
    assert [r["marks"][0]["grade"] for r in rows] == ["8", "5"]
    assert keys == [
        e["node"]["learnerKey"]
        for e in again.data["markbook"]["rows"]["edges"]  # type: ignore[index]
    ]
    named_rows = [e["node"] for e in named.data["markbook"]["rows"]["edges"]]  # type: ignore[index]
    assert [r["learnerKey"] for r in named_rows] == [gid("Learner", p.id) for p in world.pupils]
    assert [r["learner"]["familyName"] for r in named_rows] == ["Pupil00", "Pupil01"]


async def test_pseudonyms_differ_between_partners(services: Services, gql: GraphQLRunner) -> None:
    # given two partners with the tracking scope only
    world = await markbook_world.build(services, pupils=1)
    first, _ = await factories.api_key(world.school, scopes=[Scope.TRACKING_READ])
    second, _ = await factories.api_key(world.school, scopes=[Scope.TRACKING_READ])
    group = gid("Group", world.group.id)
    # when
    keys = []
    for key in (first, second):
        result = await gql(
            PARTNER_MARKBOOK, factories.partner_viewer(key, world.school), groupId=group
        )
        keys.append(result.data["markbook"]["rows"]["edges"][0]["node"]["learnerKey"])  # type: ignore[index]
    # then the same learner cannot be linked across partners
    assert keys[0] != keys[1]


async def test_reading_marks_is_audited(services: Services, gql: GraphQLRunner) -> None:
    # given
    world = await markbook_world.build(services, pupils=2)
    # when
    await markbook(gql, world)
    # then one read event names the learners and that marks and grades were read
    event = await AuditEvent.filter(action="learner.read").order_by("-id").first()
    assert event is not None
    assert sorted(event.target_ids) == sorted(str(p.id) for p in world.pupils)
    assert {"marks", "grades"} <= set(event.fields_touched)


async def test_a_dsl_reads_a_markbook_only_as_its_teacher(
    services: Services, gql: GraphQLRunner
) -> None:
    # given a safeguarding lead who teaches 10X, and one who does not
    world = await markbook_world.build(services, pupils=1)
    teaching = await factories.staff(world.school, Role.SAFEGUARDING_LEAD)
    other = await factories.staff(world.school, Role.SAFEGUARDING_LEAD)
    await factories.group(world.school, name="spare")
    from models.groups import TeachingAssignment

    await TeachingAssignment.create(
        school_id=world.school.id, group_id=world.group.id, user_id=teaching.id
    )
    group = gid("Group", world.group.id)
    # when
    mine = await gql(
        MARKBOOK, factories.viewer(teaching, world.school, Role.SAFEGUARDING_LEAD), groupId=group
    )
    not_mine = await gql(
        MARKBOOK, factories.viewer(other, world.school, Role.SAFEGUARDING_LEAD), groupId=group
    )
    # then
    assert mine.errors is None
    assert not_mine.errors is not None
    assert not_mine.errors[0].extensions == {"code": "NOT_FOUND"}


async def test_standardised_shares_are_checked_against_the_scale(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    world = await markbook_world.build(services, pupils=1)
    good = create_input(world, standardisedShares=[{"grade": "9", "percent": 10}])
    bad = create_input(world, standardisedShares=[{"grade": "A*", "percent": 10}])
    # when
    made = await gql(CREATE, world.as_teacher, input=good)
    refused = await gql(CREATE, world.as_teacher, input=bad)
    # then
    assert made.data["createAssessment"]["errors"] == []  # type: ignore[index]
    errors = refused.data["createAssessment"]["errors"]  # type: ignore[index]
    assert [e["field"] for e in errors] == ["standardisedShares"]


async def test_a_group_without_assessments_has_an_empty_markbook(
    services: Services, gql: GraphQLRunner
) -> None:
    # given a group nobody has assessed yet
    world = await markbook_world.build(services, pupils=2)
    # when
    book = await markbook(gql, world)
    # then its learners are listed with no cells and no specification
    assert book["assessments"] == []
    assert book["specification"] is None
    assert cells(book) == [[], []]


async def test_a_whole_tracker_shift_adds_to_each_assessments_own(
    services: Services, gql: GraphQLRunner
) -> None:
    # given a school shifting every boundary by +5% (12 of 240 marks)
    from models.markbook import TrackerSettings

    world = await markbook_world.build(services, pupils=1)
    mock = await world.assessment()
    await world.marks(mock, 158)
    before = cells(await markbook(gql, world))
    await TrackerSettings.create(school_id=world.school.id, shift_percent=5)
    # when
    after = cells(await markbook(gql, world))
    # then the 7 at 158 (June 2023) moves to 170, so 158 is now a 6
    assert before == [[(158, "PRESENT", "7")]]
    assert after == [[(158, "PRESENT", "6")]]
