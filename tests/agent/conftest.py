"""Fixtures for agent tests: a fake server per test, and agents that are always stopped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from agent.device import DeviceAgent
from tests.agent.fakes import FakeServer


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    fake = FakeServer()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def running() -> AsyncIterator[Callable[[DeviceAgent], asyncio.Task[None]]]:
    """Start ``agent.run()`` as a task; at teardown stop it and wait for it to finish."""
    started: list[tuple[DeviceAgent, asyncio.Task[None]]] = []

    def start(agent: DeviceAgent) -> asyncio.Task[None]:
        task = asyncio.create_task(agent.run())
        started.append((agent, task))
        return task

    yield start
    for agent, _ in started:
        agent.stop()
    tasks = [task for _, task in started]
    if tasks:
        _, late = await asyncio.wait(tasks, timeout=10)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
