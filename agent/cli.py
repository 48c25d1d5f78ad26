"""The ``agent`` and ``simulate`` commands, registered onto the main CLI's subparsers."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import sys
from urllib.parse import urlsplit, urlunsplit

from agent.activity import SimulatedBrowsing
from agent.device import DeviceAgent
from agent.errors import FatalError
from agent.simulator import load_tokens, simulate, stop_on_signals

TOKEN_ENV = "PP_DEVICE_TOKEN"  # noqa: S105 - the variable's name, not a secret
DEFAULT_TOKENS = "var/demo/devices.json"
SCHEMES = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}


def websocket_url(url: str) -> str:
    """``http://host:8000`` -> ``ws://host:8000/graphql``; an explicit path is kept.

    Example:
        >>> websocket_url("https://school.example")
        'wss://school.example/graphql'
    """
    parts = urlsplit(url if "://" in url else f"http://{url}")
    scheme = SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.netloc:
        raise ValueError(f"not an http(s) or ws(s) URL: {url!r}")
    path = parts.path if parts.path not in ("", "/") else "/graphql"
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


def _configure_logging(level: int) -> None:
    # Only when the host CLI has not set logging up itself.
    if not logging.getLogger().handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


async def _run_agent(url: str, token: str, interval: float, seed: int) -> int:
    agent = DeviceAgent(
        url, token, SimulatedBrowsing(seed, interval=interval), batch_interval=max(interval, 0.01)
    )
    stop = asyncio.Event()
    with stop_on_signals(stop):
        runner = asyncio.create_task(agent.run())
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([runner, stopper], return_when=asyncio.FIRST_COMPLETED)
        agent.stop()
        stopper.cancel()
        try:
            await runner
        except FatalError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            await asyncio.gather(stopper, return_exceptions=True)
    print(f"agent stopped: {dict(agent.stats)}; {len(agent.outbox)} events unsent")
    return 0


def cmd_agent(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get(TOKEN_ENV)
    if not token:
        print(f"error: give --token or set {TOKEN_ENV}", file=sys.stderr)
        return 2
    try:
        url = websocket_url(args.url)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _configure_logging(logging.INFO)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    return asyncio.run(_run_agent(url, token, args.interval, seed))


def cmd_simulate(args: argparse.Namespace) -> int:
    try:
        url = websocket_url(args.url)
        tokens = load_tokens(args.tokens, args.school)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.devices is not None:
        tokens = tokens[: max(args.devices, 0)]
    if not tokens:
        print("error: no device tokens to simulate", file=sys.stderr)
        return 2
    _configure_logging(logging.INFO if args.verbose else logging.WARNING)
    print(f"Simulating {len(tokens)} devices against {url} (Ctrl-C to stop)", flush=True)
    result = asyncio.run(simulate(url, tokens, interval=args.interval, seed=args.seed))
    print(f"simulation stopped: {dict(result.stats)}")
    if result.failures:
        print(f"error: {len(result.failures)} devices gave up", file=sys.stderr)
        return 1
    return 0


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``agent`` and ``simulate``; ``sync`` is each one's handler (exit code)."""
    one = subparsers.add_parser("agent", help="Run one reference device agent.")
    one.add_argument("--url", required=True, help="Server URL, e.g. http://127.0.0.1:8000.")
    one.add_argument("--token", help=f"Device token (ppd_…); defaults to ${TOKEN_ENV}.")
    one.add_argument("--interval", type=float, default=2.0, help="Seconds between actions.")
    one.add_argument("--seed", type=int, help="Seed for the simulated learner.")
    one.set_defaults(sync=cmd_agent)

    many = subparsers.add_parser("simulate", help="Run a simulated class of devices.")
    many.add_argument("--url", required=True, help="Server URL, e.g. http://127.0.0.1:8000.")
    many.add_argument("--school", help="School slug; every school in the file if omitted.")
    many.add_argument("--tokens", default=DEFAULT_TOKENS, help="JSON: school slug -> tokens.")
    many.add_argument("--interval", type=float, default=2.0, help="Seconds between actions.")
    many.add_argument("--devices", type=int, help="Simulate at most this many devices.")
    many.add_argument("--seed", type=int, default=0)
    many.add_argument("--verbose", "-v", action="store_true", help="Log every device's events.")
    many.set_defaults(sync=cmd_simulate)


__all__ = [
    "DEFAULT_TOKENS",
    "TOKEN_ENV",
    "add_commands",
    "cmd_agent",
    "cmd_simulate",
    "websocket_url",
]
