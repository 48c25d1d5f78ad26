"""Builders and local servers for the routing, delivery, escalation and export tests."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from models.alert_routing import AlertDelivery
from models.learners import Learner
from models.safeguarding import Alert, AlertAction, AlertActionKind, AlertSource, AlertStatus
from models.schools import School
from models.staff import Role, User
from resolvers.context import Services, Viewer
from resolvers.safeguarding import routes
from resolvers.safeguarding.alerts import next_cursor
from resolvers.safeguarding.evidence import seal_evidence, seal_note
from resolvers.safeguarding.routes import ContactData, RouteData
from tests import factories, waiting
from tests.conftest import context_for

EXCERPT = "i want to hurt myself tonight, nobody would notice"
URL = "https://search.example/?q=how+to+hurt+myself"
TITLE = "how to hurt myself - Search"


@dataclass(frozen=True, slots=True)
class Place:
    """A school with a learner and two safeguarding leads."""

    school: School
    learner: Learner
    lead: User
    deputy: User
    lead_viewer: Viewer


async def a_place(services: Services, **learner: Any) -> Place:
    school = await factories.school(services)
    pupil = await factories.learner(
        services, school, given_name="Sam", family_name="Taylor", **learner
    )
    lead = await factories.staff(school, Role.SAFEGUARDING_LEAD, display_name="Dana Lead")
    deputy = await factories.staff(school, Role.SAFEGUARDING_LEAD, display_name="Dev Deputy")
    return Place(
        school, pupil, lead, deputy, factories.viewer(lead, school, Role.SAFEGUARDING_LEAD)
    )


async def an_alert(
    services: Services,
    place: Place,
    *,
    learner: Learner | None = None,
    **fields: Any,
) -> Alert:
    """A stored alert about the place's learner (or ``learner``), not yet routed."""
    return await stored_alert(services, place.school.id, (learner or place.learner).id, **fields)


async def stored_alert(
    services: Services,
    school_id: int,
    learner_id: uuid.UUID,
    *,
    category: str = "SELF_HARM",
    severity: int = 4,
    out_of_hours: bool = False,
    excerpt: str | None = EXCERPT,
    url: str | None = URL,
    title: str | None = TITLE,
    at: datetime | None = None,
) -> Alert:
    """An alert as ingest commits one (evidence sealed, feed cursor taken)."""
    now = at or services.now()
    alert_id = uuid.uuid4()
    sealed = await seal_evidence(
        services.keyring, school_id, alert_id, {"excerpt": excerpt, "url": url, "title": title}
    )
    async with in_transaction() as conn:
        counter = await next_cursor(school_id, conn)
        await counter.save(using_db=conn, update_fields=["last_cursor"])
        alert = await Alert.create(
            id=alert_id,
            school_id=school_id,
            learner_id=learner_id,
            rule_id="test:rule",
            category=category,
            severity=severity,
            status=AlertStatus.NEW,
            first_at=now,
            last_at=now,
            created_at=now,
            updated_at=now,
            out_of_hours=out_of_hours,
            source=AlertSource.TEXT,
            app="Chrome",
            cursor=counter.last_cursor,
            using_db=conn,
            **sealed,
        )
    return alert


async def an_action(
    services: Services,
    alert: Alert,
    kind: AlertActionKind,
    *,
    actor: User | None = None,
    note: str | None = None,
    at: datetime | None = None,
    **values: Any,
) -> AlertAction:
    action_id = uuid.uuid4()
    return await AlertAction.create(
        id=action_id,
        school_id=alert.school_id,
        alert_id=alert.id,
        actor_id=actor.id if actor else None,
        kind=kind,
        note_enc=await seal_note(services.keyring, alert.school_id, action_id, note),
        created_at=at or services.now(),
        **values,
    )


async def a_route(
    services: Services, place: Place, *contacts: ContactData, **fields: Any
) -> routes.SavedRoute:
    """A route made by the place's lead; its only contact is that lead unless others are given."""
    chosen = list(contacts) or [ContactData(staff_id=place.lead.id)]
    return await route_as(services, place.lead_viewer, *chosen, **fields)


async def route_as(
    services: Services, viewer: Viewer, *contacts: ContactData, **fields: Any
) -> routes.SavedRoute:
    data = RouteData(name=fields.pop("name", f"Route {uuid.uuid4().hex[:6]}"), **fields)
    data.contacts = list(contacts)
    return await routes.create_route(context_for(services, viewer), data)


async def settled(services: Services) -> None:
    """Wait until the background router has run every queued job."""
    assert services.alert_router is not None
    await services.alert_router.idle()


async def deliveries_of(alert: Alert) -> list[AlertDelivery]:
    return list(await AlertDelivery.filter(alert_id=alert.id).order_by("id"))


# -- a real SMTP server, on this test's event loop -----------------------------------------------


# -- a real HTTP receiver for webhooks -----------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A tiny HTTP/1.1 server: records each request, answers with the next queued status."""

    statuses: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/pupil-progress"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1]
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(Received(path, headers, body))
            status = self.statuses.pop(0) if self.statuses else 200
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".encode()
            )
            await writer.drain()
        finally:
            writer.close()
            await writer.wait_closed()


@contextlib.asynccontextmanager
async def webhook_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    receiver.port = server.sockets[0].getsockname()[1]
    try:
        yield receiver
    finally:
        server.close()
        await server.wait_closed()


async def wait_until(condition: Any) -> None:
    await waiting.wait_until(condition)


__all__ = [
    "EXCERPT",
    "TITLE",
    "URL",
    "Place",
    "Receiver",
    "a_place",
    "a_route",
    "an_action",
    "an_alert",
    "deliveries_of",
    "route_as",
    "settled",
    "stored_alert",
    "wait_until",
    "webhook_receiver",
]
