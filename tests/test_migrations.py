"""The models and the migrations agree: a model change without a migration fails here."""

from __future__ import annotations

from pathlib import Path

from tortoise.context import TortoiseContext
from tortoise.migrations.autodetector import MigrationAutodetector

from app.db import tortoise_config

MIGRATIONS = Path(__file__).parents[1] / "models" / "migrations"


async def test_models_match_migrations(database_url: str) -> None:
    # given the app configuration with its migrations module
    config = tortoise_config(database_url)
    apps_config = config["apps"]
    ctx = TortoiseContext()
    async with ctx:
        await ctx.init(config=config, init_connections=False)
        # when Tortoise compares the models with the state the migrations build
        writers = await MigrationAutodetector(ctx.apps, apps_config).changes()
    # then it has nothing to write
    assert [w.name for w in writers] == []


async def test_migrations_applied_to_the_test_database(database_url: str) -> None:
    # given the database every test uses, built by applying the migrations
    from tortoise.connection import get_connection

    # when the migration recorder is read
    _, rows = await get_connection("default").execute_query(
        "SELECT name FROM tortoise_migrations ORDER BY name"
    )
    # then every migration on disk ran, the append-only trigger one included
    on_disk = sorted(p.stem for p in MIGRATIONS.glob("0*.py"))
    assert "0002_audit_append_only" in on_disk
    assert [r["name"] for r in rows] == on_disk
