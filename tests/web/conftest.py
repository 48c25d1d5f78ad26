"""A running demo (seeded schools, simulated devices) and a Chromium page per test."""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server import running_demo
from tests.web.browser import PROJECT_ROOT, artifacts_dir, require_chromium

SIMULATING = re.compile(r"Simulated devices are reporting")
#: Set to 1 to refresh the README's screenshots in docs/img from this run.
DOC_SCREENSHOTS_ENV = "PP_UPDATE_DOC_SCREENSHOTS"
DOC_IMAGES = PROJECT_ROOT / "docs" / "img"
VIEWPORT = {"width": 1366, "height": 900}
EXPECT_MS = 15_000
#: Generous: the first report of a school builds its safeguarding detector, on a busy machine.
POST_SECONDS = 60
#: Direct to loopback, never through a proxy from the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Demo:
    url: str
    data_dir: Path

    @property
    def database(self) -> Path:
        return self.data_dir / "pupil.db"

    def device_tokens(self, school: str = "northfield") -> list[str]:
        tokens: list[str] = json.loads((self.data_dir / "devices.json").read_text())[school]
        return tokens

    def post(self, query: str, token: str | None = None, **variables: Any) -> dict[str, Any]:
        """GraphQL over HTTP as an API client (a device, or staff with a bearer token)."""
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        body = json.dumps({"query": query, "variables": variables}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", data=body, headers=headers)  # noqa: S310
        with _DIRECT.open(request, timeout=POST_SECONDS) as response:
            result: dict[str, Any] = json.load(response)
        return result


@pytest.fixture(scope="session")
def chromium() -> str:
    return require_chromium()


@pytest.fixture(scope="session")
def demo(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """``pupil-progress demo``, once for all browser tests, with its simulator reporting."""
    data = tmp_path_factory.mktemp("web-demo")
    with running_demo(data, SIMULATING) as url:
        yield Demo(url, data)


@dataclass
class PageWatch:
    """What a page did that it must not: script errors, CSP violations, foreign requests."""

    origin: str
    problems: list[str] = field(default_factory=list)

    def console(self, message: Any) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")

    def page_error(self, error: Any) -> None:
        self.problems.append(f"script error: {error}")

    def request(self, request: Any) -> None:
        url: str = request.url
        socket = self.origin.replace("http", "ws", 1) + "/"
        if not url.startswith((self.origin + "/", socket, "data:")):
            self.problems.append(f"request outside the platform: {url}")


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright, expect

    # A deadline for each DOM condition, not a wait: generous for a busy CI machine. Tests that
    # promise a time (a tile within two seconds) pass their own.
    expect.set_options(timeout=EXPECT_MS)

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Any, demo: Demo) -> AsyncIterator[Any]:
    """A fresh browser context (no cookies) and page; fails the test on script errors, CSP
    violations or any request that leaves the platform."""
    context = await browser.new_context(viewport=VIEWPORT, locale="en-GB")
    opened = await context.new_page()
    watch = PageWatch(demo.url)
    opened.on("console", watch.console)
    opened.on("pageerror", watch.page_error)
    opened.on("request", watch.request)
    try:
        yield opened
    finally:
        await context.close()
    assert not watch.problems, "\n".join(watch.problems)


async def screenshot(page: Any, name: str) -> Path:
    """Save a screenshot as a test artifact (and as the README's copy when asked to)."""
    path = artifacts_dir() / f"{name}.png"
    # From the top of the page, as a person arriving sees it.
    await page.evaluate(
        "() => new Promise((done) => {"
        " window.scrollTo(0, 0); requestAnimationFrame(() => requestAnimationFrame(done)); })"
    )
    await page.screenshot(path=str(path))
    if os.environ.get(DOC_SCREENSHOTS_ENV) == "1":
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOC_IMAGES / path.name)
    return path


async def sign_in(page: Any, demo: Demo, email: str, lands_on: str) -> None:
    """Sign in through the login page, as a person would, and wait for the dashboard."""
    from playwright.async_api import expect

    await page.goto(f"{demo.url}/")
    await expect(page).to_have_url(re.compile(r"/login"))
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill("demo-password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(lands_on))


__all__ = ["Demo", "screenshot", "sign_in"]
