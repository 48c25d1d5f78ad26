"""Demo tracking data: a few AQA 8300 assessments, marks and targets for Northfield's 10X Maths.

Entered through the use-cases, as the class's teacher would (so they are audited like any),
after the shipped boundaries are imported.
"""

from __future__ import annotations

import random
from datetime import date

from models.groups import Enrolment, TeachingGroup
from models.markbook import GradeKind, MarkStatus
from models.schools import School
from models.staff import Role, User
from models.tracking import TierCode
from resolvers import assessments, grades, marks
from resolvers.assessments import AssessmentData
from resolvers.context import Context, PrincipalKind, Services, Viewer

#: (title, series, papers covered, custom test maximum)
ASSESSMENTS = [
    ("Baseline test", "June 2023", [], 60),
    ("Paper 1 mock", "June 2024", ["8300/1H"], None),
    ("Autumn mock", "June 2024", [], None),
]


async def seed_markbook(
    services: Services, school: School, teacher: User, group_name: str = "10X Maths"
) -> None:
    rng = random.Random(8300)  # noqa: S311 - demo marks, not secrets
    group = await TeachingGroup.get(school_id=school.id, name=group_name)
    viewer = Viewer(
        PrincipalKind.STAFF,
        school.id,
        frozenset({school.id}),
        user_id=teacher.id,
        roles=frozenset({Role.TEACHER}),
    )
    ctx = Context(services, viewer=viewer)
    learner_ids = [
        e.learner_id for e in await Enrolment.filter(group_id=group.id).order_by("learner_id")
    ]
    ability = {lid: rng.uniform(0.25, 0.9) for lid in learner_ids}
    for n, (title, series, papers, out_of) in enumerate(ASSESSMENTS):
        assessment = await assessments.create_assessment(
            ctx,
            AssessmentData(
                group_id=group.id,
                title=title,
                board="AQA",
                specification_code="8300",
                series=series,
                taken_on=date(2026, 9 + n, 15),
                tier=TierCode.HIGHER,
                components=papers,
                out_of=out_of,
            ),
        )
        top = out_of or (80 if papers else 240)
        entries = []
        for lid in learner_ids:
            if rng.random() < 0.06:
                entries.append(marks.MarkEntry(lid, None, MarkStatus.ABSENT))
                continue
            share = min(1.0, max(0.0, rng.gauss(ability[lid], 0.08)))
            entries.append(marks.MarkEntry(lid, round(share * top), MarkStatus.PRESENT))
        await marks.enter_marks(ctx, assessment.id, entries)
    targets = [
        grades.GradeEntry(lid, str(min(9, max(4, round(ability[lid] * 10))))) for lid in learner_ids
    ]
    await grades.set_grades(ctx, group.id, GradeKind.TARGET, targets)


__all__ = ["seed_markbook"]
