"""A real uvicorn server in a subprocess, on a free loopback port, for end-to-end tests.

The server reads a database the test process has migrated and seeded beforehand (SQLite file or
PostgreSQL), so the two never share an event loop or a connection.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from tortoise.context import TortoiseContext

from app.config import Settings
from app.db import tortoise_config
from app.security.passwords import PasswordService
from app.server import uvicorn_options
from app.services import build_services
from resolvers.context import Services
from tests import backends
from tests.conftest import FAST_HASHER
from tests.waiting import ProcessOutput

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 30.0
STOP_SECONDS = 10.0
_LISTENING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")
#: Variables of the test run that must not leak into the server's configuration.
_INHERITED_NOT = {
    "DATABASE_URL",
    "REDIS_URL",
    "BROKER_URL",
    "PP_ENV",
    "PP_DEBUG",
    "PP_MASTER_KEY",
    "PP_MASTER_KEY_FILE",
    "PP_PREVIOUS_MASTER_KEYS",
    "PP_ALLOWED_ORIGINS",
    "PP_PUBLIC_URL",
    "PP_NAMESPACE",
}

T = TypeVar("T")


class ServerFailed(RuntimeError):
    """The server exited or did not become healthy in time; the message carries its log."""


def uvicorn_cli_options(settings: Settings) -> list[str]:
    """``app.server.uvicorn_options`` as ``python -m uvicorn`` flags, refusing unknown options.

    An option added there without a flag here fails loudly rather than silently not applying.
    """
    flags: list[str] = []
    for name, value in uvicorn_options(settings).items():
        if name in {"server_header", "date_header"}:
            stem = name.replace("_", "-")
            flags.append(f"--{stem}" if value else f"--no-{stem}")
        elif name == "ws_per_message_deflate":
            flags += ["--ws-per-message-deflate", str(bool(value))]
        elif name in {"ws_max_size", "ws_ping_interval", "ws_ping_timeout", "log_level"}:
            flags += ["--" + name.replace("_", "-"), str(value)]
        else:
            raise ValueError(f"uvicorn option {name!r} has no command-line flag mapping")
    return flags


def seed_database(
    settings: Settings, seed: Callable[[Services], Awaitable[T]], *, truncate: bool
) -> T:
    """Run ``seed`` on a migrated database before a server opens it; returns what it returns.

    ``settings`` must carry the server's master key: school keys are wrapped with it. The
    broker is always in memory here; seeding publishes nothing anybody listens to.
    """
    seeding = Settings(
        database_url=settings.database_url,
        master_key=settings.master_key,
        namespace=settings.namespace,
    )

    async def run() -> T:
        services = build_services(seeding, passwords=PasswordService(FAST_HASHER))
        ctx = TortoiseContext()
        try:
            async with ctx:
                await ctx.init(
                    config=tortoise_config(seeding.database_url), _enable_global_fallback=True
                )
                if truncate:
                    await backends.truncate_all()
                return await seed(services)
        finally:
            await services.throttle.aclose()

    return asyncio.run(run())


def server_environment(
    settings: Settings, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The server's environment: this process's, minus our variables, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if k not in _INHERITED_NOT}
    env.update(
        {
            "PP_ENV": settings.mode.value,
            "PP_DEBUG": "true" if settings.debug else "false",
            "DATABASE_URL": settings.database_url,
            "BROKER_URL": settings.broker_url,
            "PP_NAMESPACE": settings.namespace,
            "PP_PUBLIC_URL": settings.public_url,
            "PP_ALLOWED_ORIGINS": ",".join(settings.allowed_origins),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if settings.master_key:
        env["PP_MASTER_KEY"] = settings.master_key
    env.update(extra or {})
    return env


@contextmanager
def running_server(
    settings: Settings, log_path: Path, *, extra_env: Mapping[str, str] | None = None
) -> Iterator[str]:
    """Start ``uvicorn --factory app.main:app_from_env``; yield ``http://127.0.0.1:PORT``.

    uvicorn binds port 0 itself and logs the port it got, so no port is guessed or raced for.
    The server is terminated (then killed, if it lingers) however the block ends.
    """
    with server_process(settings, log_path, extra_env=extra_env) as (base_url, _):
        yield base_url


@contextmanager
def server_process(
    settings: Settings, log_path: Path, *, extra_env: Mapping[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """As :func:`running_server`, with the process too, for tests that kill it themselves."""
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "app.main:app_from_env",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        *uvicorn_cli_options(settings),
    ]
    log_path.write_bytes(b"")
    process = subprocess.Popen(  # noqa: S603 - a fixed command line of our own
        command,
        cwd=PROJECT_ROOT,
        env=server_environment(settings, extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield _wait_until_healthy(process, ProcessOutput(process, log_path), log_path), process
    finally:
        _stop(process)


def _wait_until_healthy(
    process: subprocess.Popen[bytes], output: ProcessOutput, log_path: Path
) -> str:
    # uvicorn logs this line once the lifespan has started and the socket is bound.
    found = output.wait_for(_LISTENING, STARTUP_SECONDS)
    if found is None:
        state = f"exited with {process.poll()}" if process.poll() is not None else "not listening"
        raise ServerFailed(f"uvicorn {state} after {STARTUP_SECONDS} s:\n{_tail(log_path)}")
    base_url = f"http://127.0.0.1:{found.group(1)}"
    if not _healthy(base_url):
        raise ServerFailed(f"uvicorn listens but /healthz fails:\n{_tail(log_path)}")
    return base_url


#: Loopback only: never through a proxy configured in the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _healthy(base_url: str) -> bool:
    try:
        with _DIRECT.open(f"{base_url}/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


DEMO_STARTUP_SECONDS = 90.0
_LISTENING_DEMO = re.compile(r"Uvicorn running on http://127\.0\.0\.1:\d+")
#: Talks to the local server directly, whatever proxy the environment names.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@contextmanager
def running_demo(data: Path, *ready: re.Pattern[str]) -> Iterator[str]:
    """``pupil-progress demo`` on a free port with its own data folder; yield its base URL.

    The demo is the embedded shape by definition (SQLite, in-process broker), on either leg.
    It is ready once uvicorn listens, ``/healthz`` answers and each of ``ready`` was printed;
    its log is ``data/demo.log``. The demo and its simulator are stopped however the block ends.
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    process = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "app.cli", "demo", "--port", str(port), "--data-dir", str(data)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    log = data / "demo.log"
    try:
        output = ProcessOutput(process, log)
        started = output.wait_for(_LISTENING_DEMO, DEMO_STARTUP_SECONDS) is not None
        if not (
            started
            and healthy(url)
            and all(output.wait_for(p, DEMO_STARTUP_SECONDS) is not None for p in ready)
        ):
            raise ServerFailed("the demo did not start:\n" + _tail(log, 60))
        yield url
    finally:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def healthy(url: str) -> bool:
    try:
        with _DIRECT.open(f"{url}/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _tail(log_path: Path, lines: int = 40) -> str:
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])


def server_log(log_path: Path) -> str:
    return log_path.read_text(errors="replace")


def migrated_database(template: str, folder: Path) -> str:
    """This server's database URL: a copy of the SQLite template, or the PostgreSQL one."""
    if backends.POSTGRES:
        return template
    return backends.sqlite_copy(Path(template), folder)


__all__ = [
    "ServerFailed",
    "migrated_database",
    "running_server",
    "seed_database",
    "server_environment",
    "server_log",
    "uvicorn_cli_options",
]
