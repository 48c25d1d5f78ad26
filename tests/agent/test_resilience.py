"""Outages: buffering and resending, fatal and retryable closes, backoff, bounded buffers."""

from __future__ import annotations

import pytest

from agent.backoff import Backoff, Pacer
from agent.device import DeviceAgent
from agent.errors import ClientBug, ConnectionRejected
from agent.outbox import Outbox
from tests.agent.fakes import TOKEN, FakeClock, FakeServer, FakeSleep, eventually, seeded

BASES = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def new_agent(server: FakeServer, **options: object) -> DeviceAgent:
    options.setdefault("batch_interval", 0.02)
    options.setdefault("sleep", FakeSleep())
    return DeviceAgent(server.url, TOKEN, **options)  # type: ignore[arg-type]


async def test_buffers_while_the_server_is_down_and_resends_the_same_ids(server, running) -> None:
    # given an agent whose first report is lost with the connection
    server.report_drops = 1
    agent = new_agent(server)
    running(agent)
    first = [agent.record("APP_FOCUS", app="Calculator") for _ in range(3)]
    await eventually(lambda: server.event_ids(connection=1) == first)
    # when the server goes away entirely while the learner carries on
    await server.stop()
    await eventually(lambda: not agent.connected.is_set())
    offline = [agent.record("URL_VISIT", url=f"https://example.org/{i}") for i in range(4)]
    await server.start()
    await eventually(lambda: len(agent.outbox) == 0)
    # then everything arrives once accepted, under the ids it was first sent with
    resent = [i for n, batch in server.reports[1:] for i in (e["eventId"] for e in batch)]
    assert resent == first + offline
    assert agent.stats["accepted"] == 7


async def test_4403_stops_the_agent_without_retrying(server) -> None:
    # given a server that refuses the token
    server.init_closes = [4403]
    sleep = FakeSleep()
    agent = new_agent(server, sleep=sleep)
    # when / then
    with pytest.raises(ConnectionRejected):
        await agent.run()
    assert server.inits == [{"authToken": TOKEN}]
    assert sleep.delays == []
    assert isinstance(agent.error, ConnectionRejected)


@pytest.mark.parametrize("code", [4400, 4401, 4409, 4429])
async def test_client_bug_closes_are_not_retried(server, code) -> None:
    # given
    server.init_closes = [code]
    agent = new_agent(server)
    # when / then
    with pytest.raises(ClientBug):
        await agent.run()
    assert len(server.inits) == 1


@pytest.mark.parametrize("code", [1001, 1011, 1012, 1013, 4408, 4500])
async def test_retryable_closes_reconnect(server, running, code) -> None:
    # given a server that closes the first connection
    server.init_closes = [code]
    sleep = FakeSleep()
    agent = new_agent(server, sleep=sleep)
    # when
    running(agent)
    await eventually(lambda: server.subscribed() == 1)
    # then
    assert len(server.inits) == 2
    assert len(sleep.delays) == 1


async def test_backoff_doubles_to_a_cap_with_jitter() -> None:
    # given
    backoff = Backoff(rng=seeded(7))
    # when
    delays = [backoff.next_delay() for _ in BASES]
    # then each delay lies in [base/2, base] and they grow
    assert all(base / 2 <= delay <= base for base, delay in zip(BASES, delays, strict=True))
    assert delays[5] > delays[0]


async def test_backoff_resets_only_after_a_stable_period() -> None:
    backoff = Backoff(rng=seeded(7))
    for _ in range(5):
        backoff.next_delay()
    backoff.stayed_up(29.9)
    assert backoff.base() == 16.0
    backoff.stayed_up(30.0)
    assert backoff.base() == 0.5


async def test_unreachable_server_is_retried_on_the_backoff_schedule(server) -> None:
    # given nothing listening on the port, and a sleep that stops the agent after 9 waits
    await server.stop()
    agent: DeviceAgent

    def stop_after(calls: int) -> None:
        if calls == len(BASES):
            agent.stop()

    sleep = FakeSleep(on_call=stop_after)
    agent = new_agent(server, sleep=sleep, rng=seeded(3))
    # when
    await agent.run()
    # then
    assert len(sleep.delays) == len(BASES)
    assert all(b / 2 <= d <= b for b, d in zip(BASES, sleep.delays, strict=True))


@pytest.mark.parametrize(("up_for", "low", "high"), [(31.0, 0.25, 0.5), (5.0, 8.0, 16.0)])
async def test_a_connection_that_stayed_up_resets_the_backoff(
    server, running, up_for, low, high
) -> None:
    # given an agent that had failed 5 times before connecting
    clock, sleep = FakeClock(), FakeSleep()
    agent = new_agent(server, clock=clock, sleep=sleep)
    agent.backoff.attempts = 5
    running(agent)
    await eventually(lambda: server.subscribed() == 1)
    # when the connection drops after `up_for` seconds
    clock.advance(up_for)
    await server.close_all(1012, "restarting")
    await eventually(lambda: len(sleep.delays) == 1)
    # then
    assert low <= sleep.delays[0] <= high


async def test_error_on_the_command_stream_resubscribes(server, running) -> None:
    # given a broker failure on the first two subscriptions, in both shapes servers use
    server.command_replies = ["error", "next-errors"]
    sleep = FakeSleep()
    agent = new_agent(server, sleep=sleep)
    # when
    running(agent)
    await eventually(lambda: server.subscribed() == 1)
    # then the same socket and the same id were used throughout
    subscribes = [(n, m["id"]) for n, m in server.messages if m["type"] == "subscribe"]
    assert subscribes == [(1, "commands")] * 3
    assert len(sleep.delays) == 2
    assert agent.stats["command_stream_restarts"] == 2


async def test_a_device_revoked_mid_stream_reconnects_and_then_stops(server) -> None:
    # given a server that revokes the device once it has subscribed
    server.command_replies = ["revoked"]
    sleep = FakeSleep()
    agent = new_agent(server, sleep=sleep)
    # when / then the stream's UNAUTHENTICATED leads to a reconnect, which gets 4403
    with pytest.raises(ConnectionRejected):
        await agent.run()
    assert len(server.inits) == 2
    assert len(sleep.delays) == 1


async def test_full_buffer_drops_the_oldest_and_counts(server) -> None:
    # given an agent that cannot reach its server
    agent = new_agent(server, max_buffer=5)
    # when
    ids = [agent.record("IDLE") for _ in range(8)]
    # then
    assert agent.outbox.event_ids() == ids[3:]
    assert agent.outbox.dropped == 3


def test_batches_respect_count_and_byte_limits() -> None:
    # given
    large, small = Outbox(100, max_batch=3, max_batch_bytes=1_000), Outbox(100, max_batch=3)
    for i in range(5):
        large.add({"eventId": f"e{i}", "text": "x" * 320})
        small.add({"eventId": f"e{i}"})
    # when
    batches = large.batch(), small.batch()
    # then three 350-byte events do not fit 1,000 bytes; small ones stop at the count
    assert [[e["eventId"] for e in batch] for batch in batches] == [
        ["e0", "e1"],
        ["e0", "e1", "e2"],
    ]
    assert len(large) == len(small) == 5


def test_an_oversized_event_loses_its_thumbnail_before_it_is_dropped() -> None:
    # given
    outbox = Outbox(10, max_batch_bytes=500)
    # when
    kept = outbox.add({"eventId": "a", "thumbnail": "A" * 1_000})
    dropped = outbox.add({"eventId": "b", "text": "x" * 1_000})
    # then
    assert kept
    assert outbox.batch() == [{"eventId": "a", "thumbnail": None}]
    assert not dropped
    assert outbox.oversized == 1


async def test_message_too_big_retries_with_smaller_batches(server, running) -> None:
    # given a server whose frame limit is lower than the agent assumed
    server.report_drops, server.report_drop_code = 1, 1009
    agent = new_agent(server)
    budget = agent.outbox.max_batch_bytes
    ids = [agent.record("IDLE") for _ in range(3)]
    # when
    running(agent)
    await eventually(lambda: len(agent.outbox) == 0)
    # then it reconnected, halved its budget and resent the same events
    assert agent.outbox.max_batch_bytes == budget // 2
    assert server.event_ids() == ids + ids
    assert len(server.inits) == 2


def test_shrinking_refits_queued_events() -> None:
    # given
    outbox = Outbox(10, max_batch_bytes=8_192)
    outbox.add({"eventId": "a", "thumbnail": "A" * 5_000})
    outbox.add({"eventId": "b", "text": "x" * 5_000})
    outbox.add({"eventId": "c"})
    # when
    outbox.shrink()
    # then
    assert outbox.max_batch_bytes == 4_096
    assert [e["eventId"] for e in outbox.batch()] == ["a", "c"]
    assert outbox.batch()[0]["thumbnail"] is None


def test_pacer_allows_a_burst_then_the_rate() -> None:
    # given
    now = [0.0]
    pacer = Pacer(rate=2.0, burst=3, clock=lambda: now[0])
    # when / then
    assert [pacer.delay() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert pacer.delay() == 0.5
    now[0] += 10.0
    assert [pacer.delay() for _ in range(3)] == [0.0, 0.0, 0.0]
