"""The detector: every rule matched in one compiled pass over the canonical text.

One combined pattern, a trie of the first two words of every rule behind a look-ahead, finds in
a single scan each word start where some rule can match; for most texts that scan finds nothing
and detection ends there. At the few positions it reports, only the rules of that position's
bucket (same first letters) are checked in full, which also tells which rules matched, and their
exclusions and context words are applied. Offsets map back to the original text only then, so
excerpts quote what the pupil typed, not the canonical form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from resolvers.safeguarding.detect_patterns import (
    bucket_key,
    prefixes,
    rule_keys,
    sequences,
    trie_source,
)
from resolvers.safeguarding.detect_urls import readable_url, search_query
from resolvers.safeguarding.normalise import padded, tracked
from resolvers.safeguarding.rules import Category, Rule

#: Where a match was found, in the order ``scan_event`` prefers them.
SOURCES = ("SEARCH", "TEXT", "TITLE", "URL")
EXCERPT_LENGTH = 100
#: Canonical characters either side of a match searched for exclusions and context words.
WINDOW = 60


@dataclass(frozen=True)
class Match:
    rule_id: str
    category: Category
    severity: int
    excerpt: str
    source: str


@lru_cache(maxsize=16384)
def _phrases_pattern(field: str, phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    """Any of ``phrases``, matched from the space before a word (shared by every detector)."""
    atoms = [a for phrase in phrases for a in sequences(field, phrase)]
    return re.compile(" (?:" + trie_source(dict.fromkeys(atoms)) + ")") if atoms else None


@lru_cache(maxsize=65536)
def _rule_start(phrase: str) -> tuple[frozenset[str], tuple[tuple[str, ...], ...]]:
    """A phrase's bucket keys and the prefixes the combined pass looks for (memoised: a school's
    detector is rebuilt whenever its rules change, from mostly the same phrases)."""
    return frozenset(rule_keys("phrase", phrase)), tuple(prefixes("phrase", phrase))


@lru_cache(maxsize=64)
def _combined(source: str) -> re.Pattern[str]:
    return re.compile(" (?=" + source + ")")


class _Compiled:
    """A rule with its bucket keys; its patterns are compiled the first time they are needed."""

    __slots__ = ("keys", "rule", "starts")

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.keys, self.starts = _rule_start(rule.phrase)

    @property
    def pattern(self) -> re.Pattern[str]:
        pattern = _phrases_pattern("phrase", (self.rule.phrase,))
        if pattern is None:  # sequences() refuses a phrase without words before this
            raise ValueError(f"rule {self.rule.id} has an empty phrase")
        return pattern

    @property
    def exclusions(self) -> re.Pattern[str] | None:
        return _phrases_pattern("exclusions", self.rule.exclusions)

    @property
    def context(self) -> re.Pattern[str] | None:
        return _phrases_pattern("context", self.rule.context)


def _window(canonical: str, start: int, end: int) -> tuple[int, int]:
    """Whole words within ``WINDOW`` characters of ``[start, end)``, as search bounds."""
    low = canonical.rfind(" ", 0, max(start - WINDOW, 0) + 1)
    high = canonical.find(" ", min(end + WINDOW, len(canonical) - 1)) + 1
    return low, high


def excerpt(original: str, start: int, end: int, length: int = EXCERPT_LENGTH) -> str:
    """About ``length`` characters of ``original`` around ``[start, end)``, cut between words."""
    room = max(0, length - (end - start))
    left = max(0, start - room // 2)
    right = min(len(original), end + room - (start - left))
    left = max(0, left - (room - (start - left) - (right - end)))
    if left > 0 and not original[left - 1].isspace():
        gap = next((i for i in range(left, start) if original[i].isspace()), None)
        left = start if gap is None else gap + 1
    if right < len(original) and not original[right].isspace():
        gap = next((i for i in range(right - 1, end - 1, -1) if original[i].isspace()), None)
        right = end if gap is None else gap
    return original[left:right].strip()


class Detector:
    """Matches a fixed set of rules; build once per rule set and share it (it keeps no state)."""

    def __init__(self, rules: Iterable[Rule], extra_exclusions: Iterable[str] = ()) -> None:
        self.rules = tuple(rules)
        self.extra_exclusions = tuple(extra_exclusions)
        buckets: dict[str, list[_Compiled]] = {}
        starts: list[tuple[str, ...]] = []
        for rule in self.rules:
            item = _Compiled(rule)
            for key in item.keys:
                buckets.setdefault(key, []).append(item)
            starts.extend(item.starts)
        self._buckets = buckets
        unique = list(dict.fromkeys(starts))
        self._combined = _combined(trie_source(unique)) if unique else None
        _phrases_pattern("exclusions", self.extra_exclusions)  # refuse bad ones now, not later

    def _candidates(self, canonical: str, at: int) -> Sequence[_Compiled]:
        key = bucket_key(canonical, at + 1)
        found = self._buckets.get(key, ())
        for size in range(1, len(key)):  # rules too short for a full key
            shorter = self._buckets.get(key[:size])
            if shorter:
                found = [*shorter, *found]
        return found

    def _cancelled(self, item: _Compiled, canonical: str, start: int, end: int) -> bool:
        low, high = _window(canonical, start, end)
        extra = _phrases_pattern("exclusions", self.extra_exclusions)
        for pattern in (item.exclusions, extra):
            if pattern is not None and pattern.search(canonical, low, high):
                return True
        context = item.context
        return context is not None and context.search(canonical, low, high) is None

    def scan(self, text: str, source: str = "TEXT") -> list[Match]:
        """Every rule matching ``text``, at most once each, in order of position."""
        if self._combined is None or not text:
            return []
        canonical = padded(text)
        earliest = self._combined.search(canonical)
        if earliest is None:  # the common case: no rule can match anywhere
            return []
        found: dict[str, tuple[int, int, Rule]] = {}
        for hit in self._combined.finditer(canonical, earliest.start()):
            at = hit.start()
            for item in self._candidates(canonical, at):
                if item.rule.id in found:
                    continue
                matched = item.pattern.match(canonical, at)
                if matched is None or self._cancelled(item, canonical, at + 1, matched.end() - 1):
                    continue
                found[item.rule.id] = (at + 1, matched.end() - 1, item.rule)
        if not found:
            return []
        offsets = tracked(text)
        matches = []
        for start, end, rule in sorted(found.values(), key=lambda f: (f[0], f[2].id)):
            first, last = offsets.original_span(start, end)
            matches.append(
                Match(rule.id, rule.category, rule.severity, excerpt(text, first, last), source)
            )
        return matches

    def scan_event(self, *, text: str | None, url: str | None, title: str | None) -> list[Match]:
        """One device event: the search terms in ``url`` (source SEARCH), the typed text, the page
        title and the URL itself; a rule found in several places is reported once, from the
        first of those."""
        inputs: list[tuple[str, str | None]] = []
        if url:
            inputs.append(("SEARCH", search_query(url)))
        inputs.extend([("TEXT", text), ("TITLE", title)])
        if url:
            inputs.append(("URL", readable_url(url)))
        seen: set[str] = set()
        matches: list[Match] = []
        for source, value in inputs:
            for match in self.scan(value, source) if value else ():
                if match.rule_id not in seen:
                    seen.add(match.rule_id)
                    matches.append(match)
        return matches


__all__ = ["EXCERPT_LENGTH", "SOURCES", "WINDOW", "Detector", "Match", "excerpt"]
