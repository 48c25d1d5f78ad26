"""Importing OneRoster sets: the sample, idempotence, all-or-nothing, deltas, 1.1, zip, dry run."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from models.audit import AuditEvent
from models.groups import Enrolment, TeachingAssignment, TeachingGroup
from models.learners import ExternalId, Gender, Learner, SendStatus
from models.roster import RosterKind, RosterLink
from models.schools import School, SchoolKey
from models.staff import Membership, Role, User
from resolvers.context import Services
from resolvers.learners import field_context
from resolvers.oneroster.apply import ACTOR
from resolvers.oneroster.importer import import_oneroster, report
from resolvers.oneroster.reader import RosterError
from tests import factories
from tests.oneroster.sets import Enrol, Group, Roster, a_upn, small_school, write_set, zip_set

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "oneroster-1.2"
MODELS: list[Any] = [
    School,
    SchoolKey,
    Learner,
    ExternalId,
    TeachingGroup,
    Enrolment,
    TeachingAssignment,
    User,
    Membership,
    RosterLink,
    AuditEvent,
]


async def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table an import touches, updated_at included."""
    return {m.__name__: await m.all().order_by("id").values() for m in MODELS}


async def by_sid(sourced_id: str) -> Learner:
    link = await ExternalId.get(system="oneroster", value=sourced_id)
    return await Learner.get(id=link.learner_id)


async def northfield(services: Services) -> School:
    return await factories.school(services, slug="northfield", name="Northfield Academy")


async def test_the_1_2_sample_imports_people_classes_and_enrolments(services: Services) -> None:
    # given
    school = await northfield(services)
    # when
    outcome = await import_oneroster(services, SAMPLE, "northfield")
    # then
    assert outcome.applied
    assert outcome.version == "1.2"
    pupils = await Learner.filter(school_id=school.id)
    assert len(pupils) == 40
    assert {p.year_group for p in pupils} == {10}
    amelia = await Learner.get(school_id=school.id, given_name="Amelia", family_name="Smith")
    assert (amelia.gender, amelia.left_at) == (Gender.FEMALE, None)
    assert (await by_sid("stu-026")).preferred_name == "Fred"
    twentieth = await by_sid("stu-020")
    assert (twentieth.pupil_premium, twentieth.send_status) == (True, SendStatus.EHC_PLAN)
    assert (twentieth.gender, twentieth.eal) == (Gender.MALE, False)
    ninth = await by_sid("stu-009")
    assert (ninth.pupil_premium, ninth.send_status, ninth.eal) == (
        False,
        SendStatus.SEN_SUPPORT,
        False,
    )
    assert (await by_sid("stu-014")).eal is True
    groups = {g.name: g for g in await TeachingGroup.filter(school_id=school.id)}
    assert sorted(groups) == ["10X English", "10X Maths", "10Y Maths", "10Y Science"]
    assert {(g.subject, g.academic_year, g.year_group) for g in groups.values()} >= {
        ("Mathematics", "2026/27", 10)
    }
    assert await Enrolment.filter(group_id=groups["10X Maths"].id).count() == 20
    assert await Enrolment.filter(school_id=school.id).count() == 80
    science = await TeachingAssignment.filter(group_id=groups["10Y Science"].id)
    assert len(science) == 2
    staff = await User.filter(memberships__school_id=school.id).distinct()
    assert len(staff) == 5
    roles = Counter(m.role for m in await Membership.filter(school_id=school.id))
    assert roles == {Role.TEACHER: 4, Role.LEADER: 1}
    assert await ExternalId.filter(school_id=school.id, system="oneroster").count() == 40


async def test_upns_are_encrypted_and_found_by_their_blind_index(services: Services) -> None:
    # given
    school = await northfield(services)
    # when
    await import_oneroster(services, SAMPLE, "northfield")
    # then the UPN is stored only as ciphertext and its keyed index
    upn = a_upn(1)
    index = await services.keyring.index(school.id, "learner.upn", upn)
    amelia = await Learner.get(school_id=school.id, upn_index=index)
    assert amelia.given_name == "Amelia"
    assert amelia.upn_enc is not None
    assert upn.encode() not in amelia.upn_enc
    plain = await services.keyring.decrypt(field_context(amelia, "upn"), amelia.upn_enc)
    assert plain == upn
    born = await services.keyring.decrypt(
        field_context(amelia, "date_of_birth"), amelia.date_of_birth_enc
    )
    assert born == "2011-10-02"


async def test_every_learner_creation_is_audited_by_the_importer(services: Services) -> None:
    # given
    school = await northfield(services)
    # when
    outcome = await import_oneroster(services, SAMPLE, "northfield")
    # then
    created = await AuditEvent.filter(chain=school.id, action="learner.create")
    assert len(created) == 40
    assert {(e.actor_type, e.actor_id, e.request_id) for e in created} == {
        ("system", ACTOR, outcome.run_id)
    }
    assert "upn" in created[0].fields_touched
    assert await AuditEvent.filter(chain=school.id, action="staff.create").count() == 5
    assert await AuditEvent.filter(chain=school.id, action="roster.import").count() == 1


async def test_imported_staff_have_no_usable_password(services: Services) -> None:
    # given
    await northfield(services)
    await import_oneroster(services, SAMPLE, "northfield")
    user = await User.get(email="s.okafor@northfield.example")
    # when
    result = await services.passwords.verify(user.password_hash, user.password_hash)
    # then
    assert result.ok is False


async def test_a_second_import_of_the_same_set_changes_nothing(services: Services) -> None:
    # given
    await northfield(services)
    await import_oneroster(services, SAMPLE, "northfield")
    before = await snapshot()
    # when
    outcome = await import_oneroster(services, SAMPLE, "northfield")
    # then
    assert await snapshot() == before
    assert not outcome.applied
    assert outcome.plan.writes == []
    assert "nothing to change" in report(outcome)
    assert outcome.plan.counts()["learner"]["unchanged"] == 40


def _break_line(folder: Path, file: str, line: int, old: str, new: str) -> None:
    path = folder / file
    lines = path.read_text().splitlines(keepends=True)
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    path.write_text("".join(lines))


async def test_one_bad_enrolment_fails_the_import_naming_the_file_and_line(
    services: Services, tmp_path: Path
) -> None:
    # given a copy of the sample whose enrolment on line 30 names a class that does not exist
    await northfield(services)
    folder = Path(shutil.copytree(SAMPLE, tmp_path / "set"))
    _break_line(folder, "enrollments.csv", 30, "cls-10", "cls-99")
    before = await snapshot()
    # when
    with pytest.raises(RosterError) as failed:
        await import_oneroster(services, folder, "northfield")
    # then
    assert str(failed.value) == (
        "enrollments.csv line 30: classSourcedId 'cls-99x-en' is not a class in classes.csv."
    )
    assert await snapshot() == before


@pytest.mark.parametrize(
    ("file", "line", "old", "new", "reason"),
    [
        ("demographics.csv", 5, "2011-", "2011/", "birthDate '2011/"),
        ("classes.csv", 3, "scheduled", "lecture", "classType 'lecture' is not one of"),
        ("users.csv", 4, "stu-003,", "stu-002,", "sourcedId 'stu-002' is a duplicate of line 3"),
        ("enrollments.csv", 12, ",student,", ",pupil,", "role 'pupil' is not one of"),
        ("users.csv", 1, "givenName", "firstName", "the required column givenName is missing"),
        ("academicSessions.csv", 2, "2026-09-01", "", "startDate is required but blank"),
        ("roles.csv", 9, ",stu-008,", ",stx-008,", "userSourcedId 'stx-008'"),
    ],
)
async def test_an_invalid_row_fails_with_its_file_line_and_reason(
    services: Services, tmp_path: Path, file: str, line: int, old: str, new: str, reason: str
) -> None:
    # given
    await northfield(services)
    folder = Path(shutil.copytree(SAMPLE, tmp_path / "set"))
    _break_line(folder, file, line, old, new)
    before = await snapshot()
    # when
    with pytest.raises(RosterError) as failed:
        await import_oneroster(services, folder, "northfield")
    # then
    assert str(failed.value).startswith(f"{file} line {line}: ")
    assert reason in str(failed.value)
    assert await snapshot() == before


async def test_a_delta_marks_a_leaver_and_adds_a_class(services: Services, tmp_path: Path) -> None:
    # given the sample imported, then a delta: stu-007 leaves, a new class gets two pupils
    school = await northfield(services)
    await import_oneroster(services, SAMPLE, "northfield")
    sample = small_school()
    leaver = next(p for p in sample.pupils if p.sid == "stu-007")
    delta = Roster(
        pupils=[leaver.__class__(**{**leaver.__dict__, "deleted": True})],
        groups=[Group("cls-10x-cs", "10X Computing", "10X/Cs1", "crs-ma10", "Computing")],
        enrolments=[
            Enrol("enr-cs-t", "cls-10x-cs", "tch-003", "teacher", True),
            Enrol("enr-cs-001", "cls-10x-cs", "stu-001"),
            Enrol("enr-cs-002", "cls-10x-cs", "stu-002"),
            Enrol("enr-007-ma", "cls-10x-ma", "stu-007", deleted=True),
        ],
        structure=False,
    )
    folder = write_set(delta, tmp_path / "delta", delta=True)
    # when
    outcome = await import_oneroster(services, folder, "northfield")
    # then
    gone = await by_sid("stu-007")
    assert gone.left_at is not None
    assert await Learner.filter(school_id=school.id).count() == 40  # never deleted
    computing = await TeachingGroup.get(school_id=school.id, name="10X Computing")
    assert await Enrolment.filter(group_id=computing.id).count() == 2
    assert await TeachingAssignment.filter(group_id=computing.id).count() == 1
    ended = await RosterLink.get(kind=RosterKind.ENROLMENT, sourced_id="enr-007-ma")
    assert ended.ended_at is not None
    # the ended enrolment gives no more reach: the pupil is no longer in 10X Maths
    maths = await TeachingGroup.get(school_id=school.id, name="10X Maths")
    assert not await Enrolment.filter(group_id=maths.id, learner_id=gone.id).exists()
    assert await AuditEvent.filter(chain=school.id, action="group.unenrol").count() == 1
    counts = outcome.plan.counts()
    assert (counts["learner"]["end"], counts["class"]["create"]) == (1, 1)
    assert counts["enrolment"] == {"create": 3, "end": 1}
    assert await AuditEvent.filter(chain=school.id, action="learner.leave").count() == 1


async def test_a_pupil_missing_from_a_bulk_set_is_marked_as_left(
    services: Services, tmp_path: Path
) -> None:
    # given
    school = await northfield(services)
    await import_oneroster(services, SAMPLE, "northfield")
    from tests.oneroster.sets import without

    folder = write_set(without(small_school(), "stu-040"), tmp_path / "bulk")
    # when
    await import_oneroster(services, folder, "northfield")
    # then
    left = await Learner.filter(school_id=school.id, left_at__isnull=False)
    assert [p.given_name for p in left] == ["Samuel"]
    ended = await RosterLink.filter(kind=RosterKind.ENROLMENT, ended_at__isnull=False)
    assert sorted(e.sourced_id for e in ended) == ["enr-040-ma", "enr-040-sc"]
    # their memberships end (no teacher reaches a leaver through a past class); the links stay
    assert await Enrolment.filter(school_id=school.id).count() == 78
    assert not await Enrolment.filter(learner_id=left[0].id).exists()


async def test_a_1_1_set_imports(services: Services, tmp_path: Path) -> None:
    # given
    school = await northfield(services)
    folder = write_set(small_school(), tmp_path / "v11", version="1.1")
    # when
    outcome = await import_oneroster(services, folder, "northfield")
    # then
    assert outcome.version == "1.1"
    assert await Learner.filter(school_id=school.id).count() == 40
    assert await Enrolment.filter(school_id=school.id).count() == 80
    assert await TeachingAssignment.filter(school_id=school.id).count() == 5


@pytest.mark.parametrize("packed", [False, True], ids=["folder", "zip"])
async def test_a_folder_and_a_zip_import_alike(
    services: Services, tmp_path: Path, packed: bool
) -> None:
    # given
    school = await northfield(services)
    path = zip_set(SAMPLE, tmp_path / "set.zip") if packed else SAMPLE
    # when
    await import_oneroster(services, path, "northfield")
    # then
    assert await Learner.filter(school_id=school.id).count() == 40
    assert await RosterLink.filter(school_id=school.id).count() == 1 + 4 + 3 + 4 + 5 + 85


async def test_a_dry_run_writes_nothing_and_reports_the_plan(services: Services) -> None:
    # given
    await northfield(services)
    before = await snapshot()
    # when
    outcome = await import_oneroster(services, SAMPLE, "northfield", dry_run=True)
    # then
    assert await snapshot() == before
    text = report(outcome)
    assert text.splitlines()[0].startswith("Dry run")
    assert "learner                 40" in text
    assert "  create    learner stu-001" in text
    assert "… and" in text


async def test_a_set_for_another_school_is_refused(services: Services, tmp_path: Path) -> None:
    # given northfield imported its set; southgate then gets the same set
    await northfield(services)
    await import_oneroster(services, SAMPLE, "northfield")
    other = await factories.school(services, slug="southgate")
    await import_oneroster(services, SAMPLE, "southgate")
    before = await snapshot()
    changed = Roster(groups=[], structure=True, urn="137001")
    folder = write_set(changed, tmp_path / "other")
    _break_line(folder, "orgs.csv", 2, "org-nfa", "org-sgs")
    # when
    with pytest.raises(RosterError) as failed:
        await import_oneroster(services, folder, other.slug)
    # then
    assert "another school" in str(failed.value)
    assert await snapshot() == before
