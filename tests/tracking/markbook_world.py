"""A school with a Year 10 maths class graded by AQA 8300's real boundaries, for markbook tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from graphql import ExecutionResult

from models.groups import TeachingGroup
from models.learners import Learner
from models.markbook import Assessment
from models.schools import School
from models.staff import Role, User
from models.tracking import Specification, TierCode
from resolvers import assessments
from resolvers import tracking_reference as reference
from resolvers.assessments import AssessmentData
from resolvers.boundaries import import_boundaries
from resolvers.context import Context, RequestInfo, Services, Viewer
from resolvers.marks import MarkEntry, enter_marks
from resolvers.tracking_data import shipped_boundary_files
from tests import factories
from tests.conftest import GraphQLRunner


async def aqa_boundaries() -> None:
    """AQA 8300 with its papers and the June 2023 and 2024 boundaries of the reference."""
    (aqa,) = [p for p in shipped_boundary_files() if p.name.startswith("aqa")]
    await import_boundaries(aqa)


async def specification(board: str, code: str, qualification: str, subject: str) -> Specification:
    """A bare specification of another subject (for Attainment 8 across subjects)."""
    spec = await reference.ensure_specification(
        await reference.ensure_board(board),
        code,
        await reference.ensure_qualification(qualification),
    )
    spec.subject = subject
    await spec.save()
    return spec


@dataclass
class World:
    services: Services
    school: School
    teacher: User
    group: TeachingGroup
    pupils: list[Learner]
    other_group: TeachingGroup
    outsider: Learner
    as_teacher: Viewer
    as_admin: Viewer
    as_other_teacher: Viewer
    as_leader: Viewer

    def ctx(self, viewer: Viewer | None = None) -> Context:
        return Context(self.services, viewer=viewer or self.as_teacher, request=RequestInfo())

    async def assessment(self, **fields: Any) -> Assessment:
        values: dict[str, Any] = {
            "group_id": self.group.id,
            "title": "Year 10 mock",
            "board": "AQA",
            "specification_code": "8300",
            "series": "June 2023",
            "taken_on": date(2026, 11, 1),
            "tier": TierCode.HIGHER,
        }
        values.update(fields)
        return await assessments.create_assessment(self.ctx(), AssessmentData(**values))

    async def marks(self, assessment: Assessment, *raw: int | None) -> None:
        """One mark per pupil, in order (None: absent); fails the test on any problem."""
        from models.markbook import MarkStatus

        entries = [
            MarkEntry(p.id, r, MarkStatus.PRESENT if r is not None else MarkStatus.ABSENT)
            for p, r in zip(self.pupils, raw, strict=False)
        ]
        result = await enter_marks(self.ctx(), assessment.id, entries)
        assert result.errors == [], [e.message for e in result.errors]


async def build(services: Services, pupils: int = 3, **demographics: Any) -> World:
    """Pupils named Pupil00, Pupil01... (in markbook order), taught by one teacher."""
    await aqa_boundaries()
    school = await factories.school(services)
    teacher = await factories.staff(school, Role.TEACHER)
    other_teacher = await factories.staff(school, Role.TEACHER)
    leader = await factories.staff(school, Role.LEADER)
    learners = [
        await factories.learner(services, school, family_name=f"Pupil{i:02d}", **demographics)
        for i in range(pupils)
    ]
    outsider = await factories.learner(services, school, family_name="Zed")
    group = await factories.group(school, name="10X Maths", teachers=[teacher], learners=learners)
    other_group = await factories.group(
        school, name="10Y Maths", teachers=[other_teacher], learners=[outsider]
    )
    return World(
        services=services,
        school=school,
        teacher=teacher,
        group=group,
        pupils=learners,
        other_group=other_group,
        outsider=outsider,
        as_teacher=factories.viewer(teacher, school, Role.TEACHER),
        as_admin=await factories.admin_viewer(school),
        as_other_teacher=factories.viewer(other_teacher, school, Role.TEACHER),
        as_leader=factories.viewer(leader, school, Role.LEADER),
    )


def code(result: ExecutionResult) -> str:
    assert result.errors, result.data
    return str((result.errors[0].extensions or {})["code"])


async def ok(gql: GraphQLRunner, document: str, viewer: Viewer, **variables: Any) -> Any:
    result = await gql(document, viewer, **variables)
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data
