"""graphql-transport-ws message shapes and close codes (enisdenjo/graphql-ws PROTOCOL.md)."""

from __future__ import annotations

import json
from typing import Any

from graphql import GraphQLError

PROTOCOL = "graphql-transport-ws"

BAD_REQUEST = 4400
UNAUTHORIZED = 4401
FORBIDDEN = 4403
SUBPROTOCOL_NOT_ACCEPTABLE = 4406
INIT_TIMEOUT = 4408
SUBSCRIBER_EXISTS = 4409
TOO_MANY_INITS = 4429
MESSAGE_TOO_BIG = 1009
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
GOING_AWAY = 1001


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def next_prefix(operation_id: str) -> str:
    """Everything of a `next` frame before its payload: built once per subscriber, so a shared
    payload serialised once becomes each subscriber's frame by concatenation."""
    return '{"type":"next","id":' + dumps(operation_id) + ',"payload":'


def next_frame(operation_id: str, payload: dict[str, Any]) -> str:
    return next_prefix(operation_id) + dumps(payload) + "}"


def error_frame(operation_id: str, errors: list[dict[str, Any]]) -> str:
    return dumps({"type": "error", "id": operation_id, "payload": errors})


def complete_frame(operation_id: str) -> str:
    return dumps({"type": "complete", "id": operation_id})


def public_error(message: str, code: str) -> dict[str, Any]:
    return GraphQLError(message, extensions={"code": code}).formatted  # type: ignore[return-value]


def result_payload(result: Any) -> dict[str, Any]:
    """An ExecutionResult as the `next` payload: data, then errors and extensions if any."""
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [e.formatted for e in result.errors]
    extensions = getattr(result, "extensions", None)
    if extensions:
        payload["extensions"] = extensions
    return payload


__all__ = [
    "BAD_REQUEST",
    "FORBIDDEN",
    "GOING_AWAY",
    "INIT_TIMEOUT",
    "MESSAGE_TOO_BIG",
    "POLICY_VIOLATION",
    "PROTOCOL",
    "SUBPROTOCOL_NOT_ACCEPTABLE",
    "SUBSCRIBER_EXISTS",
    "TOO_MANY_INITS",
    "TRY_AGAIN_LATER",
    "UNAUTHORIZED",
    "complete_frame",
    "dumps",
    "error_frame",
    "next_frame",
    "next_prefix",
    "public_error",
    "result_payload",
]
