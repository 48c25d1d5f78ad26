"""Node and the npm packages of ``tests/e2e/js``, installed once per test session.

``npm ci`` (``npm install`` while there is no lock file) runs when ``node_modules`` is missing or
does not hold the locked versions. Without ``node`` or ``npm`` the tests that need them skip,
loudly, except with CI=true, where they fail: CI must run them.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.backends import IN_CI

JS_DIR = Path(__file__).resolve().parent / "js"
INSTALL_SECONDS = 300
MIN_NODE = 20


@dataclass(frozen=True)
class NodeScripts:
    """The ``node`` executable and the folder of the scripts, with their packages installed."""

    node: str
    folder: Path

    def command(self, script: str, *args: str) -> list[str]:
        return [self.node, str(self.folder / script), *args]


def _missing(what: str) -> None:
    message = f"{what}; the reference JS client tests need Node 20+ and npm"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def _executable(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        _missing(f"`{name}` is not on PATH")
    assert path is not None
    return path


def _locked_versions(folder: Path) -> dict[str, str]:
    """Each package of the lock file: path under node_modules -> version."""
    lock = json.loads((folder / "package-lock.json").read_text(encoding="utf-8"))
    return {
        path: entry["version"]
        for path, entry in lock.get("packages", {}).items()
        if path.startswith("node_modules/") and "version" in entry
    }


def _installed_version(folder: Path, path: str) -> str | None:
    manifest = folder / path / "package.json"
    try:
        version = json.loads(manifest.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return None
    return version if isinstance(version, str) else None


def is_installed(folder: Path = JS_DIR) -> bool:
    """node_modules exists and, when there is a lock file, holds exactly its versions."""
    if not (folder / "node_modules").is_dir():
        return False
    if not (folder / "package-lock.json").exists():
        return True
    locked = _locked_versions(folder)
    return all(_installed_version(folder, path) == v for path, v in locked.items())


def install(folder: Path = JS_DIR) -> None:
    """``npm ci`` (or ``npm install`` without a lock file) unless already installed."""
    if is_installed(folder):
        return
    npm = _executable("npm")
    verb = "ci" if (folder / "package-lock.json").exists() else "install"
    try:
        done = subprocess.run(  # noqa: S603 - a fixed command line of our own
            [npm, verb, "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=INSTALL_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"npm {verb} in {folder} took more than {INSTALL_SECONDS} s")
    if done.returncode != 0:
        pytest.fail(f"npm {verb} in {folder} failed ({done.returncode}):\n{done.stderr[-4000:]}")


def _major_version(node: str) -> int:
    done = subprocess.run(  # noqa: S603 - a fixed command line of our own
        [node, "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    try:
        return int(done.stdout.strip().lstrip("v").split(".")[0])
    except ValueError:
        return 0


@functools.cache
def _ready() -> NodeScripts:
    node = _executable("node")
    if _major_version(node) < MIN_NODE:
        _missing(f"`{node}` is older than Node {MIN_NODE}")
    install()
    return NodeScripts(node, JS_DIR)


def require_node() -> NodeScripts:
    """Node, with the packages of tests/e2e/js installed: the first call of the session
    installs them; skips (fails with CI=true) when Node or npm is missing."""
    return _ready()


__all__ = ["JS_DIR", "NodeScripts", "install", "is_installed", "require_node"]
