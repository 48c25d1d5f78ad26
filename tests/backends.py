"""Which real backends this test run uses, and its private database on them."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from tortoise.connection import get_connection

from app.db import apply_migrations
from models import MODEL_MODULES  # noqa: F401 - the models must be importable for truncation

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
POSTGRES = DATABASE_URL.startswith(("postgres://", "postgresql://"))
IN_CI = os.environ.get("CI", "").lower() == "true"

TABLES = [
    # Markbooks and tracking data (models/markbook.py)
    "assessment_component",
    "mark",
    "assessment",
    "grade_record",
    "behaviour_record",
    "achievement_record",
    "tracker_settings",
    # Alert routing and delivery (models/alert_routing.py)
    "alert_delivery",
    "alert_escalation",
    "alert_routed",
    "alert_route_contact",
    "alert_webhook_endpoint",
    "alert_route",
    "activity_record",
    "device_command",
    "lesson",
    "school_rule",
    "audit_event",
    "audit_head",
    "api_key_grant",
    "api_key",
    "device",
    "enrolment",
    "teaching_assignment",
    "teaching_group",
    "roster_link",
    "learner_external_id",
    "learner",
    "staff_session",
    "membership",
    "staff_user",
    "school_key",
    "school",
    # Exam-board reference data (models/tracking.py)
    "boundary",
    "grade_boundary_set",
    "component",
    "specification",
    "exam_series",
    "tier",
    "qualification",
    "grade",
    "grade_scale",
    "exam_board",
]


def unreachable(service: str, error: Exception) -> None:
    """With CI=true a configured service that cannot be reached fails the run; else it skips."""
    message = f"{service} is configured but unreachable: {error}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def create_postgres_database() -> str:
    """A fresh database for this run, migrated; named so runs never see each other's data."""
    name = f"pp_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(DATABASE_URL.replace("postgres://", "postgresql://", 1))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = _with_database(DATABASE_URL, name)
    await apply_migrations(url)
    return url


async def drop_postgres_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    admin = await asyncpg.connect(DATABASE_URL.replace("postgres://", "postgresql://", 1))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def create_sqlite_template(folder: Path) -> Path:
    path = folder / "template.sqlite3"
    await apply_migrations(f"sqlite://{path}")
    return path


def sqlite_copy(template: Path, folder: Path) -> str:
    target = folder / "pupil.sqlite3"
    shutil.copyfile(template, target)
    return f"sqlite://{target}"


async def truncate_all() -> None:
    # The audit trail refuses TRUNCATE; a test database is emptied with triggers set aside
    # (superuser only, as the test role is; the application's role never is).
    await get_connection("default").execute_script(
        "SET session_replication_role = replica;"
        f" TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE;"
        " SET session_replication_role = DEFAULT;"
    )
