"""The ingest path's cache of device state: expiry reloads in the background, never blocking."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from models.groups import Enrolment
from resolvers import device_state
from resolvers.context import Services
from resolvers.policy import Policy
from tests import factories
from tests.classroom.helpers import a_class, wait_until


def expire(services: Services, device_id: int) -> None:
    """Make the cached state of a device due for its periodic reload."""
    states = services.devices._states
    states[device_id] = dataclasses.replace(states[device_id], expires=0.0)


async def test_an_expired_state_answers_at_once_and_reloads_in_the_background(
    services: Services,
) -> None:
    # given a device's cached state, and an enrolment whose invalidation message was missed
    room = await a_class(services)
    device_id = room.pupil.device.id
    before = await services.devices.get(device_id)
    assert before is not None
    other = await factories.group(room.school)
    await Enrolment.create(
        school_id=room.school.id, group_id=other.id, learner_id=room.pupil.learner.id
    )
    expire(services, device_id)
    # when the next report asks for it
    answered = await services.devices.get(device_id)
    # then it is answered from the cache, without waiting for the database
    assert answered is not None
    assert answered.group_ids == before.group_ids
    # and the reload brings the change in shortly after

    async def reloaded() -> bool:
        state = await services.devices.get(device_id)
        return state is not None and other.id in state.group_ids

    await wait_until(reloaded)


async def test_a_reload_that_read_before_an_invalidation_is_not_kept(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a reload held up after reading the device and its groups
    room = await a_class(services)
    device_id = room.pupil.device.id
    held, release = asyncio.Event(), asyncio.Event()
    real = device_state.load_policy

    async def slow_policy(*args: object) -> Policy:
        held.set()
        await release.wait()
        return await real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(device_state, "load_policy", slow_policy)
    reload = asyncio.create_task(services.devices.refresh(device_id))
    await held.wait()
    # when the school's policy is invalidated meanwhile, then the reload finishes
    services.devices.forget(room.school.id)
    release.set()
    loaded = await reload
    # then its answer is used once, but not kept: the next caller loads afresh
    assert loaded is not None
    assert device_id not in services.devices._states
