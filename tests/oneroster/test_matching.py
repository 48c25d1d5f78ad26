"""Imports meet existing data: adopted learners and staff, rejoiners, refusals, progress."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest

from app.cli import _progress_bar
from models.audit import AuditEvent
from models.learners import ExternalId, Learner
from models.staff import Membership, Role, User
from resolvers.context import Services
from resolvers.oneroster.importer import import_oneroster
from resolvers.oneroster.reader import RosterError
from resolvers.schools import create_school
from tests import factories
from tests.oneroster.sets import Staff, a_upn, small_school, without, write_set
from tests.oneroster.test_import import SAMPLE, by_sid, northfield, snapshot


async def test_a_learner_made_by_hand_is_adopted_by_upn_not_duplicated(
    services: Services,
) -> None:
    # given a learner an admin created before the first import, with stu-003's UPN
    school = await northfield(services)
    made = await factories.learner(services, school, upn=a_upn(3), year_group=9)
    # when
    outcome = await import_oneroster(services, SAMPLE, "northfield")
    # then
    assert await Learner.filter(school_id=school.id).count() == 40
    adopted = await by_sid("stu-003")
    assert adopted.id == made.id
    assert (adopted.given_name, adopted.year_group) == ("Isla", 10)
    change = next(c for c in outcome.plan.writes if c.sourced_id == "stu-003")
    assert change.kind == "update"
    assert "external_id" in change.fields
    events = await AuditEvent.filter(action="learner.update")
    touched = {tuple(e.fields_touched) for e in events if e.target_ids == [str(made.id)]}
    assert ("external_ids",) in touched


async def test_a_changed_name_updates_only_that_learner_and_is_audited(
    services: Services, tmp_path: Path
) -> None:
    # given
    school = await northfield(services)
    await import_oneroster(services, SAMPLE, "northfield")
    roster = small_school()
    roster.pupils[0] = replace(roster.pupils[0], family="Smith-Jones")
    others = await Learner.filter(school_id=school.id).exclude(family_name="Smith").values()
    # when
    outcome = await import_oneroster(services, write_set(roster, tmp_path / "set"), "northfield")
    # then
    assert [(c.kind, c.sourced_id, c.fields) for c in outcome.plan.writes] == [
        ("update", "stu-001", ("family_name",))
    ]
    assert (await by_sid("stu-001")).family_name == "Smith-Jones"
    assert (
        await Learner.filter(school_id=school.id).exclude(family_name="Smith-Jones").values()
        == others
    )
    event = await AuditEvent.filter(action="learner.update").order_by("-id").first()
    assert event is not None
    assert (event.actor_type, event.fields_touched) == ("system", ["family_name"])


async def test_a_leaver_who_comes_back_rejoins(services: Services, tmp_path: Path) -> None:
    # given stu-040 left in a bulk set without them
    await northfield(services)
    await import_oneroster(services, SAMPLE, "northfield")
    await import_oneroster(
        services, write_set(without(small_school(), "stu-040"), tmp_path / "a"), "northfield"
    )
    assert (await by_sid("stu-040")).left_at is not None
    # when the next bulk set lists them again
    outcome = await import_oneroster(services, SAMPLE, "northfield")
    # then
    assert (await by_sid("stu-040")).left_at is None
    counts = outcome.plan.counts()
    assert counts["learner"]["update"] == 1
    assert counts["enrolment"]["update"] == 2


async def test_an_existing_staff_account_is_linked_not_duplicated(services: Services) -> None:
    # given a teacher who already signs in
    school = await northfield(services)
    teacher = await factories.staff(
        school, Role.TEACHER, email="s.okafor@northfield.example", display_name="Sarah Okafor"
    )
    # when
    await import_oneroster(services, SAMPLE, "northfield")
    # then
    same = await User.get(email="s.okafor@northfield.example")
    assert (same.id, same.password_hash) == (teacher.id, teacher.password_hash)
    assert await Membership.filter(user_id=teacher.id).count() == 1
    assert await User.filter(memberships__school_id=school.id).distinct().count() == 5


async def test_the_administrator_becomes_a_leader_never_an_admin(services: Services) -> None:
    # given
    school = await northfield(services)
    # when
    await import_oneroster(services, SAMPLE, "northfield")
    # then
    head = await User.get(email="h.marsh@northfield.example")
    roles = await Membership.filter(user_id=head.id, school_id=school.id).values_list(
        "role", flat=True
    )
    assert list(roles) == [Role.LEADER]


async def test_a_upn_of_another_imported_learner_is_refused_with_its_line(
    services: Services, tmp_path: Path
) -> None:
    # given stu-002 now carries stu-001's UPN (and stu-001 has none)
    await northfield(services)
    await import_oneroster(services, SAMPLE, "northfield")
    roster = small_school()
    roster.pupils[1] = replace(roster.pupils[1], upn=a_upn(1))
    roster.pupils[0] = replace(roster.pupils[0], upn="")
    before = await snapshot()
    # when
    with pytest.raises(RosterError) as failed:
        await import_oneroster(services, write_set(roster, tmp_path / "set"), "northfield")
    # then
    assert str(failed.value) == (
        "users.csv line 3: the UPN belongs to another learner of this school."
    )
    assert await snapshot() == before
    assert await ExternalId.filter(system="oneroster").count() == 40


async def test_an_invalid_upn_names_its_line(services: Services, tmp_path: Path) -> None:
    # given
    await northfield(services)
    roster = small_school()
    roster.pupils[4] = replace(roster.pupils[4], upn="A123")
    # when
    with pytest.raises(RosterError) as failed:
        await import_oneroster(services, write_set(roster, tmp_path / "set"), "northfield")
    # then
    assert str(failed.value) == "users.csv line 6: userIds UPN 'A123' is not a valid UPN."


class Terminal(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize("tty", [True, False], ids=["terminal", "pipe"])
def test_the_progress_bar_shows_only_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, tty: bool
) -> None:
    # given
    err = Terminal(tty)
    monkeypatch.setattr("sys.stderr", err)
    tick = _progress_bar(50)
    # when
    for _ in range(50):
        tick()
    # then
    if tty:
        assert err.getvalue().endswith(f"\r[{'#' * 30}] 50/50\n")
        assert "25/50" in err.getvalue()
    else:
        assert err.getvalue() == ""


async def test_a_school_with_another_urn_refuses_the_set(services: Services) -> None:
    # given a school whose URN is not the set's org identifier (137000)
    await create_school(services, "Southgate School", "southgate", "999999")
    before = await snapshot()
    # when
    with pytest.raises(RosterError) as failed:
        await import_oneroster(services, SAMPLE, "southgate")
    # then
    assert str(failed.value) == (
        "orgs.csv line 2: this org's identifier '137000' is not southgate's URN (999999): "
        "is this set for another school?"
    )
    assert await snapshot() == before


async def test_a_school_with_the_set_urn_takes_it(services: Services) -> None:
    # given
    school = await create_school(services, "Northfield Academy", "northfield", "137000")
    # when
    await import_oneroster(services, SAMPLE, "northfield")
    # then
    assert await Learner.filter(school_id=school.id).count() == 40


async def test_a_teacher_who_is_also_an_administrator_gets_both_roles(
    services: Services, tmp_path: Path
) -> None:
    # given a 1.2 set where one member of staff has two roles in roles.csv
    school = await northfield(services)
    roster = small_school()
    roster.staff.append(
        Staff("tch-006", "Ruth", "Adeyemi", "r.adeyemi@northfield.example", "teacher,administrator")
    )
    # when
    await import_oneroster(services, write_set(roster, tmp_path / "set"), "northfield")
    # then
    user = await User.get(email="r.adeyemi@northfield.example")
    roles = await Membership.filter(user_id=user.id, school_id=school.id).values_list(
        "role", flat=True
    )
    assert sorted(roles) == [Role.LEADER, Role.TEACHER]


async def test_a_bulk_set_refuses_an_enrolment_of_a_user_it_does_not_list(
    services: Services, tmp_path: Path
) -> None:
    # given stu-040 imported before, then dropped from users.csv but not from enrollments.csv
    await northfield(services)
    await import_oneroster(services, SAMPLE, "northfield")
    roster = small_school()
    roster.pupils.pop()
    before = await snapshot()
    # when
    with pytest.raises(RosterError) as failed:
        await import_oneroster(services, write_set(roster, tmp_path / "set"), "northfield")
    # then
    assert str(failed.value) == (
        "enrollments.csv line 85: userSourcedId 'stu-040' is not a user in users.csv."
    )
    assert await snapshot() == before
