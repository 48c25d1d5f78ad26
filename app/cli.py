"""The ``pupil-progress`` command line (API.md, Command line)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import secrets
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from tortoise import Tortoise

from agent.cli import add_commands as add_agent_commands
from app.config import Settings
from app.db import apply_migrations, tortoise_config
from app.errors import ConfigurationError, InvalidInput
from app.services import build_services, running
from models.devices import Platform
from models.partners import Scope
from models.staff import Role
from resolvers.context import Services


@contextlib.asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    services = build_services(settings)
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        async with running(services):
            yield services
    finally:
        await Tortoise.close_connections()


def _settings() -> Settings:
    return Settings.from_environ()


def _run(coro: Awaitable[int]) -> int:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings()
    await apply_migrations(settings.database_url)
    print("Migrations applied.")
    return 0


async def cmd_create_school(args: argparse.Namespace) -> int:
    from resolvers.schools import create_school

    async with open_services(_settings()) as services:
        school = await create_school(services, args.name, args.slug, args.urn)
    print(f"Created school {school.slug} (id {school.id}).")
    return 0


async def _school_id(slug: str) -> int:
    from models.schools import School

    school = await School.get_or_none(slug=slug)
    if school is None:
        raise InvalidInput("--school", f"No school has the slug {slug!r}.")
    return school.id


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n"), False
    if sys.stdin.isatty():
        return getpass.getpass("Password (at least 12 characters): "), False
    return secrets.token_urlsafe(18), True


async def cmd_create_user(args: argparse.Namespace) -> int:
    from models.staff import Membership, User
    from resolvers.audit import Entry
    from resolvers.staff import check_password
    from resolvers.validation import email, text

    async with open_services(_settings()) as services:
        school_id = await _school_id(args.school)
        address = email("--email", args.email)
        password, generated = _password(args)
        await check_password(services, "password", password)
        if await User.filter(email=address).exists():
            raise InvalidInput("--email", f"An account for {address} already exists.")
        user = await User.create(
            email=address,
            display_name=text("--name", args.name, max_length=200),
            password_hash=await services.passwords.hash(password),
        )
        for role in sorted(set(args.role)):
            await Membership.create(school_id=school_id, user_id=user.id, role=Role(role))
        await services.audit.record(
            Entry("staff.create", school_id, target_type="user", target_ids=(str(user.id),))
        )
    print(f"Created {address} with roles {', '.join(sorted(set(args.role)))}.")
    if generated:
        print(f"Password (shown once): {password}")
    return 0


async def cmd_create_api_key(args: argparse.Namespace) -> int:
    from resolvers.audit import Entry
    from resolvers.partners import issue_api_key

    async with open_services(_settings()) as services:
        school_ids = [await _school_id(slug) for slug in args.school]
        issued = await issue_api_key(args.name, [Scope(s) for s in args.scope], school_ids, None)
        for school_id in school_ids:
            await services.audit.record(
                Entry(
                    "api_key.create",
                    school_id,
                    target_type="api_key",
                    target_ids=(str(issued.api_key.id),),
                )
            )
    print(f"API key {issued.api_key.key_prefix}… for {args.name}; scopes {', '.join(args.scope)}.")
    print(f"Key (shown once): {issued.key}")
    return 0


async def cmd_enrol_device(args: argparse.Namespace) -> int:
    from app.security.tokens import TokenKind, new_token
    from models.devices import Device
    from resolvers.audit import Entry

    async with open_services(_settings()) as services:
        school_id = await _school_id(args.school)
        issued = new_token(TokenKind.DEVICE)
        device = await Device.create(
            school_id=school_id,
            name=args.name,
            platform=Platform(args.platform),
            token_hash=issued.digest,
            token_prefix=issued.display_prefix,
        )
        await services.audit.record(
            Entry("device.enrol", school_id, target_type="device", target_ids=(str(device.id),))
        )
    print(f"Enrolled device {device.id} ({args.name}).")
    print(f"Token (shown once): {issued.text}")
    return 0


async def cmd_rotate_keys(args: argparse.Namespace) -> int:
    from resolvers.rotation import rotate_keys

    async with open_services(_settings()) as services:
        report = await rotate_keys(
            services, school_slug=args.school, batch=args.batch, retire_only=args.retire_only
        )
    print(json.dumps(report, indent=2))
    return 0


async def cmd_verify_audit(args: argparse.Namespace) -> int:
    from resolvers.audit import verify_all

    settings = _settings()
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        reports = await verify_all()
    finally:
        await Tortoise.close_connections()
    broken = [r for r in reports if r.problem]
    for report in reports:
        status = f"BROKEN: {report.problem}" if report.problem else "ok"
        print(f"chain {report.chain}: {report.events} events, {status}")
    return 1 if broken else 0


def _progress_bar(total: int) -> Callable[[], None]:
    """A one-line progress bar on stderr, only when it is a terminal (never in logs or pipes)."""
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if sys.stderr.isatty() and (done == total or done % 25 == 0):
            filled = 30 * done // max(total, 1)
            end = "\n" if done == total else ""
            print(f"\r[{'#' * filled:<30}] {done}/{total}", end=end, file=sys.stderr, flush=True)

    return tick


async def cmd_import_oneroster(args: argparse.Namespace) -> int:
    from resolvers.oneroster.importer import import_oneroster, report

    async with open_services(_settings()) as services:
        outcome = await import_oneroster(
            services, Path(args.path), args.school, dry_run=args.dry_run, progress=_progress_bar
        )
    print(report(outcome))
    return 0


async def cmd_purge_activity(args: argparse.Namespace) -> int:
    from resolvers.history import purge_history

    async with open_services(_settings()) as services:
        deleted = await purge_history(services.now())
    print(f"Deleted {deleted} activity records older than the retention period.")
    return 0


async def cmd_import_boundaries(args: argparse.Namespace) -> int:
    from resolvers.boundaries import BoundaryFileError, import_boundaries

    settings = _settings()
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        counts = await import_boundaries(Path(args.file))
    except BoundaryFileError as error:
        print(f"error: {error}. Nothing was imported.", file=sys.stderr)
        return 2
    finally:
        await Tortoise.close_connections()
    print(counts)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from app.server import serve

    settings = _settings()
    serve(settings, host=args.host, port=args.port, workers=args.workers)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from app.server import run_demo

    return run_demo(Path(args.data_dir), host=args.host, port=args.port)


def _detect_inputs(args: argparse.Namespace) -> list[str]:
    texts = [args.text] if args.text is not None else []
    if args.file == "-":
        texts.extend(line.rstrip("\r\n") for line in sys.stdin if line.strip())
    elif args.file:
        with Path(args.file).open(encoding="utf-8") as lines:
            texts.extend(line.rstrip("\r\n") for line in lines if line.strip())
    if not texts:
        raise InvalidInput("TEXT", "Give a TEXT to scan or --file F (one text per line).")
    return texts


async def _school_detector(args: argparse.Namespace) -> Any:
    """The school's own detector: its built-ins minus disabled ones, its rules and exclusions."""
    from resolvers.safeguarding.detectors import build_detector

    settings = _settings()
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        return await build_detector(await _school_id(args.school))
    finally:
        await Tortoise.close_connections()


def cmd_detect(args: argparse.Namespace) -> int:
    from resolvers.safeguarding.matcher import Detector
    from resolvers.safeguarding.rules import builtin_rules

    try:
        texts = _detect_inputs(args)
    except OSError as error:
        raise InvalidInput("--file", f"Cannot read {args.file}: {error.strerror}.") from error
    detector = (
        Detector(builtin_rules()) if args.school is None else asyncio.run(_school_detector(args))
    )
    for text in texts:
        matches = [
            {"category": m.category.value, "severity": m.severity, "rule": m.rule_id,
             "excerpt": m.excerpt}
            for m in detector.scan(text)
        ]  # fmt: skip
        print(json.dumps({"text": text, "matches": matches}, ensure_ascii=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pupil-progress", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="Run the embedded demo (SQLite, in-process broker).")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--data-dir", default="var/demo")
    demo.set_defaults(sync=cmd_demo)

    serve = sub.add_parser("serve", help="Serve from the environment (production).")
    serve.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a server, behind a proxy
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(sync=cmd_serve)

    sub.add_parser("migrate", help="Apply database migrations.").set_defaults(run=cmd_migrate)

    school = sub.add_parser("create-school", help="Create a school and its keys.")
    school.add_argument("--name", required=True)
    school.add_argument("--slug", required=True)
    school.add_argument("--urn")
    school.set_defaults(run=cmd_create_school)

    user = sub.add_parser("create-user", help="Create a staff account.")
    user.add_argument("--school", required=True, help="School slug.")
    user.add_argument("--email", required=True)
    user.add_argument("--name", required=True)
    user.add_argument("--role", action="append", required=True, choices=[r.value for r in Role])
    user.add_argument(
        "--password-stdin",
        action="store_true",
        help="Read the password from standard input; otherwise prompt, or generate "
        "one and print it once.",
    )
    user.set_defaults(run=cmd_create_user)

    key = sub.add_parser("create-api-key", help="Create a partner API key; printed once.")
    key.add_argument("--school", action="append", required=True, help="Granting school slug.")
    key.add_argument("--name", required=True)
    key.add_argument("--scope", action="append", required=True, choices=[s.value for s in Scope])
    key.set_defaults(run=cmd_create_api_key)

    device = sub.add_parser(
        "enrol-device", help="Enrol a shared device; its token is printed once."
    )
    device.add_argument("--school", required=True)
    device.add_argument("--name", required=True)
    device.add_argument("--platform", default="CHROMEOS", choices=[p.value for p in Platform])
    device.set_defaults(run=cmd_enrol_device)

    rotate = sub.add_parser(
        "rotate-keys",
        help="Re-wrap keys under the current master key, give "
        "each school a new data key, re-encrypt, retire.",
    )
    rotate.add_argument("--school", help="Only this school (slug).")
    rotate.add_argument("--batch", type=int, default=500)
    rotate.add_argument(
        "--retire-only",
        action="store_true",
        help="Only delete data keys superseded more than 10 minutes ago.",
    )
    rotate.set_defaults(run=cmd_rotate_keys)

    sub.add_parser(
        "verify-audit", help="Verify every audit hash chain; exit 1 if one is broken."
    ).set_defaults(run=cmd_verify_audit)
    sub.add_parser(
        "purge-activity", help="Delete activity history past its retention period."
    ).set_defaults(run=cmd_purge_activity)
    boundaries = sub.add_parser(
        "import-boundaries",
        help="Import grade boundaries from a CSV file (all or nothing; idempotent).",
    )
    boundaries.add_argument(
        "file",
        help="CSV with the header board,spec_code,qualification,series,tier,grade,min_mark,"
        "max_mark,source. Published AQA 8300 and Edexcel 1MA1 boundaries ship in "
        "resolvers/tracking_data/boundaries/.",
    )
    boundaries.set_defaults(run=cmd_import_boundaries)
    roster = sub.add_parser(
        "import-oneroster",
        help="Import a OneRoster 1.1/1.2 CSV set (folder or zip) into a school; never deletes.",
    )
    roster.add_argument("path", help="A folder or a zip file holding manifest.csv and the CSVs.")
    roster.add_argument("--school", required=True, help="School slug.")
    roster.add_argument(
        "--dry-run", action="store_true", help="Print the planned changes and write nothing."
    )
    roster.set_defaults(run=cmd_import_oneroster)
    detect = sub.add_parser(
        "detect",
        help="Run safeguarding detection on a text, or on each line of a file; prints one "
        "JSON object per input.",
    )
    detect.add_argument("text", nargs="?", metavar="TEXT", help="Text to scan.")
    detect.add_argument("--file", metavar="F", help="Scan each line of F ('-' for stdin).")
    detect.add_argument(
        "--school", metavar="SLUG", help="Use this school's tuned rules (needs DATABASE_URL)."
    )
    detect.set_defaults(sync=cmd_detect)

    # The reference device agent and the classroom simulator are clients of the API.
    add_agent_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if hasattr(args, "sync"):
            handler: Callable[[argparse.Namespace], int] = args.sync
            return handler(args)
        code: int = asyncio.run(args.run(args))
        return code
    except (ConfigurationError, InvalidInput) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
