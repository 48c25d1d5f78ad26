"""Run the suite on both deployment shapes at once: embedded, and PostgreSQL + Redis.

The legs share nothing (each has its own database, Redis key prefix, ports and artifacts), so
they run side by side, one per core: the embedded leg prints as it goes, the other's output
follows when both are done. Without CI the second leg is skipped, loudly, when its services
cannot be reached; with CI=true an unreachable service fails the run instead.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import asyncpg
import redis.asyncio as redis


async def _reachable(database_url: str, redis_url: str) -> str | None:
    try:
        conn = await asyncpg.connect(
            database_url.replace("postgres://", "postgresql://", 1), timeout=5
        )
        await conn.close()
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        return f"PostgreSQL at {database_url}: {error}"
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=5)
    try:
        await client.ping()
    except (OSError, redis.RedisError) as error:
        return f"Redis at {redis_url}: {error}"
    finally:
        await client.aclose()
    return None


def _pytest_command(extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", *extra]


def _install_shared_tools() -> None:
    """Install the JavaScript client's packages once, before two legs would both try at once."""
    from tests.e2e import nodejs

    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None or nodejs.is_installed():
        return  # the tests that need them say what is missing, in their own leg
    verb = "ci" if (nodejs.JS_DIR / "package-lock.json").exists() else "install"
    subprocess.run(  # noqa: S603 - a fixed command line
        [npm, verb, "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=nodejs.JS_DIR,
        check=False,
        timeout=nodejs.INSTALL_SECONDS,
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", required=True)
    args, extra = parser.parse_known_args()
    embedded = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    artifacts = Path(os.environ.get("PP_TEST_ARTIFACTS") or "test-artifacts")
    problem = asyncio.run(_reachable(args.database_url, args.redis_url))
    in_ci = os.environ.get("CI", "").lower() == "true"
    if problem is not None and in_ci:
        print(f"\nFAILED: the PostgreSQL/Redis leg cannot run in CI: {problem}", flush=True)
        return 1
    _install_shared_tools()
    with tempfile.TemporaryFile() as second_output:
        second = None
        if problem is None:
            services = {
                **embedded,
                "DATABASE_URL": args.database_url,
                "REDIS_URL": args.redis_url,
                "PP_TEST_ARTIFACTS": str(artifacts / "postgres-redis"),
            }
            second = subprocess.Popen(  # noqa: S603 - our own test run
                _pytest_command(extra), env=services, stdout=second_output, stderr=subprocess.STDOUT
            )
        print("\n=== test leg: SQLite + in-process broker ===", flush=True)
        first_env = {**embedded, "PP_TEST_ARTIFACTS": str(artifacts / "sqlite")}
        code = subprocess.call(_pytest_command(extra), env=first_env)  # noqa: S603
        if second is None:
            print(f"\nSKIPPED: the PostgreSQL/Redis leg did not run: {problem}", flush=True)
            return code
        second_code = second.wait()
        print("\n=== test leg: PostgreSQL + Redis (ran alongside) ===", flush=True)
        second_output.seek(0)
        sys.stdout.buffer.write(second_output.read())
        sys.stdout.flush()
    return second_code or code


if __name__ == "__main__":
    sys.exit(main())
