"""Setting targets, working-at and predicted grades for a group's learners, all or nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from app.errors import InvalidInput
from models.markbook import GradeKind, GradeRecord
from resolvers import access, grading
from resolvers.access import Op
from resolvers.assessments import default_specification, find_specification
from resolvers.audit import entry_for
from resolvers.context import Context
from resolvers.graders import scales_and_tiers
from resolvers.marks import enrolled_learners

MAX_GRADES = 500


@dataclass(frozen=True, slots=True)
class GradeEntry:
    learner_id: uuid.UUID
    #: None clears the learner's grade of this kind.
    grade: str | None


@dataclass(frozen=True, slots=True)
class SetGrades:
    """What was stored (nothing when ``errors`` is not empty)."""

    kind: GradeKind
    entries: list[GradeEntry]
    errors: list[InvalidInput]


async def set_grades(
    ctx: Context,
    group_id: int,
    kind: GradeKind,
    entries: Sequence[GradeEntry],
    spec_ref: tuple[str, str] | None = None,
) -> SetGrades:
    """Set (or clear) one kind of grade for some of a group's learners, all or nothing."""
    viewer, _ = access.require(ctx, Op.ENTER_MARKS)
    group = await access.require_group(ctx, group_id, Op.ENTER_MARKS)
    spec = (
        await find_specification(ctx, *spec_ref, "specification")
        if spec_ref is not None
        else await default_specification(group.id)
    )
    if spec is None:
        raise InvalidInput(
            "specification",
            "The group has no assessments yet: name the specification.",
            reason="REQUIRED",
        )
    if len(entries) > MAX_GRADES:
        raise InvalidInput("grades", f"At most {MAX_GRADES} grades at a time.", reason="TOO_MANY")
    scales, _ = await scales_and_tiers({spec.id})
    scale = scales.get(spec.id)
    labels = {*(scale.grades if scale else ()), grading.UNGRADED}
    enrolled = await enrolled_learners(group.id, [e.learner_id for e in entries])
    errors = list(_problems(entries, enrolled, labels, spec.title))
    if errors:
        return SetGrades(kind, [], errors)
    now = ctx.services.now()
    async with in_transaction():
        ids = [e.learner_id for e in entries]
        await GradeRecord.filter(learner_id__in=ids, specification_id=spec.id, kind=kind).delete()
        await GradeRecord.bulk_create(
            [
                GradeRecord(
                    school_id=group.school_id,
                    learner_id=e.learner_id,
                    specification_id=spec.id,
                    kind=kind,
                    grade=e.grade,
                    set_by_id=viewer.user_id,
                    set_at=now,
                )
                for e in entries
                if e.grade is not None
            ]
        )
        await ctx.services.audit.record(
            entry_for(
                viewer,
                ctx.request,
                "grades.set",
                target_type="group",
                target_ids=[str(group.id)],
                fields=[kind.value.lower(), f"rows={len(entries)}", f"specification={spec.id}"],
            )
        )
    return SetGrades(kind, list(entries), [])


def _problems(
    entries: Sequence[GradeEntry], enrolled: set[uuid.UUID], labels: set[str], title: str
) -> Iterable[InvalidInput]:
    seen: set[uuid.UUID] = set()
    for i, entry in enumerate(entries):
        if entry.learner_id in seen:
            yield InvalidInput(
                f"grades.{i}.learnerId", "This learner appears twice.", reason="DUPLICATE"
            )
        seen.add(entry.learner_id)
        if entry.learner_id not in enrolled:
            yield InvalidInput(
                f"grades.{i}.learnerId", "This learner is not in the group.", reason="NOT_IN_GROUP"
            )
        if entry.grade is not None and entry.grade not in labels:
            yield InvalidInput(
                f"grades.{i}.grade",
                f"{entry.grade} is not a grade of {title}.",
                reason="UNKNOWN_GRADE",
            )


__all__ = ["MAX_GRADES", "GradeEntry", "SetGrades", "set_grades"]
