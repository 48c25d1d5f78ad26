"""The demo's 10X Maths has a markbook: assessments, marks, derived grades and targets."""

from __future__ import annotations

from app import demo
from models.groups import TeachingGroup
from models.schools import School
from models.staff import Role, User
from resolvers.context import Services
from schema.common import to_global_id
from tests import factories
from tests.conftest import GraphQLRunner

QUERY = """
query Markbook($groupId: ID!) {
  markbook(groupId: $groupId) {
    assessments { title notional }
    rows { totalCount nodes { target marks { status grade } progress { standing } } }
  }
}
"""


async def test_the_demo_class_has_a_markbook(services: Services, gql: GraphQLRunner) -> None:
    # given the demo data
    await demo.seed(services)
    school = await School.get(slug="northfield")
    teacher = await User.get(email="teacher@northfield.test")
    group = await TeachingGroup.get(school_id=school.id, name="10X Maths")
    # when its teacher opens the markbook
    result = await gql(
        QUERY,
        factories.viewer(teacher, school, Role.TEACHER),
        groupId=str(to_global_id("Group", group.id)),
    )
    # then three assessments have graded marks, and every learner has a target
    assert result.errors is None, result.errors
    book = result.data["markbook"]  # type: ignore[index]
    assert [a["title"] for a in book["assessments"]] == [
        "Baseline test",
        "Paper 1 mock",
        "Autumn mock",
    ]
    rows = book["rows"]["nodes"]
    assert book["rows"]["totalCount"] >= 25
    assert all(r["target"] for r in rows)
    grades = [m["grade"] for r in rows for m in r["marks"] if m["status"] == "PRESENT"]
    assert grades
    assert all(grades)
    assert {r["progress"]["standing"] for r in rows} <= {"ABOVE", "ON_TARGET", "BELOW"}
