"""Partner API key types and their management (school admins)."""

from __future__ import annotations

import datetime

import strawberry

from models import partners as db
from resolvers import partners
from schema.common import Connection, Info, Node, UserError, attempt, parse_int_id, to_global_id
from schema.enums import Scope


@strawberry.type(description="A partner's key to read this school's data within its scopes.")
class ApiKey(Node):
    name: str
    prefix: str = strawberry.field(description="The key's first characters, to recognise it.")
    scopes: list[Scope]
    created_at: datetime.datetime
    last_used_at: datetime.datetime | None
    revoked: bool

    @classmethod
    def from_model(cls, row: db.ApiKey) -> ApiKey:
        return cls(
            id=to_global_id("ApiKey", row.id),
            name=row.name,
            prefix=row.key_prefix,
            scopes=[db.Scope(s) for s in row.scopes],
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked=row.revoked_at is not None,
        )


@strawberry.input
class CreateApiKeyInput:
    name: str = strawberry.field(description="The partner, as the school knows it.")
    scopes: list[Scope]


@strawberry.type
class CreateApiKeyPayload:
    api_key: ApiKey | None = None
    key: str | None = strawberry.field(default=None, description="The key. Shown only this once.")
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ApiKeyPayload:
    api_key: ApiKey | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PartnerQuery:
    @strawberry.field(description="Partner keys this school has granted (school admins).")
    async def api_keys(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[ApiKey]:
        page = await partners.list_api_keys(info.context, first=first, after=after)
        return Connection.from_page(page, ApiKey.from_model)


@strawberry.type
class PartnerMutation:
    @strawberry.mutation(description="Create a partner key for this school; shown once.")
    async def create_api_key(self, info: Info, input: CreateApiKeyInput) -> CreateApiKeyPayload:
        issued, errors = await attempt(
            lambda: partners.create_api_key(info.context, input.name, input.scopes)
        )
        if issued is None:
            return CreateApiKeyPayload(errors=errors)
        return CreateApiKeyPayload(api_key=ApiKey.from_model(issued.api_key), key=issued.key)

    @strawberry.mutation(description="Withdraw this school's grant of a key, at once.")
    async def revoke_api_key(self, info: Info, id: strawberry.ID) -> ApiKeyPayload:
        row, errors = await attempt(
            lambda: partners.revoke_api_key(info.context, parse_int_id(id, "ApiKey"))
        )
        return ApiKeyPayload(api_key=ApiKey.from_model(row) if row else None, errors=errors)
