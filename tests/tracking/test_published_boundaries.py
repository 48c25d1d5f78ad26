"""The shipped AQA 8300 and Edexcel 1MA1 boundaries, graded through GraphQL at every boundary."""

from __future__ import annotations

from pathlib import Path

from models.staff import Role
from models.tracking import GradeBoundarySet
from resolvers.context import Services
from resolvers.grading import UNGRADED
from resolvers.tracking_data import QUALIFICATIONS
from tests import factories
from tests.conftest import GraphQLRunner
from tests.tracking.reference import import_shipped_boundaries

SPEC = """
query Spec($board: String!, $code: String!) {
  specification(board: $board, code: $code) {
    board code title subject qualification tiers series
    components { code tier maxMark }
  }
}
"""

BOUNDARY_SET = """
query Set($board: String!, $code: String!, $series: String!, $tier: Tier, $component: String) {
  specification(board: $board, code: $code) {
    boundarySet(series: $series, tier: $tier, component: $component) {
      series tier maxMark isNotional source boundaries { grade minMark }
    }
  }
}
"""

#: Grades of one set at its boundaries: one alias pair per boundary, in one request.
GRADE_AT = """
query Grades($board: String!, $code: String!, $series: String!, $tier: Tier, $component: String,
             $at: Int!, $below: Int!) {
  specification(board: $board, code: $code) {
    boundarySet(series: $series, tier: $tier, component: $component) {
      at: gradeFor(mark: $at)
      below: gradeFor(mark: $below)
    }
  }
}
"""

#: (board, code, component) -> series -> tier -> expected thresholds, from tracking.md section 3.
H, F = ("9", "8", "7", "6", "5", "4", "3"), ("5", "4", "3", "2", "1")
EXPECTED = {
    ("AQA", "8300", None): {
        "June 2023": {
            "HIGHER": (214, 186, 158, 125, 92, 59, 42),
            "FOUNDATION": (189, 158, 117, 76, 35),
        },
        "June 2024": {
            "HIGHER": (219, 191, 163, 129, 95, 61, 44),
            "FOUNDATION": (186, 157, 117, 77, 37),
        },
    },
    ("EDEXCEL", "1MA1", None): {
        "June 2023": {
            "HIGHER": (203, 174, 145, 112, 79, 47, 31),
            "FOUNDATION": (182, 147, 109, 71, 33),
        },
        "June 2024": {
            "HIGHER": (197, 167, 137, 105, 73, 42, 26),
            "FOUNDATION": (175, 142, 103, 65, 27),
        },
    },
}
PAPERS = {
    "June 2023": {
        "8300/1H": (70, 59, 49, 39, 30, 21, 16),
        "8300/2H": (71, 62, 53, 41, 30, 19, 13),
        "8300/3H": (72, 64, 56, 43, 31, 19, 13),
        "8300/1F": (64, 54, 40, 26, 12),
        "8300/2F": (63, 53, 40, 27, 14),
        "8300/3F": (62, 51, 37, 23, 9),
    },
    "June 2024": {
        "8300/1H": (73, 63, 53, 41, 30, 19, 13),
        "8300/2H": (72, 62, 52, 40, 29, 18, 12),
        "8300/3H": (74, 66, 58, 46, 35, 24, 18),
        "8300/1F": (63, 54, 40, 26, 13),
        "8300/2F": (58, 46, 34, 22, 11),
        "8300/3F": (65, 57, 42, 27, 13),
    },
}


def expected_sets() -> list[tuple[dict[str, object], int, tuple[tuple[str, int], ...]]]:
    """(variables naming the set, max mark, thresholds) for every shipped set."""
    sets = []
    for (board, code, _), by_series in EXPECTED.items():
        for series, by_tier in by_series.items():
            for tier, marks in by_tier.items():
                grades = H if tier == "HIGHER" else F
                variables: dict[str, object] = {
                    "board": board,
                    "code": code,
                    "series": series,
                    "tier": tier,
                }
                sets.append((variables, 240, tuple(zip(grades, marks, strict=True))))
    for series, papers in PAPERS.items():
        for paper, marks in papers.items():
            tier = "HIGHER" if paper.endswith("H") else "FOUNDATION"
            grades = H if tier == "HIGHER" else F
            variables = {
                "board": "AQA",
                "code": "8300",
                "series": series,
                "tier": tier,
                "component": paper,
            }
            sets.append((variables, 80, tuple(zip(grades, marks, strict=True))))
    return sets


async def test_every_boundary_grades_right_and_one_below_is_the_grade_below(
    services: Services, gql: GraphQLRunner
) -> None:
    # given the shipped files imported, and a teacher
    counts = await import_shipped_boundaries()
    school = await factories.school(services)
    teacher = factories.viewer(await factories.staff(school, Role.TEACHER), school, Role.TEACHER)
    sets = expected_sets()
    assert counts.created == len(sets) == await GradeBoundarySet.all().count() == 8 + 12
    scale = QUALIFICATIONS["GCSE"].scale
    checked = 0
    for variables, max_mark, thresholds in sets:
        # when the set is read
        result = await gql(BOUNDARY_SET, teacher, **variables)
        assert result.errors is None, result.errors
        got = result.data["specification"]["boundarySet"]
        # then it is the published one
        assert got["maxMark"] == max_mark
        assert got["tier"] == variables["tier"]
        assert got["isNotional"] is ("component" in variables)
        assert got["source"].startswith("https://")
        assert [(b["grade"], b["minMark"]) for b in got["boundaries"]] == list(thresholds)
        for grade, min_mark in thresholds:
            # and each boundary mark earns its grade, one mark fewer the grade below (or U)
            below_grade = dict(thresholds).get(scale.below(grade)) is not None
            expected_below = scale.below(grade) if below_grade else UNGRADED
            result = await gql(GRADE_AT, teacher, **variables, at=min_mark, below=min_mark - 1)
            assert result.errors is None, result.errors
            graded = result.data["specification"]["boundarySet"]
            assert graded == {"at": grade, "below": expected_below}, (variables, grade)
            checked += 1
    # 2 boards x 2 series x (7 + 5) subject boundaries, 2 series x 6 papers' boundaries
    assert checked == 2 * 2 * (7 + 5) + 2 * (3 * 7 + 3 * 5)


async def test_specification_lists_tiers_series_and_papers(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    await import_shipped_boundaries()
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    # when the board is named by its name, not its code
    result = await gql(SPEC, admin, board="Pearson Edexcel", code="1ma1")
    # then
    assert result.errors is None, result.errors
    spec = result.data["specification"]
    assert spec["board"] == "EDEXCEL"
    assert spec["code"] == "1MA1"
    assert (spec["title"], spec["subject"], spec["qualification"]) == (
        "GCSE Mathematics",
        "Mathematics",
        "GCSE",
    )
    assert spec["tiers"] == ["FOUNDATION", "HIGHER"]
    assert spec["series"] == ["June 2023", "June 2024"]
    assert {c["code"] for c in spec["components"]} == {
        f"1MA1/{n}{t}" for n in (1, 2, 3) for t in "FH"
    }


async def test_reference_cases_and_out_of_range_marks(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    await import_shipped_boundaries()
    school = await factories.school(services)
    teacher = factories.viewer(await factories.staff(school, Role.TEACHER), school, Role.TEACHER)
    aqa_2023_f = {"board": "AQA", "code": "8300", "series": "June 2023", "tier": "FOUNDATION"}
    # when graded at the top of a Foundation paper
    result = await gql(GRADE_AT, teacher, **aqa_2023_f, at=240, below=34)
    # then the cap holds and 34 is U (tracking.md section 2 test cases)
    assert result.data["specification"]["boundarySet"] == {"at": "5", "below": "U"}
    # when a mark lies outside 0..240
    result = await gql(GRADE_AT, teacher, **aqa_2023_f, at=241, below=-1)
    # then it is a clear top-level input error, naming the mark
    assert result.errors is not None
    assert {e.extensions["code"] for e in result.errors} == {"INVALID_INPUT"}
    assert "mark 241 is outside 0..240" in {e.message for e in result.errors}


async def test_unknown_specification_series_and_tier_answer_null(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    await import_shipped_boundaries()
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    # when / then
    result = await gql(SPEC, admin, board="OCR", code="J277")
    assert result.errors is None
    assert result.data == {"specification": None}
    result = await gql(
        BOUNDARY_SET, admin, board="AQA", code="8300", series="June 2019", tier="HIGHER"
    )
    assert result.errors is None
    assert result.data == {"specification": {"boundarySet": None}}
    result = await gql(BOUNDARY_SET, admin, board="AQA", code="8300", series="Juny 2024")
    assert result.errors[0].extensions["code"] == "INVALID_INPUT"


def test_shipped_files_are_in_the_package() -> None:
    # given the installed package's data (pyproject package-data)
    from resolvers.tracking_data import shipped_boundary_files

    # then both boards' files are there
    assert [Path(p).name for p in shipped_boundary_files()] == ["aqa-8300.csv", "edexcel-1ma1.csv"]
