"""Domain enums exposed to GraphQL under their UPPER_SNAKE names (registered on the model enums)."""

from __future__ import annotations

import strawberry

from models.devices import Platform
from models.learners import SendStatus
from models.partners import Scope
from models.staff import Role

strawberry.enum(Role, description="What a member of staff does in a school.")
strawberry.enum(Scope, description="What a partner key may read.")
strawberry.enum(Platform, description="A device's operating system.")
strawberry.enum(SendStatus, description="Special educational needs status (school census).")

__all__ = ["Platform", "Role", "Scope", "SendStatus"]
