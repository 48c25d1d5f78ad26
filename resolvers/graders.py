"""How an assessment's marks become grades: its boundaries after shift, tier and standardisation.

A :class:`Grader` holds everything one assessment's grading needs (boundaries, the full mark, a
custom test's own maximum); :func:`graders_for` makes them for any number of assessments in a
constant number of queries. Grading itself is pure (resolvers.grading).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from models.markbook import Assessment, AssessmentComponent, Mark, MarkStatus, TrackerSettings
from models.tracking import (
    Boundary,
    BoundaryLevel,
    Component,
    Grade,
    GradeBoundarySet,
    Specification,
    Tier,
    TierCode,
)
from resolvers import grading


#: Rows one ``enterMarks`` may carry: a whole year group's cohort view, never unbounded.
@dataclass(frozen=True, slots=True)
class Grader:
    """How one assessment's marks become grades."""

    assessment_id: int
    full_mark: int
    #: A custom test's own maximum (marks are scaled from it to ``full_mark``), or None.
    out_of: int | None
    #: The boundaries marks are graded against (after shift, tier and standardisation), or
    #: None when the series has no published set for this specification and tier.
    boundaries: grading.Boundaries | None
    #: Whether the grade is notional: paper-level boundaries, or a part scaled to the whole.
    notional: bool

    @property
    def max_raw(self) -> int:
        return self.out_of if self.out_of is not None else self.full_mark

    def scaled(self, raw: int | None, status: MarkStatus) -> float | None:
        """The mark out of ``full_mark``; None unless present."""
        if status is not MarkStatus.PRESENT or raw is None:
            return None
        if self.out_of is None:
            return float(raw)
        return grading.scale_mark(raw, self.out_of, self.full_mark)

    def grade(self, raw: int | None, status: MarkStatus) -> str | None:
        """The derived grade; None for absent or not-required marks or without boundaries."""
        return self.graded(raw, status)[1]

    def graded(self, raw: int | None, status: MarkStatus) -> tuple[float | None, str | None]:
        """(scaled mark, grade) at once, as a markbook cell shows them."""
        scaled = self.scaled(raw, status)
        if scaled is None or self.boundaries is None:
            return scaled, None
        mark = min(self.boundaries.max_mark, scaled * self.boundaries.max_mark / self.full_mark)
        return scaled, grading.grade_for(self.boundaries, mark)


@dataclass(frozen=True, slots=True)
class _Set:
    id: int
    specification_id: int
    series_id: int
    tier: TierCode | None
    level: BoundaryLevel
    component_id: int | None
    max_mark: int
    is_notional: bool


ScalesAndTiers = tuple[dict[int, grading.GradeScale], dict[tuple[int, TierCode], grading.TierRule]]


async def graders_for(
    assessments: Sequence[Assessment], known: ScalesAndTiers | None = None
) -> dict[int, Grader]:
    """A grader per assessment, in a constant number of queries however many there are.

    ``known``: the specifications' scales and tiers, when the caller has them already.
    """
    if not assessments:
        return {}
    ids = [a.id for a in assessments]
    spec_ids = {a.specification_id for a in assessments}
    covered: dict[int, set[int]] = defaultdict(set)
    for assessment_id, component_id in await AssessmentComponent.filter(
        assessment_id__in=ids
    ).values_list("assessment_id", "component_id"):
        covered[assessment_id].add(component_id)
    components: dict[int, list[tuple[int, TierCode | None]]] = defaultdict(list)
    for component_id, spec_id, tier in await Component.filter(
        specification_id__in=spec_ids
    ).values_list("id", "specification_id", "tier"):
        components[spec_id].append((component_id, TierCode(tier) if tier else None))
    sets = [
        _Set(*row)
        for row in await GradeBoundarySet.filter(
            specification_id__in=spec_ids, series_id__in={a.series_id for a in assessments}
        ).values_list(
            "id",
            "specification_id",
            "series_id",
            "tier",
            "level",
            "component_id",
            "max_mark",
            "is_notional",
        )
    ]
    thresholds: dict[int, list[tuple[str, int]]] = defaultdict(list)
    if sets:
        for set_id, label, min_mark in (
            await Boundary.filter(boundary_set_id__in=[s.id for s in sets])
            .order_by("boundary_set_id", "-grade__rank")
            .values_list("boundary_set_id", "grade__label", "min_mark")
        ):
            thresholds[set_id].append((str(label), int(min_mark)))
    scales, tiers = known if known is not None else await scales_and_tiers(spec_ids)
    settings = await TrackerSettings.get_or_none(school_id=assessments[0].school_id)
    school_shift = settings.shift_percent if settings else 0.0
    cohorts = await _cohorts([a for a in assessments if a.standardised_shares])
    graders = {}
    for a in assessments:
        scale = scales.get(a.specification_id)
        tier = tiers.get((a.specification_id, a.tier)) if a.tier else None
        chosen = _choose(a, covered[a.id], components[a.specification_id], sets)
        boundaries, notional = None, False
        if chosen is not None:
            picked, notional = chosen
            boundaries = grading.Boundaries(
                picked.max_mark, tuple(thresholds[picked.id]), tier=a.tier.value if a.tier else None
            )
            boundaries = grading.shift(boundaries, a.shift_percent + school_shift)
            if tier is not None and scale is not None:
                boundaries = grading.apply_tier(boundaries, scale, tier)
        if a.standardised_shares and scale is not None:
            cohort = cohorts.get(a.id, [])
            if len(cohort) >= grading.MIN_STANDARDISED_COHORT:
                scaled = [_scaled(a, raw) for raw in cohort]
                boundaries = grading.standardised(
                    scale, scaled, a.standardised_shares, max_mark=a.full_mark
                )
                notional = True
        graders[a.id] = Grader(a.id, a.full_mark, a.out_of, boundaries, notional)
    return graders


def _scaled(a: Assessment, raw: int) -> float:
    return grading.scale_mark(raw, a.out_of, a.full_mark) if a.out_of else float(raw)


def _choose(
    a: Assessment,
    covered: set[int],
    components: list[tuple[int, TierCode | None]],
    sets: list[_Set],
) -> tuple[_Set, bool] | None:
    """The boundary set to grade with, and whether the grade is notional.

    The whole tier's papers: the subject set. One paper with its own (notional) set: that. Any
    other part: the subject set, the mark scaled to the subject total, notionally.
    """
    mine = [
        s for s in sets if s.specification_id == a.specification_id and s.series_id == a.series_id
    ]
    subject = next((s for s in mine if s.level is BoundaryLevel.SUBJECT and s.tier == a.tier), None)
    in_tier = {cid for cid, tier in components if tier is None or tier == a.tier}
    if not covered or covered == in_tier:
        return (subject, subject.is_notional) if subject else None
    if len(covered) == 1:
        (only,) = covered
        paper = next(
            (s for s in mine if s.level is BoundaryLevel.COMPONENT and s.component_id == only),
            None,
        )
        if paper is not None:
            return paper, True
    return (subject, True) if subject else None


async def scales_and_tiers(spec_ids: set[int]) -> ScalesAndTiers:
    specs = await Specification.filter(id__in=spec_ids).values_list(
        "id", "qualification_id", "qualification__scale_id"
    )
    labels: dict[int, list[str]] = defaultdict(list)
    for scale_id, label in (
        await Grade.filter(scale_id__in={row[2] for row in specs})
        .order_by("scale_id", "-rank")
        .values_list("scale_id", "label")
    ):
        if label != grading.UNGRADED:
            labels[scale_id].append(str(label))
    rules: dict[tuple[int, TierCode], grading.TierRule] = {}
    by_qualification: dict[int, list[int]] = defaultdict(list)
    for spec_id, qualification_id, _ in specs:
        by_qualification[qualification_id].append(spec_id)
    for qualification_id, code, top, bottom, allowed in await Tier.filter(
        qualification_id__in=list(by_qualification)
    ).values_list("qualification_id", "code", "max_grade", "min_grade", "allowed_grade"):
        for spec_id in by_qualification[qualification_id]:
            rules[(spec_id, TierCode(code))] = grading.TierRule(code, top, bottom, allowed)
    scales = {
        spec_id: grading.GradeScale(str(scale_id), tuple(labels[scale_id]))
        for spec_id, _, scale_id in specs
        if labels.get(scale_id)
    }
    return scales, rules


async def _cohorts(assessments: Sequence[Assessment]) -> dict[int, list[int]]:
    """Every present raw mark of each standardised assessment (its whole cohort)."""
    if not assessments:
        return {}
    found: dict[int, list[int]] = defaultdict(list)
    for assessment_id, raw in await Mark.filter(
        assessment_id__in=[a.id for a in assessments],
        status=MarkStatus.PRESENT,
        raw_mark__isnull=False,
    ).values_list("assessment_id", "raw_mark"):
        found[assessment_id].append(int(raw))
    return found


__all__ = ["Grader", "ScalesAndTiers", "graders_for", "scales_and_tiers"]
