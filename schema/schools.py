"""The School type and the viewer's school."""

from __future__ import annotations

import strawberry

from models import schools as db
from resolvers import schools
from schema.common import Info, Node, to_global_id


@strawberry.type(description="A school: the tenant every other object belongs to.")
class School(Node):
    name: str
    slug: str = strawberry.field(description="Short unique name, like `northfield`.")
    urn: str | None = strawberry.field(description="DfE Unique Reference Number.")
    timezone: str

    @classmethod
    def from_model(cls, row: db.School) -> School:
        return cls(
            id=to_global_id("School", row.id),
            name=row.name,
            slug=row.slug,
            urn=row.urn,
            timezone=row.timezone,
        )


@strawberry.type
class SchoolQuery:
    @strawberry.field(description="The viewer's school.")
    async def school(self, info: Info) -> School:
        return School.from_model(await schools.viewer_school(info.context))

    @strawberry.field(
        description="Every school the viewer may read: one for staff, the granting "
        "schools for a partner key."
    )
    async def schools(self, info: Info) -> list[School]:
        return [School.from_model(s) for s in await schools.viewer_schools(info.context)]
