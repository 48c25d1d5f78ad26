"""The markbook: SQL queries per page, and time per page against hand-written SQL.

    python -m bench.markbook [--database-url URL] [--learners 1500] [--seconds 24] [--rounds 6]

Seeds a fresh database (a temporary SQLite file, or with ``--database-url postgres://...`` a
private ``pp_bench_<hex>`` database, dropped at the end) with one school, AQA 8300's shipped
boundaries, and a Year 10 maths cohort of ``--learners`` learners in one teaching group (the
whole-cohort view a head of department or data manager opens) with 10 assessments: seven full
Higher mocks graded by June 2023 or June 2024, three shorter custom tests scaled to the full
mark; about 5% of marks are absent. Then:

1. prints how many SQL statements one markbook page sends for several page sizes: they must be
   equal (no N+1), whatever the page size and with 10 assessments per learner;
2. pages through the whole cohort, 100 learners at a time, through ``schema.execute`` as a
   school admin (authorization, grading, the audit write of the reads included), and through a
   hand-written keyset query on the bare driver (aiosqlite or asyncpg) that joins the page's
   marks and grades them with the same boundaries, building the same rows. Both must agree
   row for row. Timed rounds alternate, so a noisy machine slows both alike.

The last line is ``ratio=<project pages/s / baseline pages/s>`` (the baseline's time per page
over the project's; higher is better), the median of the rounds' ratios, as bench.queries.
"""

from __future__ import annotations

import argparse
import base64
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import date
from typing import Any

import aiosqlite
import asyncpg  # type: ignore[import-untyped, unused-ignore]
import strawberry

from bench.pairing import median_ratio, paired_rounds
from bench.queries import (
    FAMILY,
    GIVEN,
    NO_LOGIN,
    _asyncpg_dsn,
    _postgres,
    in_process,
    run_in_process,
)
from bench.sqlcount import count_queries
from models.groups import Enrolment, TeachingGroup
from models.learners import Learner
from models.markbook import Mark, MarkStatus
from models.schools import School
from models.staff import Membership, Role, User
from models.tracking import TierCode
from resolvers import assessments
from resolvers.assessments import AssessmentData
from resolvers.boundaries import import_boundaries
from resolvers.context import Context, PrincipalKind, RequestInfo, Services, Viewer
from resolvers.schools import create_school
from resolvers.tracking_data import shipped_boundary_files
from schema.common import to_global_id

PAGE = 100
COUNT_PAGE_SIZES = (10, 50, 100)
#: (series, custom test maximum or None for a full mock)
ASSESSMENTS = [
    ("June 2023", None),
    ("June 2024", None),
    ("June 2023", 50),
    ("June 2024", None),
    ("June 2023", None),
    ("June 2024", 60),
    ("June 2023", None),
    ("June 2024", None),
    ("June 2023", 40),
    ("June 2024", None),
]

MARKBOOK = """
query Markbook($groupId: ID!, $first: Int!, $after: String) {
  markbook(groupId: $groupId, first: $first, after: $after) {
    rows {
      edges {
        node {
          learnerKey
          learner { familyName }
          marks { rawMark status scaledMark grade }
        }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


@dataclass(frozen=True, slots=True)
class Seeded:
    school_id: int
    group_id: int
    admin: Viewer


async def seed(services: Services, learners: int) -> Seeded:
    """One school, the shipped AQA boundaries, one cohort group, 10 assessments and their marks.

    Assessments go through the project's use-case; learners and marks are bulk inserts (the
    use-cases would write an audit event per learner, and marks in batches of 500).
    """
    rng = random.Random(1500)
    (aqa,) = [p for p in shipped_boundary_files() if p.name.startswith("aqa")]
    await import_boundaries(aqa)
    school: School = await create_school(services, "Bench Academy", "bench-academy")
    admin = await User.create(
        email="admin@bench.test", display_name="Admin", password_hash=NO_LOGIN
    )
    await Membership.create(school_id=school.id, user_id=admin.id, role=Role.ADMIN)
    group = await TeachingGroup.create(
        school_id=school.id,
        name="Year 10 Maths",
        subject="Maths",
        year_group=10,
        academic_year="2026/27",
    )
    rows = [
        Learner(
            school_id=school.id,
            given_name=rng.choice(GIVEN),
            family_name=rng.choice(FAMILY),
            year_group=10,
        )
        for _ in range(learners)
    ]
    await Learner.bulk_create(rows, batch_size=500)
    await Enrolment.bulk_create(
        [Enrolment(school_id=school.id, group_id=group.id, learner_id=r.id) for r in rows],
        batch_size=500,
    )
    viewer = Viewer(
        PrincipalKind.STAFF,
        school.id,
        frozenset({school.id}),
        user_id=admin.id,
        roles=frozenset({Role.ADMIN}),
    )
    ctx = Context(services, viewer=viewer)
    marks = []
    for n, (series, out_of) in enumerate(ASSESSMENTS):
        assessment = await assessments.create_assessment(
            ctx,
            AssessmentData(
                group_id=group.id,
                title=f"Mock {n + 1}",
                board="AQA",
                specification_code="8300",
                series=series,
                taken_on=date(2026, 9 + n // 4, 1 + n),
                tier=TierCode.HIGHER,
                out_of=out_of,
            ),
        )
        top = out_of or 240
        for learner in rows:
            absent = rng.random() < 0.05
            marks.append(
                Mark(
                    school_id=school.id,
                    assessment_id=assessment.id,
                    learner_id=learner.id,
                    raw_mark=None if absent else rng.randint(0, top),
                    status=MarkStatus.ABSENT if absent else MarkStatus.PRESENT,
                )
            )
    await Mark.bulk_create(marks, batch_size=1000)
    return Seeded(school.id, group.id, viewer)


# --- the project side --------------------------------------------------------------------------


class Project:
    """Pages through the markbook as the admin, one ``schema.execute`` per page."""

    def __init__(self, schema: strawberry.Schema, services: Services, seeded: Seeded) -> None:
        self.schema = schema
        self.services = services
        self.seeded = seeded
        self.group = str(to_global_id("Group", seeded.group_id))

    async def page(self, first: int, after: str | None = None) -> dict[str, Any]:
        ctx = Context(
            self.services, viewer=self.seeded.admin, request=RequestInfo("198.51.100.7", "bench")
        )
        result = await self.schema.execute(
            MARKBOOK,
            variable_values={"groupId": self.group, "first": first, "after": after},
            context_value=ctx,
        )
        if result.errors or result.data is None:
            raise RuntimeError(f"the markbook query failed: {result.errors}")
        return result.data["markbook"]["rows"]  # type: ignore[no-any-return]

    async def all_rows(self) -> list[Any]:
        rows: list[Any] = []
        after = None
        while True:
            page = await self.page(PAGE, after)
            for edge in page["edges"]:
                node = edge["node"]
                rows.append(
                    (
                        node["learnerKey"],
                        node["learner"]["familyName"],
                        tuple(
                            (m["rawMark"], m["status"], m["scaledMark"], m["grade"])
                            for m in node["marks"]
                        ),
                    )
                )
            if not page["pageInfo"]["hasNextPage"]:
                return rows
            after = page["pageInfo"]["endCursor"]


# --- the hand-written baseline -----------------------------------------------------------------

_ASSESSMENTS = """
SELECT a.id, a.full_mark, a.out_of, s.max_mark, s.id
FROM assessment a
JOIN grade_boundary_set s ON s.specification_id = a.specification_id
  AND s.series_id = a.series_id AND s.tier = a.tier AND s.level = 'SUBJECT'
WHERE a.group_id = ? ORDER BY a.taken_on, a.id
"""
_BOUNDARIES = """
SELECT b.boundary_set_id, g.label, b.min_mark FROM boundary b JOIN grade g ON g.id = b.grade_id
ORDER BY b.boundary_set_id, g.rank DESC
"""
_PAGE = """
WITH page AS (
  SELECT l.id, l.family_name, l.given_name FROM learner l
  JOIN enrolment e ON e.learner_id = l.id
  WHERE e.group_id = ? AND l.left_at IS NULL {after}
  ORDER BY l.family_name, l.given_name, l.id LIMIT ?
)
SELECT p.id, p.family_name, p.given_name, m.assessment_id, m.raw_mark, m.status
FROM page p LEFT JOIN mark m ON m.learner_id = p.id
  AND m.assessment_id IN (SELECT id FROM assessment WHERE group_id = ?)
ORDER BY p.family_name, p.given_name, p.id
"""
_AFTER = "AND (l.family_name, l.given_name, l.id) > (?, ?, ?)"


def _global_id(learner_id: object) -> str:
    return base64.urlsafe_b64encode(f"Learner:{learner_id}".encode()).decode().rstrip("=")


class Baseline:
    """The same pages on the bare driver: one keyset query joining the marks, graded by hand."""

    def __init__(self, group_id: int) -> None:
        self.group_id = group_id
        #: (assessment id, full mark, out of, boundary max mark, thresholds highest first)
        self.assessments: list[tuple[int, int, int | None, int, list[tuple[str, int]]]] = []

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        raise NotImplementedError

    async def load(self) -> None:
        thresholds: dict[int, list[tuple[str, int]]] = {}
        for set_id, label, min_mark in await self.fetch(_BOUNDARIES):
            thresholds.setdefault(set_id, []).append((label, min_mark))
        self.assessments = [
            (a, full, out_of, top, thresholds[set_id])
            for a, full, out_of, top, set_id in await self.fetch(_ASSESSMENTS, self.group_id)
        ]

    def cell(self, mark: tuple[Any, Any] | None, assessment: tuple[Any, ...]) -> tuple[Any, ...]:
        if mark is None:
            return (None, None, None, None)
        raw, status = mark
        if status != "PRESENT":
            return (None, status, None, None)
        _, full, out_of, top, thresholds = assessment
        scaled = float(raw) if out_of is None else min(full, raw * full / out_of)
        graded = min(top, scaled * top / full)
        grade = next((label for label, least in thresholds if graded >= least), "U")
        return (raw, status, scaled, grade)

    async def all_rows(self) -> list[Any]:
        rows: list[Any] = []
        after: tuple[Any, ...] | None = None
        while True:
            sql = _PAGE.format(after=_AFTER if after else "")
            args = (self.group_id, *(after or ()), PAGE + 1, self.group_id)
            learners: dict[Any, tuple[str, str, dict[int, tuple[Any, Any]]]] = {}
            for lid, family, given, assessment_id, raw, status in await self.fetch(sql, *args):
                entry = learners.setdefault(lid, (family, given, {}))
                if assessment_id is not None:
                    entry[2][assessment_id] = (raw, status)
            page = list(learners.items())
            for lid, (family, _, marks) in page[:PAGE]:
                cells = tuple(self.cell(marks.get(a[0]), a) for a in self.assessments)
                rows.append((_global_id(lid), family, cells))
            if len(page) <= PAGE:
                return rows
            lid, (family, given, _) = page[PAGE - 1]
            after = (family, given, lid)

    async def close(self) -> None:
        raise NotImplementedError


class SqliteBaseline(Baseline):
    def __init__(self, group_id: int, db: aiosqlite.Connection) -> None:
        super().__init__(group_id)
        self.db = db

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        return list(await self.db.execute_fetchall(sql, args))

    async def close(self) -> None:
        await self.db.close()


class PostgresBaseline(Baseline):
    def __init__(self, group_id: int, db: asyncpg.Connection) -> None:
        super().__init__(group_id)
        self.db = db

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        parts = sql.split("?")
        text = parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], 1))
        return [tuple(r) for r in await self.db.fetch(text, *args)]

    async def close(self) -> None:
        await self.db.close()


async def open_baseline(url: str, group_id: int) -> Baseline:
    baseline: Baseline
    if _postgres(url):
        baseline = PostgresBaseline(group_id, await asyncpg.connect(_asyncpg_dsn(url)))
    else:
        baseline = SqliteBaseline(group_id, await aiosqlite.connect(url.removeprefix("sqlite://")))
    await baseline.load()
    return baseline


# --- measuring ---------------------------------------------------------------------------------


async def report_counts(project: Project) -> None:
    """Print the SQL statements per markbook page for each page size; exit 1 if they differ."""
    await project.page(1)  # warm the per-process key cache
    counts = {}
    for first in COUNT_PAGE_SIZES:
        with count_queries() as queries:
            await project.page(first)
        counts[first] = queries.count
    shown = ", ".join(f"first={first}: {n}" for first, n in counts.items())
    print(f"SQL queries per markbook page ({len(ASSESSMENTS)} assessments): {shown}")

    if len(set(counts.values())) != 1:
        print("FAIL: the query count grows with the page size (N+1)", file=sys.stderr)
        raise SystemExit(1)


async def compare(args: argparse.Namespace, project: Project, baseline: Baseline) -> float:
    mine, theirs = await project.all_rows(), await baseline.all_rows()
    if mine != theirs:
        first = next(i for i, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b)
        raise SystemExit(f"FAIL: the project and the baseline differ at row {first}")
    pages = -(-len(mine) // PAGE)

    def report(round_: int, project_rate: float, baseline_rate: float) -> None:
        print(
            f"round {round_}: project {1000 / (project_rate * pages):.2f} ms/page, "
            f"baseline {1000 / (baseline_rate * pages):.2f} ms/page, "
            f"ratio {project_rate / baseline_rate:.3f}"
        )

    project_rates, baseline_rates = await paired_rounds(
        project.all_rows, baseline.all_rows, rounds=args.rounds, seconds=args.seconds, report=report
    )
    p, b = statistics.median(project_rates), statistics.median(baseline_rates)
    print(f"one pass = {len(mine)} learners x {len(ASSESSMENTS)} assessments in {pages} pages")
    print(f"project:  {1000 / (p * pages):7.2f} ms/page  {p * pages:7.1f} pages/s")
    print(f"baseline: {1000 / (b * pages):7.2f} ms/page  {b * pages:7.1f} pages/s")
    return median_ratio(project_rates, baseline_rates)


async def measure(args: argparse.Namespace, url: str) -> float:
    async with in_process(url) as (services, schema, backend):
        started = time.perf_counter()
        seeded = await seed(services, args.learners)
        print(
            f"backend={backend} learners={args.learners} assessments={len(ASSESSMENTS)} "
            f"(seeded in {time.perf_counter() - started:.1f} s)"
        )
        project = Project(schema, services, seeded)
        baseline = await open_baseline(url, seeded.group_id)
        try:
            await report_counts(project)
            return await compare(args, project, baseline)
        finally:
            await baseline.close()


def main(argv: list[str] | None = None) -> None:
    run_in_process("python -m bench.markbook", __doc__, measure, argv)


if __name__ == "__main__":
    main()
