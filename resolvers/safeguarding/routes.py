"""Alert routes: a safeguarding lead says which alerts go to whom, in which order.

Contacts are a small named list (1 to 10, like the phone lists of the leading products): staff
who are safeguarding leads of the school, email addresses, or webhook endpoints. A webhook URL
gets its signing secret the first time a school names it; the secret is shown once, in the
payload of the mutation that created it, and stored encrypted.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.errors import InvalidInput, NotFound
from models.alert_routing import AlertRoute, ContactKind, RouteContact, WebhookEndpoint
from resolvers import access
from resolvers.access import Op
from resolvers.audit import entry_for
from resolvers.context import Context, Viewer
from resolvers.safeguarding.delivery_webhook import new_secret
from resolvers.safeguarding.route_checks import ContactData, RouteData, validated
from resolvers.safeguarding.webhook_secrets import webhook_secret_context


@dataclass(frozen=True, slots=True)
class NewSecret:
    url: str
    secret: str


@dataclass(frozen=True, slots=True)
class SavedRoute:
    route: AlertRoute
    #: Secrets of the webhook endpoints this change created: shown once, never again.
    new_secrets: list[NewSecret] = field(default_factory=list)


def manager(ctx: Context) -> Viewer:
    return access.school_scoped(ctx, Op.MANAGE_ALERT_ROUTES)


async def list_routes(ctx: Context) -> list[AlertRoute]:
    viewer = manager(ctx)
    return list(await AlertRoute.filter(school_id=viewer.school_id).order_by("name", "id"))


async def require_route(ctx: Context, route_id: int) -> AlertRoute:
    viewer = manager(ctx)
    route = await AlertRoute.get_or_none(id=route_id, school_id=viewer.school_id)
    if route is None:
        raise NotFound("Alert route not found.")
    return route


async def contacts_of(route: AlertRoute) -> list[RouteContact]:
    return list(
        await RouteContact.filter(route_id=route.id)
        .order_by("position")
        .prefetch_related("user", "webhook")
    )


async def _refuse_duplicate_name(viewer: Viewer, name: str, route_id: int | None) -> None:
    clash = AlertRoute.filter(school_id=viewer.school_id, name=name)
    if route_id is not None:
        clash = clash.exclude(id=route_id)
    if await clash.exists():
        raise InvalidInput("name", "Another route already has this name.", reason="DUPLICATE")


async def _write_contacts(
    ctx: Context, route: AlertRoute, contacts: list[ContactData], conn: BaseDBAsyncClient
) -> list[NewSecret]:
    now = ctx.services.now()
    secrets: list[NewSecret] = []
    await RouteContact.filter(route_id=route.id).using_db(conn).delete()
    for position, contact in enumerate(contacts):
        kind, endpoint = ContactKind.STAFF, None
        if contact.email is not None:
            kind = ContactKind.EMAIL
        elif contact.webhook_url is not None:
            kind = ContactKind.WEBHOOK
            endpoint = (
                await WebhookEndpoint.filter(school_id=route.school_id, url=contact.webhook_url)
                .using_db(conn)
                .first()
            )
            if endpoint is None:
                secret = new_secret()
                endpoint = WebhookEndpoint(
                    school_id=route.school_id, url=contact.webhook_url, created_at=now
                )
                sealed = await ctx.services.keyring.encrypt(
                    webhook_secret_context(endpoint), secret
                )
                endpoint.secret_enc = sealed or b""
                await endpoint.save(using_db=conn)
                secrets.append(NewSecret(contact.webhook_url, secret))
        await RouteContact.create(
            school_id=route.school_id,
            route_id=route.id,
            position=position,
            kind=kind,
            user_id=contact.staff_id,
            email=contact.email,
            webhook_id=endpoint.id if endpoint is not None else None,
            using_db=conn,
        )
    return secrets


_PLAIN = ("name", "categories", "min_severity", "year_groups", "hours", "ack_timeout_minutes")


async def _save(
    ctx: Context, viewer: Viewer, route: AlertRoute, data: RouteData, action: str
) -> SavedRoute:
    names = data.provided
    for name in (*_PLAIN, "enabled"):
        if name in names:
            setattr(route, name, getattr(data, name))
    route.updated_at = ctx.services.now()
    try:
        async with in_transaction() as conn:
            await route.save(using_db=conn)
            secrets = (
                await _write_contacts(ctx, route, data.contacts, conn)
                if "contacts" in names
                else []
            )
            await ctx.services.audit.record(
                entry_for(
                    viewer,
                    ctx.request,
                    action,
                    target_type="alert_route",
                    target_ids=[str(route.id)],
                    fields=sorted(names),
                )
            )
    except IntegrityError:
        # Lost a race with another writer naming a route the same.
        await _refuse_duplicate_name(viewer, route.name, route.id)
        raise
    return SavedRoute(route, secrets)


async def create_route(ctx: Context, data: RouteData) -> SavedRoute:
    viewer = manager(ctx)
    data = await validated(ctx, viewer, data)
    await _refuse_duplicate_name(viewer, data.name, None)
    now = ctx.services.now()
    route = AlertRoute(school_id=viewer.school_id, created_at=now, updated_at=now)
    data.provided = frozenset(RouteData.__dataclass_fields__) - {"provided"}
    return await _save(ctx, viewer, route, data, "safeguarding.route.create")


async def update_route(ctx: Context, route_id: int, data: RouteData) -> SavedRoute:
    viewer = manager(ctx)
    route = await require_route(ctx, route_id)
    current = RouteData(
        name=route.name,
        categories=list(route.categories),
        min_severity=route.min_severity,
        year_groups=list(route.year_groups),
        hours=route.hours,
        ack_timeout_minutes=route.ack_timeout_minutes,
        enabled=route.enabled,
        contacts=[_as_data(c) for c in await contacts_of(route)],
    )
    changes = {n: getattr(data, n) for n in data.provided if n != "provided"}
    merged = await validated(ctx, viewer, dataclasses.replace(current, **changes))
    await _refuse_duplicate_name(viewer, merged.name, route.id)
    merged.provided = data.provided
    return await _save(ctx, viewer, route, merged, "safeguarding.route.update")


def _as_data(contact: RouteContact) -> ContactData:
    if contact.kind is ContactKind.EMAIL:
        return ContactData(email=contact.email)
    if contact.kind is ContactKind.WEBHOOK:
        return ContactData(webhook_url=contact.webhook.url if contact.webhook else "")
    return ContactData(staff_id=contact.user_id)


async def delete_route(ctx: Context, route_id: int) -> int:
    """Delete a route; alerts it was escalating stop there. Returns the deleted id."""
    viewer = manager(ctx)
    route = await require_route(ctx, route_id)
    async with in_transaction():
        await route.delete()
        await ctx.services.audit.record(
            entry_for(
                viewer,
                ctx.request,
                "safeguarding.route.delete",
                target_type="alert_route",
                target_ids=[str(route_id)],
            )
        )
    return route_id


__all__ = [
    "ContactData",
    "NewSecret",
    "RouteData",
    "SavedRoute",
    "contacts_of",
    "create_route",
    "delete_route",
    "list_routes",
    "require_route",
    "update_route",
]
