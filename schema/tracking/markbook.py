"""A group's markbook (learners x assessments), creating assessments and entering marks."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from models import markbook as db
from resolvers import graders, markbook, marks, progress
from resolvers.access import Op
from resolvers.context import Context
from resolvers.graders import Grader
from resolvers.learners import ListedLearner
from resolvers.markbook import MarkbookPage
from resolvers.pagination import Page
from schema.common import (
    Connection,
    Info,
    Node,
    parse_int_id,
    to_global_id,
)
from schema.tracking.progress import (
    Attainment8,
    GradeKind,
    GroupProgress,
    LearnerProgress,
    SpecificationRefInput,
)
from schema.tracking.specifications import Specification, Tier

if TYPE_CHECKING:
    from schema.groups import Group
    from schema.learners import Learner

GroupRef = Annotated["Group", strawberry.lazy("schema.groups")]
LearnerRef = Annotated["Learner", strawberry.lazy("schema.learners")]

strawberry.enum(
    db.MarkStatus,
    name="MarkStatus",
    description="PRESENT with a mark; ABSENT and NOT_REQUIRED have none and never count as 0.",
)
MarkStatus = db.MarkStatus
strawberry.enum(db.AssessmentKind, name="AssessmentKind", description="What kind of test was sat.")
AssessmentKind = db.AssessmentKind


@strawberry.type(description="A test a teaching group sat, graded against exam-board boundaries.")
class Assessment(Node):
    title: str
    kind: AssessmentKind
    taken_on: datetime.date
    series: str = strawberry.field(description="The exam series grading it, like `June 2024`.")
    tier: Tier | None
    full_mark: int = strawberry.field(description="The covered papers' maximum marks added up.")
    max_mark: int = strawberry.field(description="What marks are entered out of.")
    out_of: int | None = strawberry.field(
        description="A custom test's own maximum, scaled to `fullMark` before grading."
    )
    shift_percent: float = strawberry.field(
        description="Percent of the maximum every boundary moves by (positive: harder)."
    )
    standardised: bool = strawberry.field(
        description="Graded by boundaries derived from cohort shares per grade."
    )
    notional: bool = strawberry.field(
        description="Grades are notional: paper-level boundaries, or a part scaled to the whole."
    )

    @classmethod
    def from_model(cls, row: db.Assessment, grader: Grader | None = None) -> Assessment:
        return cls(
            id=to_global_id("Assessment", row.id),
            title=row.title,
            kind=row.kind,
            taken_on=row.taken_on,
            series=row.series.label,
            tier=row.tier,
            full_mark=row.full_mark,
            max_mark=row.out_of or row.full_mark,
            out_of=row.out_of,
            shift_percent=row.shift_percent,
            standardised=bool(row.standardised_shares),
            notional=grader.notional if grader else False,
        )


@strawberry.type(description="One learner's mark in one assessment, and the grade it earns.")
class MarkCell:
    assessment_id: strawberry.ID
    raw_mark: int | None
    status: MarkStatus | None = strawberry.field(description="Null until a mark is entered.")
    scaled_mark: float | None = strawberry.field(description="The mark out of `fullMark`.")
    grade: str | None = strawberry.field(
        description="Derived from the mark; null if absent, not required or not entered."
    )


@strawberry.type(description="One learner's line of the markbook.")
class MarkbookRow:
    learner_key: str = strawberry.field(
        description="The learner's global id; for partners without learner names, a "
        "pseudonym (`pseudonym:<hex>`) stable per school and API key."
    )
    _page: strawberry.Private[MarkbookPage]
    _row: strawberry.Private[ListedLearner]

    @strawberry.field(description="The learner; null for partners not granted learner names.")
    def learner(self) -> LearnerRef | None:
        from schema.learners import Learner

        return Learner.from_model(self._row) if self._page.names else None

    @strawberry.field(description="One cell per markbook assessment, in the same order.")
    def marks(self) -> list[MarkCell]:
        page, learner_id = self._page, self._row.id
        cells = []
        for a, gid in zip(page.assessments, _assessment_ids(page), strict=True):
            entered = page.marks.get((a.id, learner_id))
            if entered is None:
                cells.append(
                    MarkCell(
                        assessment_id=gid, raw_mark=None, status=None, scaled_mark=None, grade=None
                    )
                )
                continue
            scaled, grade = page.graders[a.id].graded(*entered)
            cells.append(
                MarkCell(
                    assessment_id=gid,
                    raw_mark=entered[0],
                    status=entered[1],
                    scaled_mark=scaled,
                    grade=grade,
                )
            )
        return cells

    def _record(self, kind: db.GradeKind) -> str | None:
        spec = self._page.specification
        return self._page.records.get((self._row.id, spec.id, kind)) if spec else None

    @strawberry.field(description="The target grade in the markbook's specification.")
    def target(self) -> str | None:
        return self._record(db.GradeKind.TARGET)

    @strawberry.field(description="The working-at grade a teacher set, if any.")
    def working_at(self) -> str | None:
        return self._record(db.GradeKind.WORKING_AT)

    @strawberry.field(description="The predicted grade, if any.")
    def predicted(self) -> str | None:
        return self._record(db.GradeKind.PREDICTED)

    @strawberry.field(description="Current grade against target.")
    def progress(self) -> LearnerProgress:
        page = self._page
        return LearnerProgress.from_result(
            progress.learner_progress(page, page.scale, self._row.id)
        )

    @strawberry.field(
        description="Attainment 8 estimate from the learner's grades of `basis` in every "
        "KS4 subject (null without any)."
    )
    def attainment8(self, basis: GradeKind = db.GradeKind.WORKING_AT) -> Attainment8 | None:
        estimate = progress.learner_attainment8(self._page, self._row.id, basis)
        return Attainment8.from_estimate(estimate) if estimate else None


def _assessment_ids(page: MarkbookPage) -> list[strawberry.ID]:
    """The assessments' global ids, made once per page rather than once per cell."""
    if page.assessment_ids is None:
        page.assessment_ids = [to_global_id("Assessment", a.id) for a in page.assessments]
    return page.assessment_ids  # type: ignore[return-value]


@strawberry.type(description="A group's markbook: its assessments, and learners page by page.")
class Markbook:
    assessments: list[Assessment] = strawberry.field(
        description="The group's assessments in the specification, oldest first."
    )
    specification: Specification | None = strawberry.field(
        description="What the markbook tracks: the one asked for, else the latest assessment's."
    )
    rows: Connection[MarkbookRow] = strawberry.field(
        description="Learners (by family name) with one cell per assessment."
    )
    _page: strawberry.Private[MarkbookPage]

    @strawberry.field(description="The teaching group.")
    def group(self) -> GroupRef:
        from schema.groups import Group

        return Group.from_model(self._page.group)

    @strawberry.field(
        description="Progress against target of every learner of the group, and by subgroup; "
        "Attainment 8 averages from grades of `basis`."
    )
    async def progress(
        self, info: Info, basis: GradeKind = db.GradeKind.WORKING_AT
    ) -> GroupProgress:
        result = await progress.group_progress(info.context, self._page, basis)
        return GroupProgress.from_result(result)

    @classmethod
    def from_page(cls, page: MarkbookPage) -> Markbook:
        def row(learner: ListedLearner) -> MarkbookRow:
            key = page.pseudonyms.get(learner.id) or str(to_global_id("Learner", learner.id))
            return MarkbookRow(learner_key=key, _page=page, _row=learner)

        return cls(
            assessments=[Assessment.from_model(a, page.graders[a.id]) for a in page.assessments],
            specification=Specification.from_model(page.specification)
            if page.specification
            else None,
            rows=Connection.from_page(
                Page(
                    page.learners,
                    page.cursors,
                    page.has_next_page,
                    page.has_previous_page,
                    page.query,
                ),
                row,
            ),
            _page=page,
        )


async def assessment_node(ctx: Context, assessment_id: int) -> Assessment:
    """``node(id:)`` for an assessment: whoever may read the group's markbook."""
    row = await marks.require_assessment(ctx, assessment_id, Op.READ_TRACKING)
    await row.fetch_related("series")
    return Assessment.from_model(row, (await graders.graders_for([row]))[row.id])


@strawberry.type
class MarkbookQuery:
    @strawberry.field(
        description="A teaching group's markbook: its teachers (and a DSL who teaches it), "
        "leaders and admins; partners with TRACKING_READ see pseudonyms unless also "
        "granted learner names. Pages of at most 100 learners."
    )
    async def markbook(
        self,
        info: Info,
        group_id: strawberry.ID,
        specification: SpecificationRefInput | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Markbook:
        page = await markbook.load_markbook(
            info.context,
            parse_int_id(group_id, "Group", "groupId"),
            board=specification.board if specification else None,
            code=specification.code if specification else None,
            first=first,
            after=after,
        )
        return Markbook.from_page(page)


__all__ = [
    "Assessment",
    "Markbook",
    "MarkbookQuery",
    "MarkbookRow",
    "assessment_node",
]
