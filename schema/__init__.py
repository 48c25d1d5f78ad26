"""The root schema: per-domain Query and Mutation mixins, hardening extensions."""

from __future__ import annotations

import strawberry
from graphql import ASTValidationRule
from strawberry.extensions import (
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig

from app.config import Limits
from schema.audit import AuditQuery
from schema.auth import AuthMutation, AuthQuery
from schema.classroom.device import DeviceProtocolMutation, DeviceProtocolSubscription
from schema.classroom.teacher import ClassroomMutation, ClassroomQuery, ClassroomSubscription
from schema.credentials import CredentialMutation
from schema.devices import DeviceMutation, DeviceQuery
from schema.extensions import (
    AuditReads,
    CheckedDocuments,
    DocumentLimits,
    SchemaExecutor,
    should_mask_error,
)
from schema.groups import GroupMutation, GroupQuery
from schema.hardening import RejectEmptySelections, SchoolSchema, disable_suggestions
from schema.learners import LearnerMutation, LearnerQuery
from schema.node import NodeQuery
from schema.partners import PartnerMutation, PartnerQuery
from schema.safeguarding import (
    AlertMutation,
    AlertQuery,
    AlertSubscription,
    SafeguardingSettingsMutation,
    SafeguardingSettingsQuery,
)
from schema.safeguarding.delivery_log import AlertDeliveryQuery
from schema.safeguarding.export import SafeguardingExportQuery
from schema.safeguarding.routing import AlertRouteMutation, AlertRouteQuery
from schema.schools import SchoolQuery
from schema.staff import StaffMutation, StaffQuery
from schema.tracking import TrackingQuery
from schema.tracking.conduct import ConductMutation, ConductQuery
from schema.tracking.markbook import MarkbookQuery
from schema.tracking.marks import MarkbookMutation
from schema.tracking.progress import ProgressMutation
from schema.tracking.settings import TrackerSettingsMutation, TrackerSettingsQuery


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
    TrackingQuery,
    MarkbookQuery,
    AlertQuery,
    SafeguardingSettingsQuery,
    AlertRouteQuery,
    SafeguardingExportQuery,
    AlertDeliveryQuery,
    ConductQuery,
    TrackerSettingsQuery,
):
    pass


@strawberry.type
class Mutation(
    AuthMutation,
    LearnerMutation,
    GroupMutation,
    StaffMutation,
    CredentialMutation,
    DeviceMutation,
    PartnerMutation,
    ClassroomMutation,
    DeviceProtocolMutation,
    AlertMutation,
    SafeguardingSettingsMutation,
    AlertRouteMutation,
    MarkbookMutation,
    ProgressMutation,
    ConductMutation,
    TrackerSettingsMutation,
):
    pass


@strawberry.type
class Subscription(ClassroomSubscription, DeviceProtocolSubscription, AlertSubscription):
    pass


def hardening_rules(limits: Limits, *, introspection: bool) -> tuple[type[ASTValidationRule], ...]:
    """The depth, alias and introspection rules, as strawberry's limiters make them.

    Built once per schema: the limiter extensions would make new rule classes on every request,
    so no two requests would share a validated document.
    """
    limiters: list[DisableIntrospection | QueryDepthLimiter | MaxAliasesLimiter] = [
        QueryDepthLimiter(max_depth=limits.max_depth),
        MaxAliasesLimiter(max_alias_count=limits.max_aliases),
    ]
    if not introspection:
        limiters.insert(0, DisableIntrospection())
    return tuple(rule for limiter in limiters for rule in limiter.validation_rules)


disable_suggestions()


def build_schema(limits: Limits, *, introspection: bool = False) -> strawberry.Schema:
    """The schema with hardening on; introspection only when asked (development).

    Each distinct document text is parsed and validated once (bounded, see
    :class:`CheckedDocuments`); the limits are part of that validation.
    """
    rules = hardening_rules(limits, introspection=introspection)
    checked = CheckedDocuments()
    extensions: list = [  # type: ignore[type-arg]
        # First: a document it has seen pass every check (RejectEmptySelections' included) is
        # marked valid before the other checks run, so they skip it.
        lambda: DocumentLimits(
            max_directives=limits.max_directives,
            max_chars=limits.max_query_chars,
            max_tokens=limits.max_tokens,
            rules=rules,
            checked=checked,
        ),
        RejectEmptySelections,
        AuditReads,
        lambda: MaskErrors(should_mask_error=should_mask_error),
    ]
    return SchoolSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(disable_field_suggestions=True),
        extensions=extensions,
        # Audits plain personal fields per object, and reads plain leaves directly.
        execution_context_class=SchemaExecutor,
    )


__all__ = ["Mutation", "Query", "Subscription", "build_schema"]
