"""Lists cost a constant number of SQL queries, however many rows a page holds (no N+1).

Counts, never timings: ``bench.queries`` measures speed.
"""

from __future__ import annotations

import pytest

from bench.sqlcount import QueryCount, count_queries
from models.groups import TeachingGroup
from models.learners import ExternalId, Learner
from models.schools import School
from models.staff import Role, User
from resolvers.context import Services, Viewer
from tests import factories
from tests.conftest import GraphQLRunner

LEARNERS = """
query Learners($first: Int, $identifiers: Boolean!) {
  learners(first: $first) {
    edges {
      node {
        id givenName familyName yearGroup
        upn @include(if: $identifiers)
        groups { name teachers { displayName } }
        externalIds { system value }
      }
    }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}
"""

GROUPS = """
query Groups {
  groups(first: 50) {
    edges {
      node {
        name
        learners(first: 50) { edges { node { familyName groups { name } } } }
      }
    }
  }
}
"""


async def _school_with_groups(
    services: Services, *, learners: int, groups: int
) -> tuple[School, list[User], list[TeachingGroup], list[Learner]]:
    """Each learner in two adjacent groups, with an external id; one teacher per group."""
    school = await factories.school(services)
    pupils = [
        await factories.learner(
            services,
            school,
            family_name=f"Family{i:03d}",
            upn=None,
            external_ids=[("MIS", f"{school.id}-{i}")],
        )
        for i in range(learners)
    ]
    teachers = [await factories.staff(school, Role.TEACHER) for _ in range(groups)]
    rows = [
        await factories.group(
            school,
            name=f"Group {g}",
            teachers=[teachers[g]],
            learners=[p for i, p in enumerate(pupils) if g in (i % groups, (i + 1) % groups)],
        )
        for g in range(groups)
    ]
    return school, teachers, rows, pupils


async def _count(gql: GraphQLRunner, document: str, viewer: Viewer, **variables: object) -> int:
    with count_queries() as queries:
        result = await gql(document, viewer, **variables)
    assert result.errors is None, result.errors
    assert queries.count > 0, "the counter saw no SQL: has Tortoise renamed its client methods?"
    return _logged(queries)


def _logged(queries: QueryCount) -> int:
    print(f"{queries.count} queries:\n{queries}")  # shown by pytest when an assertion fails
    return queries.count


@pytest.mark.parametrize("role", [Role.ADMIN, Role.TEACHER])
async def test_learners_page_costs_the_same_queries_whatever_its_size(
    services: Services, gql: GraphQLRunner, role: Role
) -> None:
    # given
    school, teachers, _, pupils = await _school_with_groups(services, learners=60, groups=4)
    assert await ExternalId.filter(school_id=school.id).count() == len(pupils)
    if role is Role.ADMIN:
        viewer = await factories.admin_viewer(school)
    else:
        viewer = factories.viewer(teachers[0], school, Role.TEACHER)
    identifiers = role is Role.ADMIN
    # Warm the per-process key cache, so only per-request queries are compared.
    await _count(gql, LEARNERS, viewer, first=1, identifiers=identifiers)
    # when
    counts = {
        first: await _count(gql, LEARNERS, viewer, first=first, identifiers=identifiers)
        for first in (5, 20, 50)
    }
    # then
    assert len(set(counts.values())) == 1, counts


async def test_groups_with_their_learners_cost_the_same_queries_whatever_their_number(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    small, _, _, _ = await _school_with_groups(services, learners=12, groups=2)
    large, _, _, _ = await _school_with_groups(services, learners=24, groups=4)
    small_admin = await factories.admin_viewer(small)
    large_admin = await factories.admin_viewer(large)
    # when
    two = await _count(gql, GROUPS, small_admin)
    four = await _count(gql, GROUPS, large_admin)
    # then
    assert two == four
