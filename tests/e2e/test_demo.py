"""The demo as a school sees it: `pupil-progress demo` seeds, simulates devices and serves."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.typing import Subprotocol

from resolvers.pagination import encode_cursor
from tests.e2e.server import running_demo

pytestmark = pytest.mark.e2e
EVENT_SECONDS = 30.0

LOGIN = 'mutation($e: String!) { login(input: {email: $e, password: "demo-password"}) { token } }'
GROUPS = "{ groups { edges { node { id name } } } }"
ACTIVITY = "subscription($g: ID!) { classroomActivity(groupId: $g) { kind learnerId url } }"
ALERT_FEED = (
    "subscription($a: String) { alertFeed(after: $a) { cursor alert { category excerpt } } }"
)
ALERTS = "{ alerts { edges { node { id } } } }"
#: The simulator sends a triggering text now and then: a lead has an alert within a minute.
ALERT_SECONDS = 75.0
#: Each running demo's data directory, by URL: the database file is read from there.
DATA_DIRS: dict[str, Path] = {}


def _post(url: str, query: str, token: str | None = None, **variables: Any) -> dict[str, Any]:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(f"{url}/graphql", data=body, headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        result: dict[str, Any] = json.load(response)
        return result


def _login(url: str, email: str) -> str:
    token: str = _post(url, LOGIN, e=email)["data"]["login"]["token"]
    return token


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running demo on a free port with its own data directory; stopped with its simulator."""
    data = tmp_path_factory.mktemp("demo")
    with running_demo(data) as url:
        # Logins are printed before uvicorn's line, so they are in the log by now.
        assert _printed_logins(data / "demo.log")
        DATA_DIRS[url] = data
        yield url


def _printed_logins(log: Path) -> bool:
    text = log.read_text(errors="replace") if log.exists() else ""
    return all(
        f"{who}@{slug}.test" in text
        for who in ("admin", "teacher", "dsl")
        for slug in ("northfield", "southgate")
    )


async def _first_message(
    url: str,
    token: str,
    group_id: str,
    *,
    query: str = ACTIVITY,
    variables: dict[str, Any] | None = None,
    within: float = EVENT_SECONDS,
) -> dict[str, Any]:
    async with websockets.connect(
        url.replace("http", "ws") + "/graphql", subprotocols=[Subprotocol("graphql-transport-ws")]
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authToken": token}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(
            json.dumps(
                {
                    "type": "subscribe",
                    "id": "1",
                    "payload": {"query": query, "variables": variables or {"g": group_id}},
                }
            )
        )
        async with asyncio.timeout(within):
            message: dict[str, Any] = json.loads(await ws.recv())
            return message


def _groups(url: str, token: str) -> dict[str, str]:
    edges = _post(url, GROUPS, token)["data"]["groups"]["edges"]
    return {e["node"]["name"]: e["node"]["id"] for e in edges}


async def test_the_maths_teacher_sees_10x_maths_live_within_seconds(demo: str) -> None:
    # given the demo's maths teacher, who teaches 10X Maths only
    teacher = _login(demo, "teacher@northfield.test")
    groups = _groups(demo, teacher)
    assert list(groups) == ["10X Maths"]
    # when they watch it
    message = await _first_message(demo, teacher, groups["10X Maths"])
    # then a simulated device's activity arrives within seconds
    assert message["type"] == "next"
    assert message["payload"]["data"]["classroomActivity"]["learnerId"]


async def test_10y_science_and_other_schools_stay_dark(demo: str) -> None:
    # given 10Y Science's id (seen by Northfield's admin) and two viewers who may not watch it
    science = _groups(demo, _login(demo, "admin@northfield.test"))["10Y Science"]
    maths_teacher = _login(demo, "teacher@northfield.test")
    southgate = _login(demo, "teacher@southgate.test")
    for token in (maths_teacher, southgate):
        # when they subscribe to it
        message = await _first_message(demo, token, science)
        # then they get NOT_FOUND and no events
        assert message["type"] in {"error", "next"}
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "NOT_FOUND"


async def test_the_northfield_lead_receives_an_alert_within_a_minute_encrypted_at_rest(
    demo: str,
) -> None:
    # given Northfield's safeguarding lead, following the feed from the first alert
    lead = _login(demo, "dsl@northfield.test")
    # when the simulated class has been browsing for up to a minute
    message = await _first_message(
        demo, lead, "", query=ALERT_FEED, variables={"a": encode_cursor([0])}, within=ALERT_SECONDS
    )
    # then an alert with its evidence arrives
    assert message["type"] == "next", message
    alert = message["payload"]["data"]["alertFeed"]["alert"]
    assert alert["category"]
    assert alert["excerpt"]
    # and its excerpt is nowhere in the database files
    raw = b"".join(p.read_bytes() for p in DATA_DIRS[demo].glob("pupil.db*"))
    assert raw
    assert alert["excerpt"].encode() not in raw


async def test_the_teacher_cannot_list_alerts_or_follow_the_feed(demo: str) -> None:
    # given Northfield's maths teacher
    teacher = _login(demo, "teacher@northfield.test")
    # when they list alerts, then it is forbidden
    listed = _post(demo, ALERTS, teacher)
    assert listed["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # and when they subscribe to the alert feed, the stream answers FORBIDDEN
    message = await _first_message(demo, teacher, "", query=ALERT_FEED, variables={"a": None})
    assert message["type"] in {"error", "next"}
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
