"""Explicit async factories; every field can be overridden."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any

from app.security.tokens import TokenKind, new_token
from models.devices import Device, Platform
from models.groups import Enrolment, TeachingAssignment, TeachingGroup
from models.learners import Learner
from models.partners import ApiKey, Scope
from models.schools import School
from models.staff import Membership, Role, User
from resolvers import learners as learner_cases
from resolvers import partners, schools
from resolvers.context import Context, PrincipalKind, RequestInfo, Services, Viewer
from resolvers.learners import LearnerData
from tests.conftest import FAST_HASHER

PASSWORD = "correct horse battery staple"
_PASSWORD_HASH = FAST_HASHER.hash(PASSWORD)
_serial = itertools.count(1)


def _n() -> int:
    return next(_serial)


async def school(services: Services, *, slug: str | None = None, name: str | None = None) -> School:
    n = _n()
    return await schools.create_school(services, name or f"School {n}", slug or f"school-{n}")


async def staff(
    school_row: School,
    *roles: Role,
    email: str | None = None,
    password_hash: str = _PASSWORD_HASH,
    display_name: str | None = None,
) -> User:
    n = _n()
    user = await User.create(
        email=email or f"staff{n}@example.test",
        display_name=display_name or f"Staff {n}",
        password_hash=password_hash,
    )
    for role in roles or (Role.TEACHER,):
        await Membership.create(school_id=school_row.id, user_id=user.id, role=role)
    return user


def viewer(user: User, school_row: School, *roles: Role, session_id: int | None = None) -> Viewer:
    """The viewer a session of ``user`` in ``school_row`` would have."""
    return Viewer(
        PrincipalKind.STAFF,
        school_row.id,
        frozenset({school_row.id}),
        user_id=user.id,
        roles=frozenset(roles),
        session_id=session_id,
    )


async def admin_viewer(school_row: School) -> Viewer:
    user = await staff(school_row, Role.ADMIN)
    return viewer(user, school_row, Role.ADMIN)


async def learner(services: Services, school_row: School, **fields: Any) -> Learner:
    n = _n()
    values: dict[str, Any] = {
        "given_name": f"Given{n}",
        "family_name": f"Family{n:05d}",
        "year_group": 10,
    }
    values.update(fields)
    ctx = Context(services, viewer=await admin_viewer(school_row), request=RequestInfo())
    return await learner_cases.create_learner(ctx, LearnerData(**values))


async def group(
    school_row: School,
    *,
    name: str | None = None,
    subject: str = "Maths",
    teachers: Iterable[User] = (),
    learners: Iterable[Learner] = (),
) -> TeachingGroup:
    row = await TeachingGroup.create(
        school_id=school_row.id,
        name=name or f"Group {_n()}",
        subject=subject,
        year_group=10,
        academic_year="2026/27",
    )
    for teacher in teachers:
        await TeachingAssignment.create(
            school_id=school_row.id, group_id=row.id, user_id=teacher.id
        )
    for pupil in learners:
        await Enrolment.create(school_id=school_row.id, group_id=row.id, learner_id=pupil.id)
    return row


async def device(
    school_row: School,
    *,
    learner_row: Learner | None = None,
    platform: Platform = Platform.CHROMEOS,
) -> tuple[Device, str]:
    issued = new_token(TokenKind.DEVICE)
    row = await Device.create(
        school_id=school_row.id,
        learner_id=learner_row.id if learner_row else None,
        name=f"Device {_n()}",
        platform=platform,
        token_hash=issued.digest,
        token_prefix=issued.display_prefix,
    )
    return row, issued.text


async def api_key(
    *school_rows: School, scopes: Iterable[Scope] = (Scope.LEARNERS_READ,)
) -> tuple[ApiKey, str]:
    issued = await partners.issue_api_key(
        f"Partner {_n()}", scopes, [s.id for s in school_rows], None
    )
    return issued.api_key, issued.key


def partner_viewer(key: ApiKey, *school_rows: School) -> Viewer:
    ids = sorted(s.id for s in school_rows)
    return Viewer(
        PrincipalKind.PARTNER,
        ids[0],
        frozenset(ids),
        api_key_id=key.id,
        scopes=frozenset(Scope(s) for s in key.scopes),
    )


def random_uuid() -> uuid.UUID:
    return uuid.uuid4()


def a_date_of_birth() -> date:
    return date(2011, 3, 14)
