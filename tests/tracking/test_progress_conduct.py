"""Behaviour and achievement records: by the learner's teachers, notes encrypted per row."""

from __future__ import annotations

import pytest

from app.errors import InvalidInput, NotFound
from app.security.crypto import CryptoError
from models.audit import AuditEvent
from models.markbook import AchievementRecord, BehaviourRecord
from resolvers import conduct
from resolvers.conduct import ConductData
from resolvers.context import Services
from tests.tracking import markbook_world


async def test_a_note_is_stored_encrypted_and_read_back(services: Services) -> None:
    # given a teacher of the learner
    world = await markbook_world.build(services, pupils=1)
    pupil = world.pupils[0]
    # when they record a behaviour point with a note
    row = await conduct.record(
        world.ctx(), BehaviourRecord, ConductData(pupil.id, -1, "Homework", "Forgot twice.")
    )
    # then the note is ciphertext at rest, reads back, and the write is audited without it
    stored = await BehaviourRecord.get(id=row.id)
    assert stored.note_enc is not None
    assert b"Forgot" not in bytes(stored.note_enc)
    assert await conduct.read_note(world.ctx(), stored) == "Forgot twice."
    event = await AuditEvent.get(action="behaviour.create")
    assert event.target_ids == [str(pupil.id)]
    assert "Forgot twice." not in str(event.fields_touched)


async def test_a_note_cannot_be_moved_to_another_row(services: Services) -> None:
    # given two achievement records
    world = await markbook_world.build(services, pupils=1)
    pupil = world.pupils[0]
    first = await conduct.record(
        world.ctx(), AchievementRecord, ConductData(pupil.id, 2, "Effort", "Great work.")
    )
    second = await conduct.record(
        world.ctx(), AchievementRecord, ConductData(pupil.id, 1, "Effort")
    )
    # when the first note is copied onto the second row
    second.note_enc = first.note_enc
    # then it does not decrypt there
    with pytest.raises(CryptoError):
        await conduct.read_note(world.ctx(), second)


async def test_only_the_learners_teachers_record(services: Services) -> None:
    # given a teacher of another group
    world = await markbook_world.build(services, pupils=1)
    # when they try to record for this group's learner
    # then the learner does not exist for them
    with pytest.raises(NotFound):
        await conduct.record(
            world.ctx(world.as_other_teacher),
            BehaviourRecord,
            ConductData(world.pupils[0].id, -1, "Lateness"),
        )


async def test_points_are_bounded(services: Services) -> None:
    world = await markbook_world.build(services, pupils=1)
    with pytest.raises(InvalidInput, match="Points"):
        await conduct.record(
            world.ctx(), BehaviourRecord, ConductData(world.pupils[0].id, 1000, "Lateness")
        )
