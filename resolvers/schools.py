"""Schools: the viewer's own, and creating one with its keys (CLI and demo)."""

from __future__ import annotations

import re

from tortoise.transactions import in_transaction

from app.errors import InvalidInput, NotFound
from models.schools import School
from resolvers import access, validation
from resolvers.access import Op
from resolvers.audit import Entry
from resolvers.context import Context, Services

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_URN = re.compile(r"^\d{6}$")


async def viewer_school(ctx: Context) -> School:
    viewer, _ = access.require(ctx, Op.READ_SCHOOL)
    school = await School.get_or_none(id=viewer.school_id)
    if school is None:
        raise NotFound("School not found.")
    return school


async def viewer_schools(ctx: Context) -> list[School]:
    viewer, _ = access.require(ctx, Op.READ_SCHOOL)
    return list(await School.filter(id__in=viewer.school_ids).order_by("name"))


async def create_school(
    services: Services,
    name: str,
    slug: str,
    urn: str | None = None,
    timezone: str = "Europe/London",
) -> School:
    name = validation.text("name", name, max_length=200)
    slug = slug.strip().lower()
    if not _SLUG.match(slug):
        raise InvalidInput("slug", "The slug must be lower-case letters, digits and hyphens.")
    if urn is not None and not _URN.match(urn):
        raise InvalidInput("urn", "The URN must be six digits.")
    if await School.filter(slug=slug).exists():
        raise InvalidInput(
            "slug", f"A school with the slug {slug!r} already exists.", reason="DUPLICATE"
        )
    async with in_transaction():
        school = await School.create(name=name, slug=slug, urn=urn, timezone=timezone)
        await services.keyring.create_school_keys(school.id)
        await services.audit.record(
            Entry(
                action="school.create",
                school_id=school.id,
                target_type="school",
                target_ids=(str(school.id),),
            )
        )
    return school


__all__ = ["create_school", "viewer_school", "viewer_schools"]
