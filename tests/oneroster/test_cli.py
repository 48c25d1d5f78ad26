"""``pupil-progress import-oneroster`` end to end, as an operator runs it against a database."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

from app.config import Settings
from models.learners import Learner
from models.roster import RosterLink
from resolvers.context import Services
from tests import factories
from tests.oneroster.test_import import SAMPLE, snapshot

ROOT = Path(__file__).resolve().parents[2]


async def run_cli(
    database_url: str, settings: Settings, tmp_path: Path, *args: str
) -> tuple[int, str, str]:
    key_file = tmp_path / "master.key"
    key_file.write_text(settings.master_key or "")
    env = {k: v for k, v in os.environ.items() if k != "PP_MASTER_KEY"}
    env |= {"DATABASE_URL": database_url, "PP_MASTER_KEY_FILE": str(key_file)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        "import-oneroster",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_command_imports_then_finds_nothing_to_change(
    services: Services, settings: Settings, database_url: str, tmp_path: Path
) -> None:
    # given
    school = await factories.school(services, slug="northfield")
    # when
    dry = await run_cli(
        database_url, settings, tmp_path, str(SAMPLE), "--school", "northfield", "--dry-run"
    )
    after_dry_run = await Learner.filter(school_id=school.id).count()
    first = await run_cli(database_url, settings, tmp_path, str(SAMPLE), "--school", "northfield")
    second = await run_cli(database_url, settings, tmp_path, str(SAMPLE), "--school", "northfield")
    # then
    assert dry[0] == 0, dry
    assert dry[1].startswith("Dry run: OneRoster 1.2 set for northfield; nothing written.")
    assert after_dry_run == 0
    assert first[0] == 0, first
    assert first[1].startswith("Imported OneRoster 1.2 set into northfield (oneroster-")
    assert first[2] == ""  # no progress bar when stderr is not a terminal
    assert await Learner.filter(school_id=school.id).count() == 40
    assert await RosterLink.filter(school_id=school.id).count() == 102
    assert second[0] == 0, second
    assert second[1].startswith("OneRoster 1.2 set for northfield: nothing to change.")


async def test_the_command_names_the_bad_line_and_writes_nothing(
    services: Services, settings: Settings, database_url: str, tmp_path: Path
) -> None:
    # given
    await factories.school(services, slug="northfield")
    folder = Path(shutil.copytree(SAMPLE, tmp_path / "set"))
    path = folder / "enrollments.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines[41] = lines[41].replace("stu-", "stu-9", 1)
    path.write_text("".join(lines))
    before = await snapshot()
    # when
    code, out, err = await run_cli(
        database_url, settings, tmp_path, str(folder), "--school", "northfield"
    )
    # then
    assert (code, out) == (2, "")
    assert err.startswith("error: enrollments.csv line 42: userSourcedId 'stu-9"), err
    assert await snapshot() == before
