"""Partner API keys: created by a school admin for their school, shown once, revocable."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from app.errors import InvalidInput
from app.security.tokens import TokenKind, new_token
from models.partners import ApiKey, ApiKeyGrant, Scope
from realtime import channels
from realtime.events import Revoked
from resolvers import access, validation
from resolvers.access import Op
from resolvers.audit import entry_for
from resolvers.context import Context
from resolvers.pagination import Page, paginate

ORDER = ("id",)


@dataclass(frozen=True, slots=True)
class IssuedKey:
    api_key: ApiKey
    #: Shown once; only its hash is stored.
    key: str


async def list_api_keys(ctx: Context, *, first: int | None, after: str | None) -> Page[ApiKey]:
    viewer = access.school_scoped(ctx, Op.MANAGE_API_KEYS)
    query = ApiKey.filter(grants__school_id=viewer.school_id).distinct()
    return await paginate(
        query,
        ORDER,
        lambda k: (k.id,),
        first=first,
        after=after,
        maximum=ctx.services.settings.limits.max_page_size,
    )


async def issue_api_key(
    name: str, scopes: Iterable[Scope], school_ids: Iterable[int], created_by: int | None
) -> IssuedKey:
    chosen = sorted({Scope(s).value for s in scopes})
    if not chosen:
        raise InvalidInput("scopes", "Give at least one scope.", reason="REQUIRED")
    issued = new_token(TokenKind.API_KEY)
    key = await ApiKey.create(
        name=name,
        key_hash=issued.digest,
        key_prefix=issued.display_prefix,
        scopes=chosen,
        created_by_id=created_by,
    )
    await ApiKeyGrant.bulk_create([ApiKeyGrant(api_key_id=key.id, school_id=s) for s in school_ids])
    return IssuedKey(key, issued.text)


async def create_api_key(ctx: Context, name: str, scopes: Iterable[Scope]) -> IssuedKey:
    viewer = access.school_scoped(ctx, Op.MANAGE_API_KEYS)
    name = validation.text("name", name, max_length=100)
    async with in_transaction():
        issued = await issue_api_key(name, scopes, [viewer.school_id], viewer.user_id)
        await ctx.services.audit.record(
            entry_for(
                viewer,
                ctx.request,
                "api_key.create",
                target_type="api_key",
                target_ids=[str(issued.api_key.id)],
            )
        )
    return issued


async def revoke_api_key(ctx: Context, key_id: int) -> ApiKey:
    """Withdraw this school's grant; the key dies when no school grants it any more."""
    viewer = access.school_scoped(ctx, Op.MANAGE_API_KEYS)
    key = await access.require_api_key(ctx, key_id)
    async with in_transaction():
        await ApiKeyGrant.filter(api_key_id=key.id, school_id=viewer.school_id).delete()
        if not await ApiKeyGrant.filter(api_key_id=key.id).exists():
            key.revoked_at = ctx.services.now()
            await key.save(update_fields=["revoked_at"])
        await ctx.services.audit.record(
            entry_for(
                viewer,
                ctx.request,
                "api_key.revoke",
                target_type="api_key",
                target_ids=[str(key.id)],
            )
        )
    await ctx.services.broker.publish(channels.revocations(), Revoked(api_keys=[key.id]).encode())
    return key


__all__ = ["IssuedKey", "create_api_key", "issue_api_key", "list_api_keys", "revoke_api_key"]
