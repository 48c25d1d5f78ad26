"""Settings from the environment, and what production refuses to start with."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from app.config import DEMO_PASSWORD, Mode, Settings
from app.errors import ConfigurationError
from app.main import create_app, refuse_demo_accounts
from app.security.crypto import MasterKey
from models.staff import User
from resolvers.context import Services

KEY = MasterKey.generate().to_text()
PUBLIC_URL = "https://school.example"
#: A production environment that starts; each test below breaks one thing in it.
PRODUCTION_ENV = {
    "PP_ENV": "production",
    "PP_MASTER_KEY": KEY,
    "PP_PUBLIC_URL": PUBLIC_URL,
    "PP_ALLOWED_ORIGINS": PUBLIC_URL,
    "DATABASE_URL": "postgres://pp@db.internal:5432/pupil",
    "BROKER_URL": "redis://cache.internal:6379/0",
}


def production(**changes: str | None) -> dict[str, str]:
    """PRODUCTION_ENV with some variables changed, or removed when given None."""
    env = {**PRODUCTION_ENV, **changes}
    return {name: value for name, value in env.items() if value is not None}


def test_empty_environment_gives_development_defaults() -> None:
    # given no variables at all
    # when settings are read
    settings = Settings.from_environ({})
    # then they are the embedded development defaults
    assert settings.mode is Mode.DEVELOPMENT
    assert not settings.production
    assert not settings.debug
    assert settings.database_url == "sqlite://var/pupil.db"
    assert settings.broker_url == "memory://"
    assert settings.master_key is None
    assert settings.allowed_origins == ()
    assert not settings.secure_cookies


def test_production_environment_is_read() -> None:
    # given a complete production environment
    # when settings are read
    settings = Settings.from_environ(PRODUCTION_ENV)
    # then every variable lands where it belongs
    assert settings.production
    assert settings.master_key == KEY
    assert settings.public_url == PUBLIC_URL
    assert settings.allowed_origins == (PUBLIC_URL,)
    assert settings.database_url == PRODUCTION_ENV["DATABASE_URL"]
    assert settings.broker_url == PRODUCTION_ENV["BROKER_URL"]
    assert settings.secure_cookies


def test_master_key_is_kept_out_of_repr() -> None:
    # given production settings
    settings = Settings.from_environ(PRODUCTION_ENV)
    # when they are printed, as a log line or a traceback might
    text = repr(settings)
    # then the key is not in it
    assert KEY not in text


def test_origins_are_split_trimmed_and_unslashed() -> None:
    # given a comma-separated list with spaces and a trailing slash
    env = production(PP_ALLOWED_ORIGINS=" https://a.example/ , https://b.example:8443,")
    # when settings are read
    settings = Settings.from_environ(env)
    # then each origin is exact
    assert settings.allowed_origins == ("https://a.example", "https://b.example:8443")


def test_redis_url_is_the_broker_when_broker_url_is_absent() -> None:
    # given only REDIS_URL
    env = {"REDIS_URL": "redis://127.0.0.1:6379/3"}
    # when settings are read
    settings = Settings.from_environ(env)
    # then the broker uses it
    assert settings.broker_url == "redis://127.0.0.1:6379/3"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("Yes", True), ("on", True), ("0", False), ("off", False)],
)
def test_debug_flag_spellings(raw: str, expected: bool) -> None:
    # given PP_DEBUG spelt one of the accepted ways, in development
    # when settings are read
    settings = Settings.from_environ({"PP_DEBUG": raw})
    # then it is understood
    assert settings.debug is expected


def test_master_key_file_is_read(tmp_path: Path) -> None:
    # given the key in a file, with the newline editors add
    key_file = tmp_path / "master.key"
    key_file.write_text(KEY + "\n", encoding="ascii")
    env = production(PP_MASTER_KEY=None, PP_MASTER_KEY_FILE=str(key_file))
    # when settings are read
    settings = Settings.from_environ(env)
    # then the key is the file's content, stripped
    assert settings.master_key == KEY


def test_missing_master_key_file_is_named(tmp_path: Path) -> None:
    # given a key file path that does not exist
    env = production(PP_MASTER_KEY=None, PP_MASTER_KEY_FILE=str(tmp_path / "absent.key"))
    # when settings are read
    # then the error names the variable
    with pytest.raises(ConfigurationError, match="PP_MASTER_KEY_FILE"):
        Settings.from_environ(env)


PRODUCTION_REFUSALS = {
    "debug-on": (production(PP_DEBUG="true"), "PP_DEBUG is on"),
    "no-master-key": (production(PP_MASTER_KEY=None), "PP_MASTER_KEY or PP_MASTER_KEY_FILE"),
    "empty-master-key": (production(PP_MASTER_KEY=""), "PP_MASTER_KEY or PP_MASTER_KEY_FILE"),
    "wildcard-origin": (
        production(PP_ALLOWED_ORIGINS=f"{PUBLIC_URL},*"),
        "PP_ALLOWED_ORIGINS contains a wildcard",
    ),
    "http-public-url": (
        production(PP_PUBLIC_URL="http://school.example"),
        "PP_PUBLIC_URL must be https://",
    ),
    "default-public-url": (production(PP_PUBLIC_URL=None), "PP_PUBLIC_URL must be https://"),
}


@pytest.mark.parametrize(
    ("env", "problem"), PRODUCTION_REFUSALS.values(), ids=PRODUCTION_REFUSALS.keys()
)
def test_production_refuses_unsafe_settings(env: dict[str, str], problem: str) -> None:
    # given a production environment with one unsafe setting
    # when settings are read
    # then production refuses to start, naming the problem
    with pytest.raises(ConfigurationError, match="Production refuses to start") as refused:
        Settings.from_environ(env)
    assert problem in str(refused.value)


def test_production_names_every_problem_at_once() -> None:
    # given a production environment with several unsafe settings
    env = production(PP_DEBUG="1", PP_MASTER_KEY=None, PP_PUBLIC_URL="http://x.example")
    # when settings are read
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_environ(env)
    # then the operator learns about all of them in one go
    message = str(refused.value)
    assert "PP_DEBUG" in message
    assert "PP_MASTER_KEY" in message
    assert "PP_PUBLIC_URL" in message


def test_demo_mode_is_refused_in_production() -> None:
    # given otherwise valid production settings
    # when demo mode is switched on
    # then they are refused, naming demo mode
    with pytest.raises(ConfigurationError, match="Demo mode cannot run with PP_ENV=production"):
        Settings.from_environ(PRODUCTION_ENV, demo=True)


def test_development_tolerates_what_production_refuses() -> None:
    # given development with debug, a wildcard origin, http and no key
    env = {"PP_DEBUG": "1", "PP_ALLOWED_ORIGINS": "*", "PP_PUBLIC_URL": "http://localhost:8000"}
    # when settings are read
    settings = Settings.from_environ(env)
    # then they are accepted: the refusals are production's
    assert settings.debug
    assert settings.allowed_origins == ("*",)


BAD_VALUES = {
    "env": ({"PP_ENV": "staging"}, "PP_ENV"),
    "debug-flag": ({"PP_DEBUG": "maybe"}, "PP_DEBUG"),
    "idle-not-int": ({"PP_SESSION_IDLE_SECONDS": "30m"}, "PP_SESSION_IDLE_SECONDS"),
    "idle-too-small": ({"PP_SESSION_IDLE_SECONDS": "5"}, "PP_SESSION_IDLE_SECONDS"),
    "absolute-not-int": ({"PP_SESSION_ABSOLUTE_SECONDS": "12h"}, "PP_SESSION_ABSOLUTE_SECONDS"),
    "absolute-negative": ({"PP_SESSION_ABSOLUTE_SECONDS": "-1"}, "PP_SESSION_ABSOLUTE_SECONDS"),
    "origin-without-scheme": ({"PP_ALLOWED_ORIGINS": "school.example"}, "PP_ALLOWED_ORIGINS"),
    "origin-other-scheme": ({"PP_ALLOWED_ORIGINS": "ftp://school.example"}, "PP_ALLOWED_ORIGINS"),
}


@pytest.mark.parametrize(("env", "variable"), BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_bad_values_are_refused_naming_the_variable(env: dict[str, str], variable: str) -> None:
    # given a variable with a value that cannot be understood
    # when settings are read
    # then the error names the variable, so the operator knows what to fix
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_environ(env)


# --- demo accounts in production ------------------------------------------------------------

PRODUCTION: dict[str, Any] = {"mode": Mode.PRODUCTION, "public_url": PUBLIC_URL, "master_key": KEY}


async def demo_account(*, is_active: bool = True) -> User:
    return await User.create(
        email="admin@northfield.test",
        display_name="Demo Admin",
        password_hash=f"not-a-hash-of-{DEMO_PASSWORD}",
        is_demo=True,
        is_active=is_active,
    )


async def test_production_refuses_to_start_with_demo_accounts(database_url: str) -> None:
    # given a database seeded by `demo`
    await demo_account()
    # when production starts on it
    # then it refuses, saying why
    with pytest.raises(ConfigurationError, match="demo accounts"):
        await refuse_demo_accounts(Settings(**PRODUCTION))


async def test_development_starts_with_demo_accounts(database_url: str) -> None:
    # given a database seeded by `demo`
    await demo_account()
    # when development starts on it
    # then nothing is refused
    await refuse_demo_accounts(Settings())


async def test_production_starts_once_demo_accounts_are_deactivated(database_url: str) -> None:
    # given demo accounts an operator has deactivated
    await demo_account(is_active=False)
    # when production starts
    # then it is allowed to
    await refuse_demo_accounts(Settings(**PRODUCTION))


async def test_app_lifespan_refuses_demo_accounts_in_production(services: Services) -> None:
    # given a database with a demo account and a production app on it
    await demo_account()
    settings = dataclasses.replace(services.settings, **PRODUCTION)
    app = create_app(settings, services, manage_database=False)
    # when the app starts up
    # then start-up fails before serving anything
    with pytest.raises(ConfigurationError, match="demo accounts"):
        async with app.router.lifespan_context(app):
            pass  # pragma: no cover - start-up must fail
