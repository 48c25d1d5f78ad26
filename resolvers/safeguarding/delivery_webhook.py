"""Signed webhooks: a JSON POST naming the alert, never its evidence.

Every request carries ``X-PupilProgress-Signature: t=<unix seconds>,v1=<hex>``, where the hex is
HMAC-SHA256 under the endpoint's secret of ``"<t>.<raw body>"`` (Stripe's scheme). A receiver
recomputes it over the raw bytes, compares in constant time, and refuses a ``t`` more than
:data:`REPLAY_WINDOW` seconds from its own clock, so a captured request cannot be replayed later.
``X-PupilProgress-Delivery`` is the same on every retry of one message: receivers de-duplicate
on it (delivery is at least once).

After a secret is rotated the header carries one ``v1=`` per signing secret, the new one first
(``t=<t>,v1=<new>,v1=<previous>``) for a grace period: a receiver accepts the request when any
``v1`` matches a secret it holds, so it may switch to the new secret at any time in that period.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http.client
import json
import secrets
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from resolvers.safeguarding.delivery_email import AlertNotice, DeliveryError

SIGNATURE_HEADER = "X-PupilProgress-Signature"
DELIVERY_HEADER = "X-PupilProgress-Delivery"
#: Seconds a receiver should accept between the signed timestamp and its own clock.
REPLAY_WINDOW = 300
TIMEOUT_SECONDS = 10.0
SECRET_PREFIX = "whsec_"  # noqa: S105 - a label in front of each random secret


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    return signatures([secret], body, timestamp)


def signatures(secrets: Sequence[str], body: bytes, timestamp: int) -> str:
    """The header's value signed by each of ``secrets``, in order, under one timestamp."""
    signed = str(timestamp).encode() + b"." + body
    digests = (hmac.new(s.encode(), signed, hashlib.sha256).hexdigest() for s in secrets)
    return ",".join([f"t={timestamp}", *(f"v1={d}" for d in digests)])


def verify(secret: str, header: str, body: bytes, now: int, tolerance: int = REPLAY_WINDOW) -> bool:
    """What a receiver does: True when ``header`` signs ``body`` and is recent enough."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, body, timestamp).partition(",v1=")[2]
    return any(hmac.compare_digest(expected, given) for given in parts.get("v1", []))


def body_for(notice: AlertNotice, delivery_id: int, event: str) -> bytes:
    """The JSON body: the alert's id, category, severity and time, and where to review it."""
    document = {
        "type": event,
        "deliveryId": delivery_id,
        "alert": {
            "id": notice.alert_ref,
            "category": notice.category,
            "severity": notice.severity,
            "createdAt": notice.at.isoformat(),
            "escalationStep": notice.escalation_step,
            "url": notice.link,
        },
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    status: int


def _post_now(url: str, body: bytes, headers: dict[str, str], timeout: float) -> WebhookResponse:
    parts = urlsplit(url)
    host = parts.hostname or ""
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            host, parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    elif parts.scheme == "http":
        connection = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    else:
        raise DeliveryError("webhook URL must be http:// or https://")
    try:
        # http.client follows no redirects: a receiver cannot bounce the alert elsewhere.
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)
        return WebhookResponse(response.status)
    except (OSError, http.client.HTTPException) as error:
        raise DeliveryError(f"webhook: {type(error).__name__}: {error}"[:400]) from None
    finally:
        connection.close()


async def post_webhook(
    url: str,
    secrets: Sequence[str],
    body: bytes,
    *,
    delivery_id: int,
    now: int,
    seconds: float = TIMEOUT_SECONDS,
) -> None:
    """POST ``body`` signed at ``now`` by each secret; :class:`DeliveryError` unless 2xx."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "PupilProgress-Webhooks/1",
        SIGNATURE_HEADER: signatures(secrets, body, now),
        DELIVERY_HEADER: str(delivery_id),
    }
    response = await asyncio.to_thread(_post_now, url, body, headers, seconds)
    if not 200 <= response.status < 300:
        raise DeliveryError(f"webhook answered HTTP {response.status}")


__all__ = [
    "DELIVERY_HEADER",
    "REPLAY_WINDOW",
    "SIGNATURE_HEADER",
    "body_for",
    "new_secret",
    "post_webhook",
    "signature",
    "signatures",
    "verify",
]
