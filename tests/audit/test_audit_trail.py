"""The audit trail (AUDIT-01..04): who did what, never the data; append-only and hash-chained."""

from __future__ import annotations

import asyncio
import importlib
import itertools
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from tortoise.connection import get_connection
from tortoise.exceptions import BaseORMException

from models.audit import AuditEvent, AuditHead
from models.learners import Learner
from models.schools import School
from models.staff import Role, User
from resolvers.audit import Entry, verify_all, verify_chain
from resolvers.context import Services
from schema.common import to_global_id
from tests import factories
from tests.conftest import TEST_IP, GraphQLRunner

ROOT = Path(__file__).resolve().parents[2]
APPEND_ONLY = importlib.import_module("models.migrations.0002_audit_append_only")

LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token errors { code } }
}
"""

LEARNER_NAMES_AND_UPN = "query Names { learners { nodes { givenName familyName upn } } }"

LEARNER_NAMES_ONLY = "query Names { learners { nodes { givenName familyName } } }"

LEARNER_COUNT = "query Count { learners { totalCount nodes { id } } }"

UPDATE_STAFF = """
mutation UpdateStaff($input: UpdateStaffInput!) {
  updateStaff(input: $input) { staffMember { displayName } errors { field code message } }
}
"""

CREATE_LEARNER = """
mutation CreateLearner($input: CreateLearnerInput!) {
  createLearner(input: $input) { learner { id } errors { field code message } }
}
"""

AUDIT_EVENTS = """
query AuditEvents($first: Int, $after: String) {
  auditEvents(first: $first, after: $after) {
    edges {
      cursor
      node {
        seq at actorType actorId action targetType targetIds fields outcome ip requestId hash
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

WRONG_PASSWORD = "certainly not the password"


async def audit_text() -> str:
    """Every stored audit row and chain head, as one string to search for leaked data."""
    events = await AuditEvent.all().order_by("id").values()
    heads = await AuditHead.all().values()
    return json.dumps([events, heads], default=str)


@asynccontextmanager
async def append_only_lifted() -> AsyncIterator[None]:
    """What an attacker with database access does first: switch the triggers off (restored)."""
    conn = get_connection("default")
    postgres = conn.capabilities.dialect == "postgres"
    if postgres:
        await conn.execute_script("ALTER TABLE audit_event DISABLE TRIGGER USER")
    else:
        await conn.execute_script(APPEND_ONLY.SQLITE_BACK)
    try:
        yield
    finally:
        if postgres:
            await conn.execute_script("ALTER TABLE audit_event ENABLE TRIGGER USER")
        else:
            await conn.execute_script(APPEND_ONLY.SQLITE)


async def school_with_chain(services: Services, events: int) -> tuple[School, list[AuditEvent]]:
    """A school whose chain holds ``events`` events (the first is ``school.create``)."""
    school = await factories.school(services)
    for i in range(events - 1):
        await services.audit.record(
            Entry("test.step", school.id, target_type="thing", target_ids=(str(i),))
        )
    rows = list(await AuditEvent.filter(chain=school.id).order_by("seq"))
    assert len(rows) == events
    return school, rows


async def chain_of(services: Services, events: int) -> tuple[int, list[AuditEvent]]:
    school, rows = await school_with_chain(services, events)
    return school.id, rows


async def test_logins_are_audited_without_the_password_or_the_email(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    user = await factories.staff(school, email="grace.hopper@example.test")
    # when
    await gql(LOGIN, email="Grace.Hopper@example.test", password=factories.PASSWORD)
    await gql(LOGIN, email=user.email, password=WRONG_PASSWORD)
    await gql(LOGIN, email="ghost.writer@example.test", password=WRONG_PASSWORD)
    # then
    rows = await AuditEvent.filter(action__startswith="auth.").order_by("id")
    seen = [(r.action, r.chain, r.actor_type, r.actor_id, r.target_ids, r.outcome) for r in rows]
    assert seen == [
        ("auth.login", school.id, "user", str(user.id), [str(user.id)], "success"),
        ("auth.login_failed", school.id, "anonymous", None, [str(user.id)], "failure"),
        ("auth.login_failed", 0, "anonymous", None, [], "failure"),
    ]
    assert {(r.ip, r.request_id, r.target_type) for r in rows} == {(TEST_IP, "test", "user")}
    text = (await audit_text()).lower()
    for secret in (factories.PASSWORD, WRONG_PASSWORD, "grace", "hopper", "ghost", "example.test"):
        assert secret.lower() not in text


async def test_reading_learners_writes_one_event_per_operation_with_ids_and_field_names(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    ada = await factories.learner(
        services, school, given_name="Adaline", family_name="Quillfeather", upn="B801200005001"
    )
    bo = await factories.learner(
        services, school, given_name="Bosworth", family_name="Thistlewood", upn="Q801200005002"
    )
    before = await AuditEvent.filter(action="learner.read").count()
    # when
    first = await gql(LEARNER_NAMES_AND_UPN, admin)
    second = await gql(LEARNER_NAMES_AND_UPN, admin)
    # then
    assert first.errors is None
    assert second.errors is None
    assert first.data["learners"]["nodes"][0]["upn"] == "B801200005001"
    reads = await AuditEvent.filter(action="learner.read").order_by("seq")
    assert before == 0
    assert len(reads) == 2
    for read in reads:
        assert read.chain == school.id
        assert (read.actor_type, read.actor_id) == admin.actor
        assert read.target_type == "learner"
        assert read.target_ids == sorted([str(ada.id), str(bo.id)])
        assert read.fields_touched == ["family_name", "given_name", "upn"]
    text = await audit_text()
    for value in ("Adaline", "Quillfeather", "Bosworth", "Thistlewood", "B801200005001", "Q80120"):
        assert value not in text


async def test_a_partner_read_is_on_the_trail_of_the_school_whose_learners_were_read(
    services: Services, gql: GraphQLRunner
) -> None:
    # given: a partner key granted by two schools
    first = await factories.school(services)
    second = await factories.school(services)
    ours = await factories.learner(services, first)
    theirs = await factories.learner(services, second)
    key, _ = await factories.api_key(first, second)
    partner = factories.partner_viewer(key, first, second)
    # when
    result = await gql(LEARNER_NAMES_ONLY, partner)
    # then: each school's DPO sees the reads of its own learners, and only those
    assert result.errors is None
    assert len(result.data["learners"]["nodes"]) == 2
    reads = await AuditEvent.filter(action="learner.read")
    by_chain = {r.chain: r.target_ids for r in reads}
    assert by_chain == {first.id: [str(ours.id)], second.id: [str(theirs.id)]}


async def test_listing_without_reading_personal_fields_writes_no_read_event(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    await factories.learner(services, school)
    # when
    result = await gql(LEARNER_COUNT, admin)
    # then
    assert result.data["learners"]["totalCount"] == 1
    assert not await AuditEvent.filter(action="learner.read").exists()


async def test_admin_changes_are_audited_by_name_only(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    colleague = await factories.staff(school, display_name="Mr Oldname")
    # when
    result = await gql(
        UPDATE_STAFF,
        admin,
        input={"id": to_global_id("StaffMember", colleague.id), "displayName": "Mr Newname"},
    )
    created = await gql(
        CREATE_LEARNER,
        admin,
        input={
            "givenName": "Perpetua",
            "familyName": "Wolstenholme",
            "upn": "E801200005003",
            "sendDetails": "Needs a reader in exams",
        },
    )
    # then
    assert result.data["updateStaff"]["errors"] == []
    assert created.data["createLearner"]["errors"] == []
    update = await AuditEvent.get(action="staff.update")
    assert (update.chain, update.target_ids, update.fields_touched) == (
        school.id,
        [str(colleague.id)],
        ["display_name"],
    )
    create = await AuditEvent.get(action="learner.create")
    assert {"upn", "uln", "date_of_birth", "send_details"} <= set(create.fields_touched)
    text = await audit_text()
    for value in ("Oldname", "Newname", "Perpetua", "Wolstenholme", "E801200005003", "reader"):
        assert value not in text


async def test_an_admin_change_whose_audit_event_fails_is_rolled_back(
    services: Services, gql: GraphQLRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the change and its event share one transaction
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    colleague = await factories.staff(school, display_name="Ms Unchanged")

    async def audit_down(entry: Entry) -> AuditEvent:
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(services.audit, "record", audit_down)
    # when
    renamed = await gql(
        UPDATE_STAFF,
        admin,
        input={"id": to_global_id("StaffMember", colleague.id), "displayName": "Ms Changed"},
    )
    created = await gql(CREATE_LEARNER, admin, input={"givenName": "No", "familyName": "Trace"})
    # then
    assert [e.message for e in renamed.errors] == ["Unexpected error."]
    assert [e.message for e in created.errors] == ["Unexpected error."]
    assert (await User.get(id=colleague.id)).display_name == "Ms Unchanged"
    assert not await Learner.filter(family_name="Trace").exists()


async def test_a_good_chain_verifies_with_aware_utc_timestamps(services: Services) -> None:
    # given
    chain, rows = await chain_of(services, 5)
    # when
    report = await verify_chain(chain)
    reports = await verify_all()
    # then
    assert (report.chain, report.events, report.problem) == (chain, 5, None)
    assert [r.problem for r in reports] == [None] * len(reports)
    assert chain in {r.chain for r in reports}
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(rows))
    assert all(r.at.utcoffset() == timedelta(0) for r in rows)


@pytest.mark.parametrize("statement", ["update", "delete"])
async def test_the_database_refuses_to_change_or_remove_an_event(
    services: Services, statement: str
) -> None:
    # given
    chain, rows = await chain_of(services, 3)
    target = AuditEvent.filter(id=rows[1].id)
    change = target.update(outcome="failure") if statement == "update" else target.delete()
    # when
    with pytest.raises((BaseORMException, asyncpg.PostgresError), match="append-only"):
        await change
    # then
    assert await AuditEvent.filter(chain=chain).count() == 3
    assert (await verify_chain(chain)).problem is None


async def test_the_database_refuses_to_empty_the_trail_wholesale(services: Services) -> None:
    # given
    chain, _ = await chain_of(services, 3)
    conn = get_connection("default")
    # the quickest way to empty a table on each backend
    wipe = (
        "TRUNCATE audit_event, audit_head"
        if conn.capabilities.dialect == "postgres"
        else "DELETE FROM audit_event"
    )
    # when / then
    with pytest.raises((BaseORMException, asyncpg.PostgresError), match="append-only"):
        await conn.execute_script(wipe)
    assert await AuditEvent.filter(chain=chain).count() == 3


async def test_an_edited_event_is_detected(services: Services) -> None:
    # given
    chain, rows = await chain_of(services, 5)
    edited = rows[2]
    # when
    async with append_only_lifted():
        await AuditEvent.filter(id=edited.id).update(target_ids=["someone-else"])
    # then
    report = await verify_chain(chain)
    assert report.problem == f"event {edited.id}: contents were altered"
    assert report.events == 2


async def test_an_edited_and_rehashed_event_breaks_the_next_link(services: Services) -> None:
    # given
    chain, rows = await chain_of(services, 5)
    edited, following = rows[2], rows[3]
    # when: the attacker also rewrites the row's own hash
    async with append_only_lifted():
        await AuditEvent.filter(id=edited.id).update(action="test.innocent", hash="f" * 64)
    # then
    report = await verify_chain(chain)
    assert report.problem in {
        f"event {edited.id}: contents were altered",
        f"event {following.id}: does not follow the previous event",
    }


async def test_a_deleted_middle_event_is_detected(services: Services) -> None:
    # given
    chain, rows = await chain_of(services, 5)
    # when
    async with append_only_lifted():
        await AuditEvent.filter(id=rows[2].id).delete()
    # then
    report = await verify_chain(chain)
    assert report.problem == f"event {rows[3].id}: seq 4, expected 3"


async def test_a_truncated_tail_is_detected(services: Services) -> None:
    # given
    chain, rows = await chain_of(services, 5)
    # when
    async with append_only_lifted():
        await AuditEvent.filter(id__in=[rows[3].id, rows[4].id]).delete()
    # then
    report = await verify_chain(chain)
    assert report.problem == "events are missing from the end of the chain"
    assert report.events == 3
    assert [r.problem for r in await verify_all() if r.chain == chain] == [report.problem]


async def test_admins_page_through_their_own_chain_and_reading_it_is_audited(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school, _ = await school_with_chain(services, 5)
    await chain_of(services, 4)
    await services.audit.record(Entry("test.installation", None))
    admin_user = await factories.staff(school, Role.ADMIN)
    admin = factories.viewer(admin_user, school, Role.ADMIN)
    chain = school.id
    # when
    nodes: list[dict[str, Any]] = []
    after, pages = None, 0
    while True:
        result = await gql(AUDIT_EVENTS, admin, first=2, after=after)
        assert result.errors is None
        pages += 1
        connection = result.data["auditEvents"]
        nodes += [edge["node"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    # then: the whole chain, in order, and nothing of another school's
    assert [n["seq"] for n in nodes] == list(range(1, len(nodes) + 1))
    own = {r.hash for r in await AuditEvent.filter(chain=chain)}
    assert {n["hash"] for n in nodes} <= own
    foreign = {r.hash for r in await AuditEvent.exclude(chain=chain)}
    assert len(foreign) == 5
    assert not {n["hash"] for n in nodes} & foreign
    reads = await AuditEvent.filter(chain=chain, action="audit.read").order_by("seq")
    assert len(reads) == pages
    assert {(r.actor_type, r.actor_id, r.target_type) for r in reads} == {
        ("user", str(admin_user.id), "audit_event")
    }
    assert all(n["at"].endswith("+00:00") for n in nodes)
    assert (await verify_chain(chain)).problem is None


async def test_only_admins_read_the_audit_trail(services: Services, gql: GraphQLRunner) -> None:
    # given
    school = await factories.school(services)
    teacher = await factories.staff(school, Role.TEACHER, Role.LEADER, Role.SAFEGUARDING_LEAD)
    viewer = factories.viewer(teacher, school, Role.TEACHER, Role.LEADER, Role.SAFEGUARDING_LEAD)
    key, _ = await factories.api_key(school)
    # when
    as_teacher = await gql(AUDIT_EVENTS, viewer)
    as_partner = await gql(AUDIT_EVENTS, factories.partner_viewer(key, school))
    anonymous = await gql(AUDIT_EVENTS)
    # then
    assert [e.extensions for e in as_teacher.errors] == [{"code": "FORBIDDEN"}]
    assert [e.extensions for e in as_partner.errors] == [{"code": "FORBIDDEN"}]
    assert [e.extensions for e in anonymous.errors] == [{"code": "UNAUTHENTICATED"}]
    assert not await AuditEvent.filter(action="audit.read").exists()


@pytest.mark.parametrize("chain_exists", [True, False], ids=["existing chain", "new chain"])
async def test_concurrent_appends_make_one_gapless_valid_chain(
    services: Services, chain_exists: bool
) -> None:
    # given
    chain = (await factories.school(services)).id if chain_exists else 4242
    before = await AuditEvent.filter(chain=chain).count()
    # when
    await asyncio.gather(
        *(
            services.audit.record(Entry("test.concurrent", chain, target_ids=(str(i),)))
            for i in range(20)
        )
    )
    # then
    rows = await AuditEvent.filter(chain=chain).order_by("seq")
    assert [r.seq for r in rows] == list(range(1, before + 21))
    assert sorted(r.target_ids[0] for r in rows[before:]) == sorted(str(i) for i in range(20))
    report = await verify_chain(chain)
    assert (report.events, report.problem) == (before + 20, None)


async def _verify_audit_cli(database_url: str) -> tuple[int, str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        "verify-audit",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_the_verify_audit_command_exits_1_when_a_chain_is_broken(
    services: Services, database_url: str
) -> None:
    # given
    chain, rows = await chain_of(services, 4)
    # when
    good_code, good_output = await _verify_audit_cli(database_url)
    async with append_only_lifted():
        await AuditEvent.filter(id=rows[1].id).update(outcome="failure")
    bad_code, bad_output = await _verify_audit_cli(database_url)
    # then
    assert (good_code, good_output) == (0, f"chain {chain}: 4 events, ok\n")
    assert bad_code == 1, bad_output
    assert bad_output == (
        f"chain {chain}: 1 events, BROKEN: event {rows[1].id}: contents were altered\n"
    )
