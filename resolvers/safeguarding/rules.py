"""Detection rules: the UK monitoring categories, rule validation, and the built-in libraries.

A rule is a phrase in one category with a severity from 1 (low) to 5 (most serious), optional
exclusions (phrases that cancel a match when they occur around it, such as "kill the process")
and optional context (words of which at least one must occur around an ambiguous phrase). The
built-in libraries ship as one TOML file per category in ``library/``; every file declares
:data:`LIBRARY_VERSION`, which changes whenever a rule does, so alerts can name the list that
raised them. Schools add rules through :func:`parse_rule`, which refuses bad input by field.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

from app.errors import InvalidInput
from resolvers.safeguarding.detect_patterns import sequences

LIBRARY_VERSION = "2026.11.4"
MIN_SEVERITY = 1
MAX_SEVERITY = 5
MAX_RULE_ID_LENGTH = 64
MAX_LIST_LENGTH = 50
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_.:-]*$")
_FIELDS = {"id", "category", "severity", "phrase", "exclusions", "context"}


class Category(StrEnum):
    """The UK Safer Internet Centre monitoring categories (DESIGN.md, Detection)."""

    ILLEGAL = "ILLEGAL"
    BULLYING = "BULLYING"
    CHILD_SEXUAL_EXPLOITATION = "CHILD_SEXUAL_EXPLOITATION"
    DISCRIMINATION = "DISCRIMINATION"
    DRUGS = "DRUGS"
    EXTREMISM = "EXTREMISM"
    GAMBLING = "GAMBLING"
    PORNOGRAPHY = "PORNOGRAPHY"
    SELF_HARM = "SELF_HARM"
    SUICIDE = "SUICIDE"
    VIOLENCE = "VIOLENCE"


@dataclass(frozen=True)
class Rule:
    id: str
    category: Category
    severity: int
    phrase: str
    exclusions: tuple[str, ...] = ()
    context: tuple[str, ...] = ()


def parse_category(field: str, value: object) -> Category:
    """``value`` as a :class:`Category` (any letter case); refuses anything else by name."""
    if isinstance(value, Category):
        return value
    if isinstance(value, str):
        try:
            return Category(value.strip().upper())
        except ValueError:
            pass
    allowed = ", ".join(c.value for c in Category)
    raise InvalidInput(field, f"`{field}` must be one of {allowed}; got {value!r}.")


def parse_severity(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, f"`{field}` must be a whole number from 1 to 5.")
    if not MIN_SEVERITY <= value <= MAX_SEVERITY:
        raise InvalidInput(
            field,
            f"`{field}` must be from {MIN_SEVERITY} (low) to {MAX_SEVERITY} (most serious); "
            f"got {value}.",
            reason="OUT_OF_RANGE",
        )
    return value


def parse_rule_id(field: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, f"`{field}` must not be blank.", reason="REQUIRED")
    cleaned = value.strip()
    if len(cleaned) > MAX_RULE_ID_LENGTH or not _RULE_ID.match(cleaned):
        raise InvalidInput(
            field,
            f"`{field}` must be at most {MAX_RULE_ID_LENGTH} lower-case letters, digits and "
            "`. _ : -`, starting with a letter or digit.",
        )
    return cleaned


def parse_phrase(field: str, value: object) -> str:
    """A phrase in the phrase syntax (see ``detect_patterns``), checked by compiling it."""
    if not isinstance(value, str):
        raise InvalidInput(field, f"`{field}` must be text.")
    cleaned = " ".join(value.split())
    sequences(field, cleaned)
    return cleaned


def parse_phrases(field: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InvalidInput(field, f"`{field}` must be a list of phrases.")
    if len(value) > MAX_LIST_LENGTH:
        raise InvalidInput(
            field, f"`{field}` may hold at most {MAX_LIST_LENGTH} phrases.", reason="TOO_LONG"
        )
    out: list[str] = []
    for index, item in enumerate(value):
        phrase = parse_phrase(f"{field}[{index}]", item)
        if phrase not in out:
            out.append(phrase)
    return tuple(out)


def parse_rule(data: Mapping[str, object], *, category: object = None) -> Rule:
    """A validated :class:`Rule` from plain data (a TOML table, a GraphQL input as a dict).

    ``category`` is the default when ``data`` names none (a category's library file)."""
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise InvalidInput(unknown[0], f"Unknown rule field `{unknown[0]}`.")
    chosen = data.get("category", category)
    if chosen is None:
        raise InvalidInput("category", "`category` is required.", reason="REQUIRED")
    if "severity" not in data:
        raise InvalidInput("severity", "`severity` is required.", reason="REQUIRED")
    return Rule(
        id=parse_rule_id("id", data.get("id")),
        category=parse_category("category", chosen),
        severity=parse_severity("severity", data["severity"]),
        phrase=parse_phrase("phrase", data.get("phrase", "")),
        exclusions=parse_phrases("exclusions", data.get("exclusions")),
        context=parse_phrases("context", data.get("context")),
    )


def parse_library(name: str, text: str) -> tuple[Rule, ...]:
    """The rules of one library file; errors name the file, the rule and the field."""
    data = tomllib.loads(text)
    if data.get("version") != LIBRARY_VERSION:
        raise ValueError(f"{name}: version {data.get('version')!r} is not {LIBRARY_VERSION!r}")
    category = parse_category("category", data.get("category"))
    rules: list[Rule] = []
    for index, table in enumerate(data.get("rules", [])):
        try:
            rule = parse_rule(table, category=category)
        except InvalidInput as error:
            raise ValueError(f"{name}: rule {index + 1}: {error.message}") from error
        if rule.category is not category or not rule.id.startswith(f"{category.lower()}."):
            raise ValueError(f"{name}: rule {rule.id} does not belong to {category}")
        rules.append(rule)
    return tuple(rules)


@cache
def builtin_rules() -> tuple[Rule, ...]:
    """Every built-in rule, in category then file order (read once per process)."""
    folder = resources.files(__package__).joinpath("library")
    rules: list[Rule] = []
    for category in Category:
        name = f"{category.lower()}.toml"
        rules.extend(parse_library(name, folder.joinpath(name).read_text(encoding="utf-8")))
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise ValueError(f"duplicate built-in rule id {rule.id}")
        seen.add(rule.id)
    return tuple(rules)


__all__ = [
    "LIBRARY_VERSION",
    "MAX_SEVERITY",
    "MIN_SEVERITY",
    "Category",
    "Rule",
    "builtin_rules",
    "parse_category",
    "parse_library",
    "parse_phrase",
    "parse_phrases",
    "parse_rule",
    "parse_rule_id",
    "parse_severity",
]
