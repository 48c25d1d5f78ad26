"""Run the suite on both deployment shapes: embedded, then PostgreSQL + Redis.

Without CI the second leg is skipped, loudly, when its services cannot be reached; with
CI=true an unreachable service fails the run instead.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys

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


def _pytest(env: dict[str, str], label: str, extra: list[str]) -> int:
    print(f"\n=== test leg: {label} ===", flush=True)
    return subprocess.call([sys.executable, "-m", "pytest", "-q", *extra], env=env)  # noqa: S603


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", required=True)
    args, extra = parser.parse_known_args()
    embedded = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    code = _pytest(embedded, "SQLite + in-process broker", extra)
    problem = asyncio.run(_reachable(args.database_url, args.redis_url))
    in_ci = os.environ.get("CI", "").lower() == "true"
    if problem is not None:
        if in_ci:
            print(f"\nFAILED: the PostgreSQL/Redis leg cannot run in CI: {problem}", flush=True)
            return 1
        print(f"\nSKIPPED: the PostgreSQL/Redis leg did not run: {problem}", flush=True)
        return code
    services = {**embedded, "DATABASE_URL": args.database_url, "REDIS_URL": args.redis_url}
    return _pytest(services, "PostgreSQL + Redis", extra) or code


if __name__ == "__main__":
    sys.exit(main())
