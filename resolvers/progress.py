"""Targets, working-at grades and progress against target per learner, group and subgroup.

A learner's *current* grade in a specification is their working-at grade when a teacher set
one, otherwise the grade of their latest assessment with a present mark: the system never asks
for a grade it can compute. Progress compares current and target grades by rank on the
specification's scale (never as strings). Subgroups smaller than the school's threshold are
flagged ``small``, never hidden: the reader decides, knowing the numbers are tiny.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from models.learners import Gender, SendStatus
from models.markbook import GradeKind, MarkStatus, TrackerSettings
from resolvers import attainment8, grading
from resolvers.context import Context
from resolvers.markbook import (
    MarkbookPage,
    load_whole_group,
)

DEFAULT_SMALL_SUBGROUP = 10
#: Qualifications whose grades count towards Attainment 8 (KS4), as import-boundaries codes.
KS4 = frozenset({"GCSE", "GCSE_COMBINED", "BTEC", "CAMBRIDGE_NATIONALS", "LEVEL_2_CERTIFICATE"})


class Standing(StrEnum):
    ABOVE = "ABOVE"
    ON_TARGET = "ON_TARGET"
    BELOW = "BELOW"
    NO_TARGET = "NO_TARGET"
    NO_CURRENT_GRADE = "NO_CURRENT_GRADE"


class Subgroup(StrEnum):
    PUPIL_PREMIUM = "PUPIL_PREMIUM"
    NOT_PUPIL_PREMIUM = "NOT_PUPIL_PREMIUM"
    SEND = "SEND"
    NOT_SEND = "NOT_SEND"
    EAL = "EAL"
    NOT_EAL = "NOT_EAL"
    FEMALE = "FEMALE"
    MALE = "MALE"
    GENDER_OTHER = "GENDER_OTHER"
    GENDER_UNSPECIFIED = "GENDER_UNSPECIFIED"


_GENDERS = {
    Gender.FEMALE: Subgroup.FEMALE,
    Gender.MALE: Subgroup.MALE,
    Gender.OTHER: Subgroup.GENDER_OTHER,
    Gender.UNSPECIFIED: Subgroup.GENDER_UNSPECIFIED,
}


def subgroups_of(
    pupil_premium: bool, send: SendStatus, eal: bool, gender: Gender
) -> list[Subgroup]:
    return [
        Subgroup.PUPIL_PREMIUM if pupil_premium else Subgroup.NOT_PUPIL_PREMIUM,
        Subgroup.NOT_SEND if send is SendStatus.NONE else Subgroup.SEND,
        Subgroup.EAL if eal else Subgroup.NOT_EAL,
        _GENDERS[gender],
    ]


@dataclass(frozen=True, slots=True)
class LearnerProgress:
    current: str | None
    #: Where the current grade comes from: WORKING_AT (a teacher) or ASSESSMENT (derived).
    source: str | None
    target: str | None
    #: Current rank minus target rank (grades above or below target); None without both.
    difference: int | None
    standing: Standing


def compare(
    scale: grading.GradeScale | None, current: str | None, source: str | None, target: str | None
) -> LearnerProgress:
    if target is None:
        return LearnerProgress(current, source, None, None, Standing.NO_TARGET)
    if current is None or scale is None:
        return LearnerProgress(current, source, target, None, Standing.NO_CURRENT_GRADE)
    difference = scale.rank(current) - scale.rank(target)
    standing = (
        Standing.ABOVE
        if difference > 0
        else Standing.BELOW
        if difference < 0
        else Standing.ON_TARGET
    )
    return LearnerProgress(current, source, target, difference, standing)


@dataclass(frozen=True, slots=True)
class Summary:
    subgroup: Subgroup | None
    learners: int
    above: int
    on_target: int
    below: int
    #: Learners without a target or without a current grade.
    unknown: int
    percent_on_or_above: float | None
    average_difference: float | None
    attainment8_average: float | None
    small: bool


def summarise(
    items: Sequence[tuple[LearnerProgress, float | None]],
    small_at: int,
    subgroup: Subgroup | None = None,
) -> Summary:
    """Counts and averages over some learners; averages skip learners without the figure."""
    standings = [p.standing for p, _ in items]
    above, on, below = (
        standings.count(s) for s in (Standing.ABOVE, Standing.ON_TARGET, Standing.BELOW)
    )
    known = above + on + below
    differences = [p.difference for p, _ in items if p.difference is not None]
    a8 = [total for _, total in items if total is not None]
    return Summary(
        subgroup=subgroup,
        learners=len(items),
        above=above,
        on_target=on,
        below=below,
        unknown=len(items) - known,
        percent_on_or_above=100 * (above + on) / known if known else None,
        average_difference=sum(differences) / len(differences) if differences else None,
        attainment8_average=attainment8.mean(a8),
        small=len(items) < small_at,
    )


def current_grade(page: MarkbookPage, learner_id: uuid.UUID) -> tuple[str | None, str | None]:
    """(grade, source): the working-at grade, else the latest assessment's derived grade."""
    if page.specification is None:
        return None, None
    set_by_teacher = page.records.get((learner_id, page.specification.id, GradeKind.WORKING_AT))
    if set_by_teacher is not None:
        return set_by_teacher, GradeKind.WORKING_AT.value
    for assessment in reversed(page.assessments):
        raw, status = page.marks.get((assessment.id, learner_id), (None, MarkStatus.ABSENT))
        grade = page.graders[assessment.id].grade(raw, status)
        if grade is not None:
            return grade, "ASSESSMENT"
    return None, None


def learner_progress(
    page: MarkbookPage, scale: grading.GradeScale | None, learner_id: uuid.UUID
) -> LearnerProgress:
    current, source = current_grade(page, learner_id)
    target = (
        page.records.get((learner_id, page.specification.id, GradeKind.TARGET))
        if page.specification is not None
        else None
    )
    return compare(scale, current, source, target)


def learner_attainment8(
    page: MarkbookPage, learner_id: uuid.UUID, basis: GradeKind
) -> attainment8.Estimate | None:
    """Attainment 8 from the learner's grades of ``basis`` in every KS4 specification.

    For WORKING_AT, the markbook's own specification uses the current grade (derived when no
    teacher set one). None when the learner has no such grade at all.
    """
    results = []
    for (lid, spec_id, kind), grade in page.records.items():
        subject, qualification = page.subjects[spec_id]
        if lid != learner_id or kind is not basis or qualification not in KS4:
            continue
        if basis is GradeKind.WORKING_AT and spec_id == _spec_id(page):
            continue
        results.append(attainment8.Result(subject, grade))
    if basis is GradeKind.WORKING_AT and page.specification is not None:
        current, _ = current_grade(page, learner_id)
        if current is not None:
            results.append(attainment8.Result(page.specification.subject, current))
    usable = [r for r in results if _has_points(r.grade)]
    return attainment8.estimate(usable) if usable else None


def _spec_id(page: MarkbookPage) -> int | None:
    return page.specification.id if page.specification is not None else None


def _has_points(grade: str) -> bool:
    try:
        attainment8.points(grade)
    except ValueError:
        return False
    return True


async def small_subgroup(school_id: int) -> int:
    settings = await TrackerSettings.get_or_none(school_id=school_id)
    return settings.small_subgroup if settings else DEFAULT_SMALL_SUBGROUP


@dataclass(frozen=True, slots=True)
class GroupProgress:
    group: Summary
    subgroups: list[Summary]


async def group_progress(ctx: Context, page: MarkbookPage, basis: GradeKind) -> GroupProgress:
    """Progress of every learner of the group (not just the page), whole and by subgroup."""
    everyone, genders = await load_whole_group(page)
    scale = page.scale
    small_at = await small_subgroup(page.group.school_id)
    items: dict[Subgroup | None, list[tuple[LearnerProgress, float | None]]] = {None: []}
    for row in everyone.learners:
        estimate = learner_attainment8(everyone, row.id, basis)
        item = (learner_progress(everyone, scale, row.id), estimate.total if estimate else None)
        items[None].append(item)
        for subgroup in subgroups_of(row.pupil_premium, row.send_status, row.eal, genders[row.id]):
            items.setdefault(subgroup, []).append(item)
    return GroupProgress(
        summarise(items[None], small_at),
        [summarise(items[s], small_at, s) for s in Subgroup if s in items],
    )


__all__ = [
    "DEFAULT_SMALL_SUBGROUP",
    "KS4",
    "GroupProgress",
    "LearnerProgress",
    "Standing",
    "Subgroup",
    "Summary",
    "compare",
    "current_grade",
    "group_progress",
    "learner_attainment8",
    "learner_progress",
    "subgroups_of",
    "summarise",
]
