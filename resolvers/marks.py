"""Marks: entering a whole group's marks in one batch, all or nothing, graded at once."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from app.errors import InvalidInput, NotFound
from models.groups import Enrolment
from models.markbook import Assessment, Mark, MarkStatus
from resolvers import access
from resolvers.access import Op
from resolvers.audit import entry_for
from resolvers.context import Context

#: Rows one ``enterMarks`` may carry: a whole year group's cohort view, never unbounded.
from resolvers.graders import graders_for

MAX_MARKS = 500


async def enrolled_learners(group_id: int, wanted: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of ``wanted`` are current (not left) learners of the group."""
    rows = await Enrolment.filter(
        group_id=group_id, learner_id__in=list(wanted), learner__left_at__isnull=True
    ).values_list("learner_id", flat=True)
    return {v if isinstance(v, uuid.UUID) else uuid.UUID(str(v)) for v in rows}


async def require_assessment(ctx: Context, assessment_id: int, op: Op) -> Assessment:
    """An assessment of a group in the viewer's reach for ``op``; NOT_FOUND otherwise."""
    access.require(ctx, op)
    reachable = Subquery(access.groups(ctx, op).values("id"))
    row = await Assessment.get_or_none(id=assessment_id, group_id__in=reachable)
    if row is None:
        raise NotFound("Assessment not found.")
    return row


@dataclass(frozen=True, slots=True)
class MarkEntry:
    learner_id: uuid.UUID
    raw_mark: int | None
    status: MarkStatus


@dataclass(frozen=True, slots=True)
class EnteredMark:
    learner_id: uuid.UUID
    raw_mark: int | None
    status: MarkStatus
    scaled_mark: float | None
    grade: str | None


@dataclass(frozen=True, slots=True)
class EnteredMarks:
    """What a batch wrote (nothing when ``errors`` is not empty)."""

    assessment: Assessment | None
    marks: list[EnteredMark]
    errors: list[InvalidInput]


def _problems(
    entries: Sequence[MarkEntry], enrolled: set[uuid.UUID], top: int
) -> list[InvalidInput]:
    problems: list[InvalidInput] = []
    seen: set[uuid.UUID] = set()
    for i, entry in enumerate(entries):
        at = f"marks.{i}"
        if entry.learner_id in seen:
            problems.append(
                InvalidInput(f"{at}.learnerId", "This learner appears twice.", reason="DUPLICATE")
            )
        seen.add(entry.learner_id)
        if entry.learner_id not in enrolled:
            problems.append(
                InvalidInput(
                    f"{at}.learnerId", "This learner is not in the group.", reason="NOT_IN_GROUP"
                )
            )
        mark = entry.raw_mark
        if entry.status is MarkStatus.PRESENT and mark is None:
            problems.append(
                InvalidInput(
                    f"{at}.mark", "A present learner needs a mark.", reason="MARK_REQUIRED"
                )
            )
        elif entry.status is not MarkStatus.PRESENT and mark is not None:
            problems.append(
                InvalidInput(
                    f"{at}.mark",
                    f"An {entry.status.value.lower().replace('_', '-')} learner has no mark: "
                    "leave it empty or set the status to PRESENT.",
                    reason="MARK_NOT_ALLOWED",
                )
            )
        elif mark is not None and mark < 0:
            problems.append(
                InvalidInput(f"{at}.mark", "Marks cannot be negative.", reason="NEGATIVE")
            )
        elif mark is not None and mark > top:
            problems.append(
                InvalidInput(
                    f"{at}.mark", f"The mark is above the maximum of {top}.", reason="ABOVE_MAXIMUM"
                )
            )
    return problems


async def enter_marks(
    ctx: Context, assessment_id: int, entries: Sequence[MarkEntry]
) -> EnteredMarks:
    """Write a batch of marks all or nothing: any bad row and nothing is written, every bad row
    reported (with its index in ``marks``)."""
    viewer, _ = access.require(ctx, Op.ENTER_MARKS)
    assessment = await require_assessment(ctx, assessment_id, Op.ENTER_MARKS)
    if len(entries) > MAX_MARKS:
        raise InvalidInput("marks", f"At most {MAX_MARKS} marks at a time.", reason="TOO_MANY")
    wanted = {e.learner_id for e in entries}
    enrolled = await enrolled_learners(assessment.group_id, wanted)
    grader = (await graders_for([assessment]))[assessment.id]
    problems = _problems(entries, enrolled, grader.max_raw)
    if problems:
        return EnteredMarks(assessment, [], problems)
    async with in_transaction():
        await _write(assessment, entries, viewer.user_id, ctx.services.now())
        await ctx.services.audit.record(
            entry_for(
                viewer,
                ctx.request,
                "marks.enter",
                target_type="assessment",
                target_ids=[str(assessment.id)],
                # Names and a count, never the marks: "rows=N" says how many learners' marks.
                fields=["raw_mark", "status", f"rows={len(entries)}"],
            )
        )
    if assessment.standardised_shares:
        # The cohort just changed, and with it the standardised boundaries.
        grader = (await graders_for([assessment]))[assessment.id]
    marks = [
        EnteredMark(
            e.learner_id,
            e.raw_mark,
            e.status,
            grader.scaled(e.raw_mark, e.status),
            grader.grade(e.raw_mark, e.status),
        )
        for e in entries
    ]
    return EnteredMarks(assessment, marks, [])


async def _write(
    assessment: Assessment, entries: Sequence[MarkEntry], user_id: int | None, now: datetime
) -> None:
    existing = {
        m.learner_id: m
        for m in await Mark.filter(
            assessment_id=assessment.id, learner_id__in=[e.learner_id for e in entries]
        )
    }
    changed, new = [], []
    for e in entries:
        row = existing.get(e.learner_id)
        if row is None:
            new.append(
                Mark(
                    school_id=assessment.school_id,
                    assessment_id=assessment.id,
                    learner_id=e.learner_id,
                    raw_mark=e.raw_mark,
                    status=e.status,
                    entered_by_id=user_id,
                    updated_at=now,
                )
            )
        elif (row.raw_mark, row.status) != (e.raw_mark, e.status):
            row.raw_mark, row.status = e.raw_mark, e.status
            row.entered_by_id, row.updated_at = user_id, now
            changed.append(row)
    if changed:
        await Mark.bulk_update(
            changed, fields=["raw_mark", "status", "entered_by_id", "updated_at"]
        )
    if new:
        # A concurrent batch inserting the same learner fails the unique key: that request
        # errors and rolls back whole, and a retry updates instead.
        await Mark.bulk_create(new)


__all__ = [
    "MAX_MARKS",
    "EnteredMark",
    "EnteredMarks",
    "MarkEntry",
    "enrolled_learners",
    "enter_marks",
    "require_assessment",
]
