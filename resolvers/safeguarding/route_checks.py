"""Checks on an alert route's input, naming the field at fault; nothing is stored until all pass."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from app.errors import InvalidInput
from models.alert_routing import RouteHours
from models.staff import Membership, Role
from resolvers import validation
from resolvers.context import Context, Viewer
from resolvers.safeguarding.rules import parse_category

MAX_CONTACTS = 10
MAX_TIMEOUT_MINUTES = 24 * 60
MAX_URL = 2048


@dataclass(frozen=True, slots=True)
class ContactData:
    """Exactly one of the three names a contact."""

    staff_id: int | None = None
    email: str | None = None
    webhook_url: str | None = None


@dataclass(slots=True)
class RouteData:
    """A route's fields; for updates, only the names in ``provided`` change."""

    name: str = ""
    categories: list[str] = field(default_factory=list)
    min_severity: int = 1
    year_groups: list[int] = field(default_factory=list)
    hours: RouteHours = RouteHours.ALWAYS
    ack_timeout_minutes: int = 15
    enabled: bool = True
    contacts: list[ContactData] = field(default_factory=list)
    provided: frozenset[str] = frozenset()


def webhook_url(ctx: Context, name: str, value: str) -> str:
    url = value.strip()
    parts = urlsplit(url)
    production = ctx.services.settings.production
    schemes = {"https"} if production else {"https", "http"}
    if len(url) > MAX_URL or parts.scheme not in schemes or not parts.hostname:
        need = "https://" if production else "http:// or https://"
        raise InvalidInput(name, f"`{name}` must be an {need} URL.", reason="INVALID_URL")
    if parts.username or parts.password:
        # URLs are stored and shown in plain text: credentials belong in the signing secret.
        raise InvalidInput(name, f"`{name}` must not contain a user name or password.")
    return url


async def validated(ctx: Context, viewer: Viewer, data: RouteData) -> RouteData:
    data.name = validation.text("name", data.name, max_length=100)
    data.categories = sorted(
        {parse_category(f"categories.{i}", c).value for i, c in enumerate(data.categories)}
    )
    if not 1 <= data.min_severity <= 5:
        raise InvalidInput(
            "minSeverity", "`minSeverity` must be from 1 to 5.", reason="OUT_OF_RANGE"
        )
    for i, year in enumerate(data.year_groups):
        validation.year_group(f"yearGroups.{i}", year)
    data.year_groups = sorted(set(data.year_groups))
    if not 1 <= data.ack_timeout_minutes <= MAX_TIMEOUT_MINUTES:
        raise InvalidInput(
            "ackTimeoutMinutes",
            f"`ackTimeoutMinutes` must be from 1 to {MAX_TIMEOUT_MINUTES}.",
            reason="OUT_OF_RANGE",
        )
    if not 1 <= len(data.contacts) <= MAX_CONTACTS:
        raise InvalidInput(
            "contacts", f"A route needs 1 to {MAX_CONTACTS} contacts, in the order to try them."
        )
    cleaned: list[ContactData] = []
    seen: set[tuple[str, object]] = set()
    for i, contact in enumerate(data.contacts):
        name = f"contacts.{i}"
        given = [v for v in (contact.staff_id, contact.email, contact.webhook_url) if v is not None]
        if len(given) != 1:
            raise InvalidInput(
                name, f"`{name}` must name exactly one of staffId, email or webhookUrl."
            )
        if contact.staff_id is not None:
            await require_lead(viewer, contact.staff_id, f"{name}.staffId")
            cleaned.append(ContactData(staff_id=contact.staff_id))
            key: tuple[str, object] = ("staff", contact.staff_id)
        elif contact.email is not None:
            email = validation.email(f"{name}.email", contact.email)
            cleaned.append(ContactData(email=email))
            key = ("email", email)
        else:
            url = webhook_url(ctx, f"{name}.webhookUrl", contact.webhook_url or "")
            cleaned.append(ContactData(webhook_url=url))
            key = ("webhook", url)
        if key in seen:
            raise InvalidInput(name, f"`{name}` repeats an earlier contact.", reason="DUPLICATE")
        seen.add(key)
    data.contacts = cleaned
    return data


async def require_lead(viewer: Viewer, user_id: int, name: str) -> None:
    is_lead = await Membership.filter(
        school_id=viewer.school_id,
        user_id=user_id,
        role=Role.SAFEGUARDING_LEAD,
        user__is_active=True,
    ).exists()
    if not is_lead:
        # Alerts are need-to-know: only the school's safeguarding leads can read them.
        raise InvalidInput(
            name,
            "Staff contacts must be safeguarding leads of this school.",
            reason="NOT_A_SAFEGUARDING_LEAD",
        )


__all__ = [
    "MAX_CONTACTS",
    "ContactData",
    "RouteData",
    "require_lead",
    "validated",
    "webhook_url",
]
