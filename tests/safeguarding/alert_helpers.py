"""Shared builders for the alert, feed, lifecycle and school-rule tests."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from models.safeguarding import Alert
from models.staff import Role, User
from resolvers.context import Services, Viewer
from resolvers.safeguarding import school_rules
from schema.common import to_global_id
from tests import factories
from tests.classroom.helpers import Class, a_class, event, ok
from tests.conftest import GraphQLRunner, context_for

REPORT = """
mutation Report($events: [ActivityEventInput!]!) {
  reportActivity(input: {events: $events}) { results { eventId status } errors { code } }
}
"""

ALERT_FIELDS = """
  id category severity status count ruleId source excerpt url title inLesson outOfHours
  cursor createdAt app screenshot learner { id } assignee { id } raisedBy { id }
"""


@pytest.fixture(autouse=True)
async def routing_settles(services: Services) -> AsyncIterator[None]:
    """After each test, let the routing of its alerts finish before the services stop, as a
    server lets its queue drain: a job cancelled mid-transaction at teardown is not the test."""
    yield
    router = getattr(services, "alert_router", None)
    dispatch = getattr(router, "dispatch", None)
    if dispatch is not None:
        async with asyncio.timeout(10):
            await dispatch.idle()


#: A phrase no built-in rule uses: the school's own rule makes it a trigger.
PHRASE = "purple giraffe"
_phrases = itertools.count(1)


@dataclass(frozen=True, slots=True)
class School:
    """A class with its teacher, and the school's safeguarding lead."""

    room: Class
    dsl: User
    dsl_viewer: Viewer

    @property
    def pupil_viewer(self) -> Viewer:
        return self.room.pupil.viewer

    @property
    def learner_id(self) -> str:
        return to_global_id("Learner", self.room.pupil.learner.id)


async def a_school(services: Services, *, pupils: int = 1, rule: bool = True) -> School:
    room = await a_class(services, pupils=pupils)
    dsl = await factories.staff(room.school, Role.SAFEGUARDING_LEAD)
    world = School(room, dsl, factories.viewer(dsl, room.school, Role.SAFEGUARDING_LEAD))
    if rule:
        await custom_rule(services, world, PHRASE)
    return world


async def custom_rule(
    services: Services, world: School, phrase: str, *, severity: int = 4, category: str = "BULLYING"
) -> str:
    row = await school_rules.add_custom_rule(
        context_for(services, world.dsl_viewer),
        category=category,
        severity=severity,
        phrase=phrase,
        reason="seen in our school",
        exclusions=[],
        context=[],
    )
    return f"custom:{row.id}"


def a_phrase() -> str:
    """A fresh trigger phrase (each test's own rule), words only."""
    words = ["amber", "violet", "cobalt", "scarlet", "indigo", "saffron", "teal", "ochre"]
    n = next(_phrases)
    return f"{words[n % 8]} {words[(n // 8) % 8]} {words[(n // 64) % 8]} zebra"


async def report(gql: GraphQLRunner, viewer: Viewer, *events: dict[str, Any]) -> list[str]:
    payload = ok(await gql(REPORT, viewer, events=list(events)))["reportActivity"]
    return [r["status"] for r in payload["results"]]


def typed(text: str, at: datetime, **fields: Any) -> dict[str, Any]:
    return event("TYPED_TEXT", at, text=text, **fields)


async def alerts_of(world: School) -> list[Alert]:
    return list(await Alert.filter(school_id=world.room.school.id).order_by("cursor"))


__all__ = [
    "ALERT_FIELDS",
    "PHRASE",
    "REPORT",
    "School",
    "a_phrase",
    "a_school",
    "alerts_of",
    "custom_rule",
    "report",
    "routing_settles",
    "typed",
]
