"""Schema extensions: document limits, login batching, read auditing and error masking."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from graphql import DirectiveNode, FieldNode, GraphQLError, Visitor, visit
from strawberry.extensions import SchemaExtension

from app.errors import PublicError
from resolvers.audit import entry_for
from resolvers.context import Context


class _Counter(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.directives = 0
        self.logins = 0

    def enter_directive(self, node: DirectiveNode, *_: object) -> None:
        self.directives += 1

    def enter_field(self, node: FieldNode, *_: object) -> None:
        if node.name.value == "login":
            self.logins += 1


class DocumentLimits(SchemaExtension):
    """Refuse over-long, over-decorated or multi-login documents before validation.

    A plain validation rule cannot stop the others emitting one error per unknown directive, and
    ``login`` hidden behind aliases would multiply password guesses per request (AUTHN-06).
    """

    def __init__(self, *, max_directives: int = 5, max_chars: int = 15_000) -> None:
        self.max_directives = max_directives
        self.max_chars = max_chars

    def on_parse(self) -> Iterator[None]:
        query = self.execution_context.query or ""
        if len(query) > self.max_chars:
            # Strawberry skips parsing and validation when errors are already set.
            self.execution_context.pre_execution_errors = [
                GraphQLError(f"The document is longer than {self.max_chars} characters.")
            ]
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is not None and ctx.pre_execution_errors is None:
            counter = _Counter()
            visit(ctx.graphql_document, counter)
            if counter.directives > self.max_directives:
                ctx.pre_execution_errors = [GraphQLError("Too many directives.")]
            elif counter.logins > 1:
                ctx.pre_execution_errors = [GraphQLError("Only one login per request.")]
        yield


class AuditReads(SchemaExtension):
    """Write one audit event per operation for the learner fields it read."""

    async def on_execute(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        if not isinstance(context, Context) or not context.reads:
            return
        reads, context.reads = context.reads, {}
        ids = sorted(set().union(*reads.values()))
        await context.services.audit.record(
            entry_for(
                context.viewer,
                context.request,
                "learner.read",
                target_type="learner",
                target_ids=ids,
                fields=sorted(reads),
            )
        )


def should_mask_error(error: GraphQLError) -> bool:
    """Mask resolver exceptions only; parse/validation errors and PublicErrors pass."""
    original = error.original_error
    return original is not None and not isinstance(original, (PublicError, GraphQLError))


__all__ = ["AuditReads", "DocumentLimits", "should_mask_error"]
