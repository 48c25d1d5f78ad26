"""Hardening graphql-core does not offer as a setting: no name suggestions, no empty selections."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator

import strawberry
from graphql import GraphQLError, SelectionSetNode, Visitor, visit
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from app.errors import PublicError


def disable_suggestions() -> None:
    """No "Did you mean …?" anywhere (GQL-02).

    StrawberryConfig(disable_field_suggestions=True) covers field names only; arguments, input
    fields, types, variables and enum values still suggest names, which lets a tool rebuild the
    schema. graphql-core builds every suggestion through did_you_mean, whose MAX_LENGTH caps the
    list: zero means none. (The attribute graphql.pyutils.did_you_mean is the function, so the
    module is looked up by name.)
    """
    module = importlib.import_module("graphql.pyutils.did_you_mean")
    module.MAX_LENGTH = 0  # type: ignore[attr-defined]


log = logging.getLogger("pupil_progress.graphql")


class SchoolSchema(strawberry.Schema):
    """Logs only unexpected errors, with their traceback (AUDIT-05).

    Strawberry logs every error at ERROR level with the document's text: input mistakes,
    NOT_FOUND and FORBIDDEN are expected traffic, and a document can hold a password typed into
    a malformed login.
    """

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            original = error.original_error
            if original is not None and not isinstance(original, (PublicError, GraphQLError)):
                log.error(
                    "unexpected error at %s: %s",
                    error.path,
                    type(original).__name__,
                    exc_info=original,
                )


class _EmptySelections(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_selection_set(self, node: SelectionSetNode, *_: object) -> None:
        if not node.selections:
            self.found = True


class RejectEmptySelections(SchemaExtension):
    """`query { }` parses in graphql-core 3.3 but breaks the depth limiter with a Python error
    that would reach the client unmasked (GQL-07): refuse it before validation."""

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is not None and ctx.pre_execution_errors is None:
            visitor = _EmptySelections()
            visit(ctx.graphql_document, visitor)
            if visitor.found:
                ctx.pre_execution_errors = [GraphQLError("Selection sets must not be empty.")]
        yield


__all__ = ["RejectEmptySelections", "SchoolSchema", "disable_suggestions"]
