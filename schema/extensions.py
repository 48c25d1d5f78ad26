"""Schema extensions: document limits, login batching, read auditing and error masking."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Mapping
from typing import Any, NamedTuple, cast

from graphql import (
    ASTValidationRule,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    StringValueNode,
    Undefined,
    Visitor,
    is_leaf_type,
    is_non_null_type,
    visit,
)
from graphql.execution.collect_fields import GroupedFieldSet
from graphql.pyutils import AwaitableOrValue, Path, RefMap
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from app.errors import PublicError
from resolvers.audit import entry_for
from resolvers.context import Context


class _Counter(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.directives = 0
        self.logins = 0
        self.strings = 0

    def enter_directive(self, node: DirectiveNode, *_: object) -> None:
        self.directives += 1

    def enter_string_value(self, node: StringValueNode, *_: object) -> None:
        self.strings += 1

    def enter_field(self, node: FieldNode, *_: object) -> None:
        if node.name.value == "login":
            self.logins += 1


class CheckedDocuments:
    """Documents that passed every check, by their exact text: a bounded LRU.

    Validation depends only on the text, the schema and the rules, and those are fixed for one
    schema, so a text that passed once passes again. Only passing documents are kept: one that
    failed is parsed and checked afresh every time, and fails every time. Both the number of
    texts and their total length are bounded, so unique texts cannot grow memory without limit
    (a parsed document takes roughly 80 bytes per character of text). Documents with string
    literals are not kept either: those are where passwords, UPNs and names would be written
    into the text instead of passed as variables, and they must not outlive the request.
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
        counter = _Counter()
        if ctx.graphql_document is not None and ctx.pre_execution_errors is None:
            visit(ctx.graphql_document, counter)
            if counter.directives > self.max_directives:
                ctx.pre_execution_errors = [GraphQLError("Too many directives.")]
            elif counter.logins > 1:
                ctx.pre_execution_errors = [GraphQLError("Only one login per request.")]
        yield
        checked, document = self.checked, ctx.graphql_document
        passed = ctx.pre_execution_errors is not None and not ctx.pre_execution_errors
        keep = passed and self._parsed_here and not counter.strings
        if keep and checked is not None and document is not None:
            checked.put(ctx.query or "", document)


#: Personal fields that are plain attributes (no resolver), per GraphQL type: GraphQL field
#: name -> the name on the audit trail. Filled in by the types that have them (schema.learners),
#: whose objects note the reads with ``note_reads(context, names)``.
AUDITED_PLAIN_FIELDS: dict[str, Mapping[str, str]] = {}

_CONTEXT_RESOLVER = "pupil_progress.context_resolver"
#: A resolver that needs only the object and the request's context, not the GraphQL info.
ContextResolver = Callable[[Any, Context], Any]


def context_resolver(resolve: ContextResolver) -> dict[str, ContextResolver]:
    """Field metadata: ``resolve(obj, context)`` answers like the field's resolver, at once.

    The executor may then call it directly, without the per-field GraphQL machinery, when the
    field has no arguments, extensions or permission classes and a scalar or enum type.
    ``resolve`` must never wait: it returns the value the resolver would, or ``Undefined`` when
    that needs waiting (then the field takes the ordinary path). It must be safe to call twice
    for one object: the executor falls back to the ordinary path, which calls the resolver,
    for anything but a plain value (an error, null for a non-null field, ``Undefined``).
    """
    return {_CONTEXT_RESOLVER: resolve}


class _Plan(NamedTuple):
    """How to execute one object's field set; memoized per field set, like graphql-core does."""

    grouped_field_set: GroupedFieldSet  # kept alive: the memo is keyed on its identity
    parent_type: GraphQLObjectType
    #: Plain personal fields in the set, as the audit trail names them.
    audited: tuple[str, ...]
    #: (response name, attribute or context resolver, coercion, non-null) of the leaf fields
    #: read directly, in the set's order.
    direct: tuple[tuple[str, str | ContextResolver, Callable[[Any], Any], bool], ...]
    #: The other fields, for graphql-core; None when no field is read directly.
    others: GroupedFieldSet | None


class SchemaExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, auditing plain personal fields and reading leaves directly.

    **Auditing.** ``execute_fields`` runs once per object for the fields selected on it, after
    ``@skip``/``@include``, fragments and type conditions have been applied, on every path that
    returns the type (lists, ``node``, payloads, subscriptions, deferred fragments). A plain
    field is executed exactly when it is in that set, so noting the set here notes the same
    reads as a resolver per field would, with one call per object instead of one per field.

    **Direct leaves.** A scalar or enum field without arguments, extensions or permission
    classes that strawberry resolves with ``getattr`` (a plain attribute), or whose resolver is
    a :func:`context_resolver`, is read here directly and coerced as graphql-core would, without
    a path, resolve info, strawberry ``Info`` and resolver wrappers per field: most of the cost
    of a list of objects. Anything unusual (an exception, an awaitable, null for a non-null
    field, a failed coercion) sends the field through graphql-core's own ``execute_field``,
    which resolves it again and reports it exactly as before. With middleware in use (schema
    extensions with a ``resolve`` hook) every field takes the ordinary path.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plans: dict[int, _Plan] = {}
        middleware = self.middleware_manager
        self._direct = middleware is None or not middleware.middlewares
        self._with_context = isinstance(self.context_value, Context)

    def build_per_event_executor(self, payload: Any) -> SchemaExecutor:
        """A subscription event's executor, with memos of its own.

        graphql-core's per-event executor is a shallow copy sharing the memos of the
        subscription's, keyed on the identity of field groups that each event collects afresh:
        entries from one event never serve another, and shared they grew by some 50 objects an
        event for the life of the stream (a teacher's class: over a million objects in 30 s
        at 750 events/s, and garbage collections of half a second). An event's own memos still
        serve every object within it.
        """
        executor = cast(SchemaExecutor, super().build_per_event_executor(payload))  # a copy
        executor._relevant_sub_fields = {}
        executor._stream_usages = RefMap()
        executor._plans = {}
        executor._initial_execution_plans = RefMap()
        executor._deferred_execution_plans = RefMap()
        return executor

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet) -> _Plan:
        audited_fields = AUDITED_PLAIN_FIELDS.get(parent_type.name, {})
        audited: set[str] = set()
        direct: list[tuple[str, str | ContextResolver, Callable[[Any], Any], bool]] = []
        others: GroupedFieldSet = {}
        for response_name, field_details_list in grouped_field_set.items():
            node = field_details_list[0].node
            name = node.name.value
            if name in audited_fields:
                audited.add(audited_fields[name])
            leaf = (
                _direct_leaf(self.schema.get_field(parent_type, name), node)
                if self._direct
                else None
            )
            if leaf is not None and (isinstance(leaf[0], str) or self._with_context):
                direct.append((response_name, *leaf))
            else:
                others[response_name] = field_details_list
        return _Plan(
            grouped_field_set,
            parent_type,
            tuple(sorted(audited)),
            tuple(direct),
            others if direct else None,
        )

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        plan = self._plans.get(id(grouped_field_set))
        if plan is None or plan.parent_type is not parent_type:
            plan = self._plan(parent_type, grouped_field_set)
            self._plans[id(grouped_field_set)] = plan
        context = self.context_value
        if plan.audited and isinstance(context, Context):
            source_value.note_reads(context, plan.audited)
        others = plan.others
        if others is None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        values: dict[str, Any] = {}
        for response_name, resolve, coerce, non_null in plan.direct:
            value = _leaf_value(resolve, source_value, context, coerce, non_null)
            if value is Undefined:
                # graphql-core resolves it again and reports whatever is wrong, as it always has.
                if others is plan.others:
                    others = dict(others)
                others[response_name] = grouped_field_set[response_name]
            else:
                values[response_name] = value
        if not others:
            return values  # every field read directly: already in the set's order
        rest = super().execute_fields(parent_type, source_value, path, others, position_context)
        if isinstance(rest, dict):
            return _in_order(grouped_field_set, values, rest)

        async def merged(rest: Awaitable[dict[str, Any]]) -> dict[str, Any]:
            return _in_order(grouped_field_set, values, await rest)

        return merged(rest)


def _direct_leaf(
    field_def: GraphQLField | None, node: FieldNode
) -> tuple[str | ContextResolver, Callable[[Any], Any], bool] | None:
    """(attribute or context resolver, coercion, non-null) of a field read directly."""
    if field_def is None or field_def.args or node.arguments:
        return None
    field = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(field, StrawberryField) or field.extensions or field.permission_classes:
        return None
    resolve: str | ContextResolver | None = None
    if field.is_basic_field and field.default_resolver is getattr:
        resolve = field.python_name
    elif field.base_resolver is not None:
        resolve = field.metadata.get(_CONTEXT_RESOLVER)
    if resolve is None:
        return None
    field_type = field_def.type
    non_null = is_non_null_type(field_type)
    leaf = field_type.of_type if non_null else field_type  # type: ignore[union-attr]
    if not is_leaf_type(leaf):
        return None
    coerce: Callable[[Any], Any] = leaf.coerce_output_value
    return resolve, coerce, non_null


def _leaf_value(
    resolve: str | ContextResolver,
    source: Any,
    context: Any,
    coerce: Callable[[Any], Any],
    non_null: bool,
) -> Any:
    """The field's value as graphql-core would complete it; Undefined to leave it to it."""
    try:
        value = getattr(source, resolve) if isinstance(resolve, str) else resolve(source, context)
        if value is None:
            return Undefined if non_null else None
        if value is Undefined or isinstance(value, Exception):
            return Undefined
        if optimized_is_awaitable(value):
            if isinstance(value, Coroutine):
                value.close()  # never started; graphql-core's path makes its own
            return Undefined
        coerced = coerce(value)
    except Exception:
        return Undefined
    return Undefined if coerced is None else coerced


def _in_order(
    grouped_field_set: GroupedFieldSet, plain: dict[str, Any], rest: dict[str, Any]
) -> dict[str, Any]:
    # graphql-core leaves out fields it could not find: so must this.
    return {
        name: plain[name] if name in plain else rest[name]
        for name in grouped_field_set
        if name in plain or name in rest
    }


class AuditReads(SchemaExtension):
    """Write one audit event per operation for the learner fields it read.

    The event goes on the trail of the learners' school; a partner reading several schools'
    learners in one operation leaves one event on each of those schools' trails.
    """

    async def on_execute(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        if not isinstance(context, Context) or not context.reads:
            return
        for school_id, reads in sorted(context.take_reads().items()):
            await context.services.audit.record(
                entry_for(
                    context.viewer,
                    context.request,
                    "learner.read",
                    target_type="learner",
                    target_ids=sorted(reads.learners),
                    fields=sorted(reads.fields),
                    school_id=school_id,
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
    "ContextResolver",
    "DocumentLimits",
    "SchemaExecutor",
    "context_resolver",
    "should_mask_error",
]
