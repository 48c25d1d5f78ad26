"""Lists cost a constant number of SQL queries, however many rows a page holds (no N+1).

Counts, never timings: ``bench.queries`` measures speed.
"""

from __future__ import annotations

import pytest
from stdnum.gb import upn as upn_checker

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
            upn=_upn(i),
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


def _upn(i: int) -> str:
    body = f"886{4000 + i // 1000:04d}15{i % 1000:03d}"
    return upn_checker.calc_check_digit(body) + body


async def _queries(
    gql: GraphQLRunner, document: str, viewer: Viewer, **variables: object
) -> QueryCount:
    with count_queries() as queries:
        result = await gql(document, viewer, **variables)
    assert result.errors is None, result.errors
    assert queries.count > 0, "the counter saw no SQL: has Tortoise renamed its client methods?"
    return queries


def _same(counts: dict[object, QueryCount]) -> str:
    """The failure message: every case's count, and the SQL of one case per distinct count."""
    summary = {case: q.count for case, q in counts.items()}
    by_count = {q.count: (case, q) for case, q in counts.items()}
    shown = "\n".join(f"--- {case}: {q.count} queries\n{q}" for case, q in by_count.values())
    return f"query counts differ: {summary}\n{shown}"


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
    await _queries(gql, LEARNERS, viewer, first=1, identifiers=identifiers)
    # when
    counts: dict[object, QueryCount] = {
        first: await _queries(gql, LEARNERS, viewer, first=first, identifiers=identifiers)
        for first in (5, 20, 50)
    }
    # then
    assert len({q.count for q in counts.values()}) == 1, _same(counts)


async def test_groups_with_their_learners_cost_the_same_queries_whatever_their_number(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    small, _, _, _ = await _school_with_groups(services, learners=12, groups=2)
    large, _, _, _ = await _school_with_groups(services, learners=24, groups=4)
    small_admin = await factories.admin_viewer(small)
    large_admin = await factories.admin_viewer(large)
    # when
    counts: dict[object, QueryCount] = {
        "2 groups": await _queries(gql, GROUPS, small_admin),
        "4 groups": await _queries(gql, GROUPS, large_admin),
    }
    # then
    assert len({q.count for q in counts.values()}) == 1, _same(counts)
