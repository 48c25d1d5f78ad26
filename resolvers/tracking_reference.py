"""Exam-board reference data: the catalogue made rows, and the lookups the schema reads.

Reference rows are shared by every school. Reading them needs ``Op.READ_TRACKING_REFERENCE``:
every staff role, and partners holding the tracking scope.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tortoise.expressions import Subquery

from app.errors import InvalidInput, NotFound
from models.tracking import (
    Boundary,
    BoundaryLevel,
    Component,
    ExamBoard,
    ExamSeries,
    Grade,
    GradeBoundarySet,
    GradeScale,
    Qualification,
    Specification,
    Tier,
    TierCode,
)
from resolvers import access
from resolvers.access import Op
from resolvers.context import Context
from resolvers.grading import Boundaries
from resolvers.tracking_data import BOARDS, QUALIFICATIONS, SPECIFICATIONS, board_code

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_SERIES = re.compile(r"^\s*([A-Za-z]+)\s+(\d{4})\s*$")


def parse_series(text: str) -> tuple[str, int, int]:
    """``"june 2024"`` -> ``("June 2024", 2024, 6)``; ValueError naming the text otherwise."""
    match = _SERIES.match(text)
    month = match.group(1).capitalize() if match else ""
    if match is None or month not in MONTHS:
        raise ValueError(f"series {text!r} is not like 'June 2024'")
    year = int(match.group(2))
    return f"{month} {year}", year, MONTHS.index(month) + 1


def scope_key(tier: TierCode | None, component_code: str | None) -> str:
    return f"{tier.value if tier else '-'}:{component_code or '-'}"


async def ensure_qualification(code: str) -> Qualification:
    """The qualification row of a catalogue code, with its scale, grades and tiers (idempotent)."""
    info = QUALIFICATIONS[code]
    scale, _ = await GradeScale.get_or_create(
        code=info.scale_code, defaults={"name": info.scale_name}
    )
    existing = {g.label for g in await Grade.filter(scale=scale)}
    for position, grade in enumerate(info.grades):
        if grade.label not in existing:
            await Grade.create(
                scale=scale,
                label=grade.label,
                rank=len(info.grades) - position,
                a8_points=grade.a8_points,
                ucas_points=grade.ucas_points,
                is_pass=grade.is_pass,
            )
    qualification, _ = await Qualification.get_or_create(
        code=code, defaults={"name": info.name, "scale": scale}
    )
    for rule in info.tiers:
        await Tier.get_or_create(
            qualification=qualification,
            code=TierCode(rule.code),
            defaults={
                "max_grade": rule.max_grade,
                "min_grade": rule.min_grade,
                "allowed_grade": rule.allowed_grade,
            },
        )
    return qualification


async def ensure_board(code: str) -> ExamBoard:
    board, _ = await ExamBoard.get_or_create(code=code, defaults={"name": BOARDS.get(code, code)})
    return board


async def ensure_specification(
    board: ExamBoard, code: str, qualification: Qualification
) -> Specification:
    """The board's specification, created from the catalogue (or bare) when new.

    Raises InvalidInput when it exists under another qualification.
    """
    spec = await Specification.get_or_none(board=board, code=code)
    if spec is not None:
        if spec.qualification_id != qualification.pk:
            raise InvalidInput(
                "qualification", f"{board.code} {code} is not a {qualification.code} specification"
            )
        return spec
    info = SPECIFICATIONS.get((board.code, code))
    has_tiers = bool(QUALIFICATIONS[qualification.code].tiers)
    spec = await Specification.create(
        board=board,
        qualification=qualification,
        code=code,
        title=info.title if info else f"{board.name} {code}",
        subject=info.subject if info else "",
        total_raw_marks=info.total_raw_marks if info else None,
        has_tiers=has_tiers,
    )
    for component in info.components if info else ():
        await Component.create(
            specification=spec,
            code=component.code,
            title=component.title,
            tier=TierCode(component.tier) if component.tier else None,
            max_raw_mark=component.max_raw_mark,
            calculator=component.calculator,
        )
    return spec


async def ensure_component(
    spec: Specification, code: str, tier: TierCode | None, max_mark: int
) -> Component:
    component, _ = await Component.get_or_create(
        specification=spec,
        code=code,
        defaults={"title": code, "tier": tier, "max_raw_mark": max_mark},
    )
    return component


async def ensure_series(label: str) -> ExamSeries:
    label, year, month = parse_series(label)
    series, _ = await ExamSeries.get_or_create(label=label, defaults={"year": year, "month": month})
    return series


# Reads (GraphQL)


async def find_specification(ctx: Context, board: str, code: str) -> Specification | None:
    """A specification by board (code or name, any case) and code; None when unknown."""
    access.require(ctx, Op.READ_TRACKING_REFERENCE)
    return await Specification.get_or_none(
        board__code=board_code(board), code=code.strip().upper()
    ).prefetch_related("board", "qualification")


async def tiers_of(spec: Specification) -> list[TierCode]:
    if not spec.has_tiers:
        return []
    rows = await Tier.filter(qualification_id=spec.qualification_id)
    return sorted((row.code for row in rows), key=list(TierCode).index)


async def components_of(spec: Specification) -> list[Component]:
    return await Component.filter(specification=spec).order_by("code")


async def series_of(spec: Specification) -> list[str]:
    published = GradeBoundarySet.filter(specification=spec).values("series_id")
    rows = (
        await ExamSeries.filter(id__in=Subquery(published))
        .order_by("year", "month")
        .values_list("label", flat=True)
    )
    return [str(label) for label in rows]


@dataclass(frozen=True)
class BoundarySetView:
    row: GradeBoundarySet
    series: str
    boundaries: Boundaries


async def find_boundary_set(
    spec: Specification, series: str, tier: TierCode | None, component: str | None = None
) -> BoundarySetView | None:
    """The subject-level (or one component's) set of a series and tier; None when not published.

    Raises InvalidInput for a series label that is not like "June 2024".
    """
    try:
        label, _, _ = parse_series(series)
    except ValueError as error:
        raise InvalidInput("series", str(error)) from error
    row = await GradeBoundarySet.get_or_none(
        specification=spec,
        series__label=label,
        scope_key=scope_key(tier, component),
    )
    if row is None:
        return None
    return BoundarySetView(row, label, await boundaries_of(row))


async def boundaries_of(row: GradeBoundarySet) -> Boundaries:
    """A stored set as the pure :class:`~resolvers.grading.Boundaries`, highest grade first."""
    pairs = (
        await Boundary.filter(boundary_set=row)
        .order_by("-grade__rank")
        .values_list("grade__label", "min_mark")
    )
    return Boundaries(
        row.max_mark,
        tuple((str(label), int(mark)) for label, mark in pairs),
        tier=row.tier.value if row.tier else None,
    )


async def require_specification(ctx: Context, board: str, code: str) -> Specification:
    spec = await find_specification(ctx, board, code)
    if spec is None:
        raise NotFound("Specification not found.")
    return spec


__all__ = [
    "MONTHS",
    "BoundaryLevel",
    "BoundarySetView",
    "boundaries_of",
    "components_of",
    "ensure_board",
    "ensure_component",
    "ensure_qualification",
    "ensure_series",
    "ensure_specification",
    "find_boundary_set",
    "find_specification",
    "parse_series",
    "require_specification",
    "scope_key",
    "series_of",
    "tiers_of",
]
