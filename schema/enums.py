"""Domain enums exposed to GraphQL under their UPPER_SNAKE names."""

from __future__ import annotations

import strawberry

from models.devices import Platform as DbPlatform
from models.learners import SendStatus as DbSendStatus
from models.partners import Scope as DbScope
from models.staff import Role as DbRole

Role = strawberry.enum(DbRole, name="Role", description="What a member of staff does in a school.")
Scope = strawberry.enum(DbScope, name="Scope", description="What a partner key may read.")
Platform = strawberry.enum(DbPlatform, name="Platform", description="A device's operating system.")
SendStatus = strawberry.enum(
    DbSendStatus, name="SendStatus", description="Special educational needs status (school census)."
)

__all__ = ["Platform", "Role", "Scope", "SendStatus"]
