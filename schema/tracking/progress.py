"""Progress types (against target, per learner, group and subgroup), Attainment 8, and the
mutations that set targets and working-at or predicted grades."""

from __future__ import annotations

import strawberry

from app.errors import InvalidInput
from models import markbook as db
from resolvers import attainment8, progress
from resolvers.grades import GradeEntry, set_grades
from schema.common import Info, UserError, parse_int_id, parse_uuid_id

strawberry.enum(
    db.GradeKind,
    name="GradeKind",
    description="What a recorded grade means: working at now, target, predicted, actual, baseline.",
)
GradeKind = db.GradeKind
strawberry.enum(
    progress.Standing,
    name="ProgressStanding",
    description="Where the current grade stands against the target.",
)
ProgressStanding = progress.Standing
strawberry.enum(
    progress.Subgroup,
    name="Subgroup",
    description="A group of learners analysed apart: pupil premium, SEND, EAL, gender.",
)
Subgroup = progress.Subgroup
strawberry.enum(
    attainment8.Element,
    name="Attainment8Element",
    description="Part of Attainment 8: English and maths (double-weighted), EBacc, open.",
)
A8Element = attainment8.Element


@strawberry.type(description="A learner's current grade against their target.")
class LearnerProgress:
    current_grade: str | None = strawberry.field(
        description="The working-at grade if a teacher set one, else the latest assessment's."
    )
    current_source: str | None = strawberry.field(
        description="`WORKING_AT` (set by a teacher) or `ASSESSMENT` (derived from marks)."
    )
    target: str | None = strawberry.field(description="The target grade, if set.")
    difference: int | None = strawberry.field(
        description="Grades above (positive) or below (negative) target; null without both."
    )
    standing: ProgressStanding = strawberry.field(description="Above, on or below target.")

    @classmethod
    def from_result(cls, p: progress.LearnerProgress) -> LearnerProgress:
        return cls(
            current_grade=p.current,
            current_source=p.source,
            target=p.target,
            difference=p.difference,
            standing=p.standing,
        )


@strawberry.type(description="One filled Attainment 8 slot.")
class Attainment8Slot:
    element: A8Element = strawberry.field(description="The part of the measure it fills.")
    subject: str = strawberry.field(description="The subject whose grade fills it.")
    grade: str = strawberry.field(description="The grade counted.")
    points: float = strawberry.field(description="Points per slot for the grade.")
    weight: int = strawberry.field(description="2 for double-weighted English or maths, else 1.")


@strawberry.type(description="An Attainment 8 estimate: out of 90 over ten weighted slots.")
class Attainment8:
    total: float = strawberry.field(description="Points over the ten weighted slots (max 90).")
    average: float = strawberry.field(description="The total divided by 10.")
    english_double_weighted: bool = strawberry.field(
        description="True when both English language and literature count (DfE rule)."
    )
    slots: list[Attainment8Slot] = strawberry.field(description="The slots filled, by element.")

    @classmethod
    def from_estimate(cls, e: attainment8.Estimate) -> Attainment8:
        return cls(
            total=e.total,
            average=e.average,
            english_double_weighted=e.english_double_weighted,
            slots=[
                Attainment8Slot(
                    element=s.element,
                    subject=s.subject,
                    grade=s.grade,
                    points=s.points,
                    weight=s.weight,
                )
                for s in e.slots
            ],
        )


@strawberry.type(description="Progress figures over some learners.")
class ProgressSummary:
    subgroup: Subgroup | None = strawberry.field(description="Null for the whole group.")
    learners: int = strawberry.field(description="Learners counted.")
    above: int = strawberry.field(description="Learners above target.")
    on_target: int = strawberry.field(description="Learners on target.")
    below: int = strawberry.field(description="Learners below target.")
    unknown: int = strawberry.field(description="Learners without a target or a current grade.")
    percent_on_or_above: float | None = strawberry.field(
        description="Of learners with both grades, the percentage on or above target."
    )
    average_difference: float | None = strawberry.field(
        description="Mean grades above (or below) target, over learners with both."
    )
    attainment8_average: float | None = strawberry.field(
        description="Mean Attainment 8 estimate of learners with grades to estimate from."
    )
    small: bool = strawberry.field(
        description="Fewer learners than the school's threshold: shown, but read with care."
    )

    @classmethod
    def from_summary(cls, s: progress.Summary) -> ProgressSummary:
        return cls(
            subgroup=s.subgroup,
            learners=s.learners,
            above=s.above,
            on_target=s.on_target,
            below=s.below,
            unknown=s.unknown,
            percent_on_or_above=s.percent_on_or_above,
            average_difference=s.average_difference,
            attainment8_average=s.attainment8_average,
            small=s.small,
        )


@strawberry.type(description="Progress of a whole group and of each of its subgroups.")
class GroupProgress:
    group: ProgressSummary = strawberry.field(description="Every learner of the group.")
    subgroups: list[ProgressSummary] = strawberry.field(
        description="Pupil premium, SEND, EAL and gender subgroups (small ones flagged)."
    )

    @classmethod
    def from_result(cls, g: progress.GroupProgress) -> GroupProgress:
        return cls(
            group=ProgressSummary.from_summary(g.group),
            subgroups=[ProgressSummary.from_summary(s) for s in g.subgroups],
        )


@strawberry.input(description="A specification by board and code, like AQA 8300.")
class SpecificationRefInput:
    board: str = strawberry.field(description="Board code or name, like `AQA`.")
    code: str = strawberry.field(description="Specification code, like `8300`.")


@strawberry.input(description="One learner's grade; null clears it.")
class GradeEntryInput:
    learner_id: strawberry.ID
    grade: str | None = None


@strawberry.input(description="Targets for some of a group's learners, all or nothing.")
class SetTargetsInput:
    group_id: strawberry.ID
    grades: list[GradeEntryInput] = strawberry.field(description="At most 500.")
    specification: SpecificationRefInput | None = strawberry.field(
        default=None, description="Defaults to the group's latest assessment's specification."
    )


@strawberry.input(description="Grades of one kind for some of a group's learners.")
class SetGradesInput:
    group_id: strawberry.ID
    kind: GradeKind
    grades: list[GradeEntryInput] = strawberry.field(description="At most 500.")
    specification: SpecificationRefInput | None = strawberry.field(
        default=None, description="Defaults to the group's latest assessment's specification."
    )


@strawberry.type(description="A grade as stored.")
class GradeSet:
    learner_id: strawberry.ID
    grade: str | None


@strawberry.type
class SetGradesPayload:
    kind: GradeKind | None = strawberry.field(default=None, description="The kind of grade set.")
    grades: list[GradeSet] = strawberry.field(
        default_factory=list, description="What was stored; empty when there are errors."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="Every bad row; nothing is stored if there is one."
    )


async def _set(
    info: Info,
    group_id: str,
    kind: db.GradeKind,
    grades: list[GradeEntryInput],
    spec: SpecificationRefInput | None,
) -> SetGradesPayload:
    try:
        entries = [
            GradeEntry(parse_uuid_id(g.learner_id, "Learner", f"grades.{i}.learnerId"), g.grade)
            for i, g in enumerate(grades)
        ]
        result = await set_grades(
            info.context,
            parse_int_id(group_id, "Group", "groupId"),
            kind,
            entries,
            (spec.board, spec.code) if spec else None,
        )
    except InvalidInput as error:
        return SetGradesPayload(errors=[UserError.from_exception(error)])
    if result.errors:
        return SetGradesPayload(errors=[UserError.from_exception(e) for e in result.errors])
    return SetGradesPayload(
        kind=result.kind,
        grades=[
            GradeSet(learner_id=g.learner_id, grade=e.grade)
            for g, e in zip(grades, entries, strict=True)
        ],
    )


@strawberry.type
class ProgressMutation:
    @strawberry.mutation(
        description="Set (or clear) targets for a group's learners: every bad row is reported "
        "and nothing is stored unless all are good. The group's teachers and admins."
    )
    async def set_targets(self, info: Info, input: SetTargetsInput) -> SetGradesPayload:
        return await _set(
            info, input.group_id, db.GradeKind.TARGET, input.grades, input.specification
        )

    @strawberry.mutation(
        description="Set (or clear) working-at, predicted, actual or baseline grades (or "
        "targets) for a group's learners, all or nothing. The group's teachers and admins."
    )
    async def set_grades(self, info: Info, input: SetGradesInput) -> SetGradesPayload:
        return await _set(info, input.group_id, input.kind, input.grades, input.specification)


__all__ = [
    "Attainment8",
    "GradeKind",
    "GroupProgress",
    "LearnerProgress",
    "ProgressMutation",
    "ProgressSummary",
    "SpecificationRefInput",
]
