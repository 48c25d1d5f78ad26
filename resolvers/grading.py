"""Grading rules, pure: marks against boundaries, tier caps, shifts, mixed series, cohort shares.

No database and no I/O: use-cases load boundary sets and hand them here as :class:`Boundaries`.
Grades are labels ("7", "A*", "L2M", "9-8"); compare them only through a :class:`GradeScale`
(never as strings). ``U`` (unclassified) is implied below the lowest threshold of every set.

Example:
    >>> june_2024_higher = Boundaries(
    ...     240, (("9", 219), ("8", 191), ("7", 163), ("6", 129), ("5", 95), ("4", 61), ("3", 44))
    ... )
    >>> grade_for(june_2024_higher, 61), grade_for(june_2024_higher, 60)
    ('4', '3')
    >>> grade_for(june_2024_higher, 43)
    'U'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

UNGRADED = "U"
#: Fewest marks from which standardised (cohort-share) boundaries are derived.
MIN_STANDARDISED_COHORT = 20


@dataclass(frozen=True)
class GradeScale:
    """An ordered list of grades, highest first. ``U`` is implied below the lowest."""

    name: str
    grades: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.grades or len(set(self.grades)) != len(self.grades) or UNGRADED in self.grades:
            raise ValueError(f"grade scale {self.name!r} needs distinct grades other than U")

    def rank(self, grade: str) -> int:
        """0 for U, 1 for the lowest grade, len(grades) for the highest."""
        if grade == UNGRADED:
            return 0
        if grade not in self.grades:
            raise ValueError(f"grade {grade!r} is not on the {self.name} scale")
        return len(self.grades) - self.grades.index(grade)

    def below(self, grade: str) -> str:
        """The next grade down (U below the lowest)."""
        position = self.grades.index(grade) + 1
        return self.grades[position] if position < len(self.grades) else UNGRADED


@dataclass(frozen=True)
class Boundaries:
    """Raw-mark thresholds of one boundary set: (grade, min_mark), highest grade first.

    Thresholds never increase down the list. Equal thresholds are allowed (a clamped shift can
    produce them): the higher grade then wins and the lower one cannot be reached.
    """

    max_mark: int
    thresholds: tuple[tuple[str, int], ...]
    tier: str | None = None

    def __post_init__(self) -> None:
        if self.max_mark <= 0:
            raise ValueError(f"max_mark must be positive, not {self.max_mark}")
        previous = self.max_mark
        for grade, min_mark in self.thresholds:
            if not 0 <= min_mark <= self.max_mark:
                raise ValueError(f"grade {grade} boundary {min_mark} is outside 0..{self.max_mark}")
            if min_mark > previous:
                raise ValueError(f"grade {grade} boundary {min_mark} is above the grade before it")
            previous = min_mark

    @property
    def grades(self) -> tuple[str, ...]:
        return tuple(grade for grade, _ in self.thresholds)

    def min_mark(self, grade: str) -> int | None:
        return dict(self.thresholds).get(grade)


@dataclass(frozen=True)
class TierRule:
    """What a tier may award: grades from ``min_grade`` to ``max_grade`` plus ``allowed_grade``.

    The allowed grade (GCSE Higher: 3) is for candidates just below ``min_grade``; below it is U.
    """

    code: str
    max_grade: str
    min_grade: str
    allowed_grade: str | None = None


def grade_for(b: Boundaries, mark: float) -> str:
    """The highest grade whose boundary ``mark`` meets; U below the lowest.

    Raises ValueError for a mark outside 0..max_mark (or not a number).
    """
    if not (isinstance(mark, int | float) and 0 <= mark <= b.max_mark):
        raise ValueError(f"mark {mark!r} is outside 0..{b.max_mark}")
    for grade, min_mark in b.thresholds:
        if mark >= min_mark:
            return grade
    return UNGRADED


def tier_allowed(scale: GradeScale, tier: TierRule, grade: str) -> bool:
    """Whether ``grade`` can be awarded on ``tier`` (U always can)."""
    if grade == UNGRADED or grade == tier.allowed_grade:
        return True
    rank = scale.rank(grade)
    return scale.rank(tier.min_grade) <= rank <= scale.rank(tier.max_grade)


def allowed_grade_boundary(b: Boundaries, scale: GradeScale, tier: TierRule) -> int | None:
    """The boundary of the tier's allowed grade: the published one when the set has it.

    Otherwise half the interval between the two lowest full grades below the lowest
    (``min - ceil((next - min) / 2)``): this reproduces every published Higher grade 3 boundary
    of AQA 8300 and Edexcel 1MA1 in 2023 and 2024 (tests/tracking/test_grading.py).
    """
    if tier.allowed_grade is None:
        return None
    published = b.min_mark(tier.allowed_grade)
    if published is not None:
        return published
    lowest = b.min_mark(tier.min_grade)
    above_grade = scale.grades[scale.grades.index(tier.min_grade) - 1]
    above = b.min_mark(above_grade)
    if lowest is None or above is None:
        return None
    return max(0, lowest - math.ceil((above - lowest) / 2))


def apply_tier(b: Boundaries, scale: GradeScale, tier: TierRule) -> Boundaries:
    """The set restricted to what ``tier`` may award.

    Above the cap the capped grade holds (a Foundation mark above the grade 5 boundary is a 5);
    the allowed grade keeps (or gets, see :func:`allowed_grade_boundary`) its boundary; below
    it, or below the floor, is U.
    """
    cap = scale.rank(tier.max_grade)
    floor = scale.rank(tier.min_grade)
    allowed = allowed_grade_boundary(b, scale, tier)
    kept: list[tuple[str, int]] = []
    for grade, min_mark in b.thresholds:
        rank = scale.rank(grade)
        if floor <= rank <= cap:
            kept.append((grade, min_mark))
    if cap > floor and not any(scale.rank(g) == cap for g, _ in kept):
        # The cap's own boundary fell outside: every mark that met a higher grade gets the cap.
        higher = [m for g, m in b.thresholds if scale.rank(g) > cap]
        if higher:
            kept.insert(0, (tier.max_grade, higher[-1]))
    if tier.allowed_grade is not None and allowed is not None:
        lowest_kept = kept[-1][1] if kept else b.max_mark
        kept.append((tier.allowed_grade, min(allowed, lowest_kept)))
    return Boundaries(b.max_mark, tuple(kept), tier=tier.code)


def _round_half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def shift(b: Boundaries, percent: float) -> Boundaries:
    """Every threshold moved by ``percent`` of max_mark: ``round(min + percent/100 * max)``.

    Rounding is half up (towards more marks), computed exactly (no float drift), then clamped
    to 0..max_mark. The same offset for every threshold keeps the order, so the set stays
    monotonic (clamping can make neighbours equal). Positive percent means a harder grade.
    """
    if not math.isfinite(percent):
        raise ValueError(f"shift percent {percent!r} is not a number")
    offset = Fraction(str(percent)) * b.max_mark / 100
    moved = tuple(
        (grade, min(b.max_mark, max(0, _round_half_up(min_mark + offset))))
        for grade, min_mark in b.thresholds
    )
    return Boundaries(b.max_mark, moved, tier=b.tier)


def combine_series(papers: Sequence[Boundaries]) -> Boundaries:
    """A notional subject set for papers graded against different series.

    Each element is the notional paper-level set of that paper's own series; the thresholds and
    maxima add up, and the learner's total over the papers is graded against the sum. Boards'
    subject boundaries need not equal the sum of their notional paper boundaries (tracking.md
    section 2), so use this only when the papers really do come from different series.
    """
    if not papers:
        raise ValueError("combine_series needs at least one paper")
    grades = papers[0].grades
    for paper in papers[1:]:
        if paper.grades != grades:
            raise ValueError(f"papers grade differently: {grades} and {paper.grades}")
    thresholds = tuple(
        (grade, sum(paper.thresholds[i][1] for paper in papers)) for i, grade in enumerate(grades)
    )
    tiers = {paper.tier for paper in papers}
    return Boundaries(
        sum(paper.max_mark for paper in papers),
        thresholds,
        tier=tiers.pop() if len(tiers) == 1 else None,
    )


def standardised(
    b_or_scale: Boundaries | GradeScale,
    cohort_marks: Sequence[float],
    shares: Mapping[str, float],
    *,
    max_mark: int | None = None,
) -> Boundaries:
    """Boundaries that give each grade its share (percent) of the cohort, from ranked marks.

    ``shares`` maps grades to percentages (missing grades get 0, the rest of the cohort U).
    The top ``round(cumulative share x n)`` learners reach each grade (rounded half up); the
    boundary is the (floored) mark of the last of them, so learners with equal marks always get
    the same grade and ties can give a grade a few more learners. A grade nobody reaches is
    left out. Needs at least 20 marks (tracking.md section 2.5).
    """
    grades = b_or_scale.grades
    if isinstance(b_or_scale, Boundaries):
        max_mark = b_or_scale.max_mark if max_mark is None else max_mark
    if max_mark is None:
        raise ValueError("standardised boundaries from a scale need max_mark")
    n = len(cohort_marks)
    if n < MIN_STANDARDISED_COHORT:
        raise ValueError(
            f"standardised boundaries need marks for at least {MIN_STANDARDISED_COHORT} "
            f"learners, got {n}"
        )
    unknown = sorted(set(shares) - set(grades))
    if unknown:
        raise ValueError(f"shares name grades not on the scale: {', '.join(unknown)}")
    if any(not (math.isfinite(s) and s >= 0) for s in shares.values()):
        raise ValueError("every share must be a percentage of at least 0")
    if sum(shares.values()) > 100 + 1e-9:
        raise ValueError(f"shares add up to {sum(shares.values())}%, more than 100%")
    for mark in cohort_marks:
        if not 0 <= mark <= max_mark:
            raise ValueError(f"mark {mark!r} is outside 0..{max_mark}")
    ranked = sorted(cohort_marks, reverse=True)
    cumulative = Fraction(0)
    thresholds: list[tuple[str, int]] = []
    for grade in grades:
        cumulative += Fraction(str(shares.get(grade, 0)))
        reached = min(n, _round_half_up(cumulative * n / 100))
        if reached > 0:
            thresholds.append((grade, math.floor(ranked[reached - 1])))
    return Boundaries(max_mark, tuple(thresholds))


def scale_mark(raw: float, out_of: float, full_mark: float) -> float:
    """A shorter test's raw mark scaled to the paper's full mark: ``raw x full_mark / out_of``.

    Example: 30 out of 50 against an 80-mark paper is 48.0.
    """
    if not (out_of > 0 and full_mark > 0):
        raise ValueError(f"out_of ({out_of}) and full_mark ({full_mark}) must be positive")
    if not 0 <= raw <= out_of:
        raise ValueError(f"raw mark {raw!r} is outside 0..{out_of}")
    return min(full_mark, raw * full_mark / out_of)


__all__ = [
    "MIN_STANDARDISED_COHORT",
    "UNGRADED",
    "Boundaries",
    "GradeScale",
    "TierRule",
    "allowed_grade_boundary",
    "apply_tier",
    "combine_series",
    "grade_for",
    "scale_mark",
    "shift",
    "standardised",
    "tier_allowed",
]
