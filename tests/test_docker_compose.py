"""docker-compose.yml, checked without a container engine (none runs here or in CI).

The file is read with a small parser for the block-style YAML it uses (mappings, lists, inline
JSON-style lists and scalars): enough to check its structure, and it refuses anything else, so
a construct it cannot read fails the test instead of being skipped over.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

COMPOSE = Path(__file__).resolve().parent.parent / "docker-compose.yml"
_KEY = re.compile(r"^(?P<key>[A-Za-z0-9_.-]+):(?:\s+(?P<value>.*))?$")
_VARIABLE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?P<rule>:[?-][^}]*)?\}")


def _scalar(text: str) -> Any:
    text = text.strip()
    if text.startswith("["):
        return json.loads(text)
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def _lines(text: str) -> list[tuple[int, str]]:
    kept = []
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise ValueError(f"tab in indentation: {raw!r}")
        kept.append((len(raw) - len(raw.lstrip(" ")), raw.strip()))
    return kept


def parse(text: str) -> Any:
    lines = _lines(text)
    value, end = _block(lines, 0, 0)
    if end != len(lines):
        raise ValueError(f"unexpected indentation at {lines[end][1]!r}")
    return value


def _block(lines: list[tuple[int, str]], start: int, indent: int) -> tuple[Any, int]:
    if lines[start][1].startswith("- "):
        items: list[Any] = []
        i = start
        while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
            items.append(_scalar(lines[i][1][2:]))
            i += 1
        return items, i
    mapping: dict[str, Any] = {}
    i = start
    while i < len(lines) and lines[i][0] == indent:
        found = _KEY.match(lines[i][1])
        if found is None:
            raise ValueError(f"not a `key: value` line: {lines[i][1]!r}")
        key, value = found["key"], found["value"]
        if key in mapping:
            raise ValueError(f"duplicate key {key!r}")
        i += 1
        if value is not None and value.strip():
            mapping[key] = _scalar(value)
        elif i < len(lines) and lines[i][0] > indent:
            mapping[key], i = _block(lines, i, lines[i][0])
        else:
            mapping[key] = None
    return mapping, i


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    parsed: dict[str, Any] = parse(COMPOSE.read_text(encoding="utf-8"))
    return parsed


def test_the_parser_reads_what_it_needs_and_refuses_the_rest() -> None:
    text = 'a:\n  b: "x"\n  c: [1, "two"]\n  d:\n    - one\n    - "two"\n  e:\n'
    assert parse(text) == {"a": {"b": "x", "c": [1, "two"], "d": ["one", "two"], "e": None}}
    with pytest.raises(ValueError, match="duplicate"):
        parse("a: 1\na: 2\n")
    with pytest.raises(ValueError, match="key: value"):
        parse("a:\n  b: 1\n  just text\n")


def test_the_platform_runs_on_postgres_and_redis(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"app", "postgres", "redis"}
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["app"]["build"] == "."
    # the app starts only once both are healthy
    assert services["app"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }


@pytest.mark.parametrize("name", ["app", "postgres", "redis"])
def test_every_service_has_a_health_check(compose: dict[str, Any], name: str) -> None:
    check = compose["services"][name]["healthcheck"]
    assert isinstance(check["test"], list)
    assert check["test"][0] in {"CMD", "CMD-SHELL"}
    assert {"interval", "timeout", "retries"} <= set(check)
    assert compose["services"][name]["restart"] == "unless-stopped"


def test_the_app_is_configured_for_production(compose: dict[str, Any]) -> None:
    app = compose["services"]["app"]
    env = app["environment"]
    assert env["PP_ENV"] == "production"
    # the database and broker are the compose services, by their service names
    assert re.fullmatch(
        r"postgres://pupil:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432/pupil", env["DATABASE_URL"]
    )
    assert env["BROKER_URL"] == "redis://redis:6379/0"
    # the master key comes from the operator, and compose refuses to start without it
    key = env.get("PP_MASTER_KEY") or env.get("PP_MASTER_KEY_FILE")
    assert key
    assert _VARIABLE.fullmatch(key)
    assert _VARIABLE.fullmatch(key)["rule"].startswith(":?")
    assert _VARIABLE.fullmatch(env["PP_PUBLIC_URL"])["rule"].startswith(":?")
    # the health check asks for readiness (database and broker), not just a live process
    assert "/readyz" in " ".join(app["healthcheck"]["test"])
    # published on loopback only: TLS is terminated by a proxy in front
    assert all(port.startswith("127.0.0.1:") for port in app["ports"])


def test_no_secret_is_written_into_the_file(compose: dict[str, Any]) -> None:
    for service in compose["services"].values():
        for name, value in (service.get("environment") or {}).items():
            if any(word in name for word in ("PASSWORD", "KEY", "SECRET", "TOKEN")):
                assert _VARIABLE.fullmatch(str(value)), f"{name} must come from the environment"


def test_postgres_data_outlives_the_container(compose: dict[str, Any]) -> None:
    volumes = compose["services"]["postgres"]["volumes"]
    assert "postgres-data:/var/lib/postgresql/data" in volumes
    assert "postgres-data" in compose["volumes"]
