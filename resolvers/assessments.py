"""Creating assessments: which papers, series, tier, shift and scaling grade a group's test."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from tortoise.transactions import in_transaction

from app.errors import InvalidInput
from models.markbook import (
    Assessment,
    AssessmentComponent,
    AssessmentKind,
)
from models.tracking import Component, ExamSeries, Specification, TierCode
from resolvers import access, validation
from resolvers import tracking_reference as reference
from resolvers.access import Op
from resolvers.audit import entry_for
from resolvers.context import Context
from resolvers.graders import scales_and_tiers

MAX_SHIFT = 10.0
MAX_OUT_OF = 1000


@dataclass(slots=True)
class AssessmentData:
    group_id: int
    title: str
    board: str
    specification_code: str
    series: str
    taken_on: date
    tier: TierCode | None = None
    kind: AssessmentKind = AssessmentKind.PAST_PAPER
    components: list[str] = field(default_factory=list)
    out_of: int | None = None
    shift_percent: float = 0.0
    standardised_shares: dict[str, float] | None = None


async def find_specification(ctx: Context, board: str, code: str, at: str) -> Specification:
    spec = await reference.find_specification(ctx, board, code)
    if spec is None:
        raise InvalidInput(at, f"No specification {board} {code} is on record.", reason="UNKNOWN")
    return spec


async def create_assessment(ctx: Context, data: AssessmentData) -> Assessment:
    viewer, _ = access.require(ctx, Op.ENTER_MARKS)
    group = await access.require_group(ctx, data.group_id, Op.ENTER_MARKS)
    title = validation.text("title", data.title, max_length=200)
    spec = await find_specification(ctx, data.board, data.specification_code, "specification")
    try:
        label, _, _ = reference.parse_series(data.series)
    except ValueError as error:
        raise InvalidInput("series", str(error)) from None
    series = await ExamSeries.get_or_none(label=label)
    if series is None:
        raise InvalidInput("series", f"No boundaries of {label} are on record.", reason="UNKNOWN")
    if spec.has_tiers and data.tier is None:
        raise InvalidInput("tier", f"{spec.title} is tiered: choose a tier.", reason="REQUIRED")
    if not spec.has_tiers and data.tier is not None:
        raise InvalidInput("tier", f"{spec.title} has no tiers.", reason="NOT_TIERED")
    components = await _components(spec, data.tier, data.components)
    full_mark = sum(c.max_raw_mark for c in components) or spec.total_raw_marks
    if not full_mark:
        raise InvalidInput("components", "The specification has no papers on record.")
    if data.out_of is not None and not 1 <= data.out_of <= MAX_OUT_OF:
        raise InvalidInput("outOf", f"`outOf` must be between 1 and {MAX_OUT_OF}.")
    if not -MAX_SHIFT <= data.shift_percent <= MAX_SHIFT:
        raise InvalidInput("shiftPercent", f"The shift must be within ±{MAX_SHIFT:g}%.")
    shares = await _shares(spec, data.standardised_shares)
    async with in_transaction():
        row = await Assessment.create(
            school_id=group.school_id,
            group_id=group.id,
            title=title,
            kind=data.kind,
            specification_id=spec.id,
            series_id=series.id,
            tier=data.tier,
            full_mark=full_mark,
            out_of=data.out_of,
            shift_percent=data.shift_percent,
            standardised_shares=shares,
            taken_on=data.taken_on,
            created_by_id=viewer.user_id,
        )
        if data.components:
            await AssessmentComponent.bulk_create(
                [AssessmentComponent(assessment_id=row.id, component_id=c.id) for c in components]
            )
        await ctx.services.audit.record(
            entry_for(
                viewer,
                ctx.request,
                "assessment.create",
                target_type="assessment",
                target_ids=[str(row.id)],
            )
        )
    return row


async def _components(
    spec: Specification, tier: TierCode | None, codes: Sequence[str]
) -> list[Component]:
    """The papers covered: those named, or every paper of the tier."""
    papers = await Component.filter(specification_id=spec.id).order_by("code")
    in_tier = [c for c in papers if c.tier is None or c.tier == tier]
    if not codes:
        return in_tier
    by_code = {c.code.upper(): c for c in in_tier}
    chosen = []
    for i, code in enumerate(codes):
        paper = by_code.get(code.strip().upper())
        if paper is None:
            raise InvalidInput(
                f"components.{i}",
                f"{code} is not a paper of {spec.code} in this tier.",
                reason="UNKNOWN",
            )
        if paper in chosen:
            raise InvalidInput(f"components.{i}", f"{code} is named twice.", reason="DUPLICATE")
        chosen.append(paper)
    return chosen


async def _shares(spec: Specification, shares: dict[str, float] | None) -> dict[str, float] | None:
    if not shares:
        return None
    scales, _ = await scales_and_tiers({spec.id})
    scale = scales.get(spec.id)
    known = set(scale.grades) if scale else set()
    for grade, share in shares.items():
        if grade not in known:
            raise InvalidInput("standardisedShares", f"{grade} is not a grade of {spec.title}.")
        if not 0 <= share <= 100:
            raise InvalidInput("standardisedShares", "Each share is a percentage (0-100).")
    if sum(shares.values()) > 100:
        raise InvalidInput("standardisedShares", "The shares add up to more than 100%.")
    return dict(shares)


async def default_specification(group_id: int) -> Specification | None:
    """The specification of the group's latest assessment: what its markbook tracks."""
    latest = (
        await Assessment.filter(group_id=group_id)
        .order_by("-taken_on", "-id")
        .limit(1)
        .values_list("specification_id", flat=True)
    )
    if not latest:
        return None
    return await Specification.get(id=latest[0]).prefetch_related("board", "qualification")


__all__ = [
    "MAX_OUT_OF",
    "MAX_SHIFT",
    "AssessmentData",
    "create_assessment",
    "default_specification",
    "find_specification",
]
