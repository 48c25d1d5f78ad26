"""The reporting fast path answers byte for byte as GraphQL does, over HTTP and websocket.

Two devices of one class send the same reports: one with the fast path switched off (GraphQL
executes every report), one with it on. Each pair of answers must be the same bytes, the fast
path must have answered exactly the reports it is meant to (the rest fall back to GraphQL before
anything runs), and both devices must end with the same tile and the same history.
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute

from agent.session import REPORT_MUTATION
from app.graphql_view import SchoolGraphQL
from app.main import create_app
from app.security.crypto import CryptoError, FieldContext, envelope_key_version
from app.ws.hub import Hub
from models.classroom import ActivityRecord
from models.devices import Device
from models.staff import Role
from realtime.live_state import LiveStateUnavailable
from resolvers.context import Services
from resolvers.history import HistoryRow, HistoryWriter
from resolvers.ingest import device_key
from schema.classroom.fast_ingest import FastReports, quick_time
from tests import factories
from tests.classroom.helpers import Socket, b64, event, jpeg
from tests.conftest import SCHEMA, TEST_IP, Clock

TRANSPORTS = pytest.mark.parametrize("transport", ["http", "ws"])

REORDERED = (
    "mutation ($input: ReportActivityInput!) { reportActivity(input: $input) "
    "{ errors { message code } results { reason blocked eventId } } }"
)
#: Documents that must go through GraphQL (not the agent's shape).
ALIASED = (
    "mutation R($input: ReportActivityInput!) { r: reportActivity(input: $input) "
    "{ results { status } } }"
)
INLINE = (
    "mutation R($events: [ActivityEventInput!]!) { reportActivity(input: {events: $events}) "
    "{ results { eventId status } errors { code } } }"
)
TYPENAME = (
    "mutation R($input: ReportActivityInput!) { reportActivity(input: $input) "
    "{ __typename results { status } } }"
)
DUPLICATE_FIELD = (
    "mutation R($input: ReportActivityInput!) { reportActivity(input: $input) "
    "{ results { status status } } }"
)
NULLABLE_INPUT = (
    "mutation R($input: ReportActivityInput) { reportActivity(input: $input) "
    "{ results { status } } }"
)


@dataclass
class Case:
    name: str
    variables: Any
    #: True when the fast path must answer it; False when GraphQL must.
    fast: bool
    document: str = REPORT_MUTATION
    operation_name: str | None = None


@dataclass
class Device_:
    row: Device
    token: str
    socket: Socket | None = None


@dataclass
class Harness:
    services: Services
    app: Starlette
    http: httpx2.AsyncClient
    transport: str
    reports: list[FastReports] = field(default_factory=list)

    def fast(self, on: bool) -> None:
        for reports in self.reports:
            reports.enabled = on

    @property
    def answered(self) -> int:
        return sum(r.answered for r in self.reports)

    async def send(self, device: Device_ | str | None, case: Case) -> Any:
        payload: dict[str, Any] = {"query": case.document, "variables": case.variables}
        if case.operation_name is not None:
            payload["operationName"] = case.operation_name
        if self.transport == "http":
            token = device.token if isinstance(device, Device_) else device
            headers = {"authorization": f"Bearer {token}"} if token else {}
            response = await self.http.post(
                "/graphql", content=json.dumps(payload).encode(), headers=headers
            )
            return response.status_code, response.headers.get("content-type"), response.content
        assert isinstance(device, Device_)
        assert device.socket is not None
        return await device.socket.operation(payload)


@pytest.fixture
async def harness(services: Services, transport: str) -> AsyncIterator[Harness]:
    app = create_app(services.settings, services, manage_database=False)
    found = [
        route.endpoint
        for route in app.routes
        if isinstance(route, Route | WebSocketRoute)
        and isinstance(route.endpoint, SchoolGraphQL | Hub)
    ]
    client = httpx2.ASGITransport(app=app, raise_app_exceptions=False, client=(TEST_IP, 50000))
    async with httpx2.AsyncClient(
        transport=client,
        base_url="https://school.example",
        headers={"content-type": "application/json"},
    ) as http:
        built = Harness(services, app, http, transport)
        built.reports = [e.reports for e in found if e.reports is not None]
        assert len(built.reports) == 2  # the HTTP view's and the hub's
        yield built


async def a_room(harness: Harness, devices: int = 2) -> list[Device_]:
    services = harness.services
    school = await factories.school(services)
    teacher = await factories.staff(school, Role.TEACHER)
    learners = [await factories.learner(services, school) for _ in range(devices)]
    await factories.group(school, teachers=[teacher], learners=learners)
    made = []
    for learner in learners:
        row, token = await factories.device(school, learner_row=learner)
        made.append(Device_(row, token))
    if harness.transport == "ws":
        for device in made:
            device.socket = await Socket(harness.app).open(device.token)
    return made


async def compare(harness: Harness, slow: Any, quick: Any, cases: list[Case]) -> list[str]:
    """Each case through GraphQL as ``slow``, then through the fast path as ``quick``; the
    answers' text."""
    texts = []
    for case in cases:
        harness.fast(False)
        before = harness.answered
        expected = await harness.send(slow, case)
        assert harness.answered == before, case.name
        harness.fast(True)
        answered = await harness.send(quick, case)
        assert (case.name, harness.answered - before) == (case.name, int(case.fast))
        assert (case.name, answered) == (case.name, expected)
        texts.append(answered[2].decode() if harness.transport == "http" else "".join(answered))
    return texts


def report(*events: Any, **more: Any) -> dict[str, Any]:
    return {"input": {"events": list(events)}, **more}


def valid_events(now: datetime, prefix: str) -> list[dict[str, Any]]:
    return [
        event(
            "URL_VISIT",
            now,
            event_id=f"{prefix}-visit",
            app="Chrome",
            url="https://www.bbc.co.uk/bitesize",
            title="Bitesize",
        ),
        event("APP_FOCUS", now - timedelta(seconds=3), event_id=f"{prefix}-app", app="Word"),
        event("TYPED_TEXT", now, event_id=f"{prefix}-typed", text="my essay on volcanoes"),
        event(
            "SEARCH",
            now,
            event_id=f"{prefix}-search",
            url="https://www.google.com/search?q=volcano",
            text="volcano",
        ),
        event("IDLE", now, event_id=f"{prefix}-idle", app=None, url=None),
        event("SCREENSHOT", now, event_id=f"{prefix}-shot", thumbnail=b64(jpeg(256))),
    ]


def valid_cases(now: datetime) -> list[Case]:
    offset = (now + timedelta(hours=1)).astimezone().isoformat()
    basic = now.strftime("%Y%m%dT%H%M%SZ")
    too_old = (now - timedelta(days=8)).isoformat()
    rejected = [
        event("URL_VISIT", now, event_id="x" * 65),
        event("URL_VISIT", now, event_id="bad-url", url="ftp://example.com/file"),
        event("URL_VISIT", now, event_id="long-title", title="t" * 513),
        event("URL_VISIT", now, event_id="naive", occurredAt=now.replace(tzinfo=None).isoformat()),
        event("URL_VISIT", now, event_id="old", occurredAt=too_old),
        event("SCREENSHOT", now, event_id="not-b64", thumbnail="not base64!"),
        event("SCREENSHOT", now, event_id="too-big", thumbnail=b64(jpeg(64 * 1024 + 1))),
        event("LOGIN", now, event_id="fine"),
    ]
    first = valid_events(now, "a")
    return [
        Case("valid batch", report(*first), fast=True),
        Case("valid batch, named", report(*valid_events(now, "b")), True, operation_name="Report"),
        Case("per-event rejections", report(*rejected), fast=True),
        Case("a resent batch is duplicate", report(*first), fast=True),
        Case("a repeat within a batch", report(*[event("IDLE", now, event_id="twice")] * 2), True),
        Case(
            "other time formats",
            report(event("LOGIN", now, occurredAt=offset), event("LOGOUT", now, occurredAt=basic)),
            fast=True,
        ),
        Case("empty batch", report(), fast=True),
        Case("too many events", report(*[event("IDLE", now) for _ in range(101)]), fast=True),
        Case("an unused variable", report(event("IDLE", now), other=1), fast=True),
        Case("another selection", report(*valid_events(now, "c")), True, REORDERED),
    ]


def refused_cases(now: datetime) -> list[Case]:
    """What GraphQL refuses (or would coerce differently): never the fast path's to answer."""
    good = event("URL_VISIT", now, url="https://example.com/")

    def bad(**changes: Any) -> dict[str, Any]:
        changed = {**good, **changes}
        return report({k: v for k, v in changed.items() if v is not ...})

    return [
        Case("unknown kind", bad(kind="NOPE"), False),
        Case("kind in lower case", bad(kind="url_visit"), False),
        Case("bad timestamp", bad(occurredAt="yesterday"), False),
        Case("timestamp as a number", bad(occurredAt=1_700_000_000), False),
        Case("missing occurredAt", bad(occurredAt=...), False),
        Case("missing eventId", bad(eventId=...), False),
        Case("missing kind", bad(kind=...), False),
        Case("null eventId", bad(eventId=None), False),
        Case("unknown field", bad(colour="red"), False),
        Case("eventId a number", bad(eventId=42), False),
        Case("url a boolean", bad(url=True), False),
        Case("app a list", bad(app=["Chrome"]), False),
        Case("events one object", {"input": {"events": good}}, False),
        Case("events null", {"input": {"events": None}}, False),
        Case("an event null", {"input": {"events": [good, None]}}, False),
        Case("input null", {"input": None}, False),
        Case("input missing", {}, False),
        Case("input with an unknown field", {"input": {"events": [good], "x": 1}}, False),
        Case("another operation name", report(good), False, operation_name="Other"),
        Case("an alias", report(good), False, ALIASED),
        Case("events inline", {"events": [good]}, False, INLINE),
        Case("__typename", report(good), False, TYPENAME),
        Case("a field twice", report(good), False, DUPLICATE_FIELD),
        Case("a nullable variable", report(good), False, NULLABLE_INPUT),
        # Last: the websocket closes on it (4400), on both paths.
        Case("variables not an object", [1], False),
    ]


@TRANSPORTS
async def test_valid_and_invalid_reports_answer_the_same_bytes_on_both_paths(
    harness: Harness, clock: Clock
) -> None:
    # given: two devices of one class, one reporting through GraphQL, one through the fast path
    slow, quick = await a_room(harness)
    cases = valid_cases(clock.now) + refused_cases(clock.now)
    # when / then: every answer is the same bytes, and only the expected ones went fast
    await compare(harness, slow, quick, cases)
    await harness.services.history.flush()
    # then: both devices left the same live tile and the same history
    assert await tile(harness.services, slow) == await tile(harness.services, quick)
    assert await history(harness.services, slow) == await history(harness.services, quick)
    assert len(await history(harness.services, quick)) > 10


async def tile(services: Services, device: Device_) -> Any:
    [found] = await services.live.read_tiles([device_key(device.row.school_id, device.row.id)])
    return found


async def history(services: Services, device: Device_) -> list[tuple[Any, ...]]:
    rows = await ActivityRecord.filter(device_id=device.row.id).order_by("occurred_at", "event_id")
    keyring = services.keyring

    async def plain(row: ActivityRecord, column: str) -> str | None:
        context = FieldContext(row.school_id, "activity_record", column, str(row.id))
        return await keyring.decrypt(context, getattr(row, f"{column}_enc"))

    return [
        (
            r.event_id,
            r.kind,
            r.occurred_at,
            r.app,
            r.blocked,
            r.learner_id == device.row.learner_id,
            await plain(r, "url"),
            await plain(r, "title"),
            await plain(r, "text"),
        )
        for r in rows
    ]


@TRANSPORTS
async def test_who_may_not_report_gets_the_same_errors_on_both_paths(
    harness: Harness, clock: Clock
) -> None:
    # given: a teacher (signed in), and devices revoked in the database after connecting
    school = await factories.school(harness.services)
    teacher = await factories.staff(school, Role.TEACHER)
    login = await harness.http.post(
        "/graphql",
        json={
            "query": "mutation L($e: String!, $p: String!) "
            "{ login(input: {email: $e, password: $p}) { token } }",
            "variables": {"e": teacher.email, "p": factories.PASSWORD},
        },
    )
    token = login.json()["data"]["login"]["token"]
    slow_revoked, quick_revoked = await a_room(harness)
    await Device.filter(id__in=[slow_revoked.row.id, quick_revoked.row.id]).update(
        revoked_at=clock.now
    )
    case = [Case("not a device", report(event("IDLE", clock.now)), fast=True)]
    if harness.transport == "http":
        slow_teacher: Any = token
        quick_teacher: Any = token
        # when / then: anonymous, then a teacher's session
        await compare(harness, None, None, case)
    else:
        slow_teacher = Device_(slow_revoked.row, token, await Socket(harness.app).open(token))
        quick_teacher = Device_(quick_revoked.row, token, await Socket(harness.app).open(token))
    await compare(harness, slow_teacher, quick_teacher, case)
    # when / then: a device revoked since it connected (HTTP: its token is refused)
    await compare(harness, slow_revoked, quick_revoked, case)
    assert await ActivityRecord.all().count() == 0


@TRANSPORTS
async def test_an_unexpected_failure_is_masked_and_logged_the_same_on_both_paths(
    harness: Harness,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given: the live store fails once the ids are claimed
    slow, quick = await a_room(harness)

    async def broken(updates: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(harness.services.live, "update_tiles", broken)
    caplog.set_level(logging.ERROR, logger="pupil_progress.graphql")
    sent = report(event("URL_VISIT", clock.now, event_id="lost", url="https://example.com/"))
    # when / then: "Unexpected error." at the field, nothing of the cause
    await compare(harness, slow, quick, [Case("a bug", sent, fast=True)])
    logged = [r for r in caplog.records if r.name == "pupil_progress.graphql"]
    assert [r.getMessage() for r in logged] == [
        "unexpected error at ['reportActivity']: RuntimeError"
    ] * 2
    # then: the ids were released on both paths, so the resend is accepted on both
    monkeypatch.undo()
    [answer] = await compare(harness, slow, quick, [Case("resent", sent, fast=True)])
    assert '"status":"ACCEPTED"' in answer


@TRANSPORTS
async def test_a_live_store_outage_tells_the_device_to_send_again_on_both_paths(
    harness: Harness, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the live store is down once the ids are claimed
    slow, quick = await a_room(harness)

    async def down(updates: Any) -> None:
        raise LiveStateUnavailable("simulated outage")

    monkeypatch.setattr(harness.services.live, "update_tiles", down)
    sent = report(event("URL_VISIT", clock.now, event_id="later", url="https://example.com/"))
    # when / then: UNAVAILABLE with what to do, the same on both paths
    [answer] = await compare(harness, slow, quick, [Case("live store down", sent, fast=True)])
    assert '"code":"UNAVAILABLE"' in answer.replace(" ", "")
    assert "send these events again later" in answer
    # then: the ids were released, so the resend is accepted once the store is back
    monkeypatch.undo()
    [answer] = await compare(harness, slow, quick, [Case("resent", sent, fast=True)])
    assert '"status":"ACCEPTED"' in answer


# --- timestamps -------------------------------------------------------------------------------

#: Timestamps the quick reading must leave to the DateTime scalar (None), or read identically.
ODD_TIMES = [
    "2026-11-28T24:00:00Z",  # dateutil: the next midnight
    "2026-11-28T10:15:02+05:60",
    "2026-11-28T10:15:02+24:00",
    "2026-11-28T10:15:02z",
    "2026-11-28T10:15:02.1234567Z",
    "2026-02-30T10:00:00Z",
    "2026-11-28T10:15:60Z",
    "2026-11-28 10:15:02Z",
    "20261128T101502Z",
    "2026-11-28T10:15:02",
    "\uff12026-11-28T10:15:02Z",
    "2026-11-28T10:15Z",
    "2026-11-28T10:15:02+0100",
]


def test_timestamps_read_quickly_equal_the_datetime_scalars_reading() -> None:
    # given: the schema's own DateTime parser, and many timestamps of the usual form
    parse = SCHEMA._schema.get_type("DateTime").parse_value  # type: ignore[union-attr]
    rng = random.Random(3)  # noqa: S311 - test data, not a secret
    usual = []
    for _ in range(2000):
        at = datetime(2000, 1, 1) + timedelta(
            seconds=rng.randrange(10**9), microseconds=rng.randrange(10**6)
        )
        fraction = f".{at.microsecond:06d}"[: rng.randrange(1, 8)] if rng.random() < 0.7 else ""
        zone = rng.choice(
            [
                "Z",
                "+00:00",
                "-00:00",
                f"{rng.choice('+-')}{rng.randrange(24):02d}:{rng.choice([0, 15, 30, 45, 59]):02d}",
            ]
        )
        usual.append(at.strftime("%Y-%m-%dT%H:%M:%S") + fraction.rstrip(".") + zone)
    for text in usual + ODD_TIMES:
        # when
        quick = quick_time(text)
        # then: the same instant, offset, time zone type and text, or left to the scalar
        if quick is None:
            continue
        parsed = parse(text)
        assert (text, quick, quick.utcoffset(), type(quick.tzinfo), quick.isoformat()) == (
            text,
            parsed,
            parsed.utcoffset(),
            type(parsed.tzinfo),
            parsed.isoformat(),
        )
    assert all(quick_time(t) is not None for t in usual)
    assert [t for t in ODD_TIMES if quick_time(t) is not None] == []


# --- history: sealed in a batch, written from tuples ------------------------------------------


async def test_a_sealer_writes_what_the_keyring_decrypts_and_follows_rotation(
    services: Services,
) -> None:
    # given: a school's sealer for the history table
    school = await factories.school(services)
    keyring = services.keyring
    seal = await keyring.sealer(school.id, "activity_record")
    where = FieldContext(school.id, "activity_record", "url", "row-1")
    # when
    sealed = seal("url", "row-1", "https://example.com/")
    # then: the keyring reads it there, and only there
    assert sealed is not None
    assert seal("url", "row-1", None) is None
    assert await keyring.decrypt(where, sealed) == "https://example.com/"
    elsewhere = FieldContext(school.id, "activity_record", "title", "row-1")
    with pytest.raises(CryptoError):
        await keyring.decrypt(elsewhere, sealed)
    # the data key never shows in logs
    assert repr(seal) == f"Sealer(school_id={school.id}, table='activity_record', version=1)"
    # when: the data key is rotated
    version = await keyring.rotate_data_key(school.id)
    rotated = (await keyring.sealer(school.id, "activity_record"))("url", "row-1", "x")
    # then: new envelopes use the new version; old ones still decrypt
    assert rotated is not None
    assert envelope_key_version(rotated) == version > envelope_key_version(sealed)
    assert await keyring.decrypt(where, sealed) == "https://example.com/"


async def test_history_rows_are_stored_once_per_device_and_event(
    services: Services, clock: Clock
) -> None:
    # given: a device's row, and the same event again under another row id (a resend after
    # a crash between the write and the acknowledgement)
    school = await factories.school(services)
    device, _ = await factories.device(school)
    row = HistoryRow(
        id=uuid.uuid4(),
        school_id=school.id,
        device_id=device.id,
        learner_id=None,
        event_id="e-1",
        kind="URL_VISIT",
        occurred_at=clock.now - timedelta(seconds=5),
        received_at=clock.now,
        app="Chrome",
        url_enc=b"\x01sealed",
        title_enc=None,
        text_enc=None,
        blocked=True,
    )
    again = row._replace(id=uuid.uuid4(), app="Edge")
    # when
    services.history.add([row])
    services.history.add([again, row._replace(id=uuid.uuid4(), event_id="e-2")])
    await services.history.flush()
    # then: one row per (device, event id), as written
    stored = await ActivityRecord.filter(device_id=device.id).order_by("event_id")
    assert [(r.id, r.event_id, r.app) for r in stored][:1] == [(row.id, "e-1", "Chrome")]
    assert [r.event_id for r in stored] == ["e-1", "e-2"]
    first = stored[0]
    assert (first.occurred_at, first.received_at) == (row.occurred_at, row.received_at)
    assert (bytes(first.url_enc or b""), first.title_enc, first.blocked) == (
        b"\x01sealed",
        None,
        True,
    )
    assert first.learner_id is None
    assert services.history.written == 3


async def test_a_full_history_backlog_counts_every_lost_row_and_logs_once(
    services: Services, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    # given: a writer with room for two rows, and a device
    school = await factories.school(services)
    device, _ = await factories.device(school)
    writer = HistoryWriter(lambda: clock.now, max_pending=2)

    def rows(*event_ids: str) -> list[HistoryRow]:
        return [
            HistoryRow(
                uuid.uuid4(),
                school.id,
                device.id,
                None,
                e,
                "IDLE",
                clock.now,
                clock.now,
                None,
                None,
                None,
                None,
                False,
            )
            for e in event_ids
        ]

    caplog.set_level(logging.ERROR, logger="resolvers.history")
    # when: five rows arrive in three reports while the database is not written
    writer.add(rows("a", "b", "c"))
    writer.add(rows("d"))
    writer.add(rows("e"))
    # then: three are lost and counted, and the log says so once
    assert writer.dropped == 3
    assert [r.getMessage() for r in caplog.records] == [
        "activity history backlog full; 1 events not kept"
    ]
    # when: the writer catches up, then overflows again
    assert await writer.flush() == 2
    writer.add(rows("f", "g", "h"))
    # then: the catching up and the new episode are logged, and only the kept rows stored
    assert [r.getMessage() for r in caplog.records][1:] == [
        "activity history caught up; 3 events not kept so far",
        "activity history backlog full; 4 events not kept",
    ]
    stored = await ActivityRecord.filter(device_id=device.id).order_by("event_id")
    assert [r.event_id for r in stored] == ["a", "b"]
