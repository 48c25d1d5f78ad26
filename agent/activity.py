"""Activity sources: what a (simulated) learner tries to do on a school device."""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote_plus

KINDS = frozenset(
    {"APP_FOCUS", "URL_VISIT", "SEARCH", "TYPED_TEXT", "SCREENSHOT", "IDLE", "LOGIN", "LOGOUT"}
)
BROWSER = "Google Chrome"

#: A 48x32 grey "browser window" baseline JPEG (497 bytes): a placeholder screenshot thumbnail.
THUMBNAIL_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABcQERQRDhcUEhQaGBcbIjklIh8fIkYyNSk5UkhXVVFIUE5bZoNvW2F8"
    "Yk5QcptzfIeLkpSSWG2grJ+OqoOPko3/2wBDARgaGiIeIkMlJUONXlBejY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2N"
    "jY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY3/wAARCAAgADADASIAAhEBAxEB/8QAGAABAQEBAQAAAAAAAAAAAAAA"
    "BAAFAgH/xAAqEAAABAMHAwUBAAAAAAAAAAAAAQIDBBFTEhMVkaLR4QUxkhQhQVFU8P/EABYBAQEBAAAAAAAAAAAA"
    "AAAAAAADBP/EABcRAQEBAQAAAAAAAAAAAAAAAAACExT/2gAMAwEAAhEDEQA/AE4dF0tRbiw6Lpai3GvFIil2PSuJ"
    "RKdq18/XwD3PU/0NZcDR02ljIGHRdLUW4sOi6Wotw+56n+hrLgdNtdRJxJuPtmgjK0RF3LIOmzGWdh0XS1FuLDou"
    "lqLcb4g6bMZGjEsqsX61J7ykDXcFWXlwNBSELlbSlUu0ymObhqkjxIZ1QbuCrLy4FdwVZeXAdcNUkeJCuGqSPEgB"
    "G4eFdVZbcWZyn/ewahJIQlJdiKQ8S2hBzShKT+yKQ7Af/9k="
)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One thing the learner tries; the agent decides (lock, policy) whether it happens."""

    kind: str
    app: str | None = None
    url: str | None = None
    title: str | None = None
    text: str | None = None
    thumbnail: bytes | None = None


class ActivitySource(Protocol):
    """Anything that can drive a :class:`~agent.device.DeviceAgent`."""

    def next_attempt(self) -> Attempt:
        """The learner's next action."""
        ...

    def delay(self) -> float:
        """Seconds to wait before the next action."""
        ...


ON_TASK_SITES = (
    ("https://www.bbc.co.uk/bitesize/subjects/z38pycw", "GCSE Maths - BBC Bitesize"),
    ("https://www.bbc.co.uk/bitesize/guides/zc7sb82/revision/1", "Solving quadratic equations"),
    ("https://www.bbc.co.uk/bitesize/guides/zqhs4j6/revision/1", "Photosynthesis - Revision"),
    ("https://docs.google.com/document/d/1hW3kq8/edit", "Homework - Google Docs"),
    ("https://docs.google.com/presentation/d/1Zp0x7/edit", "Group project - Google Slides"),
    ("https://classroom.google.com/c/NjQ1MzI4", "10X Maths - Google Classroom"),
    ("https://classroom.google.com/c/NjQ1MzI4/a/NzE2/details", "Assignment: Pythagoras"),
    ("https://www.mathsisfun.com/algebra/quadratic-equation.html", "Quadratic Equations"),
    ("https://www.mathsisfun.com/geometry/pythagoras.html", "Pythagoras' Theorem"),
    ("https://oak.thenational.academy/pupils/lessons/simultaneous-equations", "Oak - Lesson"),
    ("https://www.desmos.com/calculator", "Desmos | Graphing Calculator"),
    ("https://corbettmaths.com/contents/", "Contents - Corbettmaths"),
)
OFF_TASK_SITES = (
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "YouTube"),
    ("https://www.youtube.com/shorts/8fJx1", "YouTube Shorts"),
    ("https://www.tiktok.com/foryou", "TikTok - For You"),
    ("https://www.coolmathgames.com/0-run-3", "Run 3 - Cool Math Games"),
    ("https://www.roblox.com/games", "Roblox"),
    ("https://www.instagram.com/explore/", "Instagram"),
)
ON_TASK_APPS = ("Calculator", "Google Docs", "Google Slides", "Files", BROWSER)
OFF_TASK_APPS = ("Roblox", "Spotify", "Minecraft Education")
ON_TASK_SEARCHES = (
    "pythagoras theorem",
    "how to solve quadratic equations",
    "photosynthesis word equation",
    "macbeth act 1 summary",
    "what is a prime number",
    "gcse maths past papers aqa",
)
OFF_TASK_SEARCHES = ("unblocked games", "minecraft free download", "funny cat videos")
TYPED_TEXTS = (
    "x = 3 or x = -5",
    "The angle in a semicircle is a right angle.",
    "Photosynthesis needs light, water and carbon dioxide.",
    "Macbeth is ambitious because",
    "Please can I have an extension for my homework",
)
#: TEST PHRASES ONLY: fictional texts a safeguarding rule should match, so the DSL's alert
#: feed has something to show in the demo. Not advice, not real learner data.
CONCERN_TEST_PHRASES = (
    "how to hurt myself",
    "buy vape",
    "nobody would care if i was gone",
    "where to buy weed near me",
)


class SimulatedBrowsing:
    """One learner's seeded, mostly on-task browsing with the odd detour and concern."""

    def __init__(self, seed: int, *, interval: float = 2.0, concern_rate: float = 1 / 200) -> None:
        self._rng = random.Random(seed)
        self._interval = interval
        self._concern_rate = concern_rate
        self._logged_in = False
        self._off_task = False
        self._idle = False
        self._until_screenshot = self._rng.randint(4, 8)

    def delay(self) -> float:
        scale = self._rng.uniform(3.0, 6.0) if self._idle else self._rng.uniform(0.5, 1.5)
        return self._interval * scale

    def next_attempt(self) -> Attempt:
        rng = self._rng
        self._idle = False
        if not self._logged_in:
            self._logged_in = True
            return Attempt("LOGIN", app="ChromeOS")
        # Attention drifts off and (more quickly) comes back.
        self._off_task = rng.random() < (0.65 if self._off_task else 0.07)
        if rng.random() < self._concern_rate:
            return self._search(rng.choice(CONCERN_TEST_PHRASES))
        self._until_screenshot -= 1
        if self._until_screenshot <= 0:
            self._until_screenshot = rng.randint(4, 8)
            return Attempt("SCREENSHOT", app=BROWSER, thumbnail=THUMBNAIL_JPEG)
        roll = rng.random()
        if roll < 0.05:
            self._idle = True
            return Attempt("IDLE")
        if roll < 0.13:
            queries = OFF_TASK_SEARCHES if self._off_task else ON_TASK_SEARCHES
            return self._search(rng.choice(queries))
        if roll < 0.20:
            return Attempt("TYPED_TEXT", app="Google Docs", text=rng.choice(TYPED_TEXTS))
        if roll < 0.32:
            return Attempt(
                "APP_FOCUS", app=rng.choice(OFF_TASK_APPS if self._off_task else ON_TASK_APPS)
            )
        url, title = rng.choice(OFF_TASK_SITES if self._off_task else ON_TASK_SITES)
        return Attempt("URL_VISIT", app=BROWSER, url=url, title=title)

    @staticmethod
    def _search(query: str) -> Attempt:
        url = f"https://www.google.com/search?q={quote_plus(query)}"
        return Attempt("SEARCH", app=BROWSER, url=url, title=f"{query} - Google Search", text=query)


__all__ = [
    "BROWSER",
    "CONCERN_TEST_PHRASES",
    "KINDS",
    "THUMBNAIL_JPEG",
    "ActivitySource",
    "Attempt",
    "SimulatedBrowsing",
]
