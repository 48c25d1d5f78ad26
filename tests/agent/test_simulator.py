"""The simulated class and the command line around it."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from websockets.sync.server import ServerConnection, serve
from websockets.typing import Subprotocol

from agent.cli import add_commands, cmd_agent, cmd_simulate, websocket_url
from agent.simulator import load_tokens, simulate, stop_on_signals
from tests.agent.fakes import FakeServer, eventually

TOKENS = [f"ppd_device_{i}" for i in range(5)]


async def test_simulate_runs_one_agent_per_token_and_stops_cleanly(server: FakeServer) -> None:
    # given
    stop = asyncio.Event()
    run = asyncio.create_task(
        simulate(server.url, TOKENS, interval=0.02, seed=1, stop=stop, handle_signals=False)
    )
    # when every device is connected and reporting
    await eventually(lambda: server.subscribed() == len(TOKENS))
    await eventually(lambda: len({n for n, _ in server.reports}) == len(TOKENS))
    stop.set()
    result = await asyncio.wait_for(run, 10)
    # then
    assert sorted(p["authToken"] for p in server.inits) == sorted(TOKENS)
    assert result.devices == len(TOKENS)
    assert result.failures == {}
    assert result.stats["accepted"] == len(server.events())
    assert result.stats["unsent_at_stop"] == 0
    await eventually(lambda: all(ws.close_code == 1000 for ws in server.connections))


async def test_simulate_returns_when_every_device_gives_up(server: FakeServer) -> None:
    # given a server that rejects every token
    server.init_closes = [4403] * len(TOKENS)
    # when
    result = await asyncio.wait_for(
        simulate(server.url, TOKENS, interval=0.01, handle_signals=False), 10
    )
    # then
    assert len(result.failures) == len(TOKENS)
    assert all("token rejected" in reason for reason in result.failures.values())


async def test_sigint_asks_the_simulation_to_stop() -> None:
    stop = asyncio.Event()
    with stop_on_signals(stop):
        signal.raise_signal(signal.SIGINT)
        await asyncio.wait_for(stop.wait(), 5)


def test_load_tokens_by_school(tmp_path: Path) -> None:
    path = tmp_path / "devices.json"
    path.write_text(json.dumps({"southgate": ["ppd_s1"], "northfield": ["ppd_n1", "ppd_n2"]}))
    assert load_tokens(path, "northfield") == ["ppd_n1", "ppd_n2"]
    assert load_tokens(path, None) == ["ppd_n1", "ppd_n2", "ppd_s1"]
    with pytest.raises(ValueError, match="known: northfield, southgate"):
        load_tokens(path, "eastfield")
    path.write_text(json.dumps({"northfield": "ppd_n1"}))
    with pytest.raises(ValueError, match="school slug -> list"):
        load_tokens(path, None)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://127.0.0.1:8000", "ws://127.0.0.1:8000/graphql"),
        ("https://school.example/", "wss://school.example/graphql"),
        ("wss://school.example/graphql", "wss://school.example/graphql"),
        ("localhost:8000", "ws://localhost:8000/graphql"),
    ],
)
def test_websocket_url(given: str, expected: str) -> None:
    assert websocket_url(given) == expected


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="pupil-progress")
    add_commands(root.add_subparsers(dest="command", required=True))
    return root


def test_commands_register_onto_the_main_parser() -> None:
    args = parser().parse_args(["simulate", "--url", "http://h:1", "--school", "northfield",
                                "--devices", "3", "--interval", "0.5"])  # fmt: skip
    assert (args.sync, args.school, args.devices, args.interval) == (
        cmd_simulate,
        "northfield",
        3,
        0.5,
    )
    assert args.tokens == "var/demo/devices.json"
    args = parser().parse_args(["agent", "--url", "http://h:1", "--token", "ppd_x"])
    assert (args.sync, args.token, args.interval) == (cmd_agent, "ppd_x", 2.0)


@contextmanager
def rejecting_server() -> Iterator[str]:
    """A threaded server that refuses every device token with 4403, for the sync commands."""

    def handler(ws: ServerConnection) -> None:
        ws.recv()
        ws.close(4403, "Forbidden")

    with serve(handler, "127.0.0.1", 0, subprotocols=[Subprotocol("graphql-transport-ws")]) as srv:
        thread = threading.Thread(target=srv.serve_forever)
        thread.start()
        try:
            yield f"http://127.0.0.1:{srv.socket.getsockname()[1]}"
        finally:
            srv.shutdown()
            thread.join()


def test_agent_command_exits_1_when_the_token_is_rejected(capsys) -> None:
    with rejecting_server() as url:
        args = parser().parse_args(["agent", "--url", url, "--token", "ppd_bad"])
        code = args.sync(args)
    assert code == 1
    assert "token rejected" in capsys.readouterr().err


def test_simulate_command_exits_1_when_devices_give_up(tmp_path: Path, capsys) -> None:
    tokens = tmp_path / "devices.json"
    tokens.write_text(json.dumps({"northfield": TOKENS}))
    with rejecting_server() as url:
        argv = ["simulate", "--url", url, "--tokens", str(tokens), "--devices", "2",
                "--interval", "0.01"]  # fmt: skip
        args = parser().parse_args(argv)
        code = args.sync(args)
    assert code == 1
    assert "2 devices gave up" in capsys.readouterr().err


def test_commands_refuse_bad_input(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("PP_DEVICE_TOKEN", raising=False)
    args = parser().parse_args(["agent", "--url", "http://h:1"])
    assert args.sync(args) == 2
    args = parser().parse_args(["simulate", "--url", "http://h:1", "--tokens", str(tmp_path / "x")])
    assert args.sync(args) == 2
    assert "give --token" in capsys.readouterr().err
