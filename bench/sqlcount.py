"""Count the SQL statements Tortoise sends to the database while a block runs.

Every statement an ORM query, ``create`` or ``save`` sends goes through one of the client
methods in :data:`METHODS`. They are wrapped on the connection's class, the classes it inherits
them from and its subclasses, so statements run inside ``in_transaction()`` (a separate
transaction-wrapper client, e.g. the audit write) are counted too. Only the outermost call is
counted when one of these methods calls another. Transaction control (BEGIN, COMMIT) is not
counted: it is not a query, and it is the same for every page size.

Used by ``bench.queries`` and by tests that assert a query count is constant (no N+1).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from tortoise.connection import get_connection

#: The client methods that send SQL (tortoise/backends/base/client.py, sqlite and asyncpg).
METHODS = (
    "execute_insert",
    "execute_query",
    "execute_query_dict",
    "execute_query_dict_with_affected",
    "execute_many",
    "execute_script",
)

_inside: ContextVar[bool] = ContextVar("sqlcount_inside", default=False)


@dataclass(slots=True)
class QueryCount:
    """The statements sent so far in the block: ``count`` and their SQL text, in order."""

    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)

    def __str__(self) -> str:
        return "\n".join(f"{i:3}: {sql}" for i, sql in enumerate(self.statements, 1))


def _subclasses(cls: type[Any]) -> Iterator[type[Any]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _owners(client_class: type) -> set[tuple[type, str]]:
    """(class, method) pairs defining each method used by this client and its subclasses."""
    owners: set[tuple[type, str]] = set()
    for cls in (client_class, *_subclasses(client_class)):
        for name in METHODS:
            owner = next((k for k in cls.__mro__ if name in vars(k)), None)
            if owner is not None:
                owners.add((owner, name))
    return owners


def _counting(
    original: Callable[..., Awaitable[Any]], tally: QueryCount
) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(original)
    async def wrapper(self: object, query: str, *args: Any, **kwargs: Any) -> Any:
        if _inside.get():
            return await original(self, query, *args, **kwargs)
        tally.statements.append(query)
        token = _inside.set(True)
        try:
            return await original(self, query, *args, **kwargs)
        finally:
            _inside.reset(token)

    return wrapper


@contextmanager
def count_queries(connection_name: str = "default") -> Iterator[QueryCount]:
    """Count the statements sent through ``connection_name`` (and its transactions) meanwhile.

    Not re-entrant and not for concurrent use: it patches the client classes for the block.
    """
    tally = QueryCount()
    client_class = type(get_connection(connection_name))
    saved = [(owner, name, vars(owner)[name]) for owner, name in _owners(client_class)]
    try:
        for owner, name, original in saved:
            setattr(owner, name, _counting(original, tally))
        yield tally
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


__all__ = ["METHODS", "QueryCount", "count_queries"]
