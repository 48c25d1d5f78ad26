"""Imports flow one way: models, realtime <- resolvers <- schema <- app wiring (DESIGN.md)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"models", "realtime", "resolvers", "schema", "app", "agent", "bench", "tests"}
LEAVES = {"app.errors", "app.config", "app.security"}
ALLOWED = {
    "models": set(),
    "realtime": set(),
    "resolvers": {"models", "realtime"} | LEAVES,
    "schema": {"resolvers", "models"} | LEAVES,
    # The leaves import nothing of ours but each other.
    "app/security": {"app.errors", "app.security"},
    "app/errors.py": set(),
    "app/config.py": {"app.errors"},
    # The device agent is a client of the API: it never imports the server.
    "agent": set(),
}


def absolute_imports(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                yield node.lineno, "<relative import>"
            elif node.module:
                yield node.lineno, node.module


def python_files(target: str) -> list[Path]:
    path = ROOT / target
    return [path] if path.is_file() else sorted(path.rglob("*.py"))


def owner(target: str) -> str:
    return target.removesuffix(".py").replace("/", ".")


@pytest.mark.parametrize("target", sorted(ALLOWED))
def test_import_direction(target: str) -> None:
    # given the packages this one may depend on
    allowed = ALLOWED[target] | {
        owner(target).split(".")[0] if "/" not in target else owner(target)
    }
    # when every import of ours is listed
    violations = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in python_files(target)
        if "migrations" not in path.parts
        for line, name in absolute_imports(path)
        if name == "<relative import>"
        or (
            name.split(".")[0] in OURS
            and not any(name == a or name.startswith(f"{a}.") for a in allowed)
        )
    ]
    # then none points the wrong way
    assert violations == []


def test_only_channels_module_builds_channel_names() -> None:
    # given every module outside realtime/channels.py
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("app", "models", "resolvers", "schema", "realtime")
        for path in python_files(folder)
        if path.name != "channels.py" and '"v1:' in path.read_text(encoding="utf-8")
    ]
    # then none spells a channel name itself
    assert offenders == []


def test_nothing_imports_aioredis() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for folder in (
            "app",
            "models",
            "resolvers",
            "schema",
            "realtime",
            "agent",
            "bench",
            "tests",
        )
        for path in python_files(folder)
        for _, name in absolute_imports(path)
        if name.split(".")[0] == "aioredis"
    ]
    assert offenders == []
