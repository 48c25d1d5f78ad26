"""The errors whose message and code are safe to show to clients.

Three kinds reach a client (DESIGN.md, Errors):

* expected input problems are *data*: use-cases raise :class:`InvalidInput`, and mutations turn it
  into a ``UserError`` in their payload;
* authentication, permission, not-found and rate limits are top-level GraphQL errors carrying
  ``extensions.code``: :class:`NotAuthenticated`, :class:`Forbidden`, :class:`NotFound`,
  :class:`RateLimited`;
* anything else is masked as "Unexpected error." and logged with the request id.
"""

from __future__ import annotations

from typing import ClassVar


class PublicError(Exception):
    """An error whose message and code are safe to show to clients."""

    code: ClassVar[str] = "BAD_REQUEST"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        # graphql-core copies `extensions` from the original error onto the GraphQLError.
        self.extensions: dict[str, object] = {"code": self.code}


class NotAuthenticated(PublicError):
    code = "UNAUTHENTICATED"

    def __init__(self, message: str = "Authentication required.") -> None:
        super().__init__(message)


class Forbidden(PublicError):
    code = "FORBIDDEN"

    def __init__(self, message: str = "Not allowed.") -> None:
        super().__init__(message)


class NotFound(PublicError):
    """Raised for missing objects *and* for objects outside the viewer's reach, identically."""

    code = "NOT_FOUND"

    def __init__(self, message: str = "Not found.") -> None:
        super().__init__(message)


class RateLimited(PublicError):
    code = "RATE_LIMITED"

    def __init__(
        self, retry_after: int, message: str = "Too many attempts; try again later."
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.extensions["retryAfter"] = retry_after


class Unavailable(PublicError):
    """A live stream lost its broker: the client should resubscribe (and re-query) later."""

    code = "UNAVAILABLE"

    def __init__(self, message: str = "Live updates are interrupted; resubscribe.") -> None:
        super().__init__(message)


class InvalidInput(PublicError):
    """Bad input: a mutation reports it as a ``UserError``; a query as a top-level error."""

    code = "INVALID_INPUT"

    def __init__(self, field: str | None, message: str, *, reason: str = "INVALID") -> None:
        super().__init__(message)
        self.field = field
        self.reason = reason
        self.extensions["field"] = field
        self.extensions["reason"] = reason


class ConfigurationError(Exception):
    """The process refuses to start: the message names the setting to fix."""


__all__ = [
    "ConfigurationError",
    "Forbidden",
    "InvalidInput",
    "NotAuthenticated",
    "NotFound",
    "PublicError",
    "RateLimited",
    "Unavailable",
]
