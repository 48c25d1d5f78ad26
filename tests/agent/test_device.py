"""The device agent against a fake server: auth, commands and acks, policy, report answers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from agent.activity import BROWSER, Attempt
from agent.device import DeviceAgent
from agent.session import COMMANDS_ID, COMMANDS_QUERY
from tests.agent.fakes import TOKEN, FakeClock, FakeServer, FakeSleep, eventually

Start = Callable[[DeviceAgent], asyncio.Task[None]]
YOUTUBE = "https://www.youtube.com/watch?v=abc"
BITESIZE = "https://www.bbc.co.uk/bitesize/subjects/z38pycw"


def policy_command(**policy: object) -> dict[str, object]:
    body: dict[str, object] = {
        "version": "v1", "mode": "BLOCK_LIST", "lessonEndsAt": None, "allowDomains": [],
        "allowUrlPrefixes": [], "allowApps": [], "blockDomains": [], "blockUrlPrefixes": [],
        "blockApps": [],
    }  # fmt: skip
    body.update(policy)
    return {"id": "p1", "kind": "POLICY", "url": None, "message": None, "expiresAt": None,
            "policy": body}  # fmt: skip


def command(command_id: str, kind: str, **fields: object) -> dict[str, object]:
    return {"id": command_id, "kind": kind, "url": None, "message": None, "expiresAt": None,
            "policy": None, **fields}  # fmt: skip


def new_agent(server: FakeServer, **options: object) -> DeviceAgent:
    options.setdefault("batch_interval", 0.02)
    options.setdefault("sleep", FakeSleep())
    return DeviceAgent(server.url, TOKEN, **options)  # type: ignore[arg-type]


async def test_connects_with_the_device_token_and_subscribes_to_commands(server, running) -> None:
    # given
    agent = new_agent(server)
    # when
    running(agent)
    await eventually(lambda: server.subscribed() == 1)
    # then
    assert server.inits == [{"authToken": TOKEN}]
    [subscribe] = server.command_subscribes()
    assert subscribe["id"] == COMMANDS_ID
    assert subscribe["payload"]["query"] == COMMANDS_QUERY
    assert agent.connected.is_set()


async def test_commands_are_obeyed_then_acknowledged(server, running) -> None:
    # given commands waiting before the agent connects
    server.pending = {
        "c1": command("c1", "MESSAGE", message="Eyes on the board, please"),
        "c2": command("c2", "OPEN_URL", url=BITESIZE),
        "c3": command("c3", "LOCK"),
    }
    agent = new_agent(server)
    # when
    running(agent)
    await eventually(lambda: sorted(server.acked) == ["c1", "c2", "c3"])
    # then
    assert list(agent.messages) == ["Eyes on the board, please"]
    assert agent.current_url == BITESIZE
    assert agent.locked
    # when the teacher unlocks and closes the tab
    await server.push(command("c4", "UNLOCK"))
    await server.push(command("c5", "CLOSE_TAB"))
    await eventually(lambda: "c5" in server.acked)
    # then
    assert not agent.locked
    assert agent.current_url is None
    await eventually(lambda: BITESIZE in {e["url"] for e in server.events()})


async def test_redelivered_command_is_acknowledged_but_not_run_twice(server, running) -> None:
    # given
    agent = new_agent(server)
    running(agent)
    await eventually(lambda: server.subscribed() == 1)
    await server.push(command("m1", "MESSAGE", message="hello"))
    await eventually(lambda: server.acked == ["m1"])
    # when the server delivers it again (say its ack was lost)
    await server.push(command("m1", "MESSAGE", message="hello"))
    await eventually(lambda: server.acked == ["m1", "m1"])
    # then
    assert list(agent.messages) == ["hello"]
    assert agent.stats["redelivered"] == 1


async def test_expired_command_is_acknowledged_without_running(server, running) -> None:
    # given
    clock = FakeClock()
    agent = new_agent(server, clock=clock)
    running(agent)
    await eventually(lambda: server.subscribed() == 1)
    # when
    await server.push(command("x1", "LOCK", expiresAt="2026-11-28T08:59:00+00:00"))
    await eventually(lambda: server.acked == ["x1"])
    # then
    assert not agent.locked


async def test_policy_blocks_navigation_but_the_attempt_is_reported(server, running) -> None:
    # given a policy blocking youtube.com, not acknowledged (POLICY never is)
    agent = new_agent(server)
    running(agent)
    await eventually(lambda: server.subscribed() == 1)
    await server.push(policy_command(blockDomains=["youtube.com"]))
    await eventually(lambda: agent.policy.version == "v1")
    agent.perform(Attempt("URL_VISIT", app=BROWSER, url=BITESIZE, title="Bitesize"))
    # when the learner tries a subdomain of the blocked site
    blocked_id = agent.perform(Attempt("URL_VISIT", app=BROWSER, url=YOUTUBE, title="YouTube"))
    # then the browser stays where it was, but the server hears of the attempt
    assert agent.current_url == BITESIZE
    await eventually(lambda: blocked_id in server.event_ids())
    [reported] = [e for e in server.events() if e["eventId"] == blocked_id]
    assert reported["url"] == YOUTUBE
    assert reported["kind"] == "URL_VISIT"
    assert agent.stats["blocked_locally"] == 1
    assert server.acked == []


async def test_open_url_of_a_blocked_site_does_not_navigate(server, running) -> None:
    # given
    agent = new_agent(server)
    running(agent)
    await eventually(lambda: server.subscribed() == 1)
    await server.push(policy_command(mode="ALLOW_ONLY", allowDomains=["bbc.co.uk"]))
    # when
    await server.push(command("o1", "OPEN_URL", url=YOUTUBE))
    await server.push(command("o2", "OPEN_URL", url=BITESIZE))
    await eventually(lambda: server.acked == ["o1", "o2"])
    # then
    assert agent.current_url == BITESIZE


async def test_a_new_policy_closes_a_page_it_forbids_and_close_tab_can_name_the_page(
    server, running
) -> None:
    # given a learner on YouTube
    agent = new_agent(server)
    running(agent)
    await eventually(lambda: server.subscribed() == 1)
    agent.perform(Attempt("URL_VISIT", app=BROWSER, url=YOUTUBE))
    # when YouTube is blocked
    await server.push(policy_command(blockDomains=["youtube.com"]))
    await eventually(lambda: agent.policy.version == "v1")
    # then the page is closed
    assert agent.current_url is None
    # and CLOSE_TAB with a url closes only that page
    agent.perform(Attempt("URL_VISIT", app=BROWSER, url=BITESIZE))
    await server.push(command("t1", "CLOSE_TAB", url="https://www.tiktok.com/"))
    await eventually(lambda: server.acked == ["t1"])
    assert agent.current_url == BITESIZE
    await server.push(command("t2", "CLOSE_TAB", url="HTTPS://WWW.BBC.CO.UK/bitesize"))
    await eventually(lambda: server.acked == ["t1", "t2"])
    assert agent.current_url is None


async def test_locked_device_reports_only_idle(server, running) -> None:
    # given
    agent = new_agent(server)
    agent.locked = True
    # when
    visit = agent.perform(Attempt("URL_VISIT", app=BROWSER, url=BITESIZE))
    idle = agent.perform(Attempt("IDLE"))
    # then
    assert visit is None
    assert idle is not None
    assert agent.outbox.event_ids() == [idle]
    assert agent.stats["suppressed_while_locked"] == 1


async def test_events_carry_the_contract_fields(server, running) -> None:
    # given
    clock = FakeClock()
    agent = new_agent(server, clock=clock)
    running(agent)
    # when
    event_id = agent.record("SCREENSHOT", app=BROWSER, thumbnail=b"\xff\xd8\xff\xd9")
    await eventually(lambda: server.event_ids() == [event_id])
    # then
    [event] = server.events()
    assert event == {
        "eventId": event_id, "occurredAt": "2026-11-28T09:00:00.000+00:00", "kind": "SCREENSHOT",
        "app": BROWSER, "url": None, "title": None, "text": None, "thumbnail": "/9j/2Q==",
    }  # fmt: skip
    await eventually(lambda: len(agent.outbox) == 0)


@pytest.mark.parametrize("status", ["ACCEPTED", "DUPLICATE", "REJECTED"])
async def test_every_answered_status_leaves_the_buffer(server, running, status) -> None:
    # given
    server.status_for = lambda event: status
    agent = new_agent(server)
    ids = [agent.record("IDLE") for _ in range(3)]
    # when
    running(agent)
    await eventually(lambda: len(agent.outbox) == 0)
    # then
    assert server.event_ids() == ids
    assert agent.stats[status.lower()] == 3


async def test_unanswered_events_stay_until_answered(server, running) -> None:
    # given a server that answers only for the first of two events
    agent = new_agent(server)
    first, second = agent.record("IDLE"), agent.record("IDLE")
    server.status_for = lambda event: "ACCEPTED" if event["eventId"] == first else "PENDING"
    # when
    running(agent)
    await eventually(lambda: server.event_ids().count(second) >= 2)
    # then the second is resent under the same id
    assert agent.outbox.event_ids() == [second]
    assert server.event_ids().count(first) == 1


async def test_a_payload_error_naming_one_event_rejects_only_that_event(server, running) -> None:
    # given
    agent = new_agent(server)
    ids = [agent.record("IDLE") for _ in range(3)]
    server.status_for = lambda event: "PENDING"
    server.report_errors = [
        {"field": "events.1.thumbnail", "code": "INVALID_INPUT", "message": "not a JPEG"}
    ]
    # when
    running(agent)
    await eventually(lambda: ids[1] not in agent.outbox)
    # then
    assert agent.outbox.event_ids() == [ids[0], ids[2]]
