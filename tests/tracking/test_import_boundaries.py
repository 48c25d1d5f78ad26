"""import-boundaries: idempotent, all or nothing, and every bad row named by file and line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from models.tracking import Boundary, ExamBoard, GradeBoundarySet, Specification
from resolvers.boundaries import HEADER, BoundaryFileError, import_boundaries
from resolvers.context import Services
from tests.tracking.reference import aqa_8300, import_shipped_boundaries

SOURCE = "https://example.test/boundaries.pdf"
GOOD_ROWS = [
    f"OCR,J560,GCSE,June 2024,HIGHER,{grade},{mark},100,{SOURCE}"
    for grade, mark in (("9", 80), ("8", 70), ("7", 60), ("6", 50), ("5", 40), ("4", 30), ("3", 22))
] + [
    f"OCR,H240,A_LEVEL,June 2024,,{grade},{mark},300,{SOURCE}"
    for grade, mark in (("A*", 250), ("A", 220), ("B", 180), ("C", 140), ("D", 100), ("E", 60))
]


def csv_file(folder: Path, rows: list[str], name: str = "boundaries.csv") -> Path:
    path = folder / name
    path.write_text("\n".join([",".join(HEADER), *rows]) + "\n", encoding="utf-8")
    return path


async def stored() -> list[tuple[object, ...]]:
    """Every set and boundary, comparable before and after."""
    sets = (
        await GradeBoundarySet.all()
        .order_by("id")
        .values_list(
            "id", "specification_id", "series_id", "scope_key", "max_mark", "source", "is_notional"
        )
    )
    marks = (
        await Boundary.all()
        .order_by("id")
        .values_list("id", "boundary_set_id", "grade_id", "min_mark")
    )
    return [*sets, *marks]


async def test_a_second_import_changes_nothing(services: Services, tmp_path: Path) -> None:
    # given a file imported once
    path = csv_file(tmp_path, GOOD_ROWS)
    first = await import_boundaries(path)
    before = await stored()
    # when it is imported again
    second = await import_boundaries(path)
    # then the counts say so, and the rows are the same rows
    assert (first.created, first.unchanged, first.updated) == (2, 0, 0)
    assert (second.created, second.unchanged, second.updated) == (0, 2, 0)
    assert str(second) == "Boundary sets: 0 created, 2 unchanged, 0 updated."
    assert await stored() == before


async def test_shipped_files_import_twice_without_change(services: Services) -> None:
    first = await import_shipped_boundaries()
    before = await stored()
    second = await import_shipped_boundaries()
    assert (first.created, first.unchanged) == (20, 0)
    assert (second.created, second.unchanged, second.updated) == (0, 20, 0)
    assert await stored() == before


async def test_a_corrected_boundary_updates_its_set_in_place(
    services: Services, tmp_path: Path
) -> None:
    # given
    await import_boundaries(csv_file(tmp_path, GOOD_ROWS))
    set_ids = set(await GradeBoundarySet.all().values_list("id", flat=True))
    corrected = [row.replace(",4,30,", ",4,31,") for row in GOOD_ROWS]
    # when
    counts = await import_boundaries(csv_file(tmp_path, corrected, "corrected.csv"))
    # then one set is updated, keeping its id (grade records name it)
    assert (counts.created, counts.unchanged, counts.updated) == (0, 1, 1)
    assert set(await GradeBoundarySet.all().values_list("id", flat=True)) == set_ids
    four = await Boundary.get(grade__label="4", boundary_set__specification__code="J560")
    assert four.min_mark == 31


BAD_ROWS = [
    # (row replacing GOOD_ROWS[3], i.e. line 5, what the message says)
    ("OCR,J560,GCSE_FOO,June 2024,HIGHER,6,50,100,x", "unknown qualification 'GCSE_FOO'"),
    ("OCR,J560,GCSE,June 2024,HIGHER,6*,50,100," + SOURCE, "grade '6*' is not on the GCSE 9-1"),
    ("OCR,J560,GCSE,June 2024,HIGHER,6,fifty,100," + SOURCE, "min_mark 'fifty' is not a whole"),
    ("OCR,J560,GCSE,June 2024,HIGHER,6,50.5,100," + SOURCE, "min_mark '50.5' is not a whole"),
    ("OCR,J560,GCSE,June 2024,HIGHER,6,-5,100," + SOURCE, "min_mark '-5' is not a whole"),
    ("OCR,J560,GCSE,June 2024,HIGHER,6,150,100," + SOURCE, "min_mark 150 is above max_mark 100"),
    (
        "OCR,J560,GCSE,June 2024,HIGHER,6,50,120," + SOURCE,
        "max_mark 120 differs from 100 on line 2",
    ),
    ("OCR,J560,GCSE,June 2024,HIGHER,6,75,100," + SOURCE, "grade 6 needs 75 marks"),
    ("OCR,J560,GCSE,June 2024,HIGHER,6,70,100," + SOURCE, "grade 6 needs 70 marks"),
    ("OCR,J560,GCSE,June 2024,HIGHER,2,50,100," + SOURCE, "cannot be awarded on the HIGHER"),
    ("OCR,J560,GCSE,June 2024,MIDDLE,6,50,100," + SOURCE, "tier 'MIDDLE' is not FOUNDATION"),
    ("OCR,J560,GCSE,Juny 2024,HIGHER,6,50,100," + SOURCE, "series 'Juny 2024' is not like"),
    ("OCR,J560,GCSE,June 2024,HIGHER,8,50,100," + SOURCE, "grade 8 already given on line 3"),
    ("OCR,J560,GCSE,June 2024,HIGHER,6,50,100", "expected 9 columns"),
    ("OCR,,GCSE,June 2024,HIGHER,6,50,100," + SOURCE, "spec_code is empty"),
]


@pytest.mark.parametrize(("bad_row", "message"), BAD_ROWS)
async def test_a_bad_row_fails_the_whole_file_by_name_and_line(
    services: Services, tmp_path: Path, bad_row: str, message: str
) -> None:
    # given a file whose fourth row (line 5) is bad, after good rows of a valid set
    rows = list(GOOD_ROWS)
    rows[3] = bad_row
    path = csv_file(tmp_path, rows)
    # when
    with pytest.raises(BoundaryFileError) as raised:
        await import_boundaries(path)
    # then the message names the file and the line, and nothing at all was written
    assert str(raised.value).startswith(f"{path}, line 5: "), str(raised.value)
    assert message in str(raised.value)
    assert raised.value.line == 5
    assert await stored() == []
    assert await Specification.all().count() == 0


async def test_a_bad_header_is_line_1(services: Services, tmp_path: Path) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text("board,code,grade\nAQA,8300,9\n", encoding="utf-8")
    with pytest.raises(BoundaryFileError, match=r"wrong\.csv, line 1: the header must be"):
        await import_boundaries(path)


async def test_a_failure_found_while_writing_rolls_back_the_earlier_sets(
    services: Services, tmp_path: Path
) -> None:
    # given AQA 8300 exists (240 marks over three 80-mark papers) and a file whose second set
    # claims a 100-mark paper 1H, found only when the stored paper is read
    await aqa_8300()
    rows = [*GOOD_ROWS, f"AQA,8300/1H,GCSE,June 2024,HIGHER,9,90,100,{SOURCE}"]
    path = csv_file(tmp_path, rows)
    # when
    with pytest.raises(BoundaryFileError) as raised:
        await import_boundaries(path)
    # then the line is named, and the OCR sets written before it are gone with it
    assert raised.value.line == len(rows) + 1
    assert "max_mark 100 differs from 8300/1H's 80" in str(raised.value)
    assert await stored() == []
    assert await ExamBoard.filter(code="OCR").count() == 0


async def test_an_existing_specification_of_another_qualification_is_refused(
    services: Services, tmp_path: Path
) -> None:
    await aqa_8300()
    path = csv_file(tmp_path, [f"AQA,8300,A_LEVEL,June 2024,,A,200,240,{SOURCE}"])
    with pytest.raises(BoundaryFileError, match="line 2: AQA 8300 is not a A_LEVEL"):
        await import_boundaries(path)


def run_cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "PP_ENV": "development"}
    return subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


async def test_cli_imports_prints_counts_and_fails_cleanly(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    # given a good file and a bad one
    good = csv_file(tmp_path, GOOD_ROWS, "good.csv")
    bad = csv_file(tmp_path, [*GOOD_ROWS[:2], GOOD_ROWS[0]], "bad.csv")
    # when each is imported through the command line
    first = run_cli(database_url, "import-boundaries", str(good))
    again = run_cli(database_url, "import-boundaries", str(good))
    failed = run_cli(database_url, "import-boundaries", str(bad))
    # then
    assert (first.returncode, first.stdout.strip()) == (
        0,
        "Boundary sets: 2 created, 0 unchanged, 0 updated.",
    ), first.stderr
    assert again.stdout.strip() == "Boundary sets: 0 created, 2 unchanged, 0 updated."
    assert failed.returncode == 2
    assert f"{bad}, line 4: grade 9 already given on line 2" in failed.stderr
    assert "Nothing was imported." in failed.stderr
    assert await GradeBoundarySet.all().count() == 2
