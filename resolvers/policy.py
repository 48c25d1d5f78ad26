"""The access-policy engine: a device's effective policy, and judging activity against it.

Pure functions, no I/O: the ingest path calls :func:`judge` for every event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from app.errors import InvalidInput
from models.classroom import LessonMode, RuleKind

MAX_RULES = 200
MAX_RULE_LENGTH = 512
#: Kinds of activity that name a site or an app and so can be blocked.
JUDGED_KINDS = frozenset({"APP_FOCUS", "URL_VISIT", "SEARCH", "SCREENSHOT"})


def normalise_domain(value: str) -> str:
    """``HTTPS://Www.Example.com:443/x`` -> ``www.example.com``; IDNA for non-ASCII names.

    A leading ``*.`` is dropped: a domain rule already covers every subdomain.
    """
    text = value.strip().lower()
    if text.startswith("*."):
        text = text[2:]
    host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
    host = host.strip(".")
    try:
        return host.encode("idna").decode("ascii") if host else ""
    except UnicodeError:
        return host


def normalise_url(value: str) -> str:
    """Scheme and host lower-cased, default ports dropped; the path keeps its case."""
    parts = urlsplit(value.strip())
    host = normalise_domain(parts.netloc.rsplit("@", 1)[-1]) if parts.netloc else ""
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and (scheme, port) not in {("http", 80), ("https", 443)}:
        host = f"{host}:{port}"
    rest = parts.path or "/"
    if parts.query:
        rest += f"?{parts.query}"
    return f"{scheme}://{host}{rest}" if scheme and host else value.strip()


def normalise_app(value: str) -> str:
    return " ".join(value.split()).casefold()


@dataclass(frozen=True, slots=True)
class RuleSet:
    domains: frozenset[str] = frozenset()
    url_prefixes: tuple[str, ...] = ()
    apps: frozenset[str] = frozenset()

    @classmethod
    def of(cls, rules: Mapping[str, Iterable[str]]) -> RuleSet:
        return cls(
            domains=frozenset(normalise_domain(d) for d in rules.get(RuleKind.DOMAIN, ()) if d),
            url_prefixes=tuple(
                sorted({normalise_url(u) for u in rules.get(RuleKind.URL_PREFIX, ())})
            ),
            apps=frozenset(normalise_app(a) for a in rules.get(RuleKind.APP, ()) if a),
        )

    def as_lists(self) -> dict[str, list[str]]:
        return {
            RuleKind.DOMAIN: sorted(self.domains),
            RuleKind.URL_PREFIX: list(self.url_prefixes),
            RuleKind.APP: sorted(self.apps),
        }

    def matches_host(self, host: str) -> str | None:
        # The host and each parent domain, not each rule: a list may hold hundreds of sites.
        name = host
        while name:
            if name in self.domains:
                return name
            name = name.partition(".")[2]
        return None

    def matches_url(self, url: str) -> str | None:
        if not (self.domains or self.url_prefixes):
            return None  # most sets most of the time: no lesson, no school list
        host = normalise_domain(url)
        domain = self.matches_host(host) if host else None
        if domain is not None:
            return domain
        normal = normalise_url(url)
        return next((p for p in self.url_prefixes if normal.startswith(p)), None)

    def matches_app(self, app: str) -> str | None:
        name = normalise_app(app)
        return name if name in self.apps else None


@dataclass(frozen=True, slots=True)
class Policy:
    """What a device may do now: the school's locked rules plus, during a lesson, its rules."""

    locked: RuleSet = field(default_factory=RuleSet)
    mode: LessonMode | None = None
    allow: RuleSet = field(default_factory=RuleSet)
    block: RuleSet = field(default_factory=RuleSet)
    lesson_id: int | None = None
    ends_at: datetime | None = None

    @property
    def version(self) -> str:
        """Changes whenever anything a device enforces changes."""
        body = json.dumps(
            [
                self.locked.as_lists(),
                self.mode,
                self.allow.as_lists(),
                self.block.as_lists(),
                self.lesson_id,
                self.ends_at.isoformat() if self.ends_at else None,
            ],
            sort_keys=True,
        )
        return hashlib.sha256(body.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Verdict:
    blocked: bool
    reason: str | None = None


ALLOWED = Verdict(False)


def effective_policy(
    school_rules: Iterable[tuple[str, str]],
    lesson_mode: LessonMode | None = None,
    lesson_rules: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
    *,
    lesson_id: int | None = None,
    ends_at: datetime | None = None,
) -> Policy:
    locked: dict[str, list[str]] = {}
    for kind, value in school_rules:
        locked.setdefault(kind, []).append(value)
    rules = lesson_rules or {}
    return Policy(
        locked=RuleSet.of(locked),
        mode=lesson_mode,
        allow=RuleSet.of(rules.get("allow", {})),
        block=RuleSet.of(rules.get("block", {})),
        lesson_id=lesson_id,
        ends_at=ends_at,
    )


def judge(policy: Policy, kind: str, *, url: str | None = None, app: str | None = None) -> Verdict:
    """Whether one activity event breaks the policy, and which rule it breaks."""
    if kind not in JUDGED_KINDS or not (url or app):
        return ALLOWED
    for rules, label in ((policy.locked, "school rule"), (policy.block, "lesson rule")):
        hit = (rules.matches_url(url) if url else None) or (rules.matches_app(app) if app else None)
        if hit is not None:
            return Verdict(True, f"{label}: {hit}")
    if policy.mode is LessonMode.ALLOW_ONLY:
        # In focus mode a page must be allowed; an app without a page must be allowed itself.
        if url:
            if policy.allow.matches_url(url) is None:
                return Verdict(True, "not on the lesson's allowed sites")
        elif app and policy.allow.matches_app(app) is None:
            return Verdict(True, "not on the lesson's allowed apps")
    return ALLOWED


def validated_rules(field_name: str, values: Sequence[str], kind: RuleKind) -> list[str]:
    """Normalised rule values; INVALID_INPUT naming the field for anything unusable."""
    if len(values) > MAX_RULES:
        raise InvalidInput(field_name, f"At most {MAX_RULES} entries in `{field_name}`.")
    cleaned = []
    for i, value in enumerate(values):
        where = f"{field_name}.{i}"
        if not value.strip() or len(value) > MAX_RULE_LENGTH:
            raise InvalidInput(where, f"`{where}` must be 1 to {MAX_RULE_LENGTH} characters.")
        if kind is RuleKind.DOMAIN:
            normal = normalise_domain(value)
            if "." not in normal or " " in normal:
                raise InvalidInput(where, f"`{where}` must be a domain like example.com.")
        elif kind is RuleKind.URL_PREFIX:
            normal = normalise_url(value)
            if not normal.startswith(("http://", "https://")):
                raise InvalidInput(where, f"`{where}` must start with http:// or https://.")
        else:
            normal = normalise_app(value)
        cleaned.append(normal)
    return sorted(set(cleaned))


__all__ = [
    "ALLOWED",
    "JUDGED_KINDS",
    "Policy",
    "RuleSet",
    "Verdict",
    "effective_policy",
    "judge",
    "normalise_app",
    "normalise_domain",
    "normalise_url",
    "validated_rules",
]
