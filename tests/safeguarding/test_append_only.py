"""The safeguarding record is append-only in the database itself, whatever the code does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from tortoise.connection import get_connection
from tortoise.exceptions import BaseORMException

from models.safeguarding import Alert, AlertAction, AlertActionKind, AlertSource, AlertStatus
from resolvers.context import Services
from resolvers.safeguarding import concerns, lifecycle
from tests import factories
from tests.conftest import context_for
from tests.safeguarding.routing_helpers import Place, a_place, an_action, an_alert

REFUSED = (BaseORMException, asyncpg.PostgresError)


async def a_history(services: Services) -> tuple[Place, Alert, list[AlertAction]]:
    """An alert with its chronology: created, then a note by the lead."""
    place = await a_place(services)
    alert = await an_alert(services, place)
    created = await an_action(services, alert, AlertActionKind.CREATED, to_status="NEW")
    noted = await an_action(
        services, alert, AlertActionKind.NOTE_ADDED, actor=place.lead, note="Spoke to mum"
    )
    return place, alert, [created, noted]


async def rows_of(model: type[Alert] | type[AlertAction]) -> list[dict[str, Any]]:
    return list(await model.all().order_by("id").values())


@pytest.mark.parametrize("statement", ["update", "delete"])
async def test_the_database_refuses_to_change_or_remove_a_history_entry(
    services: Services, statement: str
) -> None:
    # given
    _, _, actions = await a_history(services)
    before = await rows_of(AlertAction)
    target = AlertAction.filter(id=actions[1].id)
    change = (
        target.update(kind=AlertActionKind.CREATED) if statement == "update" else target.delete()
    )
    # when / then
    with pytest.raises(REFUSED, match="safeguarding record is append-only"):
        await change
    assert await rows_of(AlertAction) == before


async def test_a_saved_history_entry_cannot_be_rewritten(services: Services) -> None:
    # given
    _, _, actions = await a_history(services)
    before = await rows_of(AlertAction)
    entry = actions[1]
    entry.actor_id = None
    # when / then
    with pytest.raises(REFUSED, match="append-only"):
        await entry.save()
    assert await rows_of(AlertAction) == before


async def test_the_database_refuses_to_empty_the_chronology_wholesale(services: Services) -> None:
    # given
    await a_history(services)
    before = await rows_of(AlertAction)
    conn = get_connection("default")
    wipe = (
        "TRUNCATE safeguarding_alert_action"
        if conn.capabilities.dialect == "postgres"
        else "DELETE FROM safeguarding_alert_action"
    )
    # when / then
    with pytest.raises(REFUSED, match="append-only"):
        await conn.execute_script(wipe)
    assert await rows_of(AlertAction) == before


async def test_the_database_refuses_to_delete_an_alert(services: Services) -> None:
    # given an alert without history (nothing else holds it back)
    place = await a_place(services)
    await an_alert(services, place)
    before = await rows_of(Alert)
    # when / then
    with pytest.raises(REFUSED, match="append-only"):
        await Alert.filter(school_id=place.school.id).delete()
    assert await rows_of(Alert) == before


async def test_what_a_concern_says_cannot_be_edited(services: Services) -> None:
    # given a concern raised by the lead
    place = await a_place(services)
    ctx = context_for(services, place.lead_viewer)
    concern = await concerns.raise_concern(
        ctx, place.learner.id, "BULLYING", "Sam said they are scared of Y9 boys", None
    )
    assert concern.source is AlertSource.CONCERN
    before = await rows_of(Alert)
    other = await an_alert(services, place)
    someone_else = await factories.learner(services, place.school, given_name="Alex")
    rewrites: list[dict[str, Any]] = [
        {"excerpt_enc": other.excerpt_enc},
        {"raised_by_id": place.deputy.id},
        {"learner_id": someone_else.id},
        {"created_at": concern.created_at - timedelta(days=1)},
    ]
    # when / then: each rewrite is refused
    for rewrite in rewrites:
        with pytest.raises(REFUSED, match="append-only"):
            await Alert.filter(id=concern.id).update(**rewrite)
    assert [r for r in await rows_of(Alert) if r["id"] == concern.id] == before


async def test_triage_still_changes_an_alert_and_appends_to_its_history(
    services: Services,
) -> None:
    # given an alert under the triggers
    place, alert, _ = await a_history(services)
    ctx = context_for(services, place.lead_viewer)
    # when the lead acknowledges, regrades and resolves it
    await lifecycle.acknowledge_alert(ctx, alert.id)
    await lifecycle.update_alert(
        ctx,
        alert.id,
        lifecycle.AlertChanges(
            status=AlertStatus.RESOLVED, severity=2, note="Seen, family supported"
        ),
    )
    # then the alert changed and its history grew
    changed = await Alert.get(id=alert.id)
    assert (changed.status, changed.severity) == (AlertStatus.RESOLVED, 2)
    kinds = await AlertAction.filter(alert_id=alert.id).values_list("kind", flat=True)
    assert sorted(kinds) == sorted(
        [
            AlertActionKind.CREATED,
            AlertActionKind.NOTE_ADDED,
            AlertActionKind.ACKNOWLEDGED,
            AlertActionKind.ASSIGNED,
            AlertActionKind.SEVERITY_CHANGED,
            AlertActionKind.STATUS_CHANGED,
        ]
    )
