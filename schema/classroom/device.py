"""The device protocol: report activity, receive commands and policy, acknowledge commands."""

from __future__ import annotations

import datetime
from collections.abc import AsyncGenerator
from contextlib import aclosing

import strawberry

from resolvers import commands, ingest
from schema.classroom.types import ActivityKind, DeviceCommand
from schema.common import Info, UserError, attempt, parse_int_id


@strawberry.input(description="One thing that happened on a device.")
class ActivityEventInput:
    event_id: str = strawberry.field(description="Client-made idempotency key (a UUID).")
    occurred_at: datetime.datetime
    kind: ActivityKind
    app: str | None = None
    url: str | None = None
    title: str | None = None
    text: str | None = strawberry.field(default=None, description="Typed or searched text.")
    thumbnail: str | None = strawberry.field(
        default=None, description="Base64 JPEG, at most 64 KB."
    )


@strawberry.input
class ReportActivityInput:
    events: list[ActivityEventInput] = strawberry.field(description="At most 100.")


@strawberry.type(description="What happened to one reported event.")
class ActivityResult:
    event_id: str
    status: str = strawberry.field(description="ACCEPTED, DUPLICATE (already had it) or REJECTED.")
    blocked: bool
    reason: str | None = strawberry.field(description="The broken rule, or why it was rejected.")


@strawberry.type
class ReportActivityPayload:
    results: list[ActivityResult] = strawberry.field(default_factory=list)
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AcknowledgePayload:
    acknowledged: int = 0
    errors: list[UserError] = strawberry.field(default_factory=list)


def _event(e: ActivityEventInput) -> ingest.ActivityInput:
    return ingest.ActivityInput(
        event_id=e.event_id,
        occurred_at=e.occurred_at,
        kind=e.kind.value,
        app=e.app,
        url=e.url,
        title=e.title,
        text=e.text,
        thumbnail=e.thumbnail,
    )


@strawberry.type
class DeviceProtocolMutation:
    @strawberry.mutation(
        description="A device reports activity (device token only). Each "
        "event is acknowledged once accepted; resend with the same "
        "eventId until it is."
    )
    async def report_activity(
        self, info: Info, input: ReportActivityInput
    ) -> ReportActivityPayload:
        results, errors = await attempt(
            lambda: ingest.report_activity(info.context, [_event(e) for e in input.events])
        )
        return ReportActivityPayload(
            results=[
                ActivityResult(
                    event_id=r.event_id, status=r.status, blocked=r.blocked, reason=r.reason
                )
                for r in results or []
            ],
            errors=errors,
        )

    @strawberry.mutation(description="A device confirms it carried out commands.")
    async def acknowledge_device_commands(
        self, info: Info, ids: list[strawberry.ID]
    ) -> AcknowledgePayload:
        count, errors = await attempt(
            lambda: commands.acknowledge(
                info.context, [parse_int_id(i, "DeviceCommand", "ids") for i in ids]
            )
        )
        return AcknowledgePayload(acknowledged=count or 0, errors=errors)


@strawberry.type
class DeviceProtocolSubscription:
    @strawberry.subscription(
        description="The device's policy, its pending commands, then both "
        "as they change (device token only)."
    )
    async def device_commands(self, info: Info) -> AsyncGenerator[DeviceCommand, None]:
        async with aclosing(commands.stream_commands(info.context)) as stream:
            async for delivery in stream:
                if delivery.policy is not None:
                    yield DeviceCommand.from_policy(delivery.policy)
                elif delivery.command is not None:
                    yield DeviceCommand.from_model(delivery.command)
