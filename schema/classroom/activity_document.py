"""``classroomActivity`` without GraphQL execution, for the documents teachers' screens send.

A busy class publishes thousands of events a second, and executing the subscription's
selection for each one (once per cohort, see app/ws/cohorts.py) costs more than delivering it.
A document of exactly this shape is recognised once per text and operation name (parsed,
matched, validated against the schema with the hardening rules): one subscription operation,
one ``classroomActivity`` field (aliased or not) whose only argument is ``groupId`` (an ``ID!``
variable or a string), selecting leaf fields of ``ClassroomActivity`` (aliases allowed, each
response key once; no directives, fragments, ``__typename`` or nested selections). Its events
then come straight from the use case and become the ``next`` payload text GraphQL would send:
the values of ``ClassroomActivity.from_event`` in the selection's order, through the schema's
own scalar coercions.

An event GraphQL would answer with errors (a null or a value its scalar refuses) is reported
as graphql-core would, located and masked; so is an error that ends the use case's stream,
which strawberry reports unlocated, as it reports any error of a subscription's source stream.
The whole path switches itself off if the schema's field, its resolver or the type differ from
what is written here. tests/classroom/test_activity_direct.py compares both paths byte for byte.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    Undefined,
    VariableNode,
    is_non_null_type,
    located_error,
    parse,
    specified_rules,
    validate,
)
from graphql.pyutils import inspect
from strawberry import Schema
from strawberry.extensions import MaskErrors
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.execution import ExecutionResult
from strawberry.types.field import StrawberryField

from resolvers import classroom
from resolvers.context import Context
from schema.classroom.report_document import sole_operation, sole_variable
from schema.classroom.teacher import ClassroomSubscription
from schema.classroom.types import ClassroomActivity
from schema.extensions import AUDITED_PLAIN_FIELDS, should_mask_error

FIELD = "classroomActivity"
TYPE = "ClassroomActivity"
#: The schema this was written against (field -> type); any difference switches it off.
EXPECTED_FIELDS: Mapping[str, str] = {
    "groupId": "ID!",
    "deviceId": "ID!",
    "learnerId": "ID",
    "kind": "String!",
    "at": "DateTime!",
    "online": "Boolean!",
    "idle": "Boolean!",
    "locked": "Boolean",
    "app": "String",
    "url": "String",
    "title": "String",
    "blocked": "Boolean!",
    "reason": "String",
    "thumbnail": "String",
}
_MAX_ENTRIES = 32


@dataclass(frozen=True, slots=True)
class Leaf:
    """One selected field: response key, attribute, node, scalar type and nullability."""

    key: str
    attribute: str
    node: FieldNode
    scalar: GraphQLScalarType
    coerce: Callable[[Any], Any]
    non_null: bool


@dataclass(frozen=True, slots=True)
class ActivityShape:
    """A recognised document: the root's response key and the leaves, in selection order."""

    root_key: str
    leaves: tuple[Leaf, ...]
    #: Everything of the payload text before the selected object, and after it.
    head: str
    tail: str


class ActivityDocuments:
    """Recognises the teachers' ``classroomActivity`` documents and streams their payloads."""

    def __init__(
        self,
        schema: Schema,
        *,
        dumps: Callable[[Any], str],
        max_chars: int,
        max_tokens: int,
        rules: Sequence[type[ASTValidationRule]] = (),
    ) -> None:
        self._schema = schema
        self._graphql: GraphQLSchema = schema._schema
        self._dumps = dumps
        self._max_chars = max_chars
        self._max_tokens = max_tokens
        self._rules = (*specified_rules, *rules)
        self._shapes: OrderedDict[tuple[str, str | None], ActivityShape | None] = OrderedDict()
        self._masker = MaskErrors(should_mask_error=should_mask_error)
        #: Streams served here (the rest went through GraphQL): for tests and metrics.
        self.streams = 0
        self.enabled = schema_as_expected(self._graphql)

    # --- recognising -------------------------------------------------------------------------

    def shape(self, query: str, operation_name: str | None) -> ActivityShape | None:
        """The shape of ``query`` if this module answers it exactly as GraphQL would."""
        if not self.enabled or len(query) > self._max_chars or FIELD not in query:
            return None
        key = (query, operation_name)
        if key in self._shapes:
            self._shapes.move_to_end(key)
            return self._shapes[key]
        shape = self._recognise(query, operation_name)
        self._shapes[key] = shape
        while len(self._shapes) > _MAX_ENTRIES:
            self._shapes.popitem(last=False)
        return shape

    def _recognise(self, query: str, operation_name: str | None) -> ActivityShape | None:
        try:
            document = parse(query, max_tokens=self._max_tokens)
        except GraphQLError:
            return None
        shape = self._match(document, operation_name)
        if shape is None or validate(self._graphql, document, self._rules):
            return None
        return shape

    def _match(self, document: DocumentNode, operation_name: str | None) -> ActivityShape | None:
        operation = sole_operation(document, OperationType.SUBSCRIPTION)
        if operation is None:
            return None
        if operation_name is not None and (
            operation.name is None or operation.name.value != operation_name
        ):
            return None
        root = operation.selection_set.selections[0]
        if (
            not isinstance(root, FieldNode)
            or root.name.value != FIELD
            or root.directives
            or root.selection_set is None
            or not _group_argument(operation, root)
        ):
            return None
        leaves = self._leaves(root.selection_set.selections)
        if leaves is None:
            return None
        root_key = (root.alias or root.name).value
        head = '{"data":{' + self._dumps(root_key) + ":"
        return ActivityShape(root_key, leaves, head, "}}")

    def _leaves(self, nodes: Sequence[Any]) -> tuple[Leaf, ...] | None:
        object_type = self._graphql.get_type(TYPE)
        leaves: list[Leaf] = []
        for node in nodes:
            if not isinstance(node, FieldNode) or node.name.value not in EXPECTED_FIELDS:
                return None
            if node.arguments or node.directives or node.selection_set is not None:
                return None
            key = (node.alias or node.name).value
            if any(key == leaf.key for leaf in leaves):
                return None  # merged by GraphQL: not worth answering here
            field = object_type.fields[node.name.value]  # type: ignore[union-attr]
            non_null = is_non_null_type(field.type)
            scalar = field.type.of_type if non_null else field.type
            attribute = field.extensions[GraphQLCoreConverter.DEFINITION_BACKREF].python_name
            leaves.append(Leaf(key, attribute, node, scalar, scalar.coerce_output_value, non_null))
        return tuple(leaves) if leaves else None

    # --- answering ---------------------------------------------------------------------------

    async def stream(
        self, shape: ActivityShape, context: Context, group_id: int
    ) -> AsyncGenerator[str | ExecutionResult, None]:
        """Each event's payload text; a result instead where GraphQL's would carry errors
        (after which, if it has no data, the stream ends as GraphQL's would)."""
        self.streams += 1
        try:
            async with aclosing(classroom.stream_activity(context, group_id)) as events:
                async for event in events:
                    yield self.payload(shape, ClassroomActivity.from_event(event))
        except Exception as error:
            # The resolver's stream failed: strawberry reports it unlocated, logged and masked.
            original = error if isinstance(error, GraphQLError) else None
            yield self._result(None, [original or GraphQLError(str(error), original_error=error)])

    def payload(self, shape: ActivityShape, activity: ClassroomActivity) -> str | ExecutionResult:
        """The ``next`` payload text GraphQL would send for ``activity``, or its result with
        errors when a value is null for a non-null field or refused by its scalar."""
        values: dict[str, Any] = {}
        for leaf in shape.leaves:
            value = getattr(activity, leaf.attribute)
            if value is None:
                if leaf.non_null:
                    return self._completed(shape, activity)
                values[leaf.key] = None
                continue
            try:
                coerced = leaf.coerce(value)
            except Exception:
                return self._completed(shape, activity)
            if coerced is None or coerced is Undefined:
                return self._completed(shape, activity)
            values[leaf.key] = coerced
        return shape.head + self._dumps(values) + shape.tail

    def _completed(self, shape: ActivityShape, activity: ClassroomActivity) -> ExecutionResult:
        # graphql-core's completion: a failed nullable leaf is null with its error; a failed
        # non-null one nulls the (non-null) root, hence the data, after the errors before it.
        values: dict[str, Any] = {}
        errors: list[GraphQLError] = []
        for leaf in shape.leaves:
            try:
                values[leaf.key] = _complete(leaf, getattr(activity, leaf.attribute))
            except Exception as raw:
                errors.append(located_error(raw, [leaf.node], [shape.root_key, leaf.key]))
                if leaf.non_null:
                    return self._result(None, errors)
                values[leaf.key] = None
        return self._result({shape.root_key: values}, errors)

    def _result(self, data: dict[str, Any] | None, errors: list[GraphQLError]) -> ExecutionResult:
        self._schema.process_errors(errors)
        masker = self._masker
        shown = [masker.anonymise_error(e) if masker.should_mask_error(e) else e for e in errors]
        return ExecutionResult(data=data, errors=shown or None)


def _group_argument(operation: OperationDefinitionNode, root: FieldNode) -> bool:
    """Whether ``groupId`` is the root's only argument: a string, or the operation's only
    variable, declared ``ID!`` without default or directives."""
    arguments = root.arguments or ()
    definitions = operation.variable_definitions or ()
    if len(arguments) != 1 or arguments[0].name.value != "groupId":
        return False
    value = arguments[0].value
    if isinstance(value, StringValueNode):
        return not definitions
    definition = sole_variable(operation, "ID")
    return (
        isinstance(value, VariableNode)
        and definition is not None
        and definition.variable.name.value == value.name.value
    )


def _complete(leaf: Leaf, value: Any) -> Any:
    """A leaf's value as graphql-core completes it, raising what it would raise."""
    if value is None:
        if leaf.non_null:
            name = leaf.node.name.value
            raise TypeError(f"Cannot return null for non-nullable field {TYPE}.{name}.")
        return None
    coerced = leaf.coerce(value)
    if coerced is None or coerced is Undefined:
        raise TypeError(
            f"Expected `{inspect(leaf.scalar)}.coerce_output_value({inspect(value)})` to return"
            f" non-nullable value, returned: {inspect(coerced)}"
        )
    return coerced


def schema_as_expected(schema: GraphQLSchema) -> bool:
    """Whether ``classroomActivity``, its resolver and its type are exactly those known here."""
    subscription = schema.subscription_type
    root = subscription.fields.get(FIELD) if subscription is not None else None
    if root is None or str(root.type) != f"{TYPE}!":
        return False
    if [(n, str(a.type)) for n, a in root.args.items()] != [("groupId", "ID!")]:
        return False
    resolver = _strawberry_field(root)
    if (
        resolver is None
        or resolver.base_resolver is None
        or resolver.base_resolver.wrapped_func
        is not ClassroomSubscription.__dict__.get("classroom_activity")
    ):
        return False
    found = schema.get_type(TYPE)
    fields = getattr(found, "fields", None)
    if fields is None or {n: str(f.type) for n, f in fields.items()} != EXPECTED_FIELDS:
        return False
    # Plain attributes only (read with getattr, as the executor reads them), none audited.
    plain = all(
        (field := _strawberry_field(f)) is not None
        and field.is_basic_field
        and field.default_resolver is getattr
        for f in fields.values()
    )
    return plain and TYPE not in AUDITED_PLAIN_FIELDS


def _strawberry_field(definition: Any) -> StrawberryField | None:
    field = definition.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(field, StrawberryField) or field.extensions or field.permission_classes:
        return None
    return field


__all__ = ["ActivityDocuments", "ActivityShape", "schema_as_expected"]
