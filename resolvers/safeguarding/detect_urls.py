"""Search queries decoded from search-engine URLs, and URLs made readable for scanning.

A search is the clearest statement of intent a pupil makes, so detection reports it as its own
source (``SEARCH``) rather than as part of a URL. Engines are matched by host; any other host
whose path looks like a search page is tried with the common parameter names.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote_plus, urlsplit

# (host pattern, query parameters in order of preference)
_ENGINES: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = tuple(
    (re.compile(host), params)
    for host, params in (
        (r"(^|\.)google(\.[a-z]{2,3}){1,2}$", ("q", "as_q")),
        (r"(^|\.)bing\.com$", ("q",)),
        (r"(^|\.)duckduckgo\.com$", ("q",)),
        (r"(^|\.)yahoo(\.[a-z]{2,3}){1,2}$", ("p", "q")),
        (r"(^|\.)youtube\.com$", ("search_query", "q")),
        (r"(^|\.)ecosia\.org$", ("q",)),
        (r"(^|\.)yandex(\.[a-z]{2,3}){1,2}$", ("text",)),
        (r"(^|\.)baidu\.com$", ("wd", "word")),
        (r"(^|\.)ask\.com$", ("q",)),
        (r"(^|\.)brave\.com$", ("q",)),
        (r"(^|\.)startpage\.com$", ("query", "q")),
        (r"(^|\.)qwant\.com$", ("q",)),
        (r"(^|\.)aol(\.[a-z]{2,3}){1,2}$", ("q",)),
        (r"(^|\.)kiddle\.co$", ("q",)),
        (r"(^|\.)swisscows\.com$", ("query",)),
        (r"(^|\.)dogpile\.com$", ("q",)),
        (r"(^|\.)(tiktok|reddit|x|twitter|pinterest|instagram)\.com$", ("q", "query")),
        (r"(^|\.)wikipedia\.org$", ("search",)),
    )
)
_GENERIC_PATH = re.compile(r"(^|/)(search|results|find)(/|$|\?|\.)", re.IGNORECASE)
_GENERIC_PARAMS = ("q", "query", "search_query", "search", "p", "text", "term", "k")


def _parameters(query: str) -> dict[str, list[str]]:
    return parse_qs(query, keep_blank_values=False)


def search_query(url: str) -> str | None:
    """The search terms in ``url`` when it is a search page, else None."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    if not host:
        return None
    params: tuple[str, ...] | None = None
    for pattern, names in _ENGINES:
        if pattern.search(host):
            params = names
            break
    if params is None:
        if not (host.startswith("search.") or _GENERIC_PATH.search(parts.path)):
            return None
        params = _GENERIC_PARAMS
    # Some engines keep the live query in the fragment (google.com/#q=...).
    for section in (parts.query, parts.fragment):
        values = _parameters(section)
        for name in params:
            for value in values.get(name, ()):
                if value.strip():
                    return value.strip()
    return None


def readable_url(url: str) -> str:
    """``url`` with percent-escapes and ``+`` decoded, so "how%20to%20..." reads as words."""
    return unquote_plus(url)


__all__ = ["readable_url", "search_query"]
