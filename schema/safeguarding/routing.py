"""Alert routes over GraphQL: who is told about which alerts, in which order (DSLs only)."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.utils.str_converters import to_camel_case

from app.errors import InvalidInput
from models import alert_routing as db
from resolvers.safeguarding import routes, webhook_secrets
from resolvers.safeguarding.routes import ContactData, RouteData, SavedRoute
from schema.common import Connection, Info, UserError, attempt, parse_int_id, to_global_id

if TYPE_CHECKING:
    from schema.staff import StaffMember

StaffRef = Annotated["StaffMember", strawberry.lazy("schema.staff")]

strawberry.enum(
    db.RouteHours, description="When a route applies, by the alert's out-of-hours flag."
)
strawberry.enum(db.ContactKind, description="How a route's contact is told.")


@strawberry.type(description="One contact of a route, at its place in the escalation order.")
class AlertRouteContact:
    position: int = strawberry.field(description="0 is told first; the next after a timeout.")
    kind: db.ContactKind = strawberry.field(
        description="A safeguarding lead, an email or a webhook."
    )
    email: str | None = strawberry.field(description="For EMAIL contacts.")
    webhook_url: str | None = strawberry.field(description="For WEBHOOK contacts.")
    _row: strawberry.Private[db.RouteContact]

    @classmethod
    def from_model(cls, row: db.RouteContact) -> AlertRouteContact:
        return cls(
            position=row.position,
            kind=row.kind,
            email=row.email,
            webhook_url=row.webhook.url if row.webhook is not None else None,
            _row=row,
        )

    @strawberry.field(description="For STAFF contacts: the safeguarding lead told.")
    def staff_member(self) -> StaffRef | None:
        from schema.staff import StaffMember

        user = self._row.user if self._row.user_id is not None else None
        return StaffMember.from_model(user) if user is not None else None


@strawberry.type(description="Which alerts go to whom: matching rules and ordered contacts.")
class AlertRoute:
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    name: str = strawberry.field(description="Unique within the school.")
    categories: list[str] = strawberry.field(description="Categories taken; empty takes all.")
    min_severity: int = strawberry.field(description="Lowest severity taken, 1 to 5.")
    year_groups: list[int] = strawberry.field(description="Year groups taken; empty takes all.")
    hours: db.RouteHours = strawberry.field(description="When the route applies.")
    ack_timeout_minutes: int = strawberry.field(
        description="Minutes to acknowledge before the next contact is told."
    )
    enabled: bool = strawberry.field(description="A disabled route takes no alerts.")
    contacts: list[AlertRouteContact] = strawberry.field(description="In escalation order.")
    created_at: datetime.datetime = strawberry.field(description="When it was created.")
    updated_at: datetime.datetime = strawberry.field(description="When it last changed.")

    @classmethod
    def from_model(cls, row: db.AlertRoute, contacts: list[db.RouteContact]) -> AlertRoute:
        return cls(
            id=to_global_id("AlertRoute", row.id),
            name=row.name,
            categories=list(row.categories),
            min_severity=row.min_severity,
            year_groups=list(row.year_groups),
            hours=row.hours,
            ack_timeout_minutes=row.ack_timeout_minutes,
            enabled=row.enabled,
            contacts=[AlertRouteContact.from_model(c) for c in contacts],
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.type(description="A webhook signing secret, shown once when its endpoint is created.")
class WebhookSecret:
    url: str = strawberry.field(description="The endpoint it signs requests to.")
    secret: str = strawberry.field(
        description="HMAC-SHA256 key for X-PupilProgress-Signature; store it now."
    )


@strawberry.input(description="Which webhook endpoint gets a new signing secret.")
class RotateWebhookSecretInput:
    url: str = strawberry.field(description="The endpoint's URL, as its routes name it.")


@strawberry.type
class RotateWebhookSecretPayload:
    webhook_secret: WebhookSecret | None = strawberry.field(
        default=None, description="The new secret, shown once: store it now."
    )
    previous_valid_until: datetime.datetime | None = strawberry.field(
        default=None,
        description="Until then requests carry a second v1 signature, by the previous secret.",
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input(description="One contact: exactly one of staffId, email or webhookUrl.")
class AlertRouteContactInput:
    staff_id: strawberry.ID | None = strawberry.field(
        default=None, description="A safeguarding lead of the school."
    )
    email: str | None = strawberry.field(default=None, description="A named person's address.")
    webhook_url: str | None = strawberry.field(
        default=None, description="https:// endpoint that receives signed JSON."
    )


@strawberry.input(description="A new alert route.")
class CreateAlertRouteInput:
    name: str
    contacts: list[AlertRouteContactInput] = strawberry.field(
        description="1 to 10, in the order to tell them."
    )
    categories: list[str] = strawberry.field(
        default_factory=list, description="Categories to take, like SELF_HARM; empty takes all."
    )
    min_severity: int = 1
    year_groups: list[int] = strawberry.field(
        default_factory=list, description="0 for Reception; empty takes all."
    )
    hours: db.RouteHours = db.RouteHours.ALWAYS
    ack_timeout_minutes: int = strawberry.field(
        default=15, description="1 to 1440 minutes before the next contact is told."
    )
    enabled: bool = True


@strawberry.input(description="Changes to a route; omitted fields stay as they are.")
class UpdateAlertRouteInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    contacts: list[AlertRouteContactInput] | None = strawberry.UNSET
    categories: list[str] | None = strawberry.UNSET
    min_severity: int | None = strawberry.UNSET
    year_groups: list[int] | None = strawberry.UNSET
    hours: db.RouteHours | None = strawberry.UNSET
    ack_timeout_minutes: int | None = strawberry.UNSET
    enabled: bool | None = strawberry.UNSET


@strawberry.type
class AlertRoutePayload:
    route: AlertRoute | None = strawberry.field(default=None, description="The saved route.")
    webhook_secrets: list[WebhookSecret] = strawberry.field(
        default_factory=list, description="Secrets of webhook endpoints this change created."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeleteAlertRoutePayload:
    deleted_id: strawberry.ID | None = strawberry.field(
        default=None, description="The id of the deleted route."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


def _contacts(given: list[AlertRouteContactInput]) -> list[ContactData]:
    return [
        ContactData(
            staff_id=(
                parse_int_id(c.staff_id, "StaffMember", f"contacts.{i}.staffId")
                if c.staff_id is not None
                else None
            ),
            email=c.email,
            webhook_url=c.webhook_url,
        )
        for i, c in enumerate(given)
    ]


async def _payload(saved: SavedRoute | None, errors: list[UserError]) -> AlertRoutePayload:
    if saved is None:
        return AlertRoutePayload(errors=errors)
    contacts = await routes.contacts_of(saved.route)
    return AlertRoutePayload(
        route=AlertRoute.from_model(saved.route, contacts),
        webhook_secrets=[WebhookSecret(url=s.url, secret=s.secret) for s in saved.new_secrets],
    )


_NOT_NULL = ("name", "contacts", "categories", "min_severity", "year_groups", "hours")


def _changes(input: UpdateAlertRouteInput) -> RouteData:
    provided = {
        name
        for name in RouteData.__dataclass_fields__
        if getattr(input, name, strawberry.UNSET) is not strawberry.UNSET
    }
    values: dict[str, object] = {}
    for name in sorted(provided):
        value = getattr(input, name)
        if value is None:
            camel = to_camel_case(name)
            raise InvalidInput(camel, f"`{camel}` cannot be null.", reason="REQUIRED")
        values[name] = _contacts(value) if name == "contacts" else value
    return RouteData(**values, provided=frozenset(provided))  # type: ignore[arg-type]


@strawberry.type
class AlertRouteQuery:
    @strawberry.field(description="The school's alert routes, by name (safeguarding leads).")
    async def alert_routes(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[AlertRoute]:
        rows = await routes.list_routes(info.context)
        views = [AlertRoute.from_model(r, await routes.contacts_of(r)) for r in rows]
        return Connection.from_list(
            views,
            lambda route: str(route.id),
            lambda route: route,
            first=first,
            after=after,
            maximum=info.context.services.settings.limits.max_page_size,
        )


@strawberry.type
class AlertRouteMutation:
    @strawberry.mutation(description="Add an alert route (safeguarding leads).")
    async def create_alert_route(
        self, info: Info, input: CreateAlertRouteInput
    ) -> AlertRoutePayload:
        saved, errors = await attempt(
            lambda: routes.create_route(
                info.context,
                RouteData(
                    name=input.name,
                    categories=list(input.categories),
                    min_severity=input.min_severity,
                    year_groups=list(input.year_groups),
                    hours=input.hours,
                    ack_timeout_minutes=input.ack_timeout_minutes,
                    enabled=input.enabled,
                    contacts=_contacts(input.contacts),
                ),
            )
        )
        return await _payload(saved, errors)

    @strawberry.mutation(description="Change an alert route; in-flight escalations go on.")
    async def update_alert_route(
        self, info: Info, input: UpdateAlertRouteInput
    ) -> AlertRoutePayload:
        saved, errors = await attempt(
            lambda: routes.update_route(
                info.context, parse_int_id(input.id, "AlertRoute"), _changes(input)
            )
        )
        return await _payload(saved, errors)

    @strawberry.mutation(description="Delete an alert route; its pending escalations stop.")
    async def delete_alert_route(self, info: Info, id: strawberry.ID) -> DeleteAlertRoutePayload:
        deleted, errors = await attempt(
            lambda: routes.delete_route(info.context, parse_int_id(id, "AlertRoute"))
        )
        return DeleteAlertRoutePayload(
            deleted_id=to_global_id("AlertRoute", deleted) if deleted is not None else None,
            errors=errors,
        )

    @strawberry.mutation(
        description="Give a webhook endpoint a new signing secret; the old one signs for 24 h."
    )
    async def rotate_webhook_secret(
        self, info: Info, input: RotateWebhookSecretInput
    ) -> RotateWebhookSecretPayload:
        rotated, errors = await attempt(
            lambda: webhook_secrets.rotate_secret(info.context, input.url)
        )
        if rotated is None:
            return RotateWebhookSecretPayload(errors=errors)
        return RotateWebhookSecretPayload(
            webhook_secret=WebhookSecret(url=rotated.url, secret=rotated.secret),
            previous_valid_until=rotated.previous_valid_until,
        )


__all__ = ["AlertRoute", "AlertRouteMutation", "AlertRouteQuery"]
