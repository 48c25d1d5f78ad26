"""A simulated class: one DeviceAgent per device token, all in one process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import signal
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.activity import SimulatedBrowsing
from agent.device import DeviceAgent
from agent.errors import FatalError

log = logging.getLogger(__name__)


def load_tokens(path: str | Path, school: str | None = None) -> list[str]:
    """Device tokens from a ``{"school-slug": ["ppd_…", …]}`` file; every school's if None."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(
        isinstance(tokens, list) and all(isinstance(t, str) for t in tokens)
        for tokens in data.values()
    ):
        raise ValueError(f"{path}: expected an object of school slug -> list of device tokens")
    if school is None:
        return [token for slug in sorted(data) for token in data[slug]]
    if school not in data:
        known = ", ".join(sorted(data)) or "none"
        raise ValueError(f"{path}: no devices for school {school!r} (known: {known})")
    return list(data[school])


@dataclass(slots=True)
class SimulationResult:
    """What the simulated class did, summed over its devices."""

    devices: int
    stats: Counter[str] = field(default_factory=Counter)
    #: Device name -> why it gave up (for example a rejected token).
    failures: dict[str, str] = field(default_factory=dict)


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGINT/SIGTERM set ``stop``, where the loop supports signal handlers (main thread)."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):
            continue  # not the main thread, or not supported here: the caller stops us instead
        installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def _run_device(
    agent: DeviceAgent, start_delay: float, stop: asyncio.Event, result: SimulationResult
) -> None:
    # Staggered starts, so a class does not open all its sockets in the same millisecond.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), start_delay)
    if stop.is_set():
        return
    try:
        await agent.run()
    except FatalError as exc:
        result.failures[agent.name] = str(exc)
    except Exception as exc:
        log.exception("%s: crashed", agent.name)
        result.failures[agent.name] = repr(exc)


async def simulate(
    url: str,
    tokens: Sequence[str],
    *,
    interval: float = 2.0,
    seed: int = 0,
    stop: asyncio.Event | None = None,
    stop_timeout: float = 10.0,
    handle_signals: bool = True,
) -> SimulationResult:
    """Run one agent per token until ``stop`` is set (or SIGINT/SIGTERM), then shut down.

    Agents share nothing but the event loop and module constants, so hundreds fit one
    process. Each stops by flushing what it buffered; stragglers are cancelled after
    ``stop_timeout`` seconds.

    Example:
        >>> result = await simulate("ws://127.0.0.1:8000/graphql", load_tokens(path), seed=1)
    """
    stop = stop or asyncio.Event()
    rng = random.Random(seed)
    result = SimulationResult(devices=len(tokens))
    agents = [
        DeviceAgent(
            url,
            token,
            SimulatedBrowsing(rng.randrange(2**32), interval=interval),
            batch_interval=max(interval, 0.01),
            rng=random.Random(rng.randrange(2**32)),
            name=f"device-{i + 1}",
        )
        for i, token in enumerate(tokens)
    ]
    spread = min(interval, 5.0)
    tasks = [
        asyncio.create_task(_run_device(agent, rng.uniform(0, spread), stop, result))
        for agent in agents
    ]
    with stop_on_signals(stop) if handle_signals else contextlib.nullcontext():
        waiter = asyncio.create_task(stop.wait())
        devices = asyncio.gather(*tasks)
        watched: list[asyncio.Future[Any]] = [waiter, devices]
        try:
            # Also return when every device has given up (say, all tokens were revoked).
            await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.set()
            waiter.cancel()
            for agent in agents:
                agent.stop()
            _, late = await asyncio.wait(tasks, timeout=stop_timeout) if tasks else (set(), set())
            for task in late:
                task.cancel()
            await asyncio.gather(waiter, devices, return_exceptions=True)
    for agent in agents:
        result.stats.update(agent.stats)
        result.stats["dropped_from_buffer"] += agent.outbox.dropped
        result.stats["unsent_at_stop"] += len(agent.outbox)
    for name, reason in sorted(result.failures.items()):
        log.error("%s gave up: %s", name, reason)
    return result


__all__ = ["SimulationResult", "load_tokens", "simulate", "stop_on_signals"]
