"""The demo schools of API.md: Northfield Academy and Southgate School, their staff and classes."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from stdnum.gb import upn as upn_checker
from tortoise.transactions import in_transaction

from app.config import DEMO_PASSWORD
from app.security.tokens import TokenKind, new_token
from models.devices import Device, Platform
from models.groups import Enrolment, TeachingAssignment, TeachingGroup
from models.learners import Learner
from models.schools import School
from models.staff import Membership, Role, User
from resolvers.boundaries import import_boundaries
from resolvers.context import Services
from resolvers.learners import field_context
from resolvers.schools import create_school
from resolvers.tracking_data import shipped_boundary_files

GIVEN = [
    "Amelia",
    "Noah",
    "Olivia",
    "Muhammad",
    "Isla",
    "George",
    "Ava",
    "Oliver",
    "Lily",
    "Leo",
    "Freya",
    "Arthur",
    "Aisha",
    "Harry",
    "Sophia",
    "Jack",
    "Grace",
    "Oscar",
    "Mia",
    "Charlie",
    "Zara",
    "Theo",
    "Ivy",
    "Ethan",
    "Poppy",
    "Alfie",
    "Hana",
    "Finley",
    "Evie",
    "Kai",
]
FAMILY = [
    "Smith",
    "Jones",
    "Williams",
    "Taylor",
    "Brown",
    "Davies",
    "Evans",
    "Wilson",
    "Thomas",
    "Johnson",
    "Roberts",
    "Robinson",
    "Thompson",
    "Wright",
    "Walker",
    "White",
    "Edwards",
    "Hughes",
    "Green",
    "Hall",
    "Khan",
    "Patel",
    "Lewis",
    "Harris",
    "Clarke",
    "Begum",
    "Jackson",
    "Wood",
    "Turner",
    "Hill",
]


@dataclass(frozen=True, slots=True)
class DemoLogin:
    email: str
    role: str


@dataclass(frozen=True, slots=True)
class DemoClass:
    school: str
    name: str
    subject: str
    teacher: str
    size: int


CLASSES = [
    DemoClass("northfield", "10X Maths", "Maths", "teacher", 28),
    DemoClass("northfield", "10Y Science", "Science", "science", 26),
    DemoClass("southgate", "9A English", "English", "teacher", 24),
]
SCHOOLS = {
    "northfield": ("Northfield Academy", "138512"),
    "southgate": ("Southgate School", "141207"),
}
ROLES = {
    "admin": Role.ADMIN,
    "teacher": Role.TEACHER,
    "dsl": Role.SAFEGUARDING_LEAD,
    "science": Role.TEACHER,
}


def logins() -> list[DemoLogin]:
    return [
        DemoLogin(f"{who}@{slug}.test", ROLES[who].value)
        for slug in SCHOOLS
        for who in ("admin", "teacher", "dsl")
    ]


def _upn(rng: random.Random, la: int) -> str:
    school, year, serial = rng.randrange(2000, 7000), rng.randrange(10, 20), rng.randrange(1000)
    body = f"{la:03d}{school:04d}{year:02d}{serial:03d}"
    return upn_checker.calc_check_digit(body) + body


async def demo_seeded() -> bool:
    return await School.filter(slug__in=list(SCHOOLS)).exists()


async def seed(services: Services) -> dict[str, list[str]]:
    """Create the demo schools once; returns each school's device tokens for the simulator."""
    rng = random.Random(20261128)  # noqa: S311 - demo names, not secrets
    # Published AQA 8300 and Edexcel 1MA1 boundaries: shared reference data, idempotent.
    for path in shipped_boundary_files():
        await import_boundaries(path)
    password_hash = await services.passwords.hash(DEMO_PASSWORD)
    schools: dict[str, School] = {}
    staff: dict[tuple[str, str], User] = {}
    for slug, (name, urn) in SCHOOLS.items():
        school = await create_school(services, name, slug, urn)
        schools[slug] = school
        for who, role in ROLES.items():
            if who == "science" and slug != "northfield":
                continue
            user = await User.create(
                email=f"{who}@{slug}.test",
                is_demo=True,
                display_name=f"{who.title()} ({name})",
                password_hash=password_hash,
            )
            await Membership.create(school_id=school.id, user_id=user.id, role=role)
            staff[(slug, who)] = user
    tokens: dict[str, list[str]] = {slug: [] for slug in SCHOOLS}
    for spec in CLASSES:
        school = schools[spec.school]
        async with in_transaction():
            group = await TeachingGroup.create(
                school_id=school.id,
                name=spec.name,
                subject=spec.subject,
                year_group=int(spec.name[:2].strip("XYA")),
                academic_year="2026/27",
            )
            await TeachingAssignment.create(
                school_id=school.id,
                group_id=group.id,
                user_id=staff[(spec.school, spec.teacher)].id,
            )
            for _ in range(spec.size):
                learner = await _learner(services, rng, school, group.year_group or 10)
                await Enrolment.create(
                    school_id=school.id, group_id=group.id, learner_id=learner.id
                )
                issued = new_token(TokenKind.DEVICE)
                await Device.create(
                    school_id=school.id,
                    learner_id=learner.id,
                    name=f"{learner.given_name}'s Chromebook",
                    platform=Platform.CHROMEOS,
                    token_hash=issued.digest,
                    token_prefix=issued.display_prefix,
                )
                tokens[spec.school].append(issued.text)
    # Some assessments, marks and targets for 10X Maths (app/demo_markbook.py).
    from app.demo_markbook import seed_markbook

    await seed_markbook(services, schools["northfield"], staff[("northfield", "teacher")])
    return tokens


async def _learner(services: Services, rng: random.Random, school: School, year: int) -> Learner:
    learner = Learner(
        school_id=school.id,
        given_name=rng.choice(GIVEN),
        family_name=rng.choice(FAMILY),
        year_group=year,
        pupil_premium=rng.random() < 0.25,
        free_school_meals=rng.random() < 0.2,
        eal=rng.random() < 0.15,
    )
    upn = _upn(rng, 886 if school.slug == "northfield" else 210)
    born = date(2026 - year - 5, rng.randrange(1, 13), rng.randrange(1, 29))
    keyring = services.keyring
    learner.upn_enc = await keyring.encrypt(field_context(learner, "upn"), upn)
    learner.upn_index = await keyring.index(school.id, "learner.upn", upn)
    learner.date_of_birth_enc = await keyring.encrypt(
        field_context(learner, "date_of_birth"), born.isoformat()
    )
    await learner.save()
    return learner


__all__ = ["CLASSES", "DemoLogin", "demo_seeded", "logins", "seed"]
