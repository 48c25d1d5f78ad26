"""Shared schema pieces: global ids, the Node interface, connections and UserError."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry
from tortoise.queryset import QuerySet

from app.errors import InvalidInput, NotFound
from resolvers.context import Context
from resolvers.pagination import Page
from schema.extensions import context_resolver

Info = strawberry.Info[Context, None]
T = TypeVar("T")
M = TypeVar("M")
MAX_ID_LENGTH = 100
MAX_INT_KEY = 2**31 - 1


def to_global_id(type_name: str, pk: object) -> strawberry.ID:
    return strawberry.ID(
        base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")
    )


def from_global_id(global_id: str, field: str = "id") -> tuple[str, str]:
    """(type name, key) of a global id; INVALID_INPUT naming ``field`` when it is malformed."""
    if len(global_id) > MAX_ID_LENGTH:
        raise InvalidInput(field, f"`{field}` is not a valid id.", reason="MALFORMED_ID")
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput(field, f"`{field}` is not a valid id.", reason="MALFORMED_ID") from None
    type_name, sep, key = raw.partition(":")
    if not sep or not type_name or not key:
        raise InvalidInput(field, f"`{field}` is not a valid id.", reason="MALFORMED_ID")
    return type_name, key


def parse_int_id(global_id: str, type_name: str, field: str = "id") -> int:
    kind, key = from_global_id(global_id, field)
    # A well-formed id of another type names nothing of this type: exactly like a random id.
    if kind != type_name:
        raise NotFound(f"{type_name} not found.")
    if not (key.isascii() and key.isdigit()) or len(key) > 18:
        raise InvalidInput(field, f"`{field}` is not a valid id.", reason="MALFORMED_ID")
    if int(key) > MAX_INT_KEY:
        raise NotFound(f"{type_name} not found.")
    return int(key)


def parse_uuid_id(global_id: str, type_name: str, field: str = "id") -> uuid.UUID:
    kind, key = from_global_id(global_id, field)
    if kind != type_name:
        raise NotFound(f"{type_name} not found.")
    try:
        return uuid.UUID(key)
    except ValueError:
        raise InvalidInput(field, f"`{field}` is not a valid id.", reason="MALFORMED_ID") from None


@strawberry.interface(description="An object with a stable, opaque global id.")
class Node:
    id: strawberry.ID = strawberry.field(description="Opaque global id; use with `node(id:)`.")


@strawberry.type(description="An input problem the user can correct.")
class UserError:
    field: str | None = strawberry.field(description="The input field at fault, if one is.")
    code: str = strawberry.field(description="Machine-readable reason, UPPER_SNAKE.")
    message: str = strawberry.field(description="A sentence to show the user.")

    @classmethod
    def from_exception(cls, error: InvalidInput) -> UserError:
        return cls(field=error.field, code=error.reason, message=error.message)


async def attempt(action: Callable[[], Awaitable[T]]) -> tuple[T | None, list[UserError]]:
    """Run a use-case; its expected input problems (ids included) become payload errors."""
    try:
        return await action(), []
    except InvalidInput as error:
        return None, [UserError.from_exception(error)]


@strawberry.type(description="Where a page sits in the whole list.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


def _edge_cursor(root: Edge[Any]) -> str:
    return root.cursor_text()


@strawberry.type(description="One item of a list, with the cursor to continue after it.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(
        resolver=_edge_cursor,
        metadata=context_resolver(lambda edge, _ctx: edge.cursor_text()),
    )
    node: T
    #: The cursor, or the page's cursors and this edge's place in them: a page encodes a
    #: row's cursor only when it is asked for.
    _cursor: strawberry.Private[str | None] = None
    _cursors: strawberry.Private[Sequence[str] | None] = None
    _index: strawberry.Private[int] = 0

    def cursor_text(self) -> str:
        if self._cursor is None:
            if self._cursors is None:
                raise RuntimeError("An edge was made without its cursor.")
            self._cursor = self._cursors[self._index]
        return self._cursor


@strawberry.type(description="A page of a list.")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    _query: strawberry.Private[QuerySet | None]  # type: ignore[type-arg]
    _total: strawberry.Private[int | None] = None

    @strawberry.field(description="The same nodes as `edges`, without cursors.")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]

    @strawberry.field(description="How many items the whole list holds (one extra query).")
    async def total_count(self) -> int:
        if self._total is not None or self._query is None:
            return self._total or 0
        return await self._query.count()

    @classmethod
    def from_page(cls, page: Page[Any], convert: Callable[[Any], T]) -> Connection[T]:
        cursors = page.cursors
        edges = [Edge(node=convert(r), _cursors=cursors, _index=i) for i, r in enumerate(page.rows)]
        return cls(
            edges=edges,
            _query=page.query,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=cursors[0] if cursors else None,
                end_cursor=cursors[-1] if cursors else None,
            ),
        )

    @classmethod
    def from_list(
        cls,
        rows: Sequence[M],
        key: Callable[[M], str],
        convert: Callable[[M], T],
        *,
        first: int | None,
        after: str | None,
        maximum: int,
    ) -> Connection[T]:
        """A page of an already-loaded list (DataLoader results), cursors as in ``paginate``."""
        from resolvers.pagination import page_size

        size = page_size(first, maximum)
        keys = [key(r) for r in rows]
        start = keys.index(after) + 1 if after in keys else 0
        if after is not None and after not in keys:
            # Unknown, or the item it named has left the list (an unenrolled learner).
            raise InvalidInput("after", "The cursor no longer points into this list; start again.")
        window = list(zip(rows[start : start + size], keys[start : start + size], strict=True))
        edges = [Edge(node=convert(r), _cursor=c) for r, c in window]
        return cls(
            edges=edges,
            _query=None,
            _total=len(rows),
            page_info=PageInfo(
                has_next_page=start + size < len(rows),
                has_previous_page=start > 0,
                start_cursor=edges[0].cursor_text() if edges else None,
                end_cursor=edges[-1].cursor_text() if edges else None,
            ),
        )


__all__ = [
    "Connection",
    "Edge",
    "Info",
    "Node",
    "PageInfo",
    "UserError",
    "attempt",
    "from_global_id",
    "parse_int_id",
    "parse_uuid_id",
    "to_global_id",
]
