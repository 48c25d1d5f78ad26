"""A group's markbook: its assessments, and a page of learners with marks and derived grades.

One page costs a constant number of queries whatever its size and however many assessments
the group has (tests/tracking/test_markbook_queries.py, bench/markbook.py): the group, its
assessments and their graders, the page of learners, their marks and their grade records.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from tortoise.queryset import QuerySet

from models.groups import TeachingGroup
from models.learners import Gender, Learner
from models.markbook import (
    Assessment,
    GradeKind,
    GradeRecord,
    Mark,
)
from models.markbook import MarkStatus as Status
from models.tracking import Specification
from resolvers import access, grading
from resolvers.access import Op, Reach
from resolvers.assessments import default_specification, find_specification
from resolvers.context import Context, PrincipalKind, Viewer
from resolvers.graders import Grader, graders_for, scales_and_tiers
from resolvers.learners import ORDER, ListedLearner, sort_key
from resolvers.pagination import paginate_rows


def shows_names(viewer: Viewer) -> bool:
    """Staff, and partners the school also granted learner names (LEARNERS_READ)."""
    return viewer.kind is not PrincipalKind.PARTNER or (
        access.reach(viewer, Op.READ_LEARNERS) is not Reach.NONE
    )


async def learner_key(ctx: Context, viewer: Viewer, learner_id: uuid.UUID, school_id: int) -> str:
    """What the viewer calls a learner: the id, or for a partner without names a pseudonym.

    The pseudonym is a keyed HMAC (the school's blind-index key, per partner key) of the id:
    stable for that school and key, unlinkable across schools and partners.
    """
    column = f"learner.pseudonym.{viewer.api_key_id}"
    pseudonym = await ctx.services.keyring.index(school_id, column, str(learner_id))
    return f"pseudonym:{pseudonym}"


@dataclass(slots=True)
class MarkbookPage:
    group: TeachingGroup
    specification: Specification | None
    assessments: list[Assessment]
    graders: dict[int, Grader]
    learners: list[ListedLearner]
    cursors: Sequence[str]
    has_next_page: bool
    has_previous_page: bool
    #: (assessment id, learner id) -> (raw mark, status)
    marks: dict[tuple[int, uuid.UUID], tuple[int | None, Status]]
    #: (learner id, specification id, kind) -> grade
    records: dict[tuple[uuid.UUID, int, GradeKind], str]
    #: specification id -> (subject, qualification code), for Attainment 8 across subjects
    subjects: dict[int, tuple[str, str]]
    names: bool
    #: learner id -> pseudonym, when names are not shown
    pseudonyms: dict[uuid.UUID, str]
    #: Every learner of the group (without the page window), for ``totalCount``.
    query: QuerySet[Learner]
    #: The assessments' global ids, made once by the schema for every row of the page.
    assessment_ids: list[str] | None = None
    #: The specification's grade scale, to compare grades by rank.
    scale: grading.GradeScale | None = None


async def load_markbook(
    ctx: Context,
    group_id: int,
    *,
    board: str | None,
    code: str | None,
    first: int | None,
    after: str | None,
) -> MarkbookPage:
    viewer, _ = access.require(ctx, Op.READ_TRACKING)
    group = await access.require_group(ctx, group_id, Op.READ_TRACKING)
    if board is not None and code is not None:
        spec: Specification | None = await find_specification(ctx, board, code, "specification")
    else:
        spec = await default_specification(group.id)
    assessments = (
        await Assessment.filter(group_id=group.id, specification_id=spec.id)
        .order_by("taken_on", "id")
        .prefetch_related("series")
        if spec is not None
        else []
    )
    known = await scales_and_tiers({spec.id}) if spec is not None else ({}, {})
    scales = known[0]
    graders = await graders_for(assessments, known)
    query = Learner.filter(enrolments__group_id=group.id, left_at__isnull=True)
    page = await paginate_rows(
        query,
        ORDER,
        sort_key,
        _listed,
        first=first,
        after=after,
        maximum=ctx.services.settings.limits.max_page_size,
    )
    ids = [row.id for row in page.rows]
    marks = await _marks([a.id for a in assessments], ids)
    records, subjects = await _records(ids)
    names = shows_names(viewer)
    pseudonyms = {}
    if not names:
        for learner in page.rows:
            pseudonyms[learner.id] = await learner_key(ctx, viewer, learner.id, group.school_id)
    for learner in page.rows:
        # Marks and grades are a learner's personal data: their reads go on the audit trail.
        ctx.note_reads(group.school_id, str(learner.id), ("marks", "grades"))
    return MarkbookPage(
        group=group,
        specification=spec,
        assessments=assessments,
        graders=graders,
        learners=page.rows,
        cursors=page.cursors,
        has_next_page=page.has_next_page,
        has_previous_page=page.has_previous_page,
        marks=marks,
        records=records,
        subjects=subjects,
        names=names,
        pseudonyms=pseudonyms,
        scale=scales.get(spec.id) if spec is not None else None,
        query=query,
    )


async def load_whole_group(page: MarkbookPage) -> tuple[MarkbookPage, dict[uuid.UUID, Gender]]:
    """The page's group with every learner (for group and subgroup figures), and genders."""
    rows = (
        await Learner.filter(enrolments__group_id=page.group.id, left_at__isnull=True)
        .order_by(*ORDER)
        .values_list(*ListedLearner._fields, "gender")
    )
    learners = [ListedLearner._make(row[:-1]) for row in rows]
    genders = {_uuid(row[0]): Gender(row[-1]) for row in rows}
    ids = [row.id for row in learners]
    records, subjects = await _records(ids)
    return (
        dataclasses.replace(
            page,
            learners=learners,
            cursors=(),
            marks=await _marks([a.id for a in page.assessments], ids),
            records=records,
            subjects=subjects,
            pseudonyms={},
        ),
        genders,
    )


async def _listed(window: object) -> list[ListedLearner]:
    rows = await window.values_list(*ListedLearner._fields)  # type: ignore[attr-defined]
    return [ListedLearner._make(row) for row in rows]


async def _marks(
    assessment_ids: list[int], learner_ids: list[uuid.UUID]
) -> dict[tuple[int, uuid.UUID], tuple[int | None, Status]]:
    if not assessment_ids or not learner_ids:
        return {}
    rows = await Mark.filter(
        assessment_id__in=assessment_ids, learner_id__in=learner_ids
    ).values_list("assessment_id", "learner_id", "raw_mark", "status")
    return {(a, _uuid(lid)): (raw, Status(status)) for a, lid, raw, status in rows}


async def _records(
    learner_ids: list[uuid.UUID],
) -> tuple[dict[tuple[uuid.UUID, int, GradeKind], str], dict[int, tuple[str, str]]]:
    if not learner_ids:
        return {}, {}
    rows = await GradeRecord.filter(learner_id__in=learner_ids).values_list(
        "learner_id",
        "specification_id",
        "kind",
        "grade",
        "specification__subject",
        "specification__qualification__code",
    )
    records = {(_uuid(lid), spec, GradeKind(kind)): grade for lid, spec, kind, grade, *_ in rows}
    subjects = {spec: (subject, code) for _, spec, _, _, subject, code in rows}
    return records, subjects


def _uuid(value: object) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


__all__ = [
    "MarkbookPage",
    "learner_key",
    "load_markbook",
    "load_whole_group",
    "shows_names",
]
