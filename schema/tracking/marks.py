"""Creating assessments and entering a batch of marks (the markbook's mutations)."""

from __future__ import annotations

import datetime

import strawberry

from app.errors import InvalidInput
from models import markbook as db
from resolvers import assessments, graders, marks
from resolvers.access import Op
from resolvers.assessments import AssessmentData
from resolvers.marks import MarkEntry
from schema.common import (
    Info,
    UserError,
    attempt,
    parse_int_id,
    parse_uuid_id,
    to_global_id,
)
from schema.tracking.markbook import Assessment, AssessmentKind, MarkStatus
from schema.tracking.progress import (
    SpecificationRefInput,
)
from schema.tracking.specifications import Tier


@strawberry.input(description="The share of the cohort (percent) to be given one grade.")
class GradeShareInput:
    grade: str
    percent: float


@strawberry.input(description="A new assessment of a teaching group.")
class CreateAssessmentInput:
    group_id: strawberry.ID
    title: str
    specification: SpecificationRefInput
    series: str = strawberry.field(description="The exam series to grade with: `June 2024`.")
    taken_on: datetime.date
    tier: Tier | None = strawberry.field(default=None, description="Required when tiered.")
    kind: AssessmentKind = db.AssessmentKind.PAST_PAPER
    components: list[str] = strawberry.field(
        default_factory=list,
        description="Paper codes covered (`8300/1H`); empty for every paper of the tier.",
    )
    out_of: int | None = strawberry.field(
        default=None, description="A shorter test's own maximum, scaled to the papers' full mark."
    )
    shift_percent: float = strawberry.field(
        default=0.0, description="Move every boundary by this percent of the maximum (±10)."
    )
    standardised_shares: list[GradeShareInput] | None = strawberry.field(
        default=None,
        description="Grade by standardised boundaries: each grade's share of the cohort "
        "(needs marks of at least 20 learners, else the series' boundaries apply).",
    )


@strawberry.type
class AssessmentPayload:
    assessment: Assessment | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input(description="One learner's mark.")
class MarkInput:
    learner_id: strawberry.ID
    mark: int | None = strawberry.field(default=None, description="Null unless PRESENT.")
    status: MarkStatus = db.MarkStatus.PRESENT


@strawberry.input(description="A batch of marks for one assessment.")
class EnterMarksInput:
    assessment_id: strawberry.ID
    marks: list[MarkInput] = strawberry.field(description="At most 500.")


@strawberry.type(description="A mark as stored, with the grade it earns.")
class EnteredMark:
    learner_id: strawberry.ID
    raw_mark: int | None
    status: MarkStatus
    scaled_mark: float | None
    grade: str | None


@strawberry.type
class EnterMarksPayload:
    assessment: Assessment | None = None
    marks: list[EnteredMark] = strawberry.field(
        default_factory=list, description="Every mark written, with its derived grade."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="Every bad row (`marks.<i>.…`); if any, none written."
    )


async def _created(info: Info, input: CreateAssessmentInput) -> Assessment:
    data = AssessmentData(
        group_id=parse_int_id(input.group_id, "Group", "groupId"),
        title=input.title,
        board=input.specification.board,
        specification_code=input.specification.code,
        series=input.series,
        taken_on=input.taken_on,
        tier=input.tier,
        kind=input.kind,
        components=list(input.components),
        out_of=input.out_of,
        shift_percent=input.shift_percent,
        standardised_shares=(
            {share.grade: share.percent for share in input.standardised_shares}
            if input.standardised_shares
            else None
        ),
    )
    row = await assessments.create_assessment(info.context, data)
    await row.fetch_related("series")
    found = await graders.graders_for([row])
    return Assessment.from_model(row, found[row.id])


async def _entered(info: Info, input: EnterMarksInput) -> EnterMarksPayload:
    entries = [
        MarkEntry(parse_uuid_id(m.learner_id, "Learner", f"marks.{i}.learnerId"), m.mark, m.status)
        for i, m in enumerate(input.marks)
    ]
    assessment_id = parse_int_id(input.assessment_id, "Assessment", "assessmentId")
    result = await marks.enter_marks(info.context, assessment_id, entries)
    if result.errors:
        return EnterMarksPayload(errors=[UserError.from_exception(e) for e in result.errors])
    row = await marks.require_assessment(info.context, assessment_id, Op.ENTER_MARKS)
    await row.fetch_related("series")
    grader = (await graders.graders_for([row]))[row.id]
    return EnterMarksPayload(
        assessment=Assessment.from_model(row, grader),
        marks=[
            EnteredMark(
                learner_id=to_global_id("Learner", m.learner_id),
                raw_mark=m.raw_mark,
                status=m.status,
                scaled_mark=m.scaled_mark,
                grade=m.grade,
            )
            for m in result.marks
        ],
    )


@strawberry.type
class MarkbookMutation:
    @strawberry.mutation(
        description="Create an assessment for a group (its teachers and school admins)."
    )
    async def create_assessment(
        self, info: Info, input: CreateAssessmentInput
    ) -> AssessmentPayload:
        row, errors = await attempt(lambda: _created(info, input))
        return AssessmentPayload(assessment=row, errors=errors)

    @strawberry.mutation(
        description="Enter a batch of marks in one go. All or nothing: every bad row (mark "
        "above the maximum, negative, learner not in the group, status and mark disagreeing) "
        "is reported and nothing is written unless every row is good."
    )
    async def enter_marks(self, info: Info, input: EnterMarksInput) -> EnterMarksPayload:
        try:
            return await _entered(info, input)
        except InvalidInput as error:
            return EnterMarksPayload(errors=[UserError.from_exception(error)])


__all__ = ["MarkbookMutation"]
