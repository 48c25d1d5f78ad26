"""Where a request's credentials are: the Authorization header, or the session cookie."""

from __future__ import annotations

from collections.abc import Mapping

from app.config import Settings

SECURE_COOKIE = "__Host-sid"
PLAIN_COOKIE = "sid"


def cookie_name(settings: Settings) -> str:
    # Browsers only accept __Host- cookies marked Secure, which needs https.
    return SECURE_COOKIE if settings.secure_cookies else PLAIN_COOKIE


def bearer_token(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def request_token(
    settings: Settings, headers: Mapping[str, str], cookies: Mapping[str, str]
) -> str | None:
    """The bearer token if one is sent, else the session cookie."""
    return bearer_token(headers) or cookies.get(cookie_name(settings)) or None


def session_cookie(settings: Settings, token: str, max_age: int) -> str:
    """A Set-Cookie value: HttpOnly, SameSite=Strict, Path=/, no Domain, Secure over https."""
    parts = [
        f"{cookie_name(settings)}={token}",
        "Path=/",
        "HttpOnly",
        "SameSite=Strict",
        f"Max-Age={max_age}",
    ]
    if settings.secure_cookies:
        parts.append("Secure")
    return "; ".join(parts)


def clear_cookie(settings: Settings) -> str:
    return session_cookie(settings, "", 0)


__all__ = ["bearer_token", "clear_cookie", "cookie_name", "request_token", "session_cookie"]
