"""Schema extensions: document limits, login batching, read auditing and error masking."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from graphql import (
    ASTValidationRule,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLObjectType,
    Visitor,
    visit,
)
from graphql.execution.collect_fields import GroupedFieldSet
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

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


class CheckedDocuments:
    """Documents that passed every check, by their exact text: a bounded LRU.

    Validation depends only on the text, the schema and the rules, and those are fixed for one
    schema, so a text that passed once passes again. Only passing documents are kept: one that
    failed is parsed and checked afresh every time, and fails every time. Both the number of
    texts and their total length are bounded, so unique texts cannot grow memory without limit
    (a parsed document takes roughly 80 bytes per character of text).
    """

    def __init__(self, max_entries: int = 256, max_chars: int = 256 * 1024) -> None:
        self.max_entries = max_entries
        self.max_chars = max_chars
        self._documents: OrderedDict[str, DocumentNode] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()

    def get(self, text: str) -> DocumentNode | None:
        with self._lock:
            document = self._documents.get(text)
            if document is not None:
                self._documents.move_to_end(text)
            return document

    def put(self, text: str, document: DocumentNode) -> None:
        if len(text) > self.max_chars:
            return
        with self._lock:
            if text in self._documents:
                return
            self._documents[text] = document
            self._chars += len(text)
            while len(self._documents) > self.max_entries or self._chars > self.max_chars:
                evicted, _ = self._documents.popitem(last=False)
                self._chars -= len(evicted)

    def __len__(self) -> int:
        return len(self._documents)


class DocumentLimits(SchemaExtension):
    """Refuse over-long, over-decorated or multi-login documents before validation.

    A plain validation rule cannot stop the others emitting one error per unknown directive, and
    ``login`` hidden behind aliases would multiply password guesses per request (AUTHN-06).

    With ``rules`` it also adds those validation rules (depth, aliases, introspection: built once
    per schema, not per request) and bounds the tokens the parser reads. With ``checked`` it
    parses and validates each distinct text once: a text that has passed every check before,
    these limits included, reuses its parsed document and skips validation.
    """

    def __init__(
        self,
        *,
        max_directives: int = 5,
        max_chars: int = 15_000,
        max_tokens: int | None = None,
        rules: tuple[type[ASTValidationRule], ...] = (),
        checked: CheckedDocuments | None = None,
    ) -> None:
        self.max_directives = max_directives
        self.max_chars = max_chars
        self.max_tokens = max_tokens
        self.rules = rules
        self.checked = checked
        #: The document came from ``checked``: it passed every check already.
        self._known = False
        #: Strawberry parsed ``query`` itself, so the document is the text's own.
        self._parsed_here = False

    def on_operation(self) -> Iterator[None]:
        ctx = self.execution_context
        if self.max_tokens is not None:
            ctx.parse_options["max_tokens"] = self.max_tokens
        if self.rules:
            ctx.validation_rules = (*ctx.validation_rules, *self.rules)
        yield

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        query = ctx.query or ""
        if len(query) > self.max_chars:
            ctx.pre_execution_errors = [
                GraphQLError(f"The document is longer than {self.max_chars} characters.")
            ]
        elif ctx.graphql_document is None:
            known = self.checked.get(query) if self.checked is not None and query else None
            if known is not None:
                ctx.graphql_document = known
                self._known = True
            else:
                self._parsed_here = True
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if self._known and ctx.pre_execution_errors is None:
            # Passed every check when first seen; an empty list tells strawberry it is valid.
            ctx.pre_execution_errors = []
            yield
            return
        if ctx.graphql_document is not None and ctx.pre_execution_errors is None:
            counter = _Counter()
            visit(ctx.graphql_document, counter)
            if counter.directives > self.max_directives:
                ctx.pre_execution_errors = [GraphQLError("Too many directives.")]
            elif counter.logins > 1:
                ctx.pre_execution_errors = [GraphQLError("Only one login per request.")]
        yield
        passed = ctx.pre_execution_errors is not None and not ctx.pre_execution_errors
        if passed and self._parsed_here and self.checked is not None and ctx.query:
            assert ctx.graphql_document is not None
            self.checked.put(ctx.query, ctx.graphql_document)


#: Personal fields that are plain attributes (no resolver), per GraphQL type: GraphQL field
#: name -> the name on the audit trail. Filled in by the types that have them (schema.learners).
AUDITED_PLAIN_FIELDS: dict[str, Mapping[str, str]] = {}


class ReadAuditingExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, noting the audited plain fields executed on each object.

    ``execute_fields`` runs once per object for the fields selected on it, after ``@skip`` and
    ``@include``, fragments and type conditions have been applied, on every path that returns
    the type (lists, ``node``, payloads, subscriptions, deferred fragments). A plain field is
    executed exactly when it is in that set, so noting the set here notes the same reads as a
    resolver per field would, at one call per object instead of one per field.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Keyed like graphql-core's own memo: the field set's identity, kept alive alongside.
        self._audited: dict[int, tuple[GroupedFieldSet, tuple[str, ...]]] = {}

    def _audited_names(
        self, audited: Mapping[str, str], grouped_field_set: GroupedFieldSet
    ) -> tuple[str, ...]:
        memo = self._audited.get(id(grouped_field_set))
        if memo is not None:
            return memo[1]
        names = tuple(
            sorted(
                {
                    audited[details[0].node.name.value]
                    for details in grouped_field_set.values()
                    if details[0].node.name.value in audited
                }
            )
        )
        self._audited[id(grouped_field_set)] = (grouped_field_set, names)
        return names

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        audited = AUDITED_PLAIN_FIELDS.get(parent_type.name)
        if audited is not None:
            names = self._audited_names(audited, grouped_field_set)
            context = self.context_value
            if names and isinstance(context, Context):
                context.note_reads(source_value.audit_id, names)
        return super().execute_fields(
            parent_type, source_value, path, grouped_field_set, position_context
        )


class AuditReads(SchemaExtension):
    """Write one audit event per operation for the learner fields it read."""

    async def on_execute(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        if not isinstance(context, Context) or not context.read_fields:
            return
        ids, fields = context.take_reads()
        await context.services.audit.record(
            entry_for(
                context.viewer,
                context.request,
                "learner.read",
                target_type="learner",
                target_ids=ids,
                fields=fields,
            )
        )


def should_mask_error(error: GraphQLError) -> bool:
    """Mask resolver exceptions only; parse/validation errors and PublicErrors pass."""
    original = error.original_error
    return original is not None and not isinstance(original, (PublicError, GraphQLError))


__all__ = [
    "AUDITED_PLAIN_FIELDS",
    "AuditReads",
    "CheckedDocuments",
    "DocumentLimits",
    "ReadAuditingExecutor",
    "should_mask_error",
]
