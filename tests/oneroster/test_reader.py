"""Reading sets: the manifest decides the version and each file's mode; problems name the file."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from resolvers.oneroster.reader import Mode, RosterError, read_set
from tests.oneroster.test_import import SAMPLE


def copy_of_sample(tmp_path: Path) -> Path:
    return Path(shutil.copytree(SAMPLE, tmp_path / "set"))


def _unlist_users(folder: Path) -> None:
    _replace(folder / "manifest.csv", "file.users,bulk\n", "")


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_the_sample_is_a_bulk_1_2_set_with_line_numbers() -> None:
    # when
    roster = read_set(SAMPLE)
    # then
    assert (roster.version, roster.source) == ("1.2", "Example MIS")
    assert {name: t.mode for name, t in roster.tables.items()} == {
        name: Mode.BULK
        for name in (
            "orgs",
            "academicSessions",
            "courses",
            "classes",
            "users",
            "roles",
            "enrollments",
            "demographics",
        )
    }
    users = roster.table("users").rows
    assert (users[0].line, users[0].get("sourcedId")) == (2, "stu-001")
    assert roster.table("lineItems").mode is Mode.ABSENT


def test_a_zip_of_the_folder_itself_is_read_too(tmp_path: Path) -> None:
    # given a zip whose files sit in one folder rather than at its root
    target = tmp_path / "nested.zip"
    with zipfile.ZipFile(target, "w") as archive:
        for path in SAMPLE.glob("*.csv"):
            archive.write(path, f"export/{path.name}")
    # when
    roster = read_set(target)
    # then
    assert len(roster.table("users").rows) == 45


def test_a_quoted_value_over_two_lines_keeps_the_next_row_numbers_right(tmp_path: Path) -> None:
    # given a class title with a line break inside quotes on line 2
    folder = copy_of_sample(tmp_path)
    path = folder / "classes.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace("10X Maths", '"10X\nMaths"')
    path.write_text("".join(lines))
    # when
    rows = read_set(folder).table("classes").rows
    # then
    assert [r.line for r in rows] == [2, 4, 5, 6]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda f: (f / "manifest.csv").unlink(),
            "manifest.csv: is missing: a OneRoster set starts with it.",
        ),
        (
            lambda f: _replace(
                f / "manifest.csv", "oneroster.version,1.2", "oneroster.version,2.0"
            ),
            "manifest.csv line 3: oneroster.version must be 1.1 or 1.2, not '2.0'.",
        ),
        (
            lambda f: (f / "roles.csv").unlink(),
            "manifest.csv line 20: file.roles is bulk but roles.csv is not in the set.",
        ),
        (
            lambda f: _replace(f / "manifest.csv", "file.users,bulk", "file.users,full"),
            "manifest.csv line 24: file.users must be bulk, delta or absent.",
        ),
        (
            _unlist_users,
            "users.csv: is in the set but manifest.csv has no file.users row.",
        ),
        (
            lambda f: _replace(f / "orgs.csv", ",school,", ",school,extra,"),
            "orgs.csv line 2: has 8 values but the header has 7 columns.",
        ),
    ],
    ids=["no-manifest", "version", "file-missing", "bad-mode", "unlisted-file", "ragged-row"],
)
def test_a_broken_set_names_the_file_and_line(
    tmp_path: Path, edit: Callable[[Path], None], message: str
) -> None:
    # given
    folder = copy_of_sample(tmp_path)
    edit(folder)
    # when
    with pytest.raises(RosterError) as failed:
        read_set(folder)
    # then
    assert str(failed.value) == message


def test_a_file_that_is_not_utf_8_is_refused(tmp_path: Path) -> None:
    # given
    folder = copy_of_sample(tmp_path)
    (folder / "users.csv").write_bytes(
        (folder / "users.csv").read_bytes() + "Zoë\n".encode("latin-1")
    )
    # when
    with pytest.raises(RosterError) as failed:
        read_set(folder)
    # then
    assert str(failed.value).startswith("users.csv: is not UTF-8")
