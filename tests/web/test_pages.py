"""The dashboards as files: served by the platform, under a strict CSP, with no inline code,
no third-party address and nothing outside their folder reachable. No browser needed."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser

import httpx2
import pytest

from app.http import DASHBOARD_CSP
from app.main import create_app
from app.web.routes import PAGES, STATIC_DIR
from resolvers.context import Services
from tests.conftest import TEST_IP

STATIC_FILES = sorted(p.name for p in STATIC_DIR.iterdir() if p.is_file())
HTML_FILES = [name for name in STATIC_FILES if name.endswith(".html")]
TEXT_FILES = [name for name in STATIC_FILES if name.endswith((".html", ".js", ".css", ".svg"))]
JS_IMPORT = re.compile(r"""^\s*import\b[^'"]*['"]([^'"]+)['"]""", re.MULTILINE)
#: An address with a host: every request must go to the page's own origin.
ABSOLUTE_URL = re.compile(
    r"""(?:https?:|wss?:)?//[a-z0-9][a-z0-9.-]*\.[a-z][^\s"'`)]*""", re.IGNORECASE
)
#: Not a request: the SVG namespace.
ALLOWED_URLS = ("http://www.w3.org/2000/svg",)


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx2.AsyncClient]:
    app = create_app(services.settings, services, manage_database=False)
    transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False, client=(TEST_IP, 50000))
    async with httpx2.AsyncClient(
        transport=transport, base_url=services.settings.public_url
    ) as http:
        yield http


class Markup(HTMLParser):
    """Every tag of a page with its attributes, and the text inside each script or style."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._open = tag if tag in {"script", "style"} else None

    def handle_endtag(self, tag: str) -> None:
        self._open = None

    def handle_data(self, data: str) -> None:
        if self._open and data.strip():
            self.inline.append(f"<{self._open}>{data.strip()[:40]}")


def markup(name: str) -> Markup:
    parser = Markup()
    parser.feed((STATIC_DIR / name).read_text(encoding="utf-8"))
    return parser


def referenced_assets() -> set[str]:
    """What the pages and scripts load: /static/ names, from tags and module imports."""
    names: set[str] = set()
    for page in HTML_FILES:
        for _, attrs in markup(page).tags:
            for attribute in ("src", "href"):
                value = attrs.get(attribute) or ""
                if value.startswith("/static/"):
                    names.add(value.removeprefix("/static/"))
    for script in (n for n in STATIC_FILES if n.endswith(".js")):
        text = (STATIC_DIR / script).read_text(encoding="utf-8")
        names.update(m.removeprefix("./") for m in JS_IMPORT.findall(text))
    return names


@pytest.mark.parametrize("path", sorted(PAGES))
async def test_every_page_is_served_with_the_strict_policy(
    client: httpx2.AsyncClient, path: str
) -> None:
    # when a browser asks for a dashboard page
    response = await client.get(path)
    # then it gets the page with the dashboards' policy: own origin only, no inline code,
    # never framed; and no cookie is set by a page
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    policy = response.headers["content-security-policy"]
    assert policy == DASHBOARD_CSP
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("page", HTML_FILES)
def test_pages_hold_no_inline_script_style_or_handler(page: str) -> None:
    # given a page's markup
    parsed = markup(page)
    # then scripts and styles come from files, and no attribute holds code or style
    assert parsed.inline == []
    scripts = [attrs for tag, attrs in parsed.tags if tag == "script"]
    assert scripts
    assert all(attrs.get("src", "").startswith("/static/") for attrs in scripts)
    assert not [tag for tag, _ in parsed.tags if tag == "style"]
    for tag, attrs in parsed.tags:
        assert not [a for a in attrs if a.startswith("on") or a == "style"], (tag, attrs)
    # and it has the landmarks and language a screen reader needs
    tags = [tag for tag, _ in parsed.tags]
    assert ("html", {"lang": "en-GB"}) in parsed.tags
    assert "main" in tags
    assert "header" in tags
    assert any(tag == "a" and attrs.get("href") == "#main" for tag, attrs in parsed.tags)


@pytest.mark.parametrize("name", TEXT_FILES)
def test_no_file_names_another_origin_or_builds_markup_from_strings(name: str) -> None:
    text = (STATIC_DIR / name).read_text(encoding="utf-8")
    # no CDN, font service or analytics: every address is this platform's
    foreign = [u for u in ABSOLUTE_URL.findall(text) if not u.startswith(ALLOWED_URLS)]
    assert foreign == []
    assert "@import" not in text
    # and no way for data to become markup or code
    for risky in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert risky not in text, f"{name} uses {risky}"
    assert "new Function" not in text


async def test_every_asset_a_page_loads_is_served_and_revalidated(
    client: httpx2.AsyncClient,
) -> None:
    # given what the pages and their scripts load
    wanted = referenced_assets()
    assert {"style.css", "live.js", "api.js", "classroom.js", "alerts.js"} <= wanted
    for name in sorted(wanted):
        # when the browser fetches it
        response = await client.get(f"/static/{name}")
        # then it is there with its type, and a revalidation costs no body
        assert response.status_code == 200, name
        assert response.headers["content-type"].split(";")[0] in {
            "text/javascript",
            "text/css",
            "image/svg+xml",
        }
        assert response.headers["cache-control"] == "no-cache"
        again = await client.get(
            f"/static/{name}", headers={"if-none-match": response.headers["etag"]}
        )
        assert again.status_code == 304
        assert again.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/static/missing.js",
        "/static/login.html",  # pages only at their paths, with their policy
        "/static/..%2Froutes.py",
        "/static/%2e%2e/routes.py",
        "/static/../routes.py",
        "/static/",
        "/static/__init__.py",
    ],
)
async def test_nothing_else_is_reachable_under_static(
    client: httpx2.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert b"import" not in response.content


async def test_graphql_keeps_its_own_stricter_policy(client: httpx2.AsyncClient) -> None:
    # the API's answers are not pages: nothing at all may load from them
    response = await client.post("/graphql", json={"query": "{ __typename }"})
    assert response.headers["content-security-policy"] == (
        "default-src 'none'; frame-ancestors 'none'"
    )


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


#: Text colour on background, as style.css pairs them (variables or literal colours).
TEXT_PAIRS = [
    ("ink", "paper"),
    ("ink", "wash"),
    ("muted", "paper"),
    ("muted", "wash"),
    ("brand", "paper"),
    ("brand-ink", "brand"),
    ("ok", "ok-wash"),
    ("ok", "paper"),
    ("idle", "idle-wash"),
    ("locked", "locked-wash"),
    ("off", "off-wash"),
    ("danger", "danger-wash"),
    ("danger", "paper"),
    ("#ffffff", "danger"),
    ("#ffffff", "locked"),
    ("#ffffff", "#c2410c"),
    ("#ffffff", "ink"),
    ("ink", "idle-wash"),
]


def test_text_colours_meet_wcag_aa_contrast() -> None:
    css = (STATIC_DIR / "style.css").read_text(encoding="utf-8")
    palette = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6});", css))

    def colour(name: str) -> str:
        return name if name.startswith("#") else palette[name]

    for foreground, background in TEXT_PAIRS:
        ratio = contrast(colour(foreground), colour(background))
        assert ratio >= 4.5, f"{foreground} on {background}: {ratio:.2f}:1"
    # the focus ring stands out from every background it is drawn on (non-text: 3:1)
    for background in ("paper", "wash", "locked-wash"):
        assert contrast(colour("focus"), colour(background)) >= 3
    assert contrast("#fde68a", colour("brand")) >= 3  # the top bar's focus ring
