"""graphql-transport-ws on a real uvicorn server, frame by frame (the `websockets` client).

Close codes (graphql-platform.md §1, security-checklist WS-03/04/06), operations, limits, the
multiplexed ``classroomActivity`` and the revocation of a viewer's stream. The server is
``python -m uvicorn --factory app.main:app_from_env`` in production mode, with a short
``PP_WS_INIT_TIMEOUT_SECONDS``, on a seeded SQLite file (or the PostgreSQL test database and
Redis when DATABASE_URL and REDIS_URL are set).

The other websocket end-to-end modules reuse this module's seed and clients: ``Api`` (GraphQL
over HTTP), ``Socket`` (raw frames) and ``eventually`` (bounded polling). Pub/sub subscribing is
not observable from outside the server, so a test that needs a live stream "nudges": it reports
activity again and again until the first event arrives, then asserts on a marked event.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin, Subprotocol

from app.config import Mode, Settings
from app.security.crypto import MasterKey
from models.staff import Role
from resolvers.context import Services
from schema.common import to_global_id
from tests import backends, factories
from tests.e2e.server import migrated_database, running_server, seed_database

pytestmark = pytest.mark.e2e

PUBLIC_URL = "https://school.example"
WS_PROTOCOL = Subprotocol("graphql-transport-ws")
#: One frame, or the close after a bad frame.
WS_SECONDS = 5.0
#: An event crossing the server(s), or a revocation taking effect ("within a few seconds").
EVENT_SECONDS = 10.0
#: Polling step of every wait in these tests; nothing else sleeps.
STEP = 0.05
#: Nudges (reports) are repeated after this many polling steps without the awaited frame.
STEPS_PER_NUDGE = 4
#: The server's connection_init timeout here (PP_WS_INIT_TIMEOUT_SECONDS); 10 s in production.
INIT_TIMEOUT_SECONDS = 2

LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token errors { code message } }
}
"""
LOGOUT = "mutation { logout }"
TYPENAME = "query { __typename }"
CLASSROOM_ACTIVITY = """
subscription Live($groupId: ID!) {
  classroomActivity(groupId: $groupId) { kind url blocked learnerId deviceId at }
}
"""
DEVICE_COMMANDS = "subscription { deviceCommands { id kind policy { version mode } } }"
REPORT_ACTIVITY = """
mutation Report($events: [ActivityEventInput!]!) {
  reportActivity(input: {events: $events}) { results { eventId status blocked } }
}
"""
UNASSIGN_TEACHER = """
mutation Unassign($groupId: ID!, $staffId: ID!) {
  unassignTeacher(input: {groupId: $groupId, staffId: $staffId}) { errors { code message } }
}
"""
LOCK_GROUP = """
mutation Lock($groupId: ID!) {
  sendDeviceCommand(input: {kind: LOCK, groupId: $groupId}) {
    commands { id kind }
    errors { code message }
  }
}
"""


# --- seed ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Classroom:
    """What the seed made: one learner with one device, in a class and a cover class."""

    admin: str
    teacher: str
    colleague: str
    cover_teacher: str
    cover_teacher_id: str
    group_id: str
    cover_group_id: str
    device_token: str
    learner_id: str
    device_id: str


async def seed_classroom(services: Services) -> Classroom:
    """Two teachers teach ``group_id``; ``cover_teacher`` teaches ``cover_group_id`` only."""
    school = await factories.school(services)
    admin = await factories.staff(school, Role.ADMIN)
    teacher = await factories.staff(school, Role.TEACHER)
    colleague = await factories.staff(school, Role.TEACHER)
    cover = await factories.staff(school, Role.TEACHER)
    pupil = await factories.learner(services, school)
    group = await factories.group(school, teachers=[teacher, colleague], learners=[pupil])
    cover_group = await factories.group(school, teachers=[cover], learners=[pupil])
    device, token = await factories.device(school, learner_row=pupil)
    return Classroom(
        admin=admin.email,
        teacher=teacher.email,
        colleague=colleague.email,
        cover_teacher=cover.email,
        cover_teacher_id=to_global_id("StaffMember", cover.id),
        group_id=to_global_id("Group", group.id),
        cover_group_id=to_global_id("Group", cover_group.id),
        device_token=token,
        learner_id=to_global_id("Learner", pupil.id),
        device_id=to_global_id("Device", device.id),
    )


def server_settings(database_url: str, broker_url: str) -> Settings:
    """A production server's settings, with a key prefix private to this test run."""
    settings = Settings(
        mode=Mode.PRODUCTION,
        database_url=database_url,
        broker_url=broker_url,
        namespace=f"ppe2e-{uuid.uuid4().hex[:10]}",
        master_key=MasterKey.generate().to_text(),
        public_url=PUBLIC_URL,
        allowed_origins=(PUBLIC_URL,),
    )
    settings.check()
    return settings


# --- GraphQL over HTTP -----------------------------------------------------------------------


class Api:
    """GraphQL over HTTP against one server."""

    def __init__(self, http: httpx2.AsyncClient, base_url: str) -> None:
        self.http = http
        self.base_url = base_url

    async def execute(self, query: str, token: str | None = None, **variables: Any) -> Any:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            self.base_url + "/graphql",
            json={"query": query, "variables": variables},
            headers=headers,
        )
        return response.json()

    async def data(self, query: str, token: str | None = None, **variables: Any) -> Any:
        """The data of an operation that must not fail."""
        body = await self.execute(query, token, **variables)
        assert "errors" not in body, body
        return body["data"]

    async def login(self, email: str) -> str:
        signed_in = (await self.data(LOGIN, email=email, password=factories.PASSWORD))["login"]
        assert signed_in["errors"] == [], signed_in
        token: str = signed_in["token"]
        return token

    async def report(self, device_token: str, url: str) -> Any:
        """Report one page visit; the body as it came (a failure is for the caller to judge)."""
        return await self.execute(REPORT_ACTIVITY, device_token, events=[visit(url)])


@asynccontextmanager
async def api(base_url: str) -> AsyncIterator[Api]:
    async with httpx2.AsyncClient(trust_env=False, timeout=20) as http:
        yield Api(http, base_url)


def login_sync(base_url: str, *emails: str) -> list[str]:
    """Sign in before any event loop runs (module fixtures)."""
    tokens = []
    with httpx2.Client(base_url=base_url, trust_env=False, timeout=20) as http:
        for email in emails:
            body = {"query": LOGIN, "variables": {"email": email, "password": factories.PASSWORD}}
            signed_in = http.post("/graphql", json=body).json()["data"]["login"]
            assert signed_in["errors"] == [], signed_in
            tokens.append(signed_in["token"])
    return tokens


def visit(url: str) -> dict[str, Any]:
    """One ActivityEventInput: a page visit now, with a fresh idempotency key."""
    return {
        "eventId": uuid.uuid4().hex,
        "occurredAt": datetime.now(UTC).isoformat(),
        "kind": "URL_VISIT",
        "url": url,
        "title": "A page",
    }


def marked_url(label: str) -> str:
    return f"https://example.org/{label}/{uuid.uuid4().hex[:12]}"


# --- graphql-transport-ws frames ---------------------------------------------------------------


class Socket:
    """A graphql-transport-ws client socket that records every frame and how it closed."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.texts: list[str] = []
        self.frames: list[dict[str, Any]] = []
        self._arrived = asyncio.Condition()
        self._closed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self._pings = 0

    async def _read(self) -> None:
        try:
            async for text in self.ws:
                frame = json.loads(text)
                async with self._arrived:
                    self.texts.append(str(text))
                    self.frames.append(frame)
                    self._arrived.notify_all()
        except ConnectionClosed:
            pass
        finally:
            self._closed.set()
            async with self._arrived:
                self._arrived.notify_all()

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def send_text(self, text: str) -> None:
        await self.ws.send(text)

    async def init(self, token: str | None) -> None:
        """connection_init (with ``authToken`` when given), then the ack."""
        payload = {"authToken": token} if token is not None else {}
        await self.send({"type": "connection_init", "payload": payload})
        ack = await self.expect(lambda f: True)
        assert ack == {"type": "connection_ack"}, ack

    async def subscribe(self, op_id: str, query: str, **variables: Any) -> None:
        payload = {"query": query, "variables": variables}
        await self.send({"id": op_id, "type": "subscribe", "payload": payload})

    async def expect(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        within: float = WS_SECONDS,
        *,
        after: int = 0,
    ) -> dict[str, Any]:
        """The first frame from index ``after`` on matching ``predicate``, waiting for it."""
        try:
            async with asyncio.timeout(within), self._arrived:
                while True:
                    found = self.find(predicate, after=after)
                    if found is not None:
                        return found
                    if self._closed.is_set():
                        pytest.fail(f"socket closed ({self.ws.close_code}) first: {self.frames}")
                    await self._arrived.wait()
        except TimeoutError:
            pytest.fail(f"no matching frame within {within} s; frames: {self.frames}")

    def find(
        self, predicate: Callable[[dict[str, Any]], bool], *, after: int = 0
    ) -> dict[str, Any] | None:
        return next((f for f in self.frames[after:] if predicate(f)), None)

    def of(self, op_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("id") == op_id and kind in (None, f.get("type"))]

    async def flush(self) -> None:
        """Ping and await the pong: every frame the server queued before it has arrived."""
        self._pings += 1
        marker = {"flush": self._pings}
        await self.send({"type": "ping", "payload": marker})
        await self.expect(lambda f: f == {"type": "pong", "payload": marker})

    async def close_code(self, within: float = WS_SECONDS) -> int | None:
        """The code the server closed with; fails unless it closes ``within`` seconds."""
        try:
            async with asyncio.timeout(within):
                await self._closed.wait()
        except TimeoutError:
            pytest.fail(f"the socket stayed open for {within} s; frames: {self.frames}")
        return self.ws.close_code

    async def aclose(self) -> None:
        await self.ws.close()
        await self._reader


@asynccontextmanager
async def open_socket(
    ws_url: str, token: str | None = None, *, init: bool = True
) -> AsyncIterator[Socket]:
    """A socket from the allowed origin; acknowledged first when ``token`` and ``init``."""
    async with connect(
        ws_url,
        subprotocols=[WS_PROTOCOL],
        origin=Origin(PUBLIC_URL),
        proxy=None,
        open_timeout=WS_SECONDS,
        close_timeout=WS_SECONDS,
    ) as ws:
        socket = Socket(ws)
        try:
            if token is not None and init:
                await socket.init(token)
            yield socket
        finally:
            await socket.aclose()


def next_with_url(op_id: str, url: str) -> Callable[[dict[str, Any]], bool]:
    def matches(frame: dict[str, Any]) -> bool:
        if frame.get("id") != op_id or frame.get("type") != "next":
            return False
        activity = (frame["payload"].get("data") or {}).get("classroomActivity") or {}
        return bool(activity.get("url") == url)

    return matches


async def eventually(
    done: Callable[[], bool],
    *,
    nudge: Callable[[], Awaitable[object]] | None = None,
    within: float = EVENT_SECONDS,
    what: str,
) -> None:
    """Poll ``done`` every STEP seconds, calling ``nudge`` every few steps, for ``within`` s."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        if nudge is not None:
            await nudge()
        for _ in range(STEPS_PER_NUDGE):
            if done():
                return
            if asyncio.get_running_loop().time() > deadline:
                pytest.fail(f"{what}: not within {within} s")
            await asyncio.sleep(STEP)


async def until_live(
    report: Callable[[str], Awaitable[Any]], *subscribers: tuple[Socket, str]
) -> None:
    """Report page visits until every (socket, operation id) has received one."""

    async def nudge() -> None:
        await report(marked_url("warm-up"))

    await eventually(
        lambda: all(socket.of(op_id, "next") for socket, op_id in subscribers),
        nudge=nudge,
        what=f"a first classroomActivity event for {[op for _, op in subscribers]}",
    )


# --- the server --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    base_url: str
    classroom: Classroom
    admin_token: str
    teacher_token: str
    colleague_token: str
    cover_token: str
    log_path: Path

    @property
    def ws_url(self) -> str:
        return "ws" + self.base_url.removeprefix("http") + "/graphql"


@contextmanager
def classroom_server(
    database_template: str,
    folder: Path,
    *,
    broker_url: str,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[Server]:
    """A production server on a freshly seeded classroom, with its staff signed in."""
    settings = server_settings(migrated_database(database_template, folder), broker_url)
    classroom = seed_database(settings, seed_classroom, truncate=backends.POSTGRES)
    log_path = folder / "uvicorn.log"
    with running_server(settings, log_path, extra_env=extra_env) as base_url:
        tokens = login_sync(
            base_url,
            classroom.admin,
            classroom.teacher,
            classroom.colleague,
            classroom.cover_teacher,
        )
        admin, teacher, colleague, cover = tokens
        yield Server(base_url, classroom, admin, teacher, colleague, cover, log_path)


@pytest.fixture(scope="module")
def server(database_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with classroom_server(
        database_template,
        tmp_path_factory.mktemp("ws-protocol"),
        broker_url=backends.REDIS_URL or "memory://",
        extra_env={"PP_WS_INIT_TIMEOUT_SECONDS": str(INIT_TIMEOUT_SECONDS)},
    ) as running:
        yield running


@pytest.fixture
async def http(server: Server) -> AsyncIterator[Api]:
    async with api(server.base_url) as client:
        yield client


def reporter(http: Api, server: Server) -> Callable[[str], Awaitable[Any]]:
    async def report(url: str) -> Any:
        return await http.report(server.classroom.device_token, url)

    return report


# --- close codes ---------------------------------------------------------------------------


BAD_FRAMES = {
    "invalid JSON": (False, "{not json"),
    "JSON that is not an object": (False, "[1, 2]"),
    "unknown type": (False, json.dumps({"type": "start", "id": "1"})),
    "subscribe without id": (True, json.dumps({"type": "subscribe", "payload": {"query": "{a}"}})),
}


@pytest.mark.parametrize(("acknowledged", "text"), BAD_FRAMES.values(), ids=BAD_FRAMES.keys())
async def test_invalid_message_closes_4400(server: Server, acknowledged: bool, text: str) -> None:
    # given a socket (acknowledged where the message is only wrong after the handshake)
    async with open_socket(server.ws_url, server.teacher_token, init=acknowledged) as ws:
        # when the malformed message is sent
        await ws.send_text(text)
        # then the server closes at once with 4400
        assert await ws.close_code() == 4400


async def test_subscribe_before_ack_closes_4401(server: Server) -> None:
    # given a socket that skipped connection_init
    async with open_socket(server.ws_url) as ws:
        # when it subscribes
        await ws.subscribe("1", TYPENAME)
        # then the server closes with 4401
        assert await ws.close_code() == 4401


INITS_REFUSED = {
    "forged token": {"authToken": "pps_forged"},
    "no token": {},
    "token of the wrong type": {"authToken": 12345},
}


@pytest.mark.parametrize("payload", INITS_REFUSED.values(), ids=INITS_REFUSED.keys())
async def test_refused_connection_init_closes_4403(server: Server, payload: dict[str, Any]) -> None:
    # given a socket from the allowed origin, without a cookie
    async with open_socket(server.ws_url) as ws:
        # when connection_init carries no valid token
        await ws.send({"type": "connection_init", "payload": payload})
        # then the server closes with 4403 and never acknowledged
        assert await ws.close_code() == 4403
        assert ws.frames == []


async def test_logout_over_http_closes_the_open_socket_4403(server: Server, http: Api) -> None:
    # given a teacher's fresh session with an open, subscribed socket
    token = await http.login(server.classroom.teacher)
    async with open_socket(server.ws_url, token) as ws:
        await ws.subscribe("live", CLASSROOM_ACTIVITY, groupId=server.classroom.group_id)
        await ws.flush()
        # when the session is ended over HTTP
        assert await http.data(LOGOUT, token) == {"logout": True}
        # then the socket is closed with 4403 within a few seconds (WS-04)
        assert await ws.close_code(EVENT_SECONDS) == 4403
    # and the token no longer opens a socket
    async with open_socket(server.ws_url) as ws:
        await ws.send({"type": "connection_init", "payload": {"authToken": token}})
        assert await ws.close_code() == 4403


async def test_no_connection_init_closes_4408(server: Server) -> None:
    # given a socket that is opened and then left silent
    async with open_socket(server.ws_url) as ws:
        started = asyncio.get_running_loop().time()
        # when the init timeout passes
        code = await ws.close_code(INIT_TIMEOUT_SECONDS + WS_SECONDS)
        waited = asyncio.get_running_loop().time() - started
    # then the server closed with 4408, not before the timeout
    assert code == 4408
    assert waited >= INIT_TIMEOUT_SECONDS - 0.5


async def test_duplicate_subscription_id_closes_4409(server: Server) -> None:
    # given an acknowledged socket with a live subscription "dup"
    async with open_socket(server.ws_url, server.teacher_token) as ws:
        await ws.subscribe("dup", CLASSROOM_ACTIVITY, groupId=server.classroom.group_id)
        await ws.flush()
        # when another operation is sent with the same id
        await ws.subscribe("dup", TYPENAME)
        # then the server closes with 4409
        assert await ws.close_code() == 4409
        assert ws.ws.close_reason == "Subscriber for dup already exists"


async def test_second_connection_init_closes_4429(server: Server) -> None:
    # given an acknowledged socket
    async with open_socket(server.ws_url, server.teacher_token) as ws:
        # when connection_init is sent again
        await ws.send({"type": "connection_init", "payload": {"authToken": server.teacher_token}})
        # then the server closes with 4429
        assert await ws.close_code() == 4429


async def test_frame_over_the_size_limit_closes_1009(server: Server) -> None:
    # given an acknowledged socket, and the frame limit (128 KiB rather than the checklist's
    # 64 KB, so that a report can carry a 64 KB thumbnail: app.config.Limits)
    limit = Settings().limits.ws_max_message_bytes
    async with open_socket(server.ws_url, server.teacher_token) as ws:
        # when a message 6 KB over the limit is sent
        await ws.subscribe("big", TYPENAME + " " * (limit + 6_000))
        # then the server closes with 1009, message too big (WS-06)
        assert await ws.close_code() == 1009


# --- messages and operations -------------------------------------------------------------------


async def test_ping_gets_pong(server: Server) -> None:
    # given an acknowledged socket
    async with open_socket(server.ws_url, server.teacher_token) as ws:
        # when it pings without and with a payload
        await ws.send({"type": "ping"})
        plain = await ws.expect(lambda f: True, after=1)
        await ws.send({"type": "ping", "payload": {"n": 1}})
        echoed = await ws.expect(lambda f: True, after=2)
        # and the server ignores an unsolicited pong (a client heartbeat)
        await ws.send({"type": "pong"})
        await ws.flush()
    # then each ping got a pong, carrying the ping's payload
    assert plain == {"type": "pong"}
    assert echoed == {"type": "pong", "payload": {"n": 1}}
    assert ws.frames[:3] == [{"type": "connection_ack"}, plain, echoed]


async def test_query_gets_one_next_then_complete(server: Server) -> None:
    # given an acknowledged socket
    async with open_socket(server.ws_url, server.teacher_token) as ws:
        # when a query is sent as an operation
        await ws.subscribe("q", TYPENAME)
        await ws.expect(lambda f: f.get("id") == "q" and f["type"] == "complete")
        await ws.flush()
        # then it got exactly one next, then complete, and the id is free again
        assert ws.of("q") == [
            {"id": "q", "type": "next", "payload": {"data": {"__typename": "Query"}}},
            {"id": "q", "type": "complete"},
        ]
        await ws.subscribe("q", TYPENAME)
        await ws.expect(lambda f: f.get("id") == "q" and f["type"] == "complete", after=3)


INVALID_OPERATIONS = {
    "query": ("query { nope }", "nope"),
    "classroomActivity (multiplexed)": (
        "subscription Live($groupId: ID!) { classroomActivity(groupId: $groupId) { nope } }",
        "nope",
    ),
    "syntax": ("query {", "Syntax Error"),
}


@pytest.mark.parametrize(("query", "named"), INVALID_OPERATIONS.values(), ids=INVALID_OPERATIONS)
async def test_validation_errors_arrive_as_an_error_frame(
    server: Server, query: str, named: str
) -> None:
    # given an acknowledged socket
    async with open_socket(server.ws_url, server.teacher_token) as ws:
        # when an invalid operation is sent
        await ws.subscribe("bad", query, groupId=server.classroom.group_id)
        frame = await ws.expect(lambda f: f.get("id") == "bad")
        await ws.flush()
    # then one error frame ends it (no next, no complete), and the socket stayed open
    assert frame["type"] == "error", frame
    assert [named in e["message"] for e in frame["payload"]] == [True], frame
    assert ws.of("bad") == [frame]


async def test_client_complete_stops_the_subscription_and_frees_its_id(
    server: Server, http: Api
) -> None:
    report = reporter(http, server)
    group = server.classroom.group_id
    # given two live subscriptions "a" and "b" to the same class on one socket
    async with open_socket(server.ws_url, server.teacher_token) as ws:
        await ws.subscribe("a", CLASSROOM_ACTIVITY, groupId=group)
        await ws.subscribe("b", CLASSROOM_ACTIVITY, groupId=group)
        await until_live(report, (ws, "a"), (ws, "b"))
        # when the client completes "a" (the pong proves the server has handled it)
        await ws.send({"id": "a", "type": "complete"})
        await ws.flush()
        stopped_at = len(ws.frames)
        url = marked_url("after-complete")
        await report(url)
        await ws.expect(next_with_url("b", url))
        await ws.flush()
        # then "b" got the event and "a" got nothing more (not even a complete)
        assert [f for f in ws.frames[stopped_at:] if f.get("id") == "a"] == []
        # and the id "a" can be used again, for a live subscription
        reused_at = len(ws.frames)
        await ws.subscribe("a", CLASSROOM_ACTIVITY, groupId=group)
        await eventually(
            lambda: ws.find(lambda f: f.get("id") == "a", after=reused_at) is not None,
            nudge=lambda: report(marked_url("reused")),
            what="an event for the reused id",
        )
        reused = ws.find(lambda f: f.get("id") == "a", after=reused_at)
        assert reused is not None
        assert reused["type"] == "next", reused


async def test_subscription_limit_gets_an_error_frame(server: Server) -> None:
    limit = Settings().limits.ws_max_subscriptions
    assert limit == 20
    # given an acknowledged socket holding as many live subscriptions as allowed
    async with open_socket(server.ws_url, server.teacher_token) as ws:
        for n in range(limit):
            await ws.subscribe(f"s{n}", CLASSROOM_ACTIVITY, groupId=server.classroom.group_id)
        await ws.flush()
        # when one more is sent
        await ws.subscribe("extra", CLASSROOM_ACTIVITY, groupId=server.classroom.group_id)
        refused = await ws.expect(lambda f: f.get("id") == "extra")
        # then it gets an error frame, the socket stays open and no other operation ended
        await ws.flush()
        assert refused == {
            "id": "extra",
            "type": "error",
            "payload": [
                {"message": "Subscription limit reached", "extensions": {"code": "RATE_LIMITED"}}
            ],
        }
        assert [f for f in ws.frames if f.get("type") in {"error", "complete"}] == [refused]
        # and completing one frees a place
        await ws.send({"id": "s0", "type": "complete"})
        await ws.subscribe("extra", TYPENAME)
        await ws.expect(lambda f: f.get("id") == "extra" and f["type"] == "complete")


# --- multiplexed classroomActivity ---------------------------------------------------------------


async def test_two_teachers_watching_one_class_receive_the_same_event(
    server: Server, http: Api
) -> None:
    report = reporter(http, server)
    classroom = server.classroom
    # given the class's two teachers, each with a socket subscribed to it (one shared cohort)
    async with (
        open_socket(server.ws_url, server.teacher_token) as teacher,
        open_socket(server.ws_url, server.colleague_token) as colleague,
    ):
        for ws in (teacher, colleague):
            await ws.subscribe("live", CLASSROOM_ACTIVITY, groupId=classroom.group_id)
        await until_live(report, (teacher, "live"), (colleague, "live"))
        # when the learner's device reports a page visit
        url = marked_url("shared")
        body = await report(url)
        # then both receive it, as the very same bytes (one cohort: serialised once)
        frames = [await ws.expect(next_with_url("live", url)) for ws in (teacher, colleague)]
        texts = [
            ws.texts[ws.frames.index(frame)]
            for ws, frame in zip((teacher, colleague), frames, strict=True)
        ]
    assert body["data"]["reportActivity"]["results"][0]["status"] == "ACCEPTED", body
    assert texts[0] == texts[1]
    activity = frames[0]["payload"]["data"]["classroomActivity"]
    assert activity["kind"] == "URL_VISIT"
    assert activity["blocked"] is False
    assert activity["learnerId"] == classroom.learner_id
    assert activity["deviceId"] == classroom.device_id
    assert "errors" not in frames[0]["payload"]


async def test_teacher_taken_off_the_class_is_cut_off_while_the_admin_keeps_watching(
    server: Server, http: Api
) -> None:
    report = reporter(http, server)
    classroom = server.classroom
    # given the cover class's teacher and an admin, both watching it live
    async with (
        open_socket(server.ws_url, server.cover_token) as teacher,
        open_socket(server.ws_url, server.admin_token) as admin,
    ):
        for ws in (teacher, admin):
            await ws.subscribe("live", CLASSROOM_ACTIVITY, groupId=classroom.cover_group_id)
        await until_live(report, (teacher, "live"), (admin, "live"))
        # when the admin takes the teacher off the class over HTTP (no events meanwhile)
        unassigned = await http.data(
            UNASSIGN_TEACHER,
            server.admin_token,
            groupId=classroom.cover_group_id,
            staffId=classroom.cover_teacher_id,
        )
        assert unassigned == {"unassignTeacher": {"errors": []}}
        # then the teacher's subscription ends with FORBIDDEN within a few seconds
        ended = await teacher.expect(lambda f: f.get("type") == "error", EVENT_SECONDS)
        assert ended["id"] == "live"
        assert [e["extensions"]["code"] for e in ended["payload"]] == ["FORBIDDEN"]
        cut_at = len(teacher.frames)
        # and the admin keeps receiving, the teacher does not
        url = marked_url("after-unassign")
        await report(url)
        await admin.expect(next_with_url("live", url))
        await teacher.flush()
        assert [f for f in teacher.frames[cut_at:] if f.get("id") == "live"] == []
