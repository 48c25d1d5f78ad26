"""Learners: reading within reach, identifiers for admins only, encrypted at rest."""

from __future__ import annotations

from models.staff import Role
from resolvers.context import Services
from schema.common import to_global_id
from tests import factories
from tests.conftest import GraphQLRunner

LEARNERS = """
query Learners($first: Int, $after: String) {
  learners(first: $first, after: $after) {
    edges { cursor node { id givenName familyName groups { name } } }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}
"""

LEARNER_UPN = "query One($id: ID!) { learner(id: $id) { id familyName upn } }"


async def test_teacher_sees_only_learners_of_groups_they_teach(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    teacher = await factories.staff(school, Role.TEACHER)
    mine = await factories.learner(services, school, family_name="Adams")
    other = await factories.learner(services, school, family_name="Brown")
    await factories.group(school, name="10X Maths", teachers=[teacher], learners=[mine])
    await factories.group(school, name="10Y Science", learners=[other])
    # when
    result = await gql(LEARNERS, factories.viewer(teacher, school, Role.TEACHER))
    # then
    assert result.errors is None
    names = [e["node"]["familyName"] for e in result.data["learners"]["edges"]]
    assert names == ["Adams"]
    assert result.data["learners"]["edges"][0]["node"]["groups"] == [{"name": "10X Maths"}]


async def test_admin_reads_upn(services: Services, gql: GraphQLRunner) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    pupil = await factories.learner(services, school, upn="B801200005001")
    # when
    result = await gql(LEARNER_UPN, admin, id=to_global_id("Learner", pupil.id))
    # then
    assert result.errors is None
    assert result.data["learner"]["upn"] == "B801200005001"
