"""Debian's Chromium for the browser tests, found once per session.

Playwright drives the system browser (``executable_path``); its own browser download is never
used. Without Chromium the tests skip, loudly, except with CI=true, where they fail: CI must
run them (``make test-tools`` installs it).
"""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

import pytest

from tests.backends import IN_CI

#: Where Debian's package puts it; PP_CHROMIUM overrides, for other systems.
CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
ARTIFACTS_ENV = "PP_TEST_ARTIFACTS"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _missing(what: str) -> None:
    message = f"{what}; the dashboard tests need Debian's chromium (make test-tools installs it)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@functools.cache
def _find() -> str | None:
    configured = os.environ.get("PP_CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for candidate in (*CANDIDATES, shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def require_chromium() -> str:
    """The Chromium executable; skips (fails with CI=true) when there is none or Playwright
    for Python is not installed."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        _missing("Playwright for Python is not installed (pip install -e '.[dev]')")
    path = _find()
    if path is None and os.environ.get("PP_CHROMIUM"):
        _missing(f"PP_CHROMIUM={os.environ['PP_CHROMIUM']} is not an executable")
    if path is None:
        _missing("no Chromium executable was found (looked for " + ", ".join(CANDIDATES) + ")")
    assert path is not None
    return path


def artifacts_dir() -> Path:
    """Screenshots and other test artifacts: ``$PP_TEST_ARTIFACTS`` or ``test-artifacts/``."""
    folder = Path(os.environ.get(ARTIFACTS_ENV) or PROJECT_ROOT / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


__all__ = ["ARTIFACTS_ENV", "artifacts_dir", "require_chromium"]
