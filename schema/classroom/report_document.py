"""The device agents' ``reportActivity`` document: recognising it, and what it selects.

A document is the agents' shape when it is one mutation with one ``ReportActivityInput!``
variable passed as ``input`` to ``reportActivity``, selecting plain fields of ``results`` and
``errors`` (no aliases, directives, fragments, ``__typename`` or repeated fields). Such a
document is valid whenever the schema has the types below (it is validated all the same); the
depth, alias and introspection limits cannot refuse it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    VariableDefinitionNode,
    VariableNode,
    parse,
    validate,
)

FIELD = "reportActivity"
INPUT_TYPE = "ReportActivityInput"
#: The schema this was written against; any difference switches the fast path off.
EXPECTED_TYPES: Mapping[str, Mapping[str, str]] = {
    "ReportActivityInput": {"events": "[ActivityEventInput!]!"},
    "ActivityEventInput": {
        "eventId": "String!",
        "occurredAt": "DateTime!",
        "kind": "ActivityKind!",
        "app": "String",
        "url": "String",
        "title": "String",
        "text": "String",
        "thumbnail": "String",
    },
    "ReportActivityPayload": {"results": "[ActivityResult!]!", "errors": "[UserError!]!"},
    "ActivityResult": {
        "eventId": "String!",
        "status": "String!",
        "blocked": "Boolean!",
        "reason": "String",
    },
    "UserError": {"field": "String", "code": "String!", "message": "String!"},
}
#: Payload field -> (the object type of its items, attribute per GraphQL field name).
_ITEMS: Mapping[str, tuple[str, Mapping[str, str]]] = {
    "results": (
        "ActivityResult",
        {"eventId": "event_id", "status": "status", "blocked": "blocked", "reason": "reason"},
    ),
    "errors": ("UserError", {"field": "field", "code": "code", "message": "message"}),
}
#: (response key, attribute, serialiser) for each selected leaf of an item.
Leaves = tuple[tuple[str, str, Callable[[Any], Any]], ...]


@dataclass(frozen=True, slots=True)
class ReportShape:
    """A recognised document: where its variable is and what it selects, in order."""

    variable: str
    operation_name: str | None
    field: FieldNode
    #: (payload field, its leaves) in the selection's order.
    selections: tuple[tuple[str, Leaves], ...]


def recognise(schema: GraphQLSchema, query: str, max_tokens: int) -> ReportShape | None:
    """The shape of ``query`` if it is the agents' document (and valid), else None."""
    try:
        document = parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return None
    shape = _Matcher(schema).match(document)
    if shape is None or validate(schema, document):
        return None
    return shape


def sole_operation(document: DocumentNode, kind: OperationType) -> OperationDefinitionNode | None:
    """The document's only definition, if it is an operation of ``kind`` without directives
    selecting one root field."""
    if len(document.definitions) != 1:
        return None
    operation = document.definitions[0]
    if (
        not isinstance(operation, OperationDefinitionNode)
        or operation.operation is not kind
        or operation.directives
        or len(operation.selection_set.selections) != 1
    ):
        return None
    return operation


def sole_variable(
    operation: OperationDefinitionNode, type_name: str
) -> VariableDefinitionNode | None:
    """The operation's only variable, if it is declared ``type_name!`` without a default or
    directives."""
    definitions = operation.variable_definitions or ()
    if len(definitions) != 1:
        return None
    definition = definitions[0]
    declared = definition.type
    if (
        definition.default_value is not None
        or definition.directives
        or not isinstance(declared, NonNullTypeNode)
        or not isinstance(declared.type, NamedTypeNode)
        or declared.type.name.value != type_name
    ):
        return None
    return definition


class _Matcher:
    def __init__(self, schema: GraphQLSchema) -> None:
        self._graphql = schema

    def match(self, document: DocumentNode) -> ReportShape | None:
        operation = sole_operation(document, OperationType.MUTATION)
        definition = sole_variable(operation, INPUT_TYPE) if operation is not None else None
        if operation is None or definition is None:
            return None
        field = operation.selection_set.selections[0]
        if not isinstance(field, FieldNode) or not _plain_field(field, FIELD):
            return None
        if len(field.arguments or ()) != 1:
            return None
        argument = (field.arguments or ())[0]
        variable = definition.variable.name.value
        if (
            argument.name.value != "input"
            or not isinstance(argument.value, VariableNode)
            or argument.value.name.value != variable
            or field.selection_set is None
        ):
            return None
        selections = self._selections(field.selection_set.selections)
        if selections is None:
            return None
        name = operation.name.value if operation.name else None
        return ReportShape(variable, name, field, selections)

    def _selections(self, nodes: Any) -> tuple[tuple[str, Leaves], ...] | None:
        chosen: list[tuple[str, Leaves]] = []
        for node in nodes:
            if not isinstance(node, FieldNode) or node.name.value not in _ITEMS:
                return None
            name = node.name.value
            if not _plain_field(node, name) or node.arguments or node.selection_set is None:
                return None
            if any(name == seen for seen, _ in chosen):
                return None  # merged by GraphQL: not worth answering here
            leaves = self._leaves(node.selection_set.selections, *_ITEMS[name])
            if leaves is None:
                return None
            chosen.append((name, leaves))
        return tuple(chosen) if chosen else None

    def _leaves(self, nodes: Any, type_name: str, attributes: Mapping[str, str]) -> Leaves | None:
        object_type = self._graphql.get_type(type_name)
        leaves: list[tuple[str, str, Callable[[Any], Any]]] = []
        for node in nodes:
            if not isinstance(node, FieldNode) or node.name.value not in attributes:
                return None
            name = node.name.value
            if not _plain_field(node, name) or node.arguments or node.selection_set is not None:
                return None
            if any(name == seen for seen, _, _ in leaves):
                return None
            leaf = object_type.fields[name].type  # type: ignore[union-attr]
            leaf = getattr(leaf, "of_type", leaf)
            leaves.append((name, attributes[name], leaf.serialize))
        return tuple(leaves) if leaves else None


def schema_as_expected(schema: GraphQLSchema) -> bool:
    """Whether ``reportActivity`` and its types are exactly those this module knows."""
    mutation = schema.mutation_type
    root = mutation.fields.get(FIELD) if mutation is not None else None
    if root is None or str(root.type) != "ReportActivityPayload!":
        return False
    if [(n, str(a.type)) for n, a in root.args.items()] != [("input", "ReportActivityInput!")]:
        return False
    for type_name, fields in EXPECTED_TYPES.items():
        found = schema.get_type(type_name)
        actual = getattr(found, "fields", None)
        if actual is None or {n: str(f.type) for n, f in actual.items()} != fields:
            return False
    return True


def _plain_field(node: FieldNode, name: str) -> bool:
    return node.name.value == name and node.alias is None and not node.directives


__all__ = [
    "EXPECTED_TYPES",
    "FIELD",
    "Leaves",
    "ReportShape",
    "recognise",
    "schema_as_expected",
    "sole_operation",
    "sole_variable",
]
