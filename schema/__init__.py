"""The root schema: per-domain Query and Mutation mixins, hardening extensions."""

from __future__ import annotations

import strawberry
from strawberry.extensions import (
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig

from app.config import Limits
from schema.audit import AuditQuery
from schema.classroom.device import DeviceProtocolMutation, DeviceProtocolSubscription
from schema.classroom.teacher import ClassroomMutation, ClassroomQuery, ClassroomSubscription
from schema.auth import AuthMutation, AuthQuery
from schema.devices import DeviceMutation, DeviceQuery
from schema.extensions import AuditReads, DocumentLimits, should_mask_error
from schema.groups import GroupMutation, GroupQuery
from schema.learners import LearnerMutation, LearnerQuery
from schema.node import NodeQuery
from schema.partners import PartnerMutation, PartnerQuery
from schema.schools import SchoolQuery
from schema.staff import StaffMutation, StaffQuery


@strawberry.type
class Query(
    AuthQuery,
    NodeQuery,
    SchoolQuery,
    LearnerQuery,
    GroupQuery,
    StaffQuery,
    DeviceQuery,
    PartnerQuery,
    AuditQuery,
    ClassroomQuery,
):
    pass


@strawberry.type
class Mutation(
    AuthMutation,
    LearnerMutation,
    GroupMutation,
    StaffMutation,
    DeviceMutation,
    PartnerMutation,
    ClassroomMutation,
    DeviceProtocolMutation,
):
    pass


@strawberry.type
class Subscription(ClassroomSubscription, DeviceProtocolSubscription):
    pass


def build_schema(limits: Limits, *, introspection: bool = False) -> strawberry.Schema:
    """The schema with hardening on; introspection only when asked (development)."""
    extensions: list = [  # type: ignore[type-arg]
        lambda: DocumentLimits(
            max_directives=limits.max_directives, max_chars=limits.max_query_chars
        ),
        lambda: QueryDepthLimiter(max_depth=limits.max_depth),
        lambda: MaxAliasesLimiter(max_alias_count=limits.max_aliases),
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        AuditReads,
        lambda: MaskErrors(should_mask_error=should_mask_error),
    ]
    if not introspection:
        extensions.insert(1, DisableIntrospection)
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(disable_field_suggestions=True),
        extensions=extensions,
    )


__all__ = ["Mutation", "Query", "Subscription", "build_schema"]
