"""The graphql-transport-ws client's failures, and which close codes are worth retrying."""

from __future__ import annotations

from typing import Any

SUBPROTOCOL = "graphql-transport-ws"
#: Closes that mean the token was refused: retrying cannot help (graphql-platform.md §1).
REJECTED_CODES = frozenset({4403})
#: Closes that mean our own frames were wrong; retrying would repeat the bug.
CLIENT_BUG_CODES = frozenset({4400, 4401, 4406, 4409, 4429, 1002, 1003, 1007, 1010})
#: "Message too big": retried, with smaller batches (see ``Outbox.shrink``).
TOO_BIG = 1009


class ProtocolError(Exception):
    """Base of every failure this client reports; ``retryable`` tells the caller what to do."""

    retryable = True

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message if code is None else f"{message} (close {code})")
        self.code = code


class ConnectionLost(ProtocolError):
    """The socket is gone or never opened (network, server restart, 1006, 4500…): reconnect."""


class OperationTimeout(ProtocolError):
    """No answer in time; the socket may be half-dead, so callers reconnect."""


class OperationError(ProtocolError):
    """The server ended one operation with an ``error`` message or overflowed its queue."""

    def __init__(self, message: str, errors: list[Any] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class FatalError(ProtocolError):
    """Retrying cannot help: the caller must stop and say why."""

    retryable = False


class ConnectionRejected(FatalError):
    """The server refused our credentials (4403, or HTTP 401/403 on the handshake)."""


class ClientBug(FatalError):
    """The server says we broke the protocol (4400, 4401, 4409, 4429…) or the URL is wrong."""


def closed_error(code: int | None, reason: str = "") -> ProtocolError:
    """The exception a close with ``code`` stands for."""
    text = f"connection closed: {reason}" if reason else "connection closed"
    if code in REJECTED_CODES:
        return ConnectionRejected(f"token rejected: {reason or 'forbidden'}", code)
    if code in CLIENT_BUG_CODES:
        return ClientBug(text, code)
    return ConnectionLost(text, code if code is not None else 1006)


__all__ = [
    "CLIENT_BUG_CODES",
    "REJECTED_CODES",
    "SUBPROTOCOL",
    "TOO_BIG",
    "ClientBug",
    "ConnectionLost",
    "ConnectionRejected",
    "FatalError",
    "OperationError",
    "OperationTimeout",
    "ProtocolError",
    "closed_error",
]
