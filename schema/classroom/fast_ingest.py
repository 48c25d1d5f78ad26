"""``reportActivity`` without GraphQL execution, for the document device agents send.

Devices send one mutation document (docs/agent-protocol.md) hundreds of times a second, and
graphql-core's variable coercion, strawberry's argument conversion and result completion cost
more than the ingest itself. A document of exactly that shape is recognised once per text
(parsed, matched, validated against the schema) and then answered here: the variables are
coerced by GraphQL's rules for ``ReportActivityInput``, the same use case runs with the same
context, and the payload is built with the schema's own serialisers in the selection's order.

Anything this cannot answer exactly as GraphQL would goes through GraphQL: any other document,
an operation name that does not match, and every input GraphQL would refuse (a missing or
unknown field, a wrong type, an unknown kind, a bad timestamp), so input errors keep
graphql-core's messages. The decision is made before the use case runs, so nothing runs twice.
An error the use case raises is located, logged and masked as the schema does for a resolver.
tests/classroom/test_ingest_fast_path.py compares both paths byte for byte.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from dateutil import tz  # type: ignore[import-untyped]  # strawberry's DateTime parser
from graphql import GraphQLSchema, located_error
from strawberry import Schema
from strawberry.extensions import MaskErrors
from strawberry.types.execution import ExecutionResult

from resolvers import ingest
from resolvers.context import Context
from schema.classroom.report_document import (
    EXPECTED_TYPES,
    FIELD,
    Leaves,
    ReportShape,
    recognise,
    schema_as_expected,
)
from schema.common import attempt
from schema.extensions import should_mask_error

_EVENT_FIELDS = frozenset(EXPECTED_TYPES["ActivityEventInput"])
_OPTIONAL = ("app", "url", "title", "text", "thumbnail")
_REQUIRED = frozenset({"eventId", "occurredAt", "kind"})
_MAX_TEXT = 4096
_MAX_ENTRIES = 32
#: ``occurredAt`` as agents write it (``datetime.isoformat()``, or ``Z``): read without dateutil.
_STAMP = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?)(Z|[+-][0-9]{2}:[0-9]{2})"
)
#: Timestamps whose reading by the DateTime scalar :func:`quick_time` must equal exactly.
TIME_PROBES = (
    "2026-11-28T10:15:02Z",
    "2026-11-28T10:15:02.5+00:00",
    "2026-11-28T10:15:02.123456-00:00",
    "2026-11-28T10:15:02.12+01:30",
    "2026-11-28T23:59:59-11:45",
)


@dataclass(frozen=True, slots=True)
class PreparedReport:
    shape: ReportShape
    events: list[ingest.ActivityInput]


class FastReports:
    """Recognises the reporting document and answers it without GraphQL execution."""

    def __init__(self, schema: Schema, *, max_chars: int = _MAX_TEXT, max_tokens: int = 1000):
        self._schema = schema
        self._graphql: GraphQLSchema = schema._schema
        self._max_chars = min(max_chars, _MAX_TEXT)
        self._max_tokens = max_tokens
        self._shapes: OrderedDict[str, ReportShape | None] = OrderedDict()
        self._lock = threading.Lock()
        self._masker = MaskErrors(should_mask_error=should_mask_error)
        #: Reports answered here (the rest went through GraphQL): for tests and metrics.
        self.answered = 0
        self.enabled = schema_as_expected(self._graphql)
        if self.enabled:
            date_time = self._graphql.get_type("DateTime")
            kinds = self._graphql.get_type("ActivityKind")
            self._parse_time: Callable[[Any], Any] = date_time.parse_value  # type: ignore[union-attr]
            #: dateutil is what strawberry's DateTime scalar parses with; if that changes,
            #: every timestamp goes to the scalar's own parser.
            self._quick_time = all(
                _same_time(quick_time(p), self._parse_time(p)) for p in TIME_PROBES
            )
            self._kinds: dict[str, str] = {
                name: _enum_text(kinds.parse_value(name))  # type: ignore[union-attr]
                for name in kinds.values  # type: ignore[union-attr]
            }

    # --- recognising -------------------------------------------------------------------------

    def shape(self, query: str) -> ReportShape | None:
        """The shape of ``query`` if it is a reporting document this module answers."""
        if not self.enabled or len(query) > self._max_chars or FIELD not in query:
            return None
        with self._lock:
            if query in self._shapes:
                self._shapes.move_to_end(query)
                return self._shapes[query]
        shape = recognise(self._graphql, query, self._max_tokens)
        with self._lock:
            self._shapes[query] = shape
            while len(self._shapes) > _MAX_ENTRIES:
                self._shapes.popitem(last=False)
        return shape

    # --- coercing ----------------------------------------------------------------------------

    def prepare(
        self, query: Any, variables: Any, operation_name: Any = None
    ) -> PreparedReport | None:
        """The report to answer here, or None: then GraphQL answers it (nothing has run)."""
        if not isinstance(query, str):
            return None
        shape = self.shape(query)
        if shape is None or (operation_name is not None and operation_name != shape.operation_name):
            return None
        if not isinstance(variables, dict):
            return None
        events = self._events(variables.get(shape.variable))
        return None if events is None else PreparedReport(shape, events)

    def _events(self, value: Any) -> list[ingest.ActivityInput] | None:
        """GraphQL's coercion of a ``ReportActivityInput``; None wherever GraphQL would refuse
        it (or would coerce in a way not mirrored here, like a lone item for a list)."""
        if type(value) is not dict or len(value) != 1 or type(value.get("events")) is not list:
            return None
        events: list[ingest.ActivityInput] = []
        kinds, parse_time, quick = self._kinds, self._parse_time, self._quick_time
        for item in value["events"]:
            if type(item) is not dict or not _REQUIRED <= item.keys() <= _EVENT_FIELDS:
                return None
            event_id, kind = item["eventId"], item["kind"]
            if type(event_id) is not str or type(kind) is not str or kind not in kinds:
                return None
            optional = [item.get(name) for name in _OPTIONAL]
            if any(v is not None and type(v) is not str for v in optional):
                return None
            stamp = item["occurredAt"]
            occurred_at = quick_time(stamp) if quick and type(stamp) is str else None
            if occurred_at is None:
                try:
                    occurred_at = parse_time(stamp)
                except Exception:  # any refusal is GraphQL's to word
                    return None
            events.append(ingest.ActivityInput(event_id, occurred_at, kinds[kind], *optional))
        return events

    # --- answering ---------------------------------------------------------------------------

    async def execute(self, report: PreparedReport, context: Context) -> ExecutionResult:
        """What ``schema.execute`` would answer for the report (the use case runs once)."""
        self.answered += 1
        try:
            results, errors = await attempt(lambda: ingest.report_activity(context, report.events))
        except Exception as error:
            return self._failed(report.shape, error)
        items: dict[str, list[Any]] = {"results": results or [], "errors": errors}
        payload = {
            name: [_item(item, leaves) for item in items[name]]
            for name, leaves in report.shape.selections
        }
        return ExecutionResult(data={FIELD: payload}, errors=None)

    def _failed(self, shape: ReportShape, error: Exception) -> ExecutionResult:
        # As graphql-core reports a resolver's exception on a non-null root field (data null),
        # then the schema logs it and MaskErrors hides what is not public.
        located = located_error(error, [shape.field], [FIELD])
        self._schema.process_errors([located])
        masker = self._masker
        shown = masker.anonymise_error(located) if masker.should_mask_error(located) else located
        return ExecutionResult(data=None, errors=[shown])


def quick_time(text: str) -> datetime | None:
    """``text`` as the DateTime scalar (dateutil's ``isoparse``) reads it, equal down to the
    time zone object, when it has the usual ISO 8601 form; None for anything else."""
    match = _STAMP.fullmatch(text)
    if match is None:
        return None
    try:
        naive = datetime.fromisoformat(match[1])
    except ValueError:  # e.g. 24:00, which dateutil reads as the next midnight
        return None
    zone = match[2]
    if zone == "Z":
        return naive.replace(tzinfo=tz.UTC)
    hours, minutes = int(zone[1:3]), int(zone[4:6])
    if hours > 23 or minutes > 59:
        return None
    offset = (hours * 60 + minutes) * 60 * (-1 if zone[0] == "-" else 1)
    return naive.replace(tzinfo=tz.tzoffset(None, offset) if offset else tz.UTC)


def _same_time(quick: datetime | None, parsed: Any) -> bool:
    return (
        isinstance(parsed, datetime)
        and quick == parsed
        and quick.utcoffset() == parsed.utcoffset()
        and type(quick.tzinfo) is type(parsed.tzinfo)
    )


def _item(item: Any, leaves: Leaves) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, attribute, serialise in leaves:
        value = getattr(item, attribute)
        out[key] = None if value is None else serialise(value)
    return out


def _enum_text(value: Any) -> str:
    return str(value.value if isinstance(value, Enum) else value)


__all__ = ["FastReports", "PreparedReport", "quick_time"]
