"""Keyset pagination with opaque cursors, bounded page sizes."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

from tortoise.exceptions import ValidationError
from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from app.errors import InvalidInput

M = TypeVar("M", bound=Model)
R = TypeVar("R")
DEFAULT_PAGE_SIZE = 50


class Cursors(Sequence[str]):
    """The cursors of a page's rows, each encoded when first asked for.

    Most pages are read for their rows and the last cursor only (``pageInfo.endCursor``).
    """

    __slots__ = ("_encoded", "_key", "_rows")

    def __init__(self, rows: Sequence[Any], key: Callable[[Any], Sequence[Any]]) -> None:
        self._rows = rows
        self._key = key
        self._encoded: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self._rows)
        cursor = self._encoded.get(index)
        if cursor is None:
            cursor = self._encoded[index] = encode_cursor(self._key(self._rows[index]))
        return cursor


@dataclass(frozen=True, slots=True)
class Page(Generic[R]):
    rows: list[R]
    cursors: Sequence[str]
    has_next_page: bool
    has_previous_page: bool
    #: The filtered query without the page window, for an on-demand ``totalCount``.
    query: QuerySet[Any]


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
    return await paginate_rows(
        query, order, key, _models, first=first, after=after, maximum=maximum
    )


async def paginate_rows(
    query: QuerySet[M],
    order: Sequence[str],
    key: Callable[[R], Sequence[Any]],
    fetch: Callable[[QuerySet[M]], Awaitable[list[R]]],
    *,
    first: int | None,
    after: str | None,
    maximum: int,
) -> Page[R]:
    """:func:`paginate`, with the page's rows loaded by ``fetch`` (e.g. without model objects)."""
    size = page_size(first, maximum)
    window = query
    if after is not None:
        values = decode_cursor(after, len(order))
        window = window.filter(_after(order, _typed(query, order, values)))
    rows = await fetch(window.order_by(*order).limit(size + 1))
    has_next = len(rows) > size
    rows = rows[:size]
    return Page(
        rows=rows,
        cursors=Cursors(rows, key),
        has_next_page=has_next,
        has_previous_page=after is not None,
        query=query,
    )


async def _models(window: QuerySet[M]) -> list[M]:
    return list(await window)


__all__ = [
    "DEFAULT_PAGE_SIZE",
    "Cursors",
    "Page",
    "decode_cursor",
    "encode_cursor",
    "page_size",
    "paginate",
    "paginate_rows",
]
