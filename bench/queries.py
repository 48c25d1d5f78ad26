"""The learners connection: SQL queries per page, and throughput against hand-written SQL.

    python -m bench.queries [--database-url URL] [--learners 1500] [--seconds 24] [--rounds 6]

Seeds a fresh database (a temporary SQLite file, or with ``--database-url postgres://...`` a
private ``pp_bench_<hex>`` database, dropped at the end) with one school. Then:

1. prints how many SQL statements one learners page sends, for several page sizes: they must
   be equal (no N+1);
2. pages through every learner, 100 at a time, through ``schema.execute`` as a school admin
   (authorization, decryption and the audit write included), and through a hand-written keyset
   query on the bare driver (aiosqlite or asyncpg) that decrypts the UPNs and builds the same
   dicts. Timed rounds of the two alternate, so a noisy machine slows both alike.

The last line is ``ratio=<project ops/s / baseline ops/s>``, the median of the rounds' ratios.
Wall-clock figures belong here and in docs/performance.md, never in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiosqlite
import asyncpg  # type: ignore[import-untyped, unused-ignore]
import strawberry
from stdnum.gb import upn as upn_checker
from tortoise.context import TortoiseContext

from app.config import Settings
from app.db import apply_migrations, tortoise_config
from app.security.crypto import FieldContext, MasterKey, decrypt_field, envelope_key_version
from app.services import build_services
from bench.pairing import median_ratio, paired_rounds
from bench.sqlcount import count_queries
from models.groups import Enrolment, TeachingAssignment, TeachingGroup
from models.learners import ExternalId, Learner
from models.schools import School
from models.staff import Membership, Role, User
from resolvers.context import Context, PrincipalKind, RequestInfo, Services, Viewer
from resolvers.learners import field_context
from resolvers.schools import create_school
from schema import build_schema

PAGE = 100
COUNT_PAGE_SIZES = (10, 50, 100)
GROUPS = 8

#: What the throughput comparison fetches: the columns the baseline reads too.
LEARNERS = """
query Learners($first: Int!, $after: String) {
  learners(first: $first, after: $after) {
    edges { node { id givenName familyName yearGroup upn } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

#: For the query counts: every per-learner relation a list screen shows.
LEARNERS_WIDE = """
query LearnersWide($first: Int!) {
  learners(first: $first) {
    edges {
      node {
        id givenName familyName yearGroup upn
        groups { name teachers { displayName } }
        externalIds { system value }
      }
    }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}
"""

#: Bench accounts never sign in.
NO_LOGIN = "!"
GIVEN = ["Amelia", "Noah", "Olivia", "Muhammad", "Isla", "George", "Ava", "Oliver", "Lily", "Leo"]
FAMILY = ["Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Khan", "Patel"]


# --- databases ---------------------------------------------------------------------------------


def _postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://"))


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextlib.asynccontextmanager
async def fresh_database(server_url: str | None) -> AsyncIterator[str]:
    """A new, migrated database: a temporary SQLite file, or a private PostgreSQL database."""
    if server_url is None:
        with tempfile.TemporaryDirectory(prefix="pp-bench-") as folder:
            url = f"sqlite://{Path(folder) / 'bench.sqlite3'}"
            await apply_migrations(url)
            yield url
        return
    name = f"pp_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        url = _with_database(server_url, name)
        await apply_migrations(url)
        yield url
    finally:
        admin = await asyncpg.connect(_asyncpg_dsn(server_url))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


# --- seeding -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Seeded:
    school_id: int
    admin: Viewer


def _upn(i: int) -> str:
    body = f"886{4000 + i // 1000:04d}15{i % 1000:03d}"
    return upn_checker.calc_check_digit(body) + body


async def seed(services: Services, learners: int) -> Seeded:
    """One school with ``learners`` learners (UPNs encrypted), groups, teachers, external ids.

    Rows are built in Python, encrypted through the keyring as the demo does, and written with
    bulk inserts; going through ``create_learner`` would write an audit event per learner.
    """
    rng = random.Random(1500)
    school: School = await create_school(services, "Bench Academy", "bench-academy")
    admin = await User.create(
        email="admin@bench.test", display_name="Admin", password_hash=NO_LOGIN
    )
    await Membership.create(school_id=school.id, user_id=admin.id, role=Role.ADMIN)
    groups = []
    for g in range(GROUPS):
        teacher = await User.create(
            email=f"teacher{g}@bench.test", display_name=f"Teacher {g}", password_hash=NO_LOGIN
        )
        await Membership.create(school_id=school.id, user_id=teacher.id, role=Role.TEACHER)
        group = await TeachingGroup.create(
            school_id=school.id,
            name=f"Group {g}",
            subject="Maths",
            year_group=7 + g % 5,
            academic_year="2026/27",
        )
        await TeachingAssignment.create(school_id=school.id, group_id=group.id, user_id=teacher.id)
        groups.append(group)
    rows = []
    for i in range(learners):
        row = Learner(
            school_id=school.id,
            given_name=rng.choice(GIVEN),
            family_name=rng.choice(FAMILY),
            year_group=7 + i % 5,
        )
        upn = _upn(i)
        row.upn_enc = await services.keyring.encrypt(field_context(row, "upn"), upn)
        row.upn_index = await services.keyring.index(school.id, "learner.upn", upn)
        rows.append(row)
    await Learner.bulk_create(rows, batch_size=500)
    await Enrolment.bulk_create(
        [
            Enrolment(school_id=school.id, group_id=groups[g].id, learner_id=row.id)
            for i, row in enumerate(rows)
            for g in {i % GROUPS, (i + 1) % GROUPS}
        ],
        batch_size=500,
    )
    await ExternalId.bulk_create(
        [
            ExternalId(school_id=school.id, learner_id=row.id, system="MIS", value=str(i))
            for i, row in enumerate(rows)
        ],
        batch_size=500,
    )
    viewer = Viewer(
        PrincipalKind.STAFF,
        school.id,
        frozenset({school.id}),
        user_id=admin.id,
        roles=frozenset({Role.ADMIN}),
    )
    return Seeded(school.id, viewer)


# --- the project side --------------------------------------------------------------------------


class Project:
    """Pages through the learners connection as the admin, one ``schema.execute`` per page."""

    def __init__(self, schema: strawberry.Schema, services: Services, viewer: Viewer) -> None:
        self.schema = schema
        self.services = services
        self.viewer = viewer

    async def page(self, document: str, **variables: Any) -> dict[str, Any]:
        # As the HTTP view builds it (tests/conftest.context_for): one Context per operation.
        ctx = Context(
            self.services, viewer=self.viewer, request=RequestInfo("198.51.100.7", "bench")
        )
        result = await self.schema.execute(document, variable_values=variables, context_value=ctx)
        if result.errors or result.data is None:
            raise RuntimeError(f"the learners query failed: {result.errors}")
        return result.data["learners"]  # type: ignore[no-any-return]

    async def all_learners(self) -> list[dict[str, Any]]:
        nodes: list[dict[str, Any]] = []
        after = None
        while True:
            page = await self.page(LEARNERS, first=PAGE, after=after)
            nodes.extend(edge["node"] for edge in page["edges"])
            if not page["pageInfo"]["hasNextPage"]:
                return nodes
            after = page["pageInfo"]["endCursor"]


# --- the hand-written baseline -----------------------------------------------------------------

# The same keyset pagination as resolvers/pagination.py, written by hand per driver.
_SQLITE_FIRST = (
    "SELECT id, given_name, family_name, year_group, upn_enc FROM learner"
    " WHERE school_id = ? AND left_at IS NULL"
    " ORDER BY family_name, given_name, id LIMIT ?"
)
_SQLITE_NEXT = (
    "SELECT id, given_name, family_name, year_group, upn_enc FROM learner"
    " WHERE school_id = ? AND left_at IS NULL AND (family_name, given_name, id) > (?, ?, ?)"
    " ORDER BY family_name, given_name, id LIMIT ?"
)
_POSTGRES_FIRST = (
    "SELECT id, given_name, family_name, year_group, upn_enc FROM learner"
    " WHERE school_id = $1 AND left_at IS NULL"
    " ORDER BY family_name, given_name, id LIMIT $2"
)
_POSTGRES_NEXT = (
    "SELECT id, given_name, family_name, year_group, upn_enc FROM learner"
    " WHERE school_id = $1 AND left_at IS NULL AND (family_name, given_name, id) > ($2, $3, $4)"
    " ORDER BY family_name, given_name, id LIMIT $5"
)


def _global_id(learner_id: object) -> str:
    return base64.urlsafe_b64encode(f"Learner:{learner_id}".encode()).decode().rstrip("=")


class Baseline:
    """The same pages on the bare driver: keyset SQL, AES-GCM decryption, result dicts."""

    def __init__(self, school_id: int, deks: dict[int, bytes]) -> None:
        self.school_id = school_id
        self.deks = deks

    def _node(self, row: Any) -> dict[str, Any]:
        learner_id = str(row[0])
        envelope = row[4]
        upn = None
        if envelope is not None:
            envelope = bytes(envelope)
            context = FieldContext(self.school_id, "learner", "upn", learner_id)
            upn = decrypt_field(self.deks[envelope_key_version(envelope)], envelope, context)
        return {
            "id": _global_id(learner_id),
            "givenName": row[1],
            "familyName": row[2],
            "yearGroup": row[3],
            "upn": upn,
        }

    async def fetch(self, after: tuple[Any, ...] | None) -> list[Any]:
        raise NotImplementedError

    async def all_learners(self) -> list[dict[str, Any]]:
        nodes: list[dict[str, Any]] = []
        after = None
        while True:
            rows = await self.fetch(after)
            nodes.extend(self._node(row) for row in rows[:PAGE])
            if len(rows) <= PAGE:
                return nodes
            last = rows[PAGE - 1]
            after = (last[2], last[1], last[0])

    async def close(self) -> None:
        raise NotImplementedError


class SqliteBaseline(Baseline):
    def __init__(self, school_id: int, deks: dict[int, bytes], db: aiosqlite.Connection) -> None:
        super().__init__(school_id, deks)
        self.db = db

    async def fetch(self, after: tuple[Any, ...] | None) -> list[Any]:
        if after is None:
            return list(await self.db.execute_fetchall(_SQLITE_FIRST, (self.school_id, PAGE + 1)))
        args = (self.school_id, *after, PAGE + 1)
        return list(await self.db.execute_fetchall(_SQLITE_NEXT, args))

    async def close(self) -> None:
        await self.db.close()


class PostgresBaseline(Baseline):
    def __init__(self, school_id: int, deks: dict[int, bytes], db: asyncpg.Connection) -> None:
        super().__init__(school_id, deks)
        self.db = db

    async def fetch(self, after: tuple[Any, ...] | None) -> list[Any]:
        if after is None:
            return list(await self.db.fetch(_POSTGRES_FIRST, self.school_id, PAGE + 1))
        return list(await self.db.fetch(_POSTGRES_NEXT, self.school_id, *after, PAGE + 1))

    async def close(self) -> None:
        await self.db.close()


async def open_baseline(url: str, school_id: int, master: MasterKey) -> Baseline:
    """Connect with the bare driver and unwrap the school's data keys once, as a keyring would."""
    sql = "SELECT version, wrapped_key FROM school_key WHERE school_id = ? AND purpose = 'data'"
    if _postgres(url):
        pg = await asyncpg.connect(_asyncpg_dsn(url))
        keys = await pg.fetch(sql.replace("?", "$1"), school_id)
        deks = {row[0]: master.unwrap(bytes(row[1])) for row in keys}
        return PostgresBaseline(school_id, deks, pg)
    lite = await aiosqlite.connect(url.removeprefix("sqlite://"))
    keys = list(await lite.execute_fetchall(sql, (school_id,)))
    deks = {row[0]: master.unwrap(bytes(row[1])) for row in keys}
    return SqliteBaseline(school_id, deks, lite)


# --- measuring ---------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def in_process(url: str) -> AsyncIterator[tuple[Services, Any, str]]:
    """The project's services and schema on ``url``, as a server builds them; and the backend."""
    settings = Settings(
        master_key=MasterKey.generate().to_text(),
        broker_url="memory://",
        namespace=f"ppbench-{uuid.uuid4().hex[:8]}",
    )
    services = build_services(settings)
    schema = build_schema(settings.limits)
    tortoise = TortoiseContext()
    async with tortoise, services.broker:
        await tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)
        try:
            yield services, schema, "postgresql" if _postgres(url) else "sqlite"
        finally:
            await services.throttle.aclose()


async def measure(args: argparse.Namespace, url: str) -> float:
    async with in_process(url) as (services, schema, backend):
        started = time.perf_counter()
        seeded = await seed(services, args.learners)
        print(
            f"backend={backend} learners={args.learners} groups={GROUPS} "
            f"(seeded in {time.perf_counter() - started:.1f} s)"
        )
        project = Project(schema, services, seeded.admin)
        baseline = await open_baseline(url, seeded.school_id, services.keyring.masters.current)
        try:
            await report_counts(project)
            return await compare(args, project, baseline)
        finally:
            await baseline.close()


async def report_counts(project: Project) -> None:
    """Print the SQL statements per page for each page size; exit non-zero if they differ."""
    await project.page(LEARNERS_WIDE, first=1)  # warm the per-process key cache
    constant = True
    for label, document in (
        ("with groups, teachers, externalIds, totalCount", LEARNERS_WIDE),
        ("as benchmarked (id givenName familyName yearGroup upn)", LEARNERS),
    ):
        counts = {}
        for first in COUNT_PAGE_SIZES:
            with count_queries() as queries:
                await project.page(document, first=first)
            counts[first] = queries.count
        shown = ", ".join(f"first={first}: {n}" for first, n in counts.items())
        print(f"SQL queries per learners page {label}: {shown}")
        constant = constant and len(set(counts.values())) == 1
    if not constant:
        print("FAIL: the query count grows with the page size (N+1)", file=sys.stderr)
        raise SystemExit(1)


async def compare(args: argparse.Namespace, project: Project, baseline: Baseline) -> float:
    mine, theirs = await project.all_learners(), await baseline.all_learners()
    if mine != theirs:
        raise SystemExit("FAIL: the project and the baseline returned different learners")
    pages = -(-len(mine) // PAGE)

    def report(round_: int, project_rate: float, baseline_rate: float) -> None:
        print(
            f"round {round_}: project {project_rate:.2f} ops/s, "
            f"baseline {baseline_rate:.2f} ops/s, ratio {project_rate / baseline_rate:.3f}"
        )

    project_rates, baseline_rates = await paired_rounds(
        project.all_learners,
        baseline.all_learners,
        rounds=args.rounds,
        seconds=args.seconds,
        report=report,
    )
    p, b = statistics.median(project_rates), statistics.median(baseline_rates)
    print(f"one op = all {len(mine)} learners in {pages} pages of {PAGE}; medians of {args.rounds}")
    print(f"project:  {p:8.2f} ops/s  {p * pages:8.1f} pages/s  {p * len(mine):9.0f} learners/s")
    print(f"baseline: {b:8.2f} ops/s  {b * pages:8.1f} pages/s  {b * len(mine):9.0f} learners/s")
    return median_ratio(project_rates, baseline_rates)


def run_in_process(
    prog: str,
    description: str | None,
    measure: Callable[[argparse.Namespace, str], Awaitable[float]],
    argv: list[str] | None,
) -> None:
    """The command line shared by the in-process benches: a private database, then ``ratio=``."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server URL (postgres://user@host:port/db); "
        "a private database is created on it and dropped. Default: a temporary SQLite file.",
    )
    parser.add_argument("--learners", type=int, default=1500)
    parser.add_argument(
        "--seconds", type=float, default=24.0, help="measuring time, shared by both sides"
    )
    parser.add_argument("--rounds", type=int, default=6, help="alternations of the two sides")
    args = parser.parse_args(argv)
    if args.learners < 1 or args.seconds <= 0 or args.rounds < 1:
        parser.error("--learners, --seconds and --rounds must be positive")
    if args.database_url is not None and not _postgres(args.database_url):
        parser.error("--database-url must be a postgres:// URL (SQLite is the default)")

    async def run() -> float:
        async with fresh_database(args.database_url) as url:
            return await measure(args, url)

    ratio = asyncio.run(run())
    print(f"ratio={ratio:.3f}")


def main(argv: list[str] | None = None) -> None:
    run_in_process("python -m bench.queries", __doc__, measure, argv)


if __name__ == "__main__":
    main()
