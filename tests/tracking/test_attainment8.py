"""Attainment 8 (pure): buckets, double weighting, points per grade (reference section 4)."""

from __future__ import annotations

import pytest

from resolvers.attainment8 import Bucket, Element, Result, bucket_for, estimate, points


def test_a_full_set_of_nines_scores_90() -> None:
    # given nines in English language and literature, maths, three EBacc and three open subjects
    subjects = [
        "English Language",
        "English Literature",
        "Mathematics",
        "Biology",
        "Chemistry",
        "History",
        "Art",
        "Music",
        "Drama",
    ]
    # when
    result = estimate([Result(s, "9") for s in subjects])
    # then 10 weighted slots of 9: English and maths count twice
    assert result.total == 90
    assert result.average == 9
    assert result.english_double_weighted


def test_english_counts_twice_only_with_both_language_and_literature() -> None:
    # given language alone, then language and literature
    alone = estimate([Result("English Language", "6"), Result("Maths", "5")])
    both = estimate(
        [Result("English Language", "6"), Result("English Literature", "4"), Result("Maths", "5")]
    )
    # then
    assert alone.element(Element.ENGLISH) == 6
    assert not alone.english_double_weighted
    assert both.element(Element.ENGLISH) == 12
    # the other English grade may fill an open slot, never an EBacc one
    assert both.element(Element.OPEN) == 4
    assert both.element(Element.EBACC) == 0


def test_the_best_grades_fill_ebacc_then_open_and_empty_slots_score_0() -> None:
    # given five EBacc subjects and one other
    results = [
        Result("Biology", "7"),
        Result("Chemistry", "6"),
        Result("Physics", "5"),
        Result("Geography", "8"),
        Result("French", "4"),
        Result("Art", "3"),
    ]
    # when
    result = estimate(results)
    # then the best three EBacc grades fill EBacc, the rest go to open
    assert result.element(Element.EBACC) == 8 + 7 + 6
    assert result.element(Element.OPEN) == 5 + 4 + 3
    assert result.element(Element.MATHS) == 0
    assert result.total == 33


def test_maths_is_double_weighted() -> None:
    assert estimate([Result("Mathematics", "7")]).total == 14


def test_a_double_award_fills_two_ebacc_slots() -> None:
    # given combined science 6-5: each slot scores the mean, 5.5
    result = estimate([Result("Combined Science: Trilogy", "6-5")])
    # then
    assert result.element(Element.EBACC) == 11


@pytest.mark.parametrize(
    ("grade", "expected"),
    [
        ("9", 9),
        ("1", 1),
        ("U", 0),
        ("A*", 8.5),
        ("A", 7),
        ("B", 5.5),
        ("C", 4),
        ("D", 3),
        ("E", 2),
        ("F", 1.5),
        ("G", 1),
        ("L2D*", 8.5),
        ("L2M", 5.5),
        ("L1P", 1),
    ],
)
def test_points_per_grade_follow_the_reference(grade: str, expected: float) -> None:
    assert points(grade) == expected


def test_an_unknown_grade_has_no_points() -> None:
    with pytest.raises(ValueError, match="no Attainment 8 points"):
        points("Q")


@pytest.mark.parametrize(
    ("subject", "bucket"),
    [
        ("English Language", Bucket.ENGLISH_LANGUAGE),
        ("English Literature", Bucket.ENGLISH_LITERATURE),
        ("Mathematics", Bucket.MATHS),
        ("Further Mathematics", Bucket.OPEN),
        ("Computer Science", Bucket.EBACC),
        ("Combined Science: Trilogy", Bucket.EBACC),
        ("Sports Science", Bucket.OPEN),
        ("Spanish", Bucket.EBACC),
        ("Design and Technology", Bucket.OPEN),
    ],
)
def test_subjects_fall_in_their_buckets(subject: str, bucket: Bucket) -> None:
    assert bucket_for(subject) is bucket


def test_the_same_subject_counts_once_with_its_best_grade() -> None:
    # given two entries in one subject
    result = estimate([Result("History", "4"), Result("history", "6")])
    # then
    assert result.total == 6
    assert len(result.slots) == 1


def test_the_choice_does_not_depend_on_input_order() -> None:
    results = [Result(s, "5") for s in ("Art", "Music", "Drama", "Dance", "Media")]
    assert estimate(results) == estimate(list(reversed(results)))
