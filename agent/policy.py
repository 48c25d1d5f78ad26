"""Local policy checks: may the simulated device open this page or focus this app?"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

BLOCK_LIST = "BLOCK_LIST"
ALLOW_ONLY = "ALLOW_ONLY"


def normalise_domain(value: str) -> str:
    """``HTTPS://Www.Example.com:443/x`` -> ``www.example.com`` (the host, lower-cased, IDNA)."""
    text = value.strip().lower()
    host = (urlsplit(text if "//" in text else f"//{text}").hostname or "").strip(".")
    try:
        return host.encode("idna").decode("ascii") if host else ""
    except UnicodeError:
        return host


def normalise_url(value: str) -> str:
    """Scheme and host lower-cased, port dropped; the path keeps its case (as the server does)."""
    parts = urlsplit(value.strip())
    host = normalise_domain(parts.netloc.rsplit("@", 1)[-1]) if parts.netloc else ""
    rest = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return f"{parts.scheme.lower()}://{host}{rest}" if parts.scheme and host else value.strip()


def normalise_app(value: str) -> str:
    return " ".join(value.split()).casefold()


@dataclass(frozen=True, slots=True)
class Rules:
    """One side of a policy (allow or block): domains, URL prefixes and app names."""

    domains: frozenset[str] = frozenset()
    url_prefixes: tuple[str, ...] = ()
    apps: frozenset[str] = frozenset()

    @classmethod
    def of(cls, domains: Iterable[str], prefixes: Iterable[str], apps: Iterable[str]) -> Rules:
        return cls(
            domains=frozenset(d for d in map(normalise_domain, domains) if d),
            url_prefixes=tuple(sorted({normalise_url(p) for p in prefixes if p.strip()})),
            apps=frozenset(a for a in map(normalise_app, apps) if a),
        )

    def match_url(self, url: str) -> str | None:
        """The rule a URL falls under: its host equals or is a subdomain of one, or a prefix."""
        host = normalise_domain(url)
        for domain in self.domains:
            if host and (host == domain or host.endswith(f".{domain}")):
                return domain
        normal = normalise_url(url)
        return next((p for p in self.url_prefixes if normal.startswith(p)), None)

    def match_app(self, app: str) -> str | None:
        name = normalise_app(app)
        return name if name in self.apps else None


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    reason: str | None = None


ALLOWED = Verdict(True)


@dataclass(frozen=True, slots=True)
class LocalPolicy:
    """The latest policy the server pushed; the default allows everything."""

    version: str | None = None
    mode: str | None = None
    lesson_ends_at: datetime | None = None
    allow: Rules = field(default_factory=Rules)
    block: Rules = field(default_factory=Rules)

    @classmethod
    def from_payload(cls, data: Mapping[str, Any] | None) -> LocalPolicy:
        """Build from the ``policy`` object of a POLICY command; null clears the policy."""
        if not data:
            return cls()

        def strings(key: str) -> list[str]:
            values = data.get(key) or []
            if not isinstance(values, list):
                raise ValueError(f"policy.{key} must be a list")
            return [str(v) for v in values]

        ends = data.get("lessonEndsAt")
        mode = data.get("mode")
        if mode not in (None, BLOCK_LIST, ALLOW_ONLY):
            raise ValueError(f"unknown policy mode {mode!r}")
        return cls(
            version=None if data.get("version") is None else str(data["version"]),
            mode=mode,
            lesson_ends_at=datetime.fromisoformat(ends) if isinstance(ends, str) else None,
            allow=Rules.of(
                strings("allowDomains"), strings("allowUrlPrefixes"), strings("allowApps")
            ),
            block=Rules.of(
                strings("blockDomains"), strings("blockUrlPrefixes"), strings("blockApps")
            ),
        )

    def allow_only(self, now: datetime | None) -> bool:
        # Focus mode lapses with the lesson even if the server's follow-up policy is late;
        # block rules stay, since they include the school's standing rules.
        if self.mode != ALLOW_ONLY:
            return False
        ends = self.lesson_ends_at
        return ends is None or now is None or ends.tzinfo is None or now < ends

    def check(
        self, *, url: str | None = None, app: str | None = None, now: datetime | None = None
    ) -> Verdict:
        """Block rules always win; in ALLOW_ONLY mode a page (or, without one, an app) must
        be allowed. Mirrors the server's judgement so the teacher sees the same verdict."""
        hit = (self.block.match_url(url) if url else None) or (
            self.block.match_app(app) if app else None
        )
        if hit is not None:
            return Verdict(False, f"blocked: {hit}")
        if self.allow_only(now):
            if url and self.allow.match_url(url) is None:
                return Verdict(False, "not on the lesson's allowed sites")
            if not url and app and self.allow.match_app(app) is None:
                return Verdict(False, "not on the lesson's allowed apps")
        return ALLOWED


__all__ = [
    "ALLOWED",
    "ALLOW_ONLY",
    "BLOCK_LIST",
    "LocalPolicy",
    "Rules",
    "Verdict",
    "normalise_app",
    "normalise_domain",
    "normalise_url",
]
