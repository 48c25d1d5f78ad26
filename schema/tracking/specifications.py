"""Exam-board specifications and their published grade boundaries (public reference data)."""

from __future__ import annotations

import strawberry

from app.errors import InvalidInput
from models import tracking as db
from resolvers import grading
from resolvers import tracking_reference as reference
from schema.common import Info

strawberry.enum(
    db.TierCode,
    name="Tier",
    description="An entry tier of a tiered qualification: what grades it can award.",
)
#: The GraphQL ``Tier`` enum is the model's TierCode (registered above under that name).
Tier = db.TierCode


@strawberry.type(description="A paper or other component of a specification.")
class Component:
    code: str = strawberry.field(description="Like `8300/1H`.")
    title: str = strawberry.field(description="Like `Paper 1 (Higher)`.")
    tier: Tier | None = strawberry.field(description="The tier the paper belongs to, if tiered.")
    max_mark: int = strawberry.field(description="The paper's maximum raw mark.")

    @classmethod
    def from_model(cls, row: db.Component) -> Component:
        return cls(code=row.code, title=row.title, tier=row.tier, max_mark=row.max_raw_mark)


@strawberry.type(description="One grade's lowest raw mark in a boundary set.")
class GradeBoundary:
    grade: str = strawberry.field(description="The grade, like `7` or `A*`.")
    min_mark: int = strawberry.field(description="The lowest raw mark that earns the grade.")


@strawberry.type(description="Grade boundaries of one specification, exam series and tier.")
class GradeBoundarySet:
    series: str = strawberry.field(description="The exam series, like `June 2024`.")
    tier: Tier | None = strawberry.field(description="The tier, or null when untiered.")
    max_mark: int = strawberry.field(
        description="The subject total (or, for a paper's notional set, the paper's maximum)."
    )
    is_notional: bool = strawberry.field(
        description="True for paper-level boundaries, which boards publish only as a guide."
    )
    source: str = strawberry.field(description="Where the figures come from (a URL).")
    _boundaries: strawberry.Private[grading.Boundaries]

    @classmethod
    def from_view(cls, view: reference.BoundarySetView) -> GradeBoundarySet:
        row = view.row
        return cls(
            series=view.series,
            tier=row.tier,
            max_mark=row.max_mark,
            is_notional=row.is_notional,
            source=row.source,
            _boundaries=view.boundaries,
        )

    @strawberry.field(description="Every grade's lowest raw mark, highest grade first.")
    def boundaries(self) -> list[GradeBoundary]:
        return [GradeBoundary(grade=g, min_mark=m) for g, m in self._boundaries.thresholds]

    @strawberry.field(
        description=(
            "The grade a raw mark earns: the highest grade whose boundary it meets, `U` below "
            "the lowest. A mark outside 0..maxMark is an INVALID_INPUT error."
        )
    )
    def grade_for(self, mark: int) -> str:
        try:
            return grading.grade_for(self._boundaries, mark)
        except ValueError as error:
            raise InvalidInput("mark", f"mark {mark} is outside 0..{self.max_mark}") from error


@strawberry.type(description="An exam board's specification, such as AQA 8300 GCSE Mathematics.")
class Specification:
    board: str = strawberry.field(description="The board's code, like `AQA` or `EDEXCEL`.")
    board_name: str = strawberry.field(description="The board's name, like `Pearson Edexcel`.")
    code: str = strawberry.field(description="The specification code, like `8300`.")
    title: str = strawberry.field(description="Like `GCSE Mathematics`.")
    subject: str = strawberry.field(description="Like `Mathematics`.")
    qualification: str = strawberry.field(
        description="The qualification code, like `GCSE` or `A_LEVEL` (as import-boundaries)."
    )
    _row: strawberry.Private[db.Specification]

    @classmethod
    def from_model(cls, row: db.Specification) -> Specification:
        return cls(
            board=row.board.code,
            board_name=row.board.name,
            code=row.code,
            title=row.title,
            subject=row.subject,
            qualification=row.qualification.code,
            _row=row,
        )

    @strawberry.field(description="The tiers candidates enter, highest last; empty if untiered.")
    async def tiers(self) -> list[Tier]:
        return await reference.tiers_of(self._row)

    @strawberry.field(description="The papers (a specification has a handful, so no paging).")
    async def components(self) -> list[Component]:
        return [Component.from_model(c) for c in await reference.components_of(self._row)]

    @strawberry.field(description="Exam series with boundaries on record, oldest first.")
    async def series(self) -> list[str]:
        return await reference.series_of(self._row)

    @strawberry.field(
        description=(
            "Boundaries of a series (`June 2024`) and tier: the subject level, or one paper's "
            "notional boundaries when `component` names it. Null when none are on record."
        )
    )
    async def boundary_set(
        self, series: str, tier: Tier | None = None, component: str | None = None
    ) -> GradeBoundarySet | None:
        code = component.strip().upper() if component else None
        view = await reference.find_boundary_set(self._row, series, tier, code)
        return GradeBoundarySet.from_view(view) if view else None


@strawberry.type
class SpecificationQuery:
    @strawberry.field(
        description=(
            "A specification by board (code or name, like `AQA` or `Pearson Edexcel`) and code "
            "(like `8300`); null when unknown. Staff, and partners with TRACKING_READ."
        )
    )
    async def specification(self, info: Info, board: str, code: str) -> Specification | None:
        row = await reference.find_specification(info.context, board, code)
        return Specification.from_model(row) if row else None


__all__ = [
    "Component",
    "GradeBoundary",
    "GradeBoundarySet",
    "Specification",
    "SpecificationQuery",
    "Tier",
]
