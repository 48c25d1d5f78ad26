"""graphql-cop 1.15's twelve checks, and the websocket rules, against a real production server.

The checks are reproduced from graphql-cop's source (``lib/tests/*.py``, ``lib/utils.py``):
the same payloads, methods, headers (``User-Agent: graphql-cop/1.15``, no cookies) and paths
(``/``, ``/graphiql``, ``/playground``, ``/console``, ``/graphql``). Two deliberate differences
make the verdicts stricter, never looser: every check runs against every path, as ``-f``
(forced scan) would, instead of only the paths detected as GraphQL; and a flag condition that
graphql-cop gates on a 2xx/3xx status (``if response and …``) is evaluated on any status.

The server is ``python -m uvicorn --factory app.main:app_from_env`` with the flags of
``app.server.uvicorn_options``, in production mode, on a seeded SQLite file (or the PostgreSQL
test database and Redis when DATABASE_URL and REDIS_URL are set).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx2
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin, Subprotocol

from app.config import Limits, Mode, Settings
from app.security.crypto import MasterKey
from models.staff import Role
from resolvers.context import Services
from tests import backends, factories
from tests.e2e.server import migrated_database, running_server, seed_database

pytestmark = pytest.mark.e2e

PUBLIC_URL = "https://school.example"
EVIL_ORIGIN = "https://evil.example"
WS_PROTOCOL = Subprotocol("graphql-transport-ws")
WS_SECONDS = 5.0

LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token errors { code message } }
}
"""
TYPENAME = "query { __typename }"
SIX_DIRECTIVES = (
    "query cop { " + " ".join(f"d{i}: __typename @include(if: true)" for i in range(6)) + " }"
)
FIFTEEN_ALIASES = "query { " + " ".join(f"a{i}: __typename" for i in range(15)) + " }"
SIXTEEN_ALIASES = "query { " + " ".join(f"a{i}: __typename" for i in range(16)) + " }"


@dataclass(frozen=True)
class Server:
    base_url: str
    token: str
    log_path: Path

    @property
    def ws_url(self) -> str:
        return "ws" + self.base_url.removeprefix("http") + "/graphql"


async def _seed(services: Services) -> str:
    school = await factories.school(services)
    teacher = await factories.staff(school, Role.TEACHER)
    return teacher.email


@pytest.fixture(scope="module")
def server(database_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A production server on a seeded database, and a signed-in teacher's token."""
    folder = tmp_path_factory.mktemp("e2e")
    settings = Settings(
        mode=Mode.PRODUCTION,
        database_url=migrated_database(database_template, folder),
        broker_url=backends.REDIS_URL or "memory://",
        namespace=f"ppe2e-{uuid.uuid4().hex[:10]}",
        master_key=MasterKey.generate().to_text(),
        public_url=PUBLIC_URL,
        allowed_origins=(PUBLIC_URL,),
    )
    settings.check()
    email = seed_database(settings, _seed, truncate=backends.POSTGRES)
    log_path = folder / "uvicorn.log"
    with running_server(settings, log_path) as base_url:
        with httpx2.Client(base_url=base_url, trust_env=False, timeout=20) as http:
            body = {"query": LOGIN, "variables": {"email": email, "password": factories.PASSWORD}}
            signed_in = http.post("/graphql", json=body).json()["data"]["login"]
        assert signed_in["errors"] == [], signed_in
        yield Server(base_url, signed_in["token"], log_path)


@pytest.fixture
def http() -> Iterator[httpx2.Client]:
    with httpx2.Client(trust_env=False, timeout=20, follow_redirects=True) as client:
        yield client


# --- graphql-cop 1.15, reproduced --------------------------------------------------------------

COP_HEADERS = {
    "User-Agent": "graphql-cop/1.15",
    # What python-requests adds by itself.
    "Accept": "*/*",
    "Accept-Encoding": "gzip, deflate",
    "Connection": "keep-alive",
}
COP_PATHS = ("/", "/graphiql", "/playground", "/console", "/graphql")
IS_GRAPHQL_QUERY = "\n    query cop {\n      __typename\n    }\n  "


def graph_query(
    http: httpx2.Client, url: str, payload: str, *, batch: bool = False
) -> httpx2.Response:
    """``lib.utils.graph_query``: JSON POST, ``operationName: cop``, or an array of ten."""
    data: Any = [{"query": payload}] * 10 if batch else {"query": payload, "operationName": "cop"}
    headers = {**COP_HEADERS, "Content-Type": "application/json"}
    return http.post(url, content=json.dumps(data, allow_nan=False), headers=headers)


def request(
    http: httpx2.Client,
    url: str,
    *,
    params: dict[str, str] | None = None,
    data: dict[str, str] | None = None,
    verb: str = "GET",
    headers: dict[str, str] | None = None,
) -> httpx2.Response:
    """``lib.utils.request``: query-string GETs and form-encoded POSTs, as requests sends them."""
    sent = dict(headers or COP_HEADERS)
    if params:
        url = f"{url}?{urlencode(params)}"
    content = None
    if data is not None:
        content = urlencode(data)
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    return http.request(verb, url, content=content, headers=sent)


def _json(response: httpx2.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _first_error_message(body: Any) -> Any:
    try:
        return body["errors"][0]["message"]
    except (KeyError, IndexError, TypeError):
        return None


def _holds(predicate: Callable[[], object]) -> bool:
    """graphql-cop's ``try: if …: flagged  except: pass``: any exception means not flagged."""
    try:
        return bool(predicate())
    except Exception:  # exactly graphql-cop's bare except
        return False


def is_graphql(http: httpx2.Client, url: str) -> bool:
    """``lib.utils.is_graphql``, including its fall-through to None (falsy)."""
    body = _json(graph_query(http, url, IS_GRAPHQL_QUERY))
    if not isinstance(body, dict):
        return False
    if "data" in body and body["data"] is not None:
        return _holds(lambda: body["data"]["__typename"] in COP_ROOT_NAMES)
    if body.get("errors") and (
        any("locations" in e for e in body["errors"]) or any("extensions" in k for k in body)
    ):
        return True
    return bool(body.get("data"))


COP_ROOT_NAMES = ("Query", "QueryRoot", "query_root", "Root")


@dataclass(frozen=True)
class Verdict:
    flagged: bool
    response: httpx2.Response

    def explain(self) -> str:
        return f"{self.response.status_code} {self.response.text[:300]}"


def field_suggestions(http: httpx2.Client, url: str) -> Verdict:
    """1 (LOW): the first error suggests a name."""
    response = graph_query(http, url, "query cop { __schema { directive } }")
    body = _json(response)
    return Verdict(_holds(lambda: "Did you mean" in _first_error_message(body)), response)


def introspection(http: httpx2.Client, url: str) -> Verdict:
    """2 (HIGH): the schema's types come back."""
    response = graph_query(http, url, "query cop { __schema { types { name fields { name } } } }")
    body = _json(response)
    return Verdict(_holds(lambda: body["data"]["__schema"]["types"]), response)


IDE_HEURISTICS = ("graphiql.min.css", "GraphQL Playground", "GraphiQL", "graphql-playground")


def detect_graphiql(http: httpx2.Client, url: str) -> Verdict:
    """3 (LOW): a GET for HTML serves an IDE."""
    response = request(http, url, headers={**COP_HEADERS, "Accept": "text/html"})
    return Verdict(any(word in response.text for word in IDE_HEURISTICS), response)


def get_method_support(http: httpx2.Client, url: str) -> Verdict:
    """4 (MEDIUM): queries run over GET."""
    response = request(http, url, params={"query": "query cop {__typename}"})
    body = _json(response)
    return Verdict(_holds(lambda: body["data"]["__typename"]), response)


def alias_overloading(http: httpx2.Client, url: str) -> Verdict:
    """5 (HIGH): 101 aliases run."""
    aliases = "".join(f"alias{i}:__typename \n" for i in range(101))
    response = graph_query(http, url, "query cop { " + aliases + " }")
    body = _json(response)
    return Verdict(_holds(lambda: body["data"]["alias100"]), response)


def batch_query(http: httpx2.Client, url: str) -> Verdict:
    """6 (HIGH): an array of ten operations gets ten results."""
    response = graph_query(http, url, "query cop { __typename }", batch=True)
    body = _json(response)
    return Verdict(_holds(lambda: len(body) >= 10), response)


def trace_mode(http: httpx2.Client, url: str) -> Verdict:
    """7 (INFO): tracing in the extensions (both of graphql-cop's tests, independently)."""
    response = graph_query(http, url, "query cop { __typename }")
    body = _json(response)
    flagged = _holds(lambda: body["errors"][0]["extensions"]["tracing"]) or (
        "'extensions': {'tracing':" in str(body).lower()
    )
    return Verdict(flagged, response)


def directive_overloading(http: httpx2.Client, url: str) -> Verdict:
    """8 (HIGH): exactly ten errors for ten unknown directives."""
    response = graph_query(http, url, "query cop { __typename @aa@aa@aa@aa@aa@aa@aa@aa@aa@aa }")
    body = _json(response)
    return Verdict(_holds(lambda: len(body["errors"]) == 10), response)


def circular_query_introspection(http: httpx2.Client, url: str) -> Verdict:
    """9 (HIGH): a circular introspection query returns more than 25 types."""
    query = (
        "query cop { __schema { types { fields { type { fields { type { fields "
        "{ type { fields { type { name } } } } } } } } } } }"
    )
    response = graph_query(http, url, query)
    body = _json(response)
    return Verdict(_holds(lambda: len(body["data"]["__schema"]["types"]) > 25), response)


def get_based_mutation(http: httpx2.Client, url: str) -> Verdict:
    """10 (MEDIUM): a mutation runs over GET."""
    response = request(http, url, params={"query": "mutation cop {__typename}"})
    body = _json(response)
    return Verdict(_holds(lambda: body["data"]["__typename"]), response)


def post_based_csrf(http: httpx2.Client, url: str) -> Verdict:
    """11 (MEDIUM): a form-encoded POST runs a query."""
    response = request(http, url, data={"query": "query cop { __typename }"}, verb="POST")
    body = _json(response)
    return Verdict(_holds(lambda: body["data"]["__typename"]), response)


def unhandled_error_detection(http: httpx2.Client, url: str) -> Verdict:
    """12 (INFO): the exception is in the error's extensions."""
    response = graph_query(http, url, "qwerty cop { abc }")
    body = _json(response)
    flagged = _holds(lambda: body["errors"][0]["extensions"]["exception"]) or (
        "'extensions': {'exception':" in str(body).lower()
    )
    return Verdict(flagged, response)


#: graphql-cop's own names and order (``lib/tests/__init__.py``; field duplication is off there).
COP_CHECKS: dict[str, Callable[[httpx2.Client, str], Verdict]] = {
    "field_suggestions": field_suggestions,
    "introspection": introspection,
    "detect_graphiql": detect_graphiql,
    "get_method_support": get_method_support,
    "alias_overloading": alias_overloading,
    "batch_query": batch_query,
    "trace_mode": trace_mode,
    "directive_overloading": directive_overloading,
    "circular_query_introspection": circular_query_introspection,
    "get_based_mutation": get_based_mutation,
    "post_based_csrf": post_based_csrf,
    "unhandled_error_detection": unhandled_error_detection,
}


def test_graphql_cop_detects_graphql_at_graphql_only(server: Server, http: httpx2.Client) -> None:
    # given graphql-cop's endpoint discovery
    # when it probes each of its paths
    detected = [path for path in COP_PATHS if is_graphql(http, server.base_url + path)]
    # then only /graphql answers as GraphQL (so its checks are not vacuously passing)
    assert detected == ["/graphql"]


@pytest.mark.parametrize("check", COP_CHECKS.values(), ids=COP_CHECKS.keys())
def test_graphql_cop_check_is_not_flagged(
    server: Server, http: httpx2.Client, check: Callable[[httpx2.Client, str], Verdict]
) -> None:
    # given every path graphql-cop probes
    # when the check runs against each of them
    verdicts = {path: check(http, server.base_url + path) for path in COP_PATHS}
    # then no path is flagged
    flagged = {path: v.explain() for path, v in verdicts.items() if v.flagged}
    assert flagged == {}


def test_directive_overload_gets_one_error_not_ten(server: Server, http: httpx2.Client) -> None:
    # given graphql-cop's ten unknown directives, and six valid ones (our cap is five)
    url = server.base_url + "/graphql"
    # when both are sent
    ten_unknown = graph_query(http, url, "query cop { __typename @aa@aa@aa@aa@aa@aa@aa@aa@aa@aa }")
    six_valid = graph_query(http, url, SIX_DIRECTIVES)
    # then each gets exactly one error from our cap, before validation runs
    assert ten_unknown.json()["errors"] == [{"message": "Too many directives."}]
    assert six_valid.json() == {"data": None, "errors": [{"message": "Too many directives."}]}


def test_no_server_banner_from_uvicorn(server: Server, http: httpx2.Client) -> None:
    # given uvicorn started with app.server's options
    # when the app answers, and when the router does not know the path
    responses = [http.get(server.base_url + path) for path in ("/healthz", "/.git/config")]
    # then no Server header reveals the stack, but the Date header is kept
    for response in responses:
        assert "server" not in response.headers
        assert "date" in response.headers
        assert response.headers["x-frame-options"] == "DENY"
    assert [r.status_code for r in responses] == [200, 404]


def test_chunked_oversized_body_gets_413(server: Server, http: httpx2.Client) -> None:
    # given a body without Content-Length that is larger than the limit
    limit = Settings().limits.max_body_bytes

    def chunks() -> Iterator[bytes]:
        for _ in range(limit // 65_536 + 1):
            yield b" " * 65_536

    # when it is streamed to the real server
    response = http.post(
        server.base_url + "/graphql",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    # then it is refused as too large
    assert response.status_code == 413
    assert response.json() == {"errors": [{"message": f"The body must be at most {limit} bytes."}]}


def test_readyz_on_the_real_server(server: Server, http: httpx2.Client) -> None:
    # given the server with its database and broker
    # when readiness is checked
    response = http.get(server.base_url + "/readyz")
    # then both are ok
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert response.json()["broker"] == "ok"


# --- websockets (WS-02, WS-03, WS-05, WS-06, WS-08) ------------------------------------------


@asynccontextmanager
async def socket(
    server: Server, *, origin: str | None = PUBLIC_URL, query: str = ""
) -> AsyncIterator[ClientConnection]:
    async with connect(
        server.ws_url + query,
        subprotocols=[WS_PROTOCOL],
        origin=Origin(origin) if origin else None,
        proxy=None,
        open_timeout=WS_SECONDS,
        close_timeout=WS_SECONDS,
    ) as ws:
        yield ws


async def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    await ws.send(json.dumps(message))


async def receive(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(WS_SECONDS):
        message: dict[str, Any] = json.loads(await ws.recv())
        return message


async def close_code(ws: ClientConnection) -> int | None:
    """The code the server closes with; fails if it does not close within WS_SECONDS."""

    async def drain() -> None:
        async with asyncio.timeout(WS_SECONDS):
            while True:
                await ws.recv()

    with pytest.raises(ConnectionClosed) as closed:
        await drain()
    return closed.value.rcvd.code if closed.value.rcvd else None


async def acknowledged(ws: ClientConnection, token: str) -> None:
    await send(ws, {"type": "connection_init", "payload": {"authToken": token}})
    assert await receive(ws) == {"type": "connection_ack"}


async def run_operation(ws: ClientConnection, query: str, op_id: str = "1") -> dict[str, Any]:
    await send(ws, {"id": op_id, "type": "subscribe", "payload": {"query": query}})
    return await receive(ws)


async def test_ws_foreign_origin_is_refused_with_403(server: Server) -> None:
    # given a page on another site opening a socket with the user's browser
    # when the handshake is attempted
    with pytest.raises(InvalidStatus) as refused:
        async with socket(server, origin=EVIL_ORIGIN):
            pytest.fail("the handshake must be refused")  # pragma: no cover
    # then it is refused with HTTP 403, without a server banner
    assert refused.value.response.status_code == 403
    assert "server" not in refused.value.response.headers


async def test_ws_allowed_origin_is_accepted_without_compression(server: Server) -> None:
    # given the front end's own origin
    # when it opens a socket (offering permessage-deflate, as browsers do)
    async with socket(server) as ws:
        # then the handshake succeeds with our sub-protocol and compression declined (§2.4)
        assert ws.subprotocol == WS_PROTOCOL
        assert ws.response is not None
        assert "sec-websocket-extensions" not in ws.response.headers
        await acknowledged(ws, server.token)


async def test_ws_bad_token_closes_4403(server: Server) -> None:
    # given a socket from an allowed origin
    async with socket(server) as ws:
        # when connection_init carries a token the server never issued
        await send(ws, {"type": "connection_init", "payload": {"authToken": "pps_forged"}})
        # then the server closes with 4403
        assert await close_code(ws) == 4403


async def test_ws_no_credentials_closes_4403(server: Server) -> None:
    # given a socket from an allowed origin and no cookie
    async with socket(server) as ws:
        # when connection_init carries no token
        await send(ws, {"type": "connection_init"})
        # then the server closes with 4403
        assert await close_code(ws) == 4403


async def test_ws_token_in_the_url_is_not_accepted(server: Server) -> None:
    # given a valid token put in the handshake URL, where logs and proxies would keep it
    query = "?" + urlencode({"authToken": server.token, "token": server.token})
    async with socket(server, query=query) as ws:
        # when connection_init carries none
        await send(ws, {"type": "connection_init"})
        # then the URL's token is ignored and the socket is refused
        assert await close_code(ws) == 4403


async def test_ws_subscribe_before_ack_closes_4401(server: Server) -> None:
    # given a socket that skipped connection_init
    async with socket(server) as ws:
        # when it sends an operation
        await send(ws, {"id": "1", "type": "subscribe", "payload": {"query": TYPENAME}})
        # then the server closes with 4401
        assert await close_code(ws) == 4401


async def test_ws_applies_the_alias_limit(server: Server) -> None:
    # given an acknowledged socket
    async with socket(server) as ws:
        await acknowledged(ws, server.token)
        # when operations at and past the alias limit are sent
        at_limit = await run_operation(ws, FIFTEEN_ALIASES, "at")
        assert await receive(ws) == {"id": "at", "type": "complete"}
        past_limit = await run_operation(ws, SIXTEEN_ALIASES, "past")
    # then the first runs and the second gets one error, as over HTTP (WS-05)
    assert at_limit["type"] == "next"
    assert at_limit["payload"]["data"]["a14"] == "Query"
    assert past_limit["type"] == "error"
    assert [e["message"] for e in past_limit["payload"]] == ["16 aliases found. Allowed: 15"]


async def test_ws_applies_the_directive_cap(server: Server) -> None:
    # given an acknowledged socket
    async with socket(server) as ws:
        await acknowledged(ws, server.token)
        # when six directives are sent
        reply = await run_operation(ws, SIX_DIRECTIVES)
    # then exactly one error comes back (WS-05)
    assert reply["type"] == "error"
    assert reply["payload"] == [{"message": "Too many directives."}]


async def test_ws_oversized_frame_closes_1009(server: Server) -> None:
    # given an acknowledged socket
    async with socket(server) as ws:
        await acknowledged(ws, server.token)
        # when a 70 KB message is sent (the limit is 64 KiB)
        padding = " " * (Limits().ws_max_message_bytes + 6_000)
        await send(ws, {"id": "1", "type": "subscribe", "payload": {"query": TYPENAME + padding}})
        # then the server closes with 1009, message too big (WS-06)
        assert await close_code(ws) == 1009


#: The checks whose payloads make sense as graphql-transport-ws operations.
WS_COP_CHECKS = {
    "field_suggestions": (
        "query cop { __schema { directive } }",
        lambda body: "Did you mean" in _first_error_message(body),
    ),
    "introspection": (
        "query cop { __schema { types { name fields { name } } } }",
        lambda body: body["data"]["__schema"]["types"],
    ),
    "alias_overloading": (
        "query cop { " + "".join(f"alias{i}:__typename \n" for i in range(101)) + " }",
        lambda body: body["data"]["alias100"],
    ),
    "trace_mode": (
        "query cop { __typename }",
        lambda body: "tracing" in json.dumps(body.get("extensions") or {}),
    ),
    "directive_overloading": (
        "query cop { __typename @aa@aa@aa@aa@aa@aa@aa@aa@aa@aa }",
        lambda body: len(body["errors"]) == 10,
    ),
    "circular_query_introspection": (
        "query cop { __schema { types { fields { type { fields { type { fields "
        "{ type { fields { type { name } } } } } } } } } } }",
        lambda body: len(body["data"]["__schema"]["types"]) > 25,
    ),
}


@pytest.mark.parametrize(
    ("payload", "flagged_when"), WS_COP_CHECKS.values(), ids=WS_COP_CHECKS.keys()
)
async def test_ws_graphql_cop_payload_is_not_flagged(
    server: Server, payload: str, flagged_when: Callable[[Any], object]
) -> None:
    # given an acknowledged socket
    async with socket(server) as ws:
        await acknowledged(ws, server.token)
        # when graphql-cop's payload is sent as an operation
        reply = await run_operation(ws, payload)
    # then the result (errors arrive as an error message) is not flagged
    body = reply["payload"] if reply["type"] == "next" else {"errors": reply["payload"]}
    assert reply["type"] in {"next", "error"}
    assert not _holds(lambda: flagged_when(body)), reply
