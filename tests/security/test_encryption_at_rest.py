"""Encryption at rest (CRYPTO-02, 04, 05, 07, 09, 11) seen from the database and the schema."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from strawberry.types.execution import ExecutionResult
from tortoise import Tortoise
from tortoise.connection import get_connection

from app.security.crypto import FieldContext, MasterKey, MasterKeyRing, envelope_key_version
from models.alert_routing import WebhookEndpoint
from models.audit import AuditEvent
from models.classroom import ActivityRecord
from models.learners import Learner
from models.markbook import BehaviourRecord
from models.safeguarding import Alert, AlertAction, AlertActionKind
from models.schools import School, SchoolKey
from models.staff import Role
from resolvers import learners as learner_cases
from resolvers.audit import verify_chain
from resolvers.conduct import note_context
from resolvers.context import Context, RequestInfo, Services, Viewer
from resolvers.ingest import ENCRYPTED_HISTORY
from resolvers.keyring import Keyring
from resolvers.learners import ENCRYPTED, LearnerData
from resolvers.rotation import KEPT, RETIRE_AFTER, SEALED, rotate_keys
from resolvers.safeguarding.evidence import open_evidence, open_note, seal_note
from resolvers.safeguarding.webhook_secrets import webhook_secret_context
from schema.common import to_global_id
from tests import factories
from tests.classroom.helpers import a_class, event
from tests.conftest import SCHEMA, Clock, GraphQLRunner, context_for
from tests.safeguarding.routing_helpers import EXCERPT, a_place, an_alert

CREATE_LEARNER = """
mutation CreateLearner($input: CreateLearnerInput!) {
  createLearner(input: $input) { learner { id } errors { field code message } }
}
"""

LEARNER = """
query One($id: ID!) {
  learner(id: $id) { id familyName upn uln dateOfBirth sendDetails }
}
"""

LEARNERS = """
query All { learners(first: 100) { nodes { id familyName upn uln dateOfBirth sendDetails } } }
"""

LEARNERS_BY_UPN = """
query ByUpn($upn: String!) { learners(filter: {upn: $upn}) { nodes { familyName upn } } }
"""

#: Valid identifiers (check characters computed), each distinctive enough to search raw bytes for.
UPNS = ["B801200005001", "Q801200005002", "E801200005003", "U801200005004"]
ULNS = ["9123456786", "8123456718", "7123456725", "6123456732"]
ENCRYPTED_COLUMNS = [f"{column}_enc" for column in ENCRYPTED]


def sensitive(n: int) -> dict[str, Any]:
    """Learner input with every encrypted field set, all values unique to ``n``."""
    return {
        "givenName": f"Plainname{n}",
        "familyName": f"Visiblefamily{n}",
        "upn": UPNS[n],
        "uln": ULNS[n],
        "dateOfBirth": f"2012-0{n + 1}-2{n}",
        "sendDetails": f"Dyslexia: coloured overlay number {n}, extra time Zqvx{n}",
    }


async def read_as(services: Services, viewer: Viewer) -> ExecutionResult:
    """LEARNERS as another app process would run it: same database, its own services."""
    return await SCHEMA.execute(LEARNERS, context_value=context_for(services, viewer))


async def admin_of(school: School) -> Viewer:
    return await factories.admin_viewer(school)


async def create(gql: GraphQLRunner, admin: Viewer, values: dict[str, Any]) -> str:
    result = await gql(CREATE_LEARNER, admin, input=values)
    assert result.errors is None
    assert result.data["createLearner"]["errors"] == []
    return str(result.data["createLearner"]["learner"]["id"])


async def database_contents(database_url: str) -> bytes:
    """Everything the database holds, as raw bytes (SQLite) or every row as text (PostgreSQL)."""
    conn = get_connection("default")
    if conn.capabilities.dialect == "postgres":
        tables = await conn.execute_query_dict(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        )
        assert {t["table_name"] for t in tables} >= {"learner", "audit_event", "school_key"}
        rows = []
        for table in sorted(t["table_name"] for t in tables):
            rows += await conn.execute_query_dict(f'SELECT t::text AS row FROM "{table}" t')  # noqa: S608 - names from the catalogue
        return "\n".join(r["row"] for r in rows).encode()
    path = Path(database_url.removeprefix("sqlite://"))
    files = [path, *(Path(f"{path}{suffix}") for suffix in ("-wal", "-journal"))]
    return b"".join(f.read_bytes() for f in files if f.exists())


def found(value: str, haystack: bytes) -> bool:
    """Whether ``value`` is stored as text, or as bytes rendered in hex (PostgreSQL bytea)."""
    raw = value.encode()
    return raw in haystack or raw.hex().encode() in haystack.lower()


async def read_all(gql: GraphQLRunner, admin: Viewer) -> dict[str, dict[str, Any]]:
    result = await gql(LEARNERS, admin)
    assert result.errors is None
    return {node["id"]: node for node in result.data["learners"]["nodes"]}


async def test_no_sensitive_plaintext_reaches_the_database(
    services: Services, gql: GraphQLRunner, database_url: str
) -> None:
    # given
    school = await factories.school(services)
    admin = await admin_of(school)
    values = [sensitive(n) for n in range(3)]
    for value in values:
        await create(gql, admin, value)
    # when
    contents = await database_contents(database_url)
    # then: the scan sees ordinary columns (so it would see a leak) ...
    assert all(found(v["familyName"], contents) for v in values)
    # ... and none of the encrypted ones, in any form the API accepts or returns
    secrets = [v[k] for v in values for k in ("upn", "uln", "dateOfBirth", "sendDetails")]
    secrets += [v["sendDetails"].split(",")[0] for v in values]  # a fragment, not just the whole
    secrets += [v["dateOfBirth"].replace("-", "") for v in values]
    assert [s for s in secrets if found(s, contents)] == []
    # and the stored values are envelopes that read back through the API
    rows = await Learner.filter(school_id=school.id).order_by("family_name")
    assert len(rows) == len(values)
    for row in rows:
        for column in ENCRYPTED_COLUMNS:
            assert bytes(getattr(row, column))[:1] == b"\x01"
    read = await read_all(gql, admin)
    assert sorted(n["upn"] for n in read.values()) == sorted(v["upn"] for v in values)


@pytest.mark.parametrize("source", ["another row", "another column", "another school"])
async def test_ciphertext_moved_elsewhere_does_not_decrypt(
    services: Services, gql: GraphQLRunner, source: str
) -> None:
    # given
    school = await factories.school(services)
    elsewhere = await factories.school(services)
    donor = await factories.learner(services, school, upn=UPNS[0], uln=ULNS[0])
    victim_school = elsewhere if source == "another school" else school
    victim = (
        donor
        if source == "another column"
        else await factories.learner(services, victim_school, upn=UPNS[1])
    )
    envelope = donor.uln_enc if source == "another column" else donor.upn_enc
    # when: someone with database access swaps the bytes in
    await Learner.filter(id=victim.id).update(upn_enc=bytes(envelope))
    result = await gql(
        LEARNER, await admin_of(victim_school), id=to_global_id("Learner", victim.id)
    )
    # then: the field fails, masked, and leaks nothing
    assert [e.message for e in result.errors] == ["Unexpected error."]
    assert [e.path for e in result.errors] == [["learner", "upn"]]
    assert result.data["learner"]["upn"] is None
    shown = json.dumps([e.formatted for e in result.errors])
    assert UPNS[0] not in shown
    assert ULNS[0] not in shown
    # and the value still reads where it belongs
    own = await gql(LEARNER, await admin_of(school), id=to_global_id("Learner", donor.id))
    if source == "another column":
        assert own.data["learner"]["uln"] == ULNS[0]
    else:
        assert own.errors is None
        assert (own.data["learner"]["upn"], own.data["learner"]["uln"]) == (UPNS[0], ULNS[0])


async def test_the_upn_filter_matches_exactly_through_the_blind_index(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await admin_of(school)
    await factories.learner(services, school, family_name="Wanted", upn=UPNS[0])
    await factories.learner(services, school, family_name="Other", upn=UPNS[1])
    # when
    exact = await gql(LEARNERS_BY_UPN, admin, upn=UPNS[0])
    spaced = await gql(LEARNERS_BY_UPN, admin, upn=" b801 2000 05001 ")
    missing = await gql(LEARNERS_BY_UPN, admin, upn=UPNS[2])
    # then
    assert exact.errors is None
    assert exact.data["learners"]["nodes"] == [{"familyName": "Wanted", "upn": UPNS[0]}]
    assert spaced.data == exact.data
    assert missing.data["learners"]["nodes"] == []
    row = await Learner.get(family_name="Wanted")
    assert row.upn_index is not None
    assert len(row.upn_index) == 32
    assert row.upn_index != hashlib.sha256(UPNS[0].encode()).hexdigest()[:32]


async def test_the_upn_filter_is_for_identifier_readers_only(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    teacher = await factories.staff(school, Role.TEACHER, Role.LEADER)
    # when
    result = await gql(
        LEARNERS_BY_UPN, factories.viewer(teacher, school, Role.TEACHER, Role.LEADER), upn=UPNS[0]
    )
    # then
    assert [e.extensions for e in result.errors] == [{"code": "FORBIDDEN"}]


async def test_the_same_upn_in_two_schools_has_unlinkable_indexes(
    services: Services, gql: GraphQLRunner
) -> None:
    # given: a pupil who moved schools
    first = await factories.school(services)
    second = await factories.school(services)
    await factories.learner(services, first, family_name="AtFirst", upn=UPNS[0], uln=ULNS[0])
    await factories.learner(services, second, family_name="AtSecond", upn=UPNS[0], uln=ULNS[0])
    # when
    at_first = await gql(LEARNERS_BY_UPN, await admin_of(first), upn=UPNS[0])
    at_second = await gql(LEARNERS_BY_UPN, await admin_of(second), upn=UPNS[0])
    # then
    rows = {r.family_name: r for r in await Learner.all()}
    assert rows["AtFirst"].upn_index != rows["AtSecond"].upn_index
    assert rows["AtFirst"].uln_index != rows["AtSecond"].uln_index
    assert at_first.data["learners"]["nodes"] == [{"familyName": "AtFirst", "upn": UPNS[0]}]
    assert at_second.data["learners"]["nodes"] == [{"familyName": "AtSecond", "upn": UPNS[0]}]


async def _schools_with_learners(
    services: Services, gql: GraphQLRunner
) -> tuple[list[School], list[Viewer]]:
    first = await factories.school(services)
    second = await factories.school(services)
    admins = [await admin_of(first), await admin_of(second)]
    await create(gql, admins[0], sensitive(0))
    await create(gql, admins[0], sensitive(1))
    await create(gql, admins[0], {"givenName": "Only", "familyName": "Names"})
    await create(gql, admins[1], sensitive(2))
    return [first, second], admins


async def test_rotating_data_keys_keeps_every_value_and_retires_the_old_keys(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    schools, admins = await _schools_with_learners(services, gql)
    before = [await read_all(gql, admin) for admin in admins]
    envelopes_before = {
        r.id: [getattr(r, c) for c in ENCRYPTED_COLUMNS] for r in await Learner.all()
    }
    # when
    report = await rotate_keys(services)
    # then: every learner reads the same through the API
    assert [await read_all(gql, admin) for admin in admins] == before
    assert report == {
        "rewrapped_keys": 0,
        "schools": {
            schools[0].slug: {
                "retired_versions": [],
                "data_key_version": 2,
                "rows_reencrypted": 2,
            },
            schools[1].slug: {
                "retired_versions": [],
                "data_key_version": 2,
                "rows_reencrypted": 1,
            },
        },
    }
    # and every envelope was rewritten under version 2; empty fields stayed empty
    for row in await Learner.all():
        for column, old in zip(ENCRYPTED_COLUMNS, envelopes_before[row.id], strict=True):
            new = getattr(row, column)
            if old is None:
                assert new is None
            else:
                assert envelope_key_version(bytes(new)) == 2
                assert bytes(new) != bytes(old)
    # and the old data keys stay while other processes may still write with them
    assert await SchoolKey.filter(purpose="data", version=1).count() == len(schools)
    # when the grace period has passed and the retirement pass runs
    clock.advance(seconds=RETIRE_AFTER.total_seconds() + 1)
    retired = await rotate_keys(services, retire_only=True)
    assert [s["retired_versions"] for s in retired["schools"].values()] == [[1], [1]]
    # then the old data keys are gone; the blind-index keys are untouched
    keys = (
        await SchoolKey.all()
        .order_by("school_id", "purpose")
        .values_list("school_id", "purpose", "version", "active")
    )
    assert sorted(keys) == sorted(
        (s.id, purpose, version, True)
        for s in schools
        for purpose, version in (("data", 2), ("index", 1))
    )
    # and the rotation is on each school's audit trail
    for school in schools:
        event = await AuditEvent.get(chain=school.id, action="keys.rotate")
        assert (event.target_type, event.target_ids) == ("school_key", ["2"])
        assert (await verify_chain(school.id)).problem is None
    # and the UPN filter still finds people
    found_again = await gql(LEARNERS_BY_UPN, admins[1], upn=UPNS[2])
    assert [n["upn"] for n in found_again.data["learners"]["nodes"]] == [UPNS[2]]


async def test_a_worker_with_cached_keys_writes_readable_data_after_a_rotation(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given: a second app process that has recently used the school's keys
    school = await factories.school(services)
    admin = await admin_of(school)
    await create(gql, admin, sensitive(0))
    worker = dataclasses.replace(services, keyring=Keyring(services.keyring.masters))
    warm = await read_as(worker, admin)
    assert warm.errors is None
    assert [n["upn"] for n in warm.data["learners"]["nodes"]] == [UPNS[0]]
    # when: this process rotates, then the other one creates a learner
    await rotate_keys(services)
    ctx = Context(worker, viewer=admin, request=RequestInfo())
    data = LearnerData(given_name="Late", family_name="Arrival", upn=UPNS[3])
    await learner_cases.create_learner(ctx, data)
    # then: a freshly started process can read it
    fresh = dataclasses.replace(services, keyring=Keyring(services.keyring.masters))
    result = await read_as(fresh, admin)
    assert result.errors is None
    assert sorted(str(n["upn"]) for n in result.data["learners"]["nodes"]) == sorted(
        [UPNS[0], UPNS[3]]
    )
    # and once the grace period has passed, retirement moves the straggler onto the new key
    clock.advance(seconds=RETIRE_AFTER.total_seconds() + 1)
    await rotate_keys(services, retire_only=True)
    late = await Learner.get(family_name="Arrival")
    assert envelope_key_version(bytes(late.upn_enc)) == 2
    assert await SchoolKey.filter(school_id=school.id, purpose="data").count() == 1
    after = await read_as(
        dataclasses.replace(services, keyring=Keyring(services.keyring.masters)), admin
    )
    assert sorted(str(n["upn"]) for n in after.data["learners"]["nodes"]) == sorted(
        [UPNS[0], UPNS[3]]
    )


async def test_after_a_master_key_rotation_only_the_new_master_key_is_needed(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    schools, admins = await _schools_with_learners(services, gql)
    before = [await read_all(gql, admin) for admin in admins]
    old = services.keyring.masters.current
    new = MasterKey.generate()
    wrapped_before = dict(await SchoolKey.all().values_list("id", "wrapped_key"))
    # when: deploy the new key as current with the old one as previous, and re-wrap
    rewrapped = await Keyring(MasterKeyRing(current=new, previous=(old,))).rewrap_all()
    # then
    assert rewrapped == 2 * len(schools)  # a data key and an index key per school
    rows = await SchoolKey.all()
    assert {r.kek_id for r in rows} == {new.key_id}
    assert all(bytes(r.wrapped_key) != bytes(wrapped_before[r.id]) for r in rows)
    # when: the old master key is dropped altogether
    services.keyring = Keyring(MasterKeyRing(current=new))
    # then
    assert [await read_all(gql, admin) for admin in admins] == before
    found_again = await gql(LEARNERS_BY_UPN, admins[0], upn=UPNS[1])
    assert [n["upn"] for n in found_again.data["learners"]["nodes"]] == [UPNS[1]]
    # and the old master key alone opens nothing any more
    services.keyring = Keyring(MasterKeyRing(current=old))
    stale = await gql(LEARNERS, admins[0])
    assert stale.errors
    assert {e.message for e in stale.errors} == {"Unexpected error."}


HISTORY_REPORT = """
mutation Report($events: [ActivityEventInput!]!) {
  reportActivity(input: {events: $events}) { results { status } }
}
"""


async def test_retiring_a_data_key_keeps_activity_history_readable(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given: a device's typed text and visited page, sealed under the school's first data key
    room = await a_class(services)
    sent = event(
        "TYPED_TEXT",
        clock.now,
        url="https://example.org/q?s=secret",
        title="Notes",
        text="a private note",
    )
    result = await gql(HISTORY_REPORT, room.pupil.viewer, events=[sent])
    assert result.data["reportActivity"]["results"] == [{"status": "ACCEPTED"}]
    await services.history.flush()
    row = await ActivityRecord.get()
    assert envelope_key_version(bytes(row.text_enc)) == 1
    # when the key is rotated and, after the grace period, the old one retired
    await rotate_keys(services)
    clock.advance(seconds=RETIRE_AFTER.total_seconds() + 1)
    report = await rotate_keys(services, retire_only=True)
    # then the old key is gone and the history still reads, now under the new key
    assert report["schools"][room.school.slug]["retired_versions"] == [1]
    row = await ActivityRecord.get()
    fresh = Keyring(services.keyring.masters)
    for column, expected in zip(
        ENCRYPTED_HISTORY, (sent["url"], "Notes", "a private note"), strict=True
    ):
        envelope = bytes(getattr(row, f"{column}_enc"))
        assert envelope_key_version(envelope) == 2
        context = FieldContext(room.school.id, "activity_record", column, str(row.id))
        assert await fresh.decrypt(context, envelope) == expected


async def test_rotation_knows_every_encrypted_column(services: Services) -> None:
    # given every model's sealed columns (``*_enc`` binary fields)
    sealed = {
        (model._meta.db_table, name.removesuffix("_enc"))
        for model in Tortoise.apps["models"].values()
        for name in model._meta.fields_map
        if name.endswith("_enc")
    }
    # then rotation rewrites each, or keeps the key versions of each (the append-only record)
    covered = {
        (model._meta.db_table, column)
        for model, _, columns in (*SEALED, *KEPT)
        for column in columns
    }
    assert sealed == covered


async def test_rotation_rewrites_notes_and_webhook_secrets_and_keeps_the_safeguarding_record(
    services: Services, clock: Clock
) -> None:
    # given, under the school's first data key: an alert's evidence and a note on it, a
    # webhook's signing secret and a behaviour note
    place = await a_place(services)
    school_id = place.school.id
    alert = await an_alert(services, place)
    action_id = uuid.uuid4()  # the append-only record is written once: sealed before insert
    action = await AlertAction.create(
        id=action_id,
        school_id=school_id,
        alert_id=alert.id,
        kind=AlertActionKind.NOTE_ADDED,
        note_enc=await seal_note(services.keyring, school_id, action_id, "Spoke to mum"),
        created_at=clock.now,
    )
    endpoint = WebhookEndpoint(
        school_id=school_id, url="https://hooks.example/a", created_at=clock.now
    )
    endpoint.secret_enc = await services.keyring.encrypt(webhook_secret_context(endpoint), "s3cret")
    await endpoint.save()
    behaviour = await BehaviourRecord.create(
        school_id=school_id,
        learner_id=place.learner.id,
        points=-1,
        category="Disruption",
        recorded_at=clock.now,
    )
    behaviour.note_enc = await services.keyring.encrypt(note_context(behaviour), "talked in class")
    await behaviour.save(update_fields=["note_enc"])
    # when the data key is rotated and, after the grace period, old versions are retired
    await rotate_keys(services)
    clock.advance(seconds=RETIRE_AFTER.total_seconds() + 1)
    report = await rotate_keys(services, retire_only=True)
    # then version 1 stays, because the append-only record was sealed with it
    assert report["schools"][place.school.slug]["retired_versions"] == []
    assert await SchoolKey.filter(school_id=school_id, purpose="data", version=1).exists()
    # and everything reads back with a keyring that has never seen these keys
    fresh = Keyring(services.keyring.masters)
    stored = await Alert.get(id=alert.id)
    assert await open_evidence(fresh, stored, "excerpt") == EXCERPT
    assert await open_note(fresh, await AlertAction.get(id=action.id)) == "Spoke to mum"
    endpoint = await WebhookEndpoint.get(id=endpoint.id)
    assert envelope_key_version(bytes(endpoint.secret_enc)) == 2
    assert await fresh.decrypt(webhook_secret_context(endpoint), endpoint.secret_enc) == "s3cret"
    behaviour = await BehaviourRecord.get(id=behaviour.id)
    assert envelope_key_version(bytes(behaviour.note_enc)) == 2
    assert await fresh.decrypt(note_context(behaviour), behaviour.note_enc) == "talked in class"
