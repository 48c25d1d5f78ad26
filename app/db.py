"""Tortoise configuration for the app, the CLI and Tortoise's own migration commands."""

from __future__ import annotations

import os
from typing import Any

from models import MODEL_MODULES

MIGRATIONS_MODULE = "models.migrations"


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": database_url},
        "apps": {
            "models": {
                "models": list(MODEL_MODULES),
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def apply_migrations(database_url: str) -> None:
    """Bring the database schema up to date (``pupil-progress migrate``, demo start, tests)."""
    from tortoise import Tortoise
    from tortoise.migrations.api import migrate

    try:
        await migrate(config=tortoise_config(database_url))
    finally:
        await Tortoise.close_connections()


#: For ``tortoise makemigrations`` (pyproject ``[tool.tortoise]``).
TORTOISE_ORM = tortoise_config(os.environ.get("DATABASE_URL", "sqlite://var/pupil.db"))

__all__ = ["MIGRATIONS_MODULE", "TORTOISE_ORM", "apply_migrations", "tortoise_config"]
