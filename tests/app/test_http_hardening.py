"""The HTTP surface of the app: headers, request guards, GraphQL limits, errors, cookies, ops.

Each test drives ``create_app(settings, services, manage_database=False)`` through an in-process
ASGI transport, in the test's own event loop. Starlette's ``TestClient`` runs the app on another
loop in another thread, and Tortoise then reports ``TortoiseLoopSwitchWarning`` (``/readyz``
says the database is unavailable), and asyncpg and Redis connections cannot cross loops at all.
``httpx2.AsyncClient`` over ``ASGITransport`` is the same client without the thread, so the
``services`` fixture's database and broker are used exactly as the app would use them.

Settings are production over https unless a test asks for ``DEVELOPMENT`` (indirectly).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest

import resolvers.schools
from app import metrics
from app.config import Mode, Settings
from app.main import create_app
from models.staff import Role, User
from resolvers.context import Services
from tests import factories
from tests.conftest import TEST_IP

PUBLIC_URL = "https://school.example"
PRODUCTION: Mapping[str, Any] = {
    "mode": Mode.PRODUCTION,
    "public_url": PUBLIC_URL,
    "allowed_origins": (PUBLIC_URL,),
}
DEVELOPMENT: Mapping[str, Any] = {
    "mode": Mode.DEVELOPMENT,
    "public_url": "http://127.0.0.1:8000",
    "allowed_origins": (),
}

#: Security checklist §2.6, spelled out here rather than imported from the code under test.
HARDENING_HEADERS = {
    "strict-transport-security": "max-age=63072000; includeSubDomains",
    "cache-control": "no-store",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
}
MAX_BODY = Settings().limits.max_body_bytes

TYPENAME = "query { __typename }"
VIEWER = "query { viewer { kind } }"
SCHOOL = "query { school { name } }"
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token errors { code message } }
}
"""
LOGOUT = "mutation { logout }"
INTROSPECTION = "query { __schema { types { name } } }"
TYPE_INTROSPECTION = 'query { __type(name: "Query") { fields { name } } }'
EMPTY_SELECTION = "query { }"

#: Near misses of real names: a schema that answers "Did you mean …?" to any of them can be
#: recovered name by name (clairvoyance), introspection or not.
NEAR_MISSES: dict[str, tuple[str, dict[str, Any]]] = {
    "root-field": ("query { pupl }", {}),
    "nested-field": ("query { viewer { knd } }", {}),
    "graphql-cop-check-1": ("query cop { __schema { directive } }", {}),
    "argument": ("query { learners(frist: 1) { totalCount } }", {}),
    "input-field": ("query { learners(filter: {yearGrop: 10}) { totalCount } }", {}),
    "type-condition": ("query { ... on Quer { __typename } }", {}),
    "variable-type": ("query Typo($f: LearnerFiltr) { learners(filter: $f) { totalCount } }", {}),
    "variable-value": (
        "query Filter($f: LearnerFilter) { learners(filter: $f) { totalCount } }",
        {"f": {"yearGrop": 10}},
    ),
    "enum-value": (
        'mutation { createStaff(input: {email: "a@b.test", displayName: "A", '
        'roles: [TEECHER], password: "long enough password"}) { errors { code } } }',
        {},
    ),
}


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """The suite's settings made production over https, or ``request.param`` (indirect)."""
    configured = dataclasses.replace(settings, **getattr(request, "param", PRODUCTION))
    configured.check()
    return configured


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx2.AsyncClient]:
    app = create_app(services.settings, services, manage_database=False)
    transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False, client=(TEST_IP, 50000))
    async with httpx2.AsyncClient(
        transport=transport, base_url=services.settings.public_url
    ) as http:
        yield http


@pytest.fixture
async def teacher(services: Services) -> User:
    return await factories.staff(await factories.school(services), Role.TEACHER)


@pytest.fixture
async def token(client: httpx2.AsyncClient, teacher: User) -> str:
    response = await login(client, teacher.email, factories.PASSWORD)
    client.cookies.clear()  # every test below sends its credentials explicitly
    return str(response.json()["data"]["login"]["token"])


async def post(
    client: httpx2.AsyncClient,
    query: str,
    variables: Mapping[str, Any] | None = None,
    *,
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx2.Response:
    sent = {"authorization": f"Bearer {token}"} if token else {}
    sent.update(headers or {})
    body = {"query": query, "variables": dict(variables or {})}
    return await client.post("/graphql", json=body, headers=sent)


async def login(client: httpx2.AsyncClient, email: str, password: str) -> httpx2.Response:
    return await post(client, LOGIN, {"email": email, "password": password})


def assert_hardened(response: httpx2.Response) -> None:
    """TLS-05: the §2.6 headers, a request id, a content type, and no server banner."""
    headers = response.headers
    for name, value in HARDENING_HEADERS.items():
        assert headers.get(name) == value, f"{name} on a {response.status_code} response"
    assert "server" not in headers
    assert "x-powered-by" not in headers
    assert re.fullmatch(r"[0-9a-f]{32}", headers.get("x-request-id", ""))
    content_type = headers.get("content-type", "")
    assert content_type, f"no content-type on a {response.status_code} response"
    if content_type.startswith("text/"):
        assert "charset=utf-8" in content_type


def errors_of(response: httpx2.Response) -> list[dict[str, Any]]:
    return list(response.json().get("errors") or [])


def cookie_parts(set_cookie: str) -> tuple[str, str, dict[str, str]]:
    """(name, value, attributes with lower-cased names) of one Set-Cookie header."""
    first, *attributes = (part.strip() for part in set_cookie.split(";"))
    name, _, value = first.partition("=")
    parsed = {}
    for attribute in attributes:
        key, _, attribute_value = attribute.partition("=")
        parsed[key.lower()] = attribute_value
    return name, value, parsed


# --- every response is hardened ----------------------------------------------------------


async def _chunks(size: int, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    while size > 0:
        yield b" " * min(size, chunk)
        size -= chunk


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None
    chunked_size: int | None = None

    async def send(self, client: httpx2.AsyncClient) -> httpx2.Response:
        content: Any = self.content
        if self.chunked_size is not None:
            content = _chunks(self.chunked_size)
        return await client.request(
            self.method,
            self.path,
            headers=dict(self.headers),
            json=self.json,
            content=content,
        )


JSON_TYPE = {"content-type": "application/json"}
PROBES = {
    "200-query": Probe("POST", "/graphql", 200, json={"query": TYPENAME}),
    "200-healthz": Probe("GET", "/healthz", 200),
    "400-array-batch": Probe("POST", "/graphql", 400, json=[{"query": TYPENAME}] * 10),
    "400-malformed-json": Probe("POST", "/graphql", 400, JSON_TYPE, content=b'{"query": '),
    "401ish-anonymous": Probe("POST", "/graphql", 200, json={"query": SCHOOL}),
    "404-unknown-path": Probe("GET", "/wp-admin", 404),
    "405-get-query": Probe("GET", "/graphql?query=%7B__typename%7D", 405),
    "405-get-ide": Probe("GET", "/graphql", 405, {"accept": "text/html"}),
    "405-put": Probe("PUT", "/graphql", 405, json={"query": TYPENAME}),
    "413-content-length": Probe("POST", "/graphql", 413, JSON_TYPE, content=b" " * (MAX_BODY + 1)),
    "413-chunked": Probe("POST", "/graphql", 413, JSON_TYPE, chunked_size=MAX_BODY + 1),
    "415-text-plain": Probe(
        "POST", "/graphql", 415, {"content-type": "text/plain"}, content=b'{"query": "{a}"}'
    ),
    "415-form": Probe(
        "POST",
        "/graphql",
        415,
        {"content-type": "application/x-www-form-urlencoded"},
        content=b"query=query+cop+%7B+__typename+%7D",
    ),
    "403-cross-site": Probe(
        "POST", "/graphql", 403, {"sec-fetch-site": "cross-site"}, json={"query": TYPENAME}
    ),
    "403-evil-origin": Probe(
        "POST", "/graphql", 403, {"origin": "https://evil.example"}, json={"query": TYPENAME}
    ),
    "403-null-origin": Probe("POST", "/graphql", 403, {"origin": "null"}, json={"query": TYPENAME}),
}


@pytest.mark.parametrize("probe", PROBES.values(), ids=PROBES.keys())
async def test_every_response_carries_the_hardening_headers(
    client: httpx2.AsyncClient, probe: Probe
) -> None:
    # given a request the app answers with probe.status
    # when it is sent
    response = await probe.send(client)
    # then the status is as expected and the headers are there all the same
    assert response.status_code == probe.status, response.text
    assert_hardened(response)


async def test_guard_refusals_say_what_is_wrong(client: httpx2.AsyncClient) -> None:
    # given requests refused by the guard in front of /graphql
    # when they are sent
    too_large = await PROBES["413-chunked"].send(client)
    wrong_type = await PROBES["415-text-plain"].send(client)
    wrong_method = await PROBES["405-get-query"].send(client)
    # then each gets one clear, JSON error and a 405 names the allowed method
    assert errors_of(too_large) == [{"message": f"The body must be at most {MAX_BODY} bytes."}]
    assert errors_of(wrong_type) == [{"message": "The body must be application/json."}]
    assert errors_of(wrong_method) == [{"message": "Use POST with a JSON body."}]
    assert wrong_method.headers["allow"] == "POST"


@pytest.mark.parametrize(
    "headers",
    [{"origin": PUBLIC_URL}, {"sec-fetch-site": "same-origin"}, {"sec-fetch-site": "none"}],
    ids=["allowed-origin", "same-origin-fetch", "typed-url"],
)
async def test_same_site_requests_pass_the_guard(
    client: httpx2.AsyncClient, headers: dict[str, str]
) -> None:
    # given a request from the front end's own origin
    # when it is sent
    response = await post(client, TYPENAME, headers=headers)
    # then it is answered
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_anonymous_request_gets_unauthenticated(client: httpx2.AsyncClient) -> None:
    # given no credentials
    # when a protected field is read
    response = await post(client, SCHOOL)
    # then the error says so, with its code, and headers are intact
    assert response.json()["data"] is None
    assert [e["extensions"]["code"] for e in errors_of(response)] == ["UNAUTHENTICATED"]
    assert_hardened(response)


async def test_throttled_login_gets_429_with_retry_after(
    client: httpx2.AsyncClient, teacher: User
) -> None:
    # given an account whose password keeps being guessed wrongly
    response = await login(client, teacher.email, "wrong password")
    # when the guessing goes on past the free failures (bounded)
    for _ in range(10):
        if response.status_code == 429:
            break
        response = await login(client, teacher.email, "wrong password")
    # then the reply is 429 with Retry-After matching the RATE_LIMITED error
    assert response.status_code == 429, response.text
    (error,) = errors_of(response)
    assert error["extensions"]["code"] == "RATE_LIMITED"
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit()
    assert int(retry_after) >= 1
    assert error["extensions"]["retryAfter"] == int(retry_after)
    assert_hardened(response)


# --- errors never leak ----------------------------------------------------------------------


async def test_resolver_exception_is_masked(
    client: httpx2.AsyncClient, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a resolver that fails with internal details in its message
    async def broken(*_: object) -> None:
        raise RuntimeError("db password hunter2 rejected by 10.0.0.5")

    monkeypatch.setattr(resolvers.schools, "viewer_school", broken)
    # when a signed-in user reads that field
    response = await post(client, SCHOOL, token=token)
    # then the client learns only that something unexpected went wrong
    assert response.status_code == 200
    (error,) = errors_of(response)
    assert error["message"] == "Unexpected error."
    assert error["path"] == ["school"]
    assert "exception" not in (error.get("extensions") or {})
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    assert_hardened(response)


async def test_syntax_error_has_no_stack(client: httpx2.AsyncClient) -> None:
    # given graphql-cop's unhandled-error payload
    # when it is sent
    response = await post(client, "qwerty cop { abc }")
    # then the parser's message comes back without any exception details
    (error,) = errors_of(response)
    assert error["message"].startswith("Syntax Error:")
    assert "extensions" not in error
    assert "Traceback" not in response.text


async def test_empty_selection_set_leaks_no_internal_error(client: httpx2.AsyncClient) -> None:
    # given an operation with an empty selection set (graphql-core 3.3 parses it)
    # when it is sent
    response = await post(client, EMPTY_SELECTION)
    # then the reply is a GraphQL error, never the text of a Python exception
    (error,) = errors_of(response)
    assert "max() arg" not in error["message"]
    assert response.json()["data"] is None


async def test_unhandled_exception_500_is_hardened(
    client: httpx2.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an endpoint that crashes outside GraphQL
    def crash(*_: object) -> bytes:
        raise RuntimeError("metrics registry corrupted")

    monkeypatch.setattr(metrics, "generate_latest", crash)
    # when it is called
    response = await client.get("/metrics")
    # then it is a bare 500 that still carries the hardening headers
    assert response.status_code == 500
    assert "corrupted" not in response.text
    assert_hardened(response)


# --- GraphQL limits (security checklist §2.3) -------------------------------------------------

#: Query.groups -> GroupConnection.nodes -> Group.learners -> LearnerConnection.nodes
#: -> Learner.groups -> …: a cycle, so documents can be made as deep as wanted.
_CYCLE = ["groups", "nodes"] + ["learners", "nodes", "groups"] * 5
_LEAF = {"learners": "totalCount"}


def deep_document(depth: int) -> str:
    """A valid query whose leaf sits at ``depth`` (the root field is at depth 0)."""
    path = _CYCLE[:depth]
    leaf = _LEAF.get(path[-1], "id")
    return "query { " + " { ".join(path) + " { " + leaf + " }" + " }" * (len(path) - 1) + " }"


def alias_document(count: int) -> str:
    return "query { " + " ".join(f"a{i}: __typename" for i in range(count)) + " }"


def directive_document(count: int) -> str:
    """One ``@include`` on each of ``count`` aliased fields (a directive is unique per field)."""
    fields = (f"d{i}: __typename @include(if: true)" for i in range(count))
    return "query { " + " ".join(fields) + " }"


def token_document(count: int) -> str:
    """A valid query of exactly ``count`` tokens (braces and names, 4 per ``viewer { kind }``)."""
    repeats, singles = divmod(count - 2, 4)
    return "{ " + "viewer { kind } " * repeats + "__typename " * singles + "}"


def long_document(length: int) -> str:
    document = TYPENAME
    return document + " " * (length - len(document))


@dataclass(frozen=True)
class Limit:
    allowed: int
    build: Callable[[int], str]
    refusal: str


LIMITS = {
    "depth": Limit(10, deep_document, "exceeds maximum operation depth of 10"),
    "aliases": Limit(15, alias_document, "16 aliases found. Allowed: 15"),
    "directives": Limit(5, directive_document, "Too many directives."),
    "tokens": Limit(1000, token_document, "Document contains more than 1000 tokens."),
    "characters": Limit(15_000, long_document, "longer than 15000 characters"),
}


@pytest.mark.parametrize("limit", LIMITS.values(), ids=LIMITS.keys())
async def test_limit_allows_n_and_refuses_n_plus_one_with_one_error(
    client: httpx2.AsyncClient, token: str, limit: Limit
) -> None:
    # given documents exactly at the limit and one past it
    at_limit, past_limit = limit.build(limit.allowed), limit.build(limit.allowed + 1)
    # when a signed-in user sends both
    accepted = await post(client, at_limit, token=token)
    refused = await post(client, past_limit, token=token)
    # then the first runs cleanly and the second gets exactly one clear error
    assert accepted.status_code == 200
    assert errors_of(accepted) == [], accepted.text[:500]
    assert refused.status_code == 200
    assert refused.json()["data"] is None
    (error,) = errors_of(refused)
    assert limit.refusal in error["message"]


async def test_directive_overload_gets_exactly_one_error(client: httpx2.AsyncClient) -> None:
    # given graphql-cop's ten unknown directives
    document = "query cop { __typename @aa@aa@aa@aa@aa@aa@aa@aa@aa@aa }"
    # when they are sent
    response = await post(client, document)
    # then one error is reported, not one per directive
    assert errors_of(response) == [{"message": "Too many directives."}]


async def test_array_batching_is_refused_with_400(client: httpx2.AsyncClient) -> None:
    # given two operations in one JSON array
    batch = [{"query": TYPENAME}, {"query": TYPENAME}]
    # when they are posted
    response = await client.post("/graphql", json=batch)
    # then the request is refused and nothing is executed
    assert response.status_code == 400
    assert "__typename" not in response.text


@pytest.mark.parametrize(("document", "variables"), NEAR_MISSES.values(), ids=NEAR_MISSES.keys())
async def test_no_suggestions_for_near_miss_names(
    client: httpx2.AsyncClient, token: str, document: str, variables: dict[str, Any]
) -> None:
    # given a document (or variables) with a misspelt name
    # when it is sent, signed in
    response = await post(client, document, variables, token=token)
    # then it is refused without suggesting the real name
    assert errors_of(response), response.text
    assert "Did you mean" not in response.text


@pytest.mark.parametrize(
    "document", [INTROSPECTION, TYPE_INTROSPECTION], ids=["__schema", "__type"]
)
async def test_introspection_is_refused_in_production(
    client: httpx2.AsyncClient, token: str, document: str
) -> None:
    # given production settings
    # when a signed-in user introspects the schema
    response = await post(client, document, token=token)
    # then nothing about the schema comes back
    assert response.json()["data"] is None
    assert errors_of(response)
    assert "Viewer" not in response.text


async def test_typename_still_answers_in_production(client: httpx2.AsyncClient) -> None:
    # given production settings
    # when __typename is asked for
    response = await post(client, TYPENAME)
    # then it answers: it is not introspection of the schema
    assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("settings", [DEVELOPMENT], indirect=True, ids=["development"])
async def test_introspection_is_allowed_in_development(client: httpx2.AsyncClient) -> None:
    # given development settings
    # when the schema is introspected
    response = await post(client, INTROSPECTION)
    # then the types are listed
    names = {t["name"] for t in response.json()["data"]["__schema"]["types"]}
    assert {"Query", "Mutation", "Viewer"} <= names


# --- the session cookie (AUTHN-09, AUTHN-10) --------------------------------------------------


async def test_login_over_https_sets_a_host_only_strict_cookie(
    client: httpx2.AsyncClient, teacher: User
) -> None:
    # given production settings with an https public URL
    # when a member of staff signs in
    response = await login(client, teacher.email, factories.PASSWORD)
    # then a __Host- cookie carries the session: Secure, HttpOnly, Strict, Path=/, no Domain
    token = response.json()["data"]["login"]["token"]
    (set_cookie,) = response.headers.get_list("set-cookie")
    name, value, attributes = cookie_parts(set_cookie)
    assert (name, value) == ("__Host-sid", token)
    assert {"secure", "httponly"} <= attributes.keys()
    assert attributes["samesite"] == "Strict"
    assert attributes["path"] == "/"
    assert "domain" not in attributes
    assert_hardened(response)


@pytest.mark.parametrize("settings", [DEVELOPMENT], indirect=True, ids=["development"])
async def test_login_over_http_in_development_sets_a_plain_cookie(
    client: httpx2.AsyncClient, teacher: User
) -> None:
    # given development settings served over plain http
    # when a member of staff signs in
    response = await login(client, teacher.email, factories.PASSWORD)
    # then the cookie is `sid`, without Secure (browsers would drop it), otherwise as strict
    (set_cookie,) = response.headers.get_list("set-cookie")
    name, _, attributes = cookie_parts(set_cookie)
    assert name == "sid"
    assert "secure" not in attributes
    assert "httponly" in attributes
    assert attributes["samesite"] == "Strict"
    assert attributes["path"] == "/"
    assert "domain" not in attributes


async def test_session_cookie_authenticates_a_query(client: httpx2.AsyncClient, token: str) -> None:
    # given the session cookie a browser would hold
    cookie = {"cookie": f"__Host-sid={token}"}
    # when it is sent without an Authorization header
    response = await post(client, VIEWER, headers=cookie)
    # then the query runs as that member of staff
    assert response.json() == {"data": {"viewer": {"kind": "STAFF"}}}


async def test_forged_cookie_is_not_adopted(client: httpx2.AsyncClient) -> None:
    # given a session cookie the server never issued
    cookie = {"cookie": "__Host-sid=pps_forgedforgedforgedforgedforgedforgedforged"}
    # when it is sent
    response = await post(client, VIEWER, headers=cookie)
    # then the request is anonymous and no cookie is set in return
    assert response.json() == {"data": {"viewer": None}}
    assert "set-cookie" not in response.headers


async def test_logout_clears_the_cookie_and_ends_the_session(
    client: httpx2.AsyncClient, token: str
) -> None:
    # given a browser signed in with the session cookie
    cookie = {"cookie": f"__Host-sid={token}"}
    # when it signs out
    response = await post(client, LOGOUT, headers=cookie)
    # then the cookie is cleared and replaying it is anonymous
    assert response.json() == {"data": {"logout": True}}
    (set_cookie,) = response.headers.get_list("set-cookie")
    name, value, attributes = cookie_parts(set_cookie)
    assert (name, value) == ("__Host-sid", "")
    assert attributes["max-age"] == "0"
    assert {"secure", "httponly"} <= attributes.keys()
    replay = await post(client, VIEWER, headers=cookie)
    assert replay.json() == {"data": {"viewer": None}}


# --- operations endpoints ---------------------------------------------------------------------


async def test_healthz_answers(client: httpx2.AsyncClient) -> None:
    # given a running app
    # when /healthz is called
    response = await client.get("/healthz")
    # then it is alive
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert_hardened(response)


async def test_readyz_reports_database_and_broker(client: httpx2.AsyncClient) -> None:
    # given a reachable database and broker
    # when /readyz is called
    response = await client.get("/readyz")
    # then both are named and ok
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"] == "ok"
    assert_hardened(response)


async def test_metrics_are_prometheus_text(client: httpx2.AsyncClient) -> None:
    # given some traffic
    await post(client, TYPENAME)
    # when /metrics is scraped
    response = await client.get("/metrics")
    # then it is the Prometheus text format, counting that request
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE pp_http_requests_total counter" in response.text
    assert 'pp_http_requests_total{route="/graphql",status="200"}' in response.text
    assert_hardened(response)
