"""The pure grading rules: worked cases from tracking.md section 2, then properties."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolvers.grading import (
    Boundaries,
    GradeScale,
    TierRule,
    allowed_grade_boundary,
    apply_tier,
    combine_series,
    grade_for,
    scale_mark,
    shift,
    standardised,
    tier_allowed,
)
from resolvers.tracking_data import QUALIFICATIONS

GCSE = QUALIFICATIONS["GCSE"].scale
FOUNDATION = TierRule("FOUNDATION", max_grade="5", min_grade="1")
HIGHER = TierRule("HIGHER", max_grade="9", min_grade="4", allowed_grade="3")
HIGHER_GRADES = ("9", "8", "7", "6", "5", "4", "3")
FOUNDATION_GRADES = ("5", "4", "3", "2", "1")
#: No example database in the checkout, no wall-clock deadline (the machine is shared).
PROPERTY = settings(database=None, deadline=None, max_examples=150)


def published(marks: tuple[int, ...], grades: tuple[str, ...], tier: str) -> Boundaries:
    return Boundaries(240, tuple(zip(grades, marks, strict=True)), tier=tier)


AQA_2023_H = published((214, 186, 158, 125, 92, 59, 42), HIGHER_GRADES, "HIGHER")
AQA_2023_F = published((189, 158, 117, 76, 35), FOUNDATION_GRADES, "FOUNDATION")
AQA_2024_H = published((219, 191, 163, 129, 95, 61, 44), HIGHER_GRADES, "HIGHER")
EDEXCEL_2023_H = published((203, 174, 145, 112, 79, 47, 31), HIGHER_GRADES, "HIGHER")
EDEXCEL_2024_H = published((197, 167, 137, 105, 73, 42, 26), HIGHER_GRADES, "HIGHER")
FULL_9_1 = Boundaries(
    240, tuple(zip(GCSE.grades, (220, 190, 160, 130, 100, 70, 50, 30, 10), strict=True))
)


@pytest.mark.parametrize(
    ("boundaries", "mark", "grade"),
    [
        (AQA_2023_H, 240, "9"),
        (AQA_2023_H, 158, "7"),
        (AQA_2023_H, 157, "6"),
        (AQA_2023_H, 42, "3"),
        (AQA_2023_H, 41, "U"),
        (AQA_2023_F, 240, "5"),
        (AQA_2023_F, 189, "5"),
        (AQA_2023_F, 158, "4"),
        (AQA_2023_F, 34, "U"),
        (AQA_2024_H, 61, "4"),
        (AQA_2024_H, 60, "3"),
        (AQA_2024_H, 44, "3"),
        (AQA_2024_H, 43, "U"),
        (EDEXCEL_2024_H, 42, "4"),
        (EDEXCEL_2024_H, 41, "3"),
        (EDEXCEL_2024_H, 25, "U"),
    ],
)
def test_reference_cases(boundaries: Boundaries, mark: int, grade: str) -> None:
    # given the published subject boundaries (tracking.md section 2, test cases)
    # when / then
    assert grade_for(boundaries, mark) == grade


@pytest.mark.parametrize("mark", [-1, 241, float("nan"), float("inf")])
def test_marks_outside_the_paper_are_refused_by_name(mark: float) -> None:
    with pytest.raises(ValueError, match=r"mark .* is outside 0\.\.240"):
        grade_for(AQA_2023_H, mark)


@pytest.mark.parametrize("published_set", [AQA_2023_H, AQA_2024_H, EDEXCEL_2023_H, EDEXCEL_2024_H])
def test_allowed_grade_3_rule_reproduces_every_published_one(published_set: Boundaries) -> None:
    # given the published Higher set without its grade 3
    without_3 = Boundaries(240, published_set.thresholds[:-1], tier="HIGHER")
    # when the allowed grade 3 is computed
    computed = allowed_grade_boundary(without_3, GCSE, HIGHER)
    # then it is the one the board published
    assert computed == published_set.min_mark("3")


def test_untiered_set_on_higher_keeps_allowed_3_and_makes_lower_grades_u() -> None:
    # given a full 9-1 set (say, a school's own)
    # when it is applied to a Higher entry
    higher = apply_tier(FULL_9_1, GCSE, HIGHER)
    # then 9-4 stand, 3 keeps the set's own boundary, and below that is U (no 2 or 1)
    assert higher.grades == HIGHER_GRADES
    assert grade_for(higher, 50) == "3"
    assert grade_for(higher, 49) == "U"


def test_allowed_3_is_computed_when_the_set_has_none() -> None:
    # given a set of 9-4 only
    nine_to_four = Boundaries(240, FULL_9_1.thresholds[:6])
    # when it is applied to a Higher entry
    higher = apply_tier(nine_to_four, GCSE, HIGHER)
    # then 3 is allowed half the 4-5 interval (30) below 4 (70)
    assert higher.min_mark("3") == 55
    assert grade_for(higher, 54) == "U"


def test_untiered_set_on_foundation_caps_at_5() -> None:
    foundation = apply_tier(FULL_9_1, GCSE, FOUNDATION)
    assert foundation.grades == FOUNDATION_GRADES
    assert grade_for(foundation, 240) == "5"
    assert grade_for(foundation, 9) == "U"


def test_paper_series_combine_by_summing_notional_boundaries() -> None:
    # given paper 1 graded on June 2023's notional boundaries and papers 2 and 3 on June 2024's
    paper_1_2023 = Boundaries(
        80, tuple(zip(HIGHER_GRADES, (70, 59, 49, 39, 30, 21, 16), strict=True))
    )
    paper_2_2024 = Boundaries(
        80, tuple(zip(HIGHER_GRADES, (72, 62, 52, 40, 29, 18, 12), strict=True))
    )
    paper_3_2024 = Boundaries(
        80, tuple(zip(HIGHER_GRADES, (74, 66, 58, 46, 35, 24, 18), strict=True))
    )
    # when they are combined
    combined = combine_series([paper_1_2023, paper_2_2024, paper_3_2024])
    # then the total is graded against the sums
    assert combined.max_mark == 240
    assert combined.min_mark("9") == 70 + 72 + 74
    assert combined.min_mark("4") == 21 + 18 + 24
    assert grade_for(combined, 63) == "4"
    assert grade_for(combined, 62) == "3"


def test_papers_with_different_grades_do_not_combine() -> None:
    foundation_paper = Boundaries(
        80, tuple(zip(FOUNDATION_GRADES, (64, 54, 40, 26, 12), strict=True))
    )
    higher_paper = Boundaries(
        80, tuple(zip(HIGHER_GRADES, (70, 59, 49, 39, 30, 21, 16), strict=True))
    )
    with pytest.raises(ValueError, match="grade differently"):
        combine_series([foundation_paper, higher_paper])


def test_shift_rounds_half_up_and_clamps() -> None:
    # given boundaries on a 50-mark test: 1% is half a mark
    b = Boundaries(50, (("7", 49), ("4", 20), ("1", 0)))
    # when shifted by +1% and by -1%
    up, down = shift(b, 1), shift(b, -1)
    # then half marks round up, and nothing leaves 0..max
    assert up.thresholds == (("7", 50), ("4", 21), ("1", 1))
    assert down.thresholds == (("7", 49), ("4", 20), ("1", 0))
    assert shift(b, 10).thresholds == (("7", 50), ("4", 25), ("1", 5))


def test_standardised_needs_twenty_learners() -> None:
    with pytest.raises(ValueError, match="at least 20 learners, got 19"):
        standardised(GCSE, list(range(19)), {"9": 10}, max_mark=100)


def test_standardised_refuses_shares_over_100_and_unknown_grades() -> None:
    marks = list(range(40))
    with pytest.raises(ValueError, match="more than 100%"):
        standardised(GCSE, marks, {"9": 60, "8": 50}, max_mark=100)
    with pytest.raises(ValueError, match="not on the scale: A"):
        standardised(GCSE, marks, {"A": 10}, max_mark=100)


def test_scaled_short_test() -> None:
    # a 50-mark test against OCR J277 Unit 1 (80 marks): 30/50 -> 48/80
    assert scale_mark(30, 50, 80) == 48
    with pytest.raises(ValueError, match=r"raw mark 51 is outside 0\.\.50"):
        scale_mark(51, 50, 80)


# Properties

GRADES = st.sampled_from([GCSE.grades[:n] for n in range(1, 10)])


@st.composite
def boundary_sets(
    draw: st.DrawFn, grades_from: st.SearchStrategy[tuple[str, ...]] = GRADES
) -> Boundaries:
    max_mark = draw(st.integers(1, 300))
    grades = draw(grades_from)
    marks = sorted(
        draw(st.lists(st.integers(0, max_mark), min_size=len(grades), max_size=len(grades))),
        reverse=True,
    )
    return Boundaries(max_mark, tuple(zip(grades, marks, strict=True)))


def marks_of(b: Boundaries) -> st.SearchStrategy[float]:
    return st.floats(0, b.max_mark, allow_nan=False)


@PROPERTY
@given(st.data(), boundary_sets())
def test_more_marks_never_give_a_lower_grade(data: st.DataObject, b: Boundaries) -> None:
    low, high = sorted([data.draw(marks_of(b)), data.draw(marks_of(b))])
    assert GCSE.rank(grade_for(b, low)) <= GCSE.rank(grade_for(b, high))


@PROPERTY
@given(boundary_sets())
def test_every_boundary_mark_earns_its_grade(b: Boundaries) -> None:
    for grade, min_mark in b.thresholds:
        assert GCSE.rank(grade_for(b, min_mark)) >= GCSE.rank(grade)
        if min_mark > 0:
            assert GCSE.rank(grade_for(b, min_mark - 1)) < GCSE.rank(grade)


@PROPERTY
@given(boundary_sets())
def test_shift_by_zero_is_identity(b: Boundaries) -> None:
    assert shift(b, 0) == b


@PROPERTY
@given(st.data(), boundary_sets(), st.floats(-10, 10), st.floats(-10, 10))
def test_shift_is_monotonic(data: st.DataObject, b: Boundaries, p: float, q: float) -> None:
    # given two shifts, the second at least as hard
    easier, harder = shift(b, min(p, q)), shift(b, max(p, q))
    mark = data.draw(marks_of(b))
    # then every threshold moves the same way, and nobody gains a grade from a harder shift
    for (_, e), (_, h) in zip(easier.thresholds, harder.thresholds, strict=True):
        assert 0 <= e <= h <= b.max_mark
    assert GCSE.rank(grade_for(harder, mark)) <= GCSE.rank(grade_for(easier, mark))


@PROPERTY
@given(st.data(), boundary_sets(st.just(GCSE.grades)), st.sampled_from([FOUNDATION, HIGHER]))
def test_tier_caps_hold_for_every_mark(data: st.DataObject, b: Boundaries, tier: TierRule) -> None:
    tiered = apply_tier(b, GCSE, tier)
    mark = data.draw(marks_of(b))
    grade = grade_for(tiered, mark)
    assert tier_allowed(GCSE, tier, grade)
    untiered = grade_for(b, mark)
    if tier is FOUNDATION:
        # Foundation is the untiered grade, capped at 5.
        assert GCSE.rank(grade) == min(GCSE.rank(untiered), GCSE.rank("5"))
    elif GCSE.rank(untiered) >= GCSE.rank("4"):
        assert grade == untiered
    else:
        assert grade in ("3", "U")


@PROPERTY
@given(st.floats(0, 1), st.integers(1, 200), st.integers(1, 200))
def test_scaling_keeps_proportion_and_bounds(fraction: float, out_of: int, full: int) -> None:
    raw = fraction * out_of
    scaled = scale_mark(raw, out_of, full)
    assert 0 <= scaled <= full
    assert scaled / full == pytest.approx(raw / out_of, abs=1e-9)


@PROPERTY
@given(
    st.lists(st.integers(0, 500), min_size=20, max_size=200, unique=True),
    st.lists(st.integers(0, 20), min_size=9, max_size=9).filter(lambda s: sum(s) <= 100),
)
def test_standardised_shares_reproduce_the_cohort(marks: list[int], shares: list[int]) -> None:
    # given distinct marks and a share (percent) per grade
    wanted = dict(zip(GCSE.grades, shares, strict=True))
    # when boundaries are derived and the cohort is graded against them
    derived = standardised(GCSE, marks, wanted, max_mark=500)
    got = Counter(grade_for(derived, m) for m in marks)
    # then the top round(cumulative share x n) learners reach each grade
    n, cumulative, reached_before = len(marks), 0, 0
    for grade in GCSE.grades:
        cumulative += wanted[grade]
        reached = int(cumulative * n / 100 + 0.5)
        assert got[grade] == reached - reached_before
        reached_before = reached
    assert got["U"] == n - reached_before


def test_scale_helpers() -> None:
    assert GCSE.rank("U") == 0
    assert GCSE.rank("9") == 9
    assert GCSE.below("1") == "U"
    assert GCSE.below("5") == "4"
    with pytest.raises(ValueError, match="distinct grades"):
        GradeScale("bad", ("A", "A"))
