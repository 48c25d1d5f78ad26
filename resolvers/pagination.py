"""Keyset pagination with opaque cursors, bounded page sizes."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from tortoise.exceptions import ValidationError
from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from app.errors import InvalidInput

M = TypeVar("M", bound=Model)
DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class Page(Generic[M]):
    rows: list[M]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool
    #: The filtered query without the page window, for an on-demand ``totalCount``.
    query: QuerySet[M]


def encode_cursor(values: Sequence[Any]) -> str:
    text = json.dumps(
        [str(v) if not isinstance(v, (int, str)) or isinstance(v, bool) else v for v in values]
    )
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, width: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidInput("after", "The cursor is malformed.") from None
    if not isinstance(values, list) or len(values) != width:
        raise InvalidInput("after", "The cursor is malformed.")
    if not all(isinstance(v, (int, str)) and not isinstance(v, bool) for v in values):
        raise InvalidInput("after", "The cursor is malformed.")
    return values


_INT_RANGE = {"IntField": 2**31, "SmallIntField": 2**15, "BigIntField": 2**63}


def _typed(query: QuerySet[M], order: Sequence[str], values: Sequence[Any]) -> list[Any]:
    """Cursor values as the columns' own types: a forged cursor is bad input, not a 500."""
    fields = query.model._meta.fields_map
    typed = []
    for name, value in zip(order, values, strict=True):
        field = fields[name]
        try:
            converted = field.to_python_value(value)
            field.validate(converted)
        except (ValueError, TypeError, ValidationError):
            raise InvalidInput("after", "The cursor is malformed.") from None
        bound = _INT_RANGE.get(type(field).__name__)
        if bound is not None and not -bound <= converted < bound:
            raise InvalidInput("after", "The cursor is malformed.")
        typed.append(converted)
    return typed


def page_size(first: int | None, maximum: int) -> int:
    if first is None:
        return min(DEFAULT_PAGE_SIZE, maximum)
    if first < 0 or first > maximum:
        raise InvalidInput("first", f"`first` must be between 0 and {maximum}.")
    return first


def _after(order: Sequence[str], values: Sequence[Any]) -> Q:
    # (a, b, c) > (x, y, z)  ==  a > x  or  (a = x and b > y)  or  (a = x and b = y and c > z)
    clauses = []
    for i, name in enumerate(order):
        equal = {order[j]: values[j] for j in range(i)}
        clauses.append(Q(**equal, **{f"{name}__gt": values[i]}))
    return Q(*clauses, join_type="OR")


async def paginate(
    query: QuerySet[M],
    order: Sequence[str],
    key: Callable[[M], Sequence[Any]],
    *,
    first: int | None,
    after: str | None,
    maximum: int,
) -> Page[M]:
    """One page of ``query`` in ``order`` (ascending, unique on the last field) after a cursor.

    Keyset rather than OFFSET: a page costs the same however deep it is, and rows added while a
    client pages do not shift it.
    """
    size = page_size(first, maximum)
    window = query
    if after is not None:
        values = decode_cursor(after, len(order))
        window = window.filter(_after(order, _typed(query, order, values)))
    rows = list(await window.order_by(*order).limit(size + 1))
    has_next = len(rows) > size
    rows = rows[:size]
    return Page(
        rows=rows,
        cursors=[encode_cursor(key(row)) for row in rows],
        has_next_page=has_next,
        has_previous_page=after is not None,
        query=query,
    )


__all__ = ["DEFAULT_PAGE_SIZE", "Page", "decode_cursor", "encode_cursor", "page_size", "paginate"]
