"""A markbook page costs the same number of SQL queries whatever its size and however many
assessments the group has (no N+1). Counts, never timings: bench/markbook.py measures speed."""

from __future__ import annotations

from bench.sqlcount import count_queries
from models.partners import Scope
from resolvers.context import Services, Viewer
from schema.common import to_global_id
from tests import factories
from tests.conftest import GraphQLRunner
from tests.tracking import markbook_world
from tests.tracking.markbook_world import World

WIDE = """
query Markbook($groupId: ID!, $first: Int) {
  markbook(groupId: $groupId, first: $first) {
    assessments { id title series notional }
    rows {
      edges {
        node {
          learnerKey
          learner { familyName }
          marks { rawMark status scaledMark grade }
          target workingAt predicted
          progress { currentGrade standing }
          attainment8 { total }
        }
      }
      pageInfo { hasNextPage endCursor }
      totalCount
    }
    progress { group { learners } subgroups { subgroup learners small } }
  }
}
"""


async def count(gql: GraphQLRunner, world: World, viewer: Viewer, first: int) -> int:
    with count_queries() as queries:
        result = await gql(
            WIDE, viewer, groupId=str(to_global_id("Group", world.group.id)), first=first
        )
    assert result.errors is None, result.errors
    assert len(result.data["markbook"]["rows"]["edges"]) == first  # type: ignore[index]
    return queries.count


async def with_assessments(world: World, how_many: int) -> None:
    for n in range(how_many):
        mock = await world.assessment(title=f"Mock {n}", series=("June 2023", "June 2024")[n % 2])
        await world.marks(mock, *[(7 * i + n) % 240 for i in range(len(world.pupils))])


async def test_the_page_size_does_not_change_the_query_count(
    services: Services, gql: GraphQLRunner
) -> None:
    # given 30 learners and three assessments
    world = await markbook_world.build(services, pupils=30)
    await with_assessments(world, 3)
    await count(gql, world, world.as_teacher, 1)  # warms the school's key cache
    # when
    counts = {first: await count(gql, world, world.as_teacher, first) for first in (1, 10, 30)}
    # then
    assert len(set(counts.values())) == 1, counts


async def test_more_assessments_do_not_change_the_query_count(
    services: Services, gql: GraphQLRunner
) -> None:
    # given one assessment, then six
    world = await markbook_world.build(services, pupils=10)
    await with_assessments(world, 1)
    await count(gql, world, world.as_teacher, 10)
    one = await count(gql, world, world.as_teacher, 10)
    await with_assessments(world, 5)
    # when
    six = await count(gql, world, world.as_teacher, 10)
    # then
    assert one == six


async def test_pseudonyms_cost_no_query_per_learner(services: Services, gql: GraphQLRunner) -> None:
    # given a tracking-only partner
    world = await markbook_world.build(services, pupils=12)
    await with_assessments(world, 2)
    key, _ = await factories.api_key(world.school, scopes=[Scope.TRACKING_READ])
    partner = factories.partner_viewer(key, world.school)
    await count(gql, world, partner, 1)
    # when
    counts = {first: await count(gql, world, partner, first) for first in (1, 12)}
    # then
    assert len(set(counts.values())) == 1, counts
