"""Running the platform under uvicorn: ``serve`` (production) and ``demo`` (embedded)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import uvicorn
from tortoise import Tortoise

from app import demo
from app.config import DEMO_PASSWORD, Mode, Settings
from app.db import apply_migrations, tortoise_config
from app.main import create_app
from app.security.crypto import MasterKey
from app.services import build_services


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Transport limits uvicorn does not default to (security-checklist §2.4, TLS-05)."""
    return {
        "server_header": False,
        "date_header": True,
        "ws_max_size": settings.limits.ws_max_message_bytes,
        "ws_per_message_deflate": False,
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 20.0,
        "log_level": "info",
    }


def serve(settings: Settings, *, host: str, port: int, workers: int) -> None:
    settings.check()
    uvicorn.run(
        "app.main:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        **uvicorn_options(settings),
    )


def _master_key(data_dir: Path) -> str:
    path = data_dir / "master.key"
    if not path.exists():
        path.write_text(MasterKey.generate().to_text() + "\n", encoding="ascii")
        path.chmod(0o600)
    return path.read_text(encoding="ascii").strip()


async def prepare_demo(settings: Settings, data_dir: Path) -> None:
    """Migrate, and seed the demo schools the first time."""
    await apply_migrations(settings.database_url)
    services = build_services(settings)
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        if not await demo.demo_seeded():
            tokens = await demo.seed(services)
            tokens_file = data_dir / "devices.json"
            tokens_file.write_text(json.dumps(tokens, indent=2), encoding="utf-8")
            tokens_file.chmod(0o600)
    finally:
        await services.throttle.aclose()
        await Tortoise.close_connections()


def demo_settings(data_dir: Path, host: str, port: int) -> Settings:
    public_url = f"http://{host}:{port}"
    return Settings(
        mode=Mode.DEVELOPMENT,
        demo=True,
        database_url=f"sqlite://{data_dir.resolve() / 'pupil.db'}",
        broker_url="memory://",
        master_key=_master_key(data_dir),
        public_url=public_url,
        allowed_origins=(public_url,),
    )


def run_demo(data_dir: Path, *, host: str, port: int) -> int:
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = demo_settings(data_dir, host, port)
    asyncio.run(prepare_demo(settings, data_dir))
    print(f"\nPupil Progress demo: {settings.public_url}/  (data in {data_dir})")
    print(f"Dashboards at {settings.public_url}/, GraphQL at {settings.public_url}/graphql")
    print(f"Demo logins (password {DEMO_PASSWORD!r}, refused outside demo mode):")
    for login in demo.logins():
        print(f"  {login.email:<28} {login.role}")
    print(
        f"Operators: DATABASE_URL={settings.database_url} "
        f"PP_MASTER_KEY_FILE={data_dir / 'master.key'}\n",
        flush=True,
    )
    os.environ.setdefault("PP_ENV", "development")
    watcher = threading.Thread(
        target=_simulate_when_up, args=(settings.public_url, data_dir), daemon=True
    )
    watcher.start()
    try:
        uvicorn.run(create_app(settings), host=host, port=port, **uvicorn_options(settings))
    finally:
        _SIMULATOR.stop()
    return 0


class _Simulator:
    """The demo's simulated class of devices: a separate process, stopped with the server."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, url: str, data_dir: Path) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            [
                sys.executable,
                "-m",
                "app.cli",
                "simulate",
                "--url",
                url,
                "--tokens",
                str(data_dir / "devices.json"),
                "--interval",
                "3",
            ]
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


_SIMULATOR = _Simulator()


def _simulate_when_up(url: str, data_dir: Path) -> None:
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:  # noqa: S310
                if response.status == 200:
                    _SIMULATOR.start(url, data_dir)
                    print("Simulated devices are reporting (one per demo learner).", flush=True)
                    return
        except OSError:
            time.sleep(0.2)


__all__ = ["demo_settings", "prepare_demo", "run_demo", "serve", "uvicorn_options"]
