"""SIGKILL mid-stream: no acknowledged triggering event loses its alert, and a lead who resumes
the feed with the last cursor gets each missed alert exactly once.

A real uvicorn server is killed with SIGKILL while a device reports triggering text and a
safeguarding lead follows the feed; a second server opens the same database.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.typing import Origin, Subprotocol

from models.safeguarding import Alert, AlertHit
from models.staff import Role
from resolvers.context import Services
from resolvers.pagination import encode_cursor
from schema.common import to_global_id
from tests import backends, factories
from tests.e2e.server import (
    migrated_database,
    seed_database,
    server_process,
)
from tests.e2e.test_ws_protocol import PUBLIC_URL, server_settings
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e
#: Matched by a built-in suicide rule (test phrase; see agent/activity.py).
TRIGGER = "nobody would care if i was gone"
EVENTS = 12
FEED = "subscription($a: String) { alertFeed(after: $a) { cursor alert { id count } } }"
REPORT = """
mutation($events: [ActivityEventInput!]!) {
  reportActivity(input: {events: $events}) { results { eventId status } }
}
"""
LOGIN = "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { token } }"
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Seeded:
    lead: str
    device_token: str
    school_id: int


async def seed(services: Services) -> Seeded:
    school = await factories.school(services)
    lead = await factories.staff(school, Role.SAFEGUARDING_LEAD)
    pupil = await factories.learner(services, school)
    _, token = await factories.device(school, learner_row=pupil)
    return Seeded(lead.email, token, school.id)


def post(url: str, query: str, token: str | None = None, **variables: Any) -> dict[str, Any]:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(f"{url}/graphql", data=body, headers=headers)  # noqa: S310
    with _DIRECT.open(request, timeout=10) as response:
        result: dict[str, Any] = json.load(response)
        return result


def triggering(n: int, now: datetime) -> dict[str, Any]:
    # Fifteen minutes apart: each its own alert rather than a merged repeat.
    at = now - timedelta(minutes=15 * (EVENTS - n))
    return {"eventId": f"trigger-{n}", "occurredAt": at.isoformat(), "kind": "TYPED_TEXT",
            "text": f"{TRIGGER} ({n})"}  # fmt: skip


class Feed:
    """A lead's alertFeed over a real websocket, collecting (cursor, alert id) pairs."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []

    async def follow(self, url: str, token: str, after: str | None) -> None:
        async with websockets.connect(
            url.replace("http", "ws") + "/graphql",
            subprotocols=[Subprotocol("graphql-transport-ws")],
            origin=Origin(PUBLIC_URL),
            proxy=None,
        ) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {"authToken": token}}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            payload = {"query": FEED, "variables": {"a": after}}
            await ws.send(json.dumps({"type": "subscribe", "id": "feed", "payload": payload}))
            async for raw in ws:
                frame = json.loads(raw)
                if frame.get("type") == "next":
                    event = frame["payload"]["data"]["alertFeed"]
                    self.received.append((event["cursor"], event["alert"]["id"]))

    def last_cursor(self) -> str | None:
        return self.received[-1][0] if self.received else None


async def wait_for(condition: Any, within: float = 30.0) -> None:
    await wait_until(condition, within)


async def stored(services: Services) -> tuple[dict[str, int], list[tuple[str, int]]]:
    hits = await AlertHit.all().values_list("event_id", flat=True)
    counts: dict[str, int] = {}
    for event_id in hits:
        counts[str(event_id)] = counts.get(str(event_id), 0) + 1
    alerts = [(str(to_global_id("Alert", a.id)), a.count) for a in await Alert.all()]
    return counts, alerts


async def test_a_killed_server_loses_no_alert_and_a_resumed_feed_repeats_none(
    database_template: str, tmp_path: Path
) -> None:
    # given a server with a safeguarding lead following the feed and a device reporting
    broker = backends.REDIS_URL or "memory://"
    settings = server_settings(migrated_database(database_template, tmp_path), broker)
    world = await asyncio.to_thread(seed_database, settings, seed, truncate=backends.POSTGRES)
    now = datetime.now(UTC)
    acknowledged: list[str] = []
    before = Feed()
    with server_process(settings, tmp_path / "a.log") as (url, process):
        lead = post(url, LOGIN, e=world.lead, p=factories.PASSWORD)["data"]["login"]["token"]
        # From the first cursor: the lead sees every alert, whenever the stream is ready.
        following = asyncio.ensure_future(before.follow(url, lead, encode_cursor([0])))
        for n in range(EVENTS // 2):
            result = post(url, REPORT, world.device_token, events=[triggering(n, now)])
            statuses = result["data"]["reportActivity"]["results"]
            assert statuses[0]["status"] == "ACCEPTED"
            acknowledged.append(statuses[0]["eventId"])
            if n == 0:
                await wait_for(lambda: bool(before.received))
        # when the server is killed mid-stream, an event in flight
        in_flight = asyncio.ensure_future(
            asyncio.to_thread(
                post, url, REPORT, world.device_token, events=[triggering(EVENTS // 2, now)]
            )
        )
        process.kill()
        process.wait()
        await asyncio.gather(following, in_flight, return_exceptions=True)
    seen = before.last_cursor()
    assert seen is not None
    # and a new server opens the same database; the device resends what was not acknowledged
    after = Feed()
    with server_process(settings, tmp_path / "b.log") as (url, _):
        for n in range(EVENTS // 2, EVENTS):
            result = post(url, REPORT, world.device_token, events=[triggering(n, now)])
            statuses = result["data"]["reportActivity"]["results"]
            assert statuses[0]["status"] == "ACCEPTED"
            acknowledged.append(statuses[0]["eventId"])
        # and the lead resumes the feed with the last cursor they received
        resumed = asyncio.ensure_future(after.follow(url, lead, seen))
        counts, alerts = await asyncio.to_thread(seed_database, settings, stored, truncate=False)
        missed = {alert_id for alert_id, _ in alerts} - {a for _, a in before.received}
        await wait_for(lambda: {a for _, a in after.received} >= missed)
        resumed.cancel()
        await asyncio.gather(resumed, return_exceptions=True)
    # then every acknowledged triggering event is counted in exactly one alert
    assert sorted(counts) == sorted(acknowledged)
    assert set(counts.values()) == {1}
    assert sum(count for _, count in alerts) == len(acknowledged)
    # and the resumed feed delivered each missed alert exactly once, nothing seen before
    delivered = [alert_id for _, alert_id in after.received]
    assert sorted(delivered) == sorted(missed)
