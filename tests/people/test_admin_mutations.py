"""School admin mutations: each changes what the queries show, and refuses what it must."""

from __future__ import annotations

import json
from typing import Any

import pytest

from models.devices import Device
from models.groups import Enrolment, TeachingAssignment, TeachingGroup
from models.learners import Learner
from models.partners import ApiKey, ApiKeyGrant
from models.staff import Membership, Role, User
from resolvers.auth import authenticate
from resolvers.context import PrincipalKind, Services
from schema.common import to_global_id
from tests import factories
from tests.conftest import GraphQLRunner

UPN = "B801200005001"
OTHER_UPN = "Q801200005002"
ULN = "1234567899"
NEW_PASSWORD = "a long and unusual passphrase"

LEARNER_FIELDS = """
  id givenName familyName preferredName yearGroup upn uln dateOfBirth sendStatus sendDetails
  pupilPremium freeSchoolMeals eal externalIds { system value } groups { name }
"""

CREATE_LEARNER = f"""
mutation Create($input: CreateLearnerInput!) {{
  createLearner(input: $input) {{
    learner {{ {LEARNER_FIELDS} }}
    errors {{ field code message }}
  }}
}}
"""

UPDATE_LEARNER = f"""
mutation Update($input: UpdateLearnerInput!) {{
  updateLearner(input: $input) {{
    learner {{ {LEARNER_FIELDS} }}
    errors {{ field code message }}
  }}
}}
"""

LEARNER = f"query One($id: ID!) {{ learner(id: $id) {{ {LEARNER_FIELDS} }} }}"

LEARNERS = """
query Learners($filter: LearnerFilter) {
  learners(first: 100, filter: $filter) { totalCount nodes { id familyName } }
}
"""

GROUP_FIELDS = """
  id name subject yearGroup academicYear
  learners(first: 100) { totalCount nodes { id familyName } }
  teachers { id displayName }
"""

CREATE_GROUP = f"""
mutation Create($input: CreateGroupInput!) {{
  createGroup(input: $input) {{ group {{ {GROUP_FIELDS} }} errors {{ field code message }} }}
}}
"""

UPDATE_GROUP = f"""
mutation Update($input: UpdateGroupInput!) {{
  updateGroup(input: $input) {{ group {{ {GROUP_FIELDS} }} errors {{ field code message }} }}
}}
"""

ENROL = f"""
mutation Enrol($input: GroupLearnersInput!) {{
  enrolLearners(input: $input) {{ group {{ {GROUP_FIELDS} }} errors {{ field code message }} }}
}}
"""

UNENROL = f"""
mutation Unenrol($input: GroupLearnersInput!) {{
  unenrolLearners(input: $input) {{ group {{ {GROUP_FIELDS} }} errors {{ field code message }} }}
}}
"""

ASSIGN = f"""
mutation Assign($input: GroupTeacherInput!) {{
  assignTeacher(input: $input) {{ group {{ {GROUP_FIELDS} }} errors {{ field code message }} }}
}}
"""

UNASSIGN = f"""
mutation Unassign($input: GroupTeacherInput!) {{
  unassignTeacher(input: $input) {{ group {{ {GROUP_FIELDS} }} errors {{ field code message }} }}
}}
"""

GROUP = f"query One($id: ID!) {{ node(id: $id) {{ ... on Group {{ {GROUP_FIELDS} }} }} }}"

GROUPS = "query { groups(first: 100) { totalCount nodes { id name subject academicYear } } }"

STAFF_FIELDS = "id displayName email isActive roles"

CREATE_STAFF = f"""
mutation Create($input: CreateStaffInput!) {{
  createStaff(input: $input) {{
    staffMember {{ {STAFF_FIELDS} }}
    errors {{ field code message }}
  }}
}}
"""

UPDATE_STAFF = f"""
mutation Update($input: UpdateStaffInput!) {{
  updateStaff(input: $input) {{
    staffMember {{ {STAFF_FIELDS} }}
    errors {{ field code message }}
  }}
}}
"""

STAFF = f"query {{ staff(first: 100) {{ totalCount nodes {{ {STAFF_FIELDS} }} }} }}"

LOGIN = """
mutation Login($input: LoginInput!) {
  login(input: $input) {
    token
    viewer { kind roles staffMember { email } }
    errors { field code message }
  }
}
"""

LOGIN_SCHOOL = """
mutation Login($input: LoginInput!) {
  login(input: $input) { token viewer { school { slug } } errors { field code message } }
}
"""

DEVICE_FIELDS = "id name platform revoked tokenPrefix learner { id }"

ENROL_DEVICE = f"""
mutation Enrol($input: EnrolDeviceInput!) {{
  enrolDevice(input: $input) {{
    token
    device {{ {DEVICE_FIELDS} }}
    errors {{ field code message }}
  }}
}}
"""

REVOKE_DEVICE = f"""
mutation Revoke($id: ID!) {{
  revokeDevice(id: $id) {{ device {{ {DEVICE_FIELDS} }} errors {{ field code message }} }}
}}
"""

DEVICES = f"query {{ devices(first: 100) {{ totalCount nodes {{ {DEVICE_FIELDS} }} }} }}"

KEY_FIELDS = "id name prefix scopes revoked"

CREATE_API_KEY = f"""
mutation Create($input: CreateApiKeyInput!) {{
  createApiKey(input: $input) {{
    key
    apiKey {{ {KEY_FIELDS} }}
    errors {{ field code message }}
  }}
}}
"""

REVOKE_API_KEY = f"""
mutation Revoke($id: ID!) {{
  revokeApiKey(id: $id) {{ apiKey {{ {KEY_FIELDS} }} errors {{ field code message }} }}
}}
"""

API_KEYS = f"query {{ apiKeys(first: 100) {{ totalCount nodes {{ {KEY_FIELDS} }} }} }}"


def data_of(result: Any) -> dict[str, Any]:
    assert result.errors is None, result.errors
    return result.data


def learner_id(row: Learner) -> str:
    return to_global_id("Learner", row.id)


def group_id(row: TeachingGroup) -> str:
    return to_global_id("Group", row.id)


def staff_id(row: User) -> str:
    return to_global_id("StaffMember", row.id)


def family_names(group: dict[str, Any]) -> list[str]:
    return [n["familyName"] for n in group["learners"]["nodes"]]


# --- learners ---------------------------------------------------------------------------------


async def test_create_learner_stores_every_field_and_the_learner_query_reads_it(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    fields = {
        "givenName": "Ada",
        "familyName": "Lovelace",
        "preferredName": "Addie",
        "yearGroup": 9,
        "upn": UPN,
        "uln": ULN,
        "dateOfBirth": "2012-12-10",
        "sendStatus": "SEN_SUPPORT",
        "sendDetails": "Needs a reader in exams.",
        "pupilPremium": True,
        "freeSchoolMeals": True,
        "eal": True,
        "externalIds": [{"system": "SIMS", "value": "4711"}],
    }
    # when
    created = data_of(await gql(CREATE_LEARNER, admin, input=fields))["createLearner"]
    # then
    assert created["errors"] == []
    read = data_of(await gql(LEARNER, admin, id=created["learner"]["id"]))["learner"]
    assert read == created["learner"]
    assert {k: read[k] for k in fields} == fields
    assert await Learner.filter(school_id=school.id).count() == 1
    stored = await Learner.get(school_id=school.id)
    assert UPN.encode() not in bytes(stored.upn_enc), "the UPN is encrypted at rest"


async def test_update_learner_changes_the_given_fields(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    pupil = await factories.learner(services, school, given_name="Jon", family_name="Smith")
    # when
    result = await gql(
        UPDATE_LEARNER,
        admin,
        input={"id": learner_id(pupil), "givenName": "John", "upn": UPN, "eal": True},
    )
    # then
    payload = data_of(result)["updateLearner"]
    assert payload["errors"] == []
    read = data_of(await gql(LEARNER, admin, id=learner_id(pupil)))["learner"]
    assert (read["givenName"], read["familyName"], read["upn"], read["eal"]) == (
        "John",
        "Smith",
        UPN,
        True,
    )


async def test_duplicate_upn_in_the_same_school_is_refused_and_nothing_is_created(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    await factories.learner(services, school, upn=UPN)
    before = await Learner.all().count()
    # when: as stored, and lower-case and spaced as someone might type it
    outcomes = {}
    for upn in (UPN, " b801 2000 05001 "):
        result = await gql(
            CREATE_LEARNER, admin, input={"givenName": "Dup", "familyName": "Licate", "upn": upn}
        )
        payload = data_of(result)["createLearner"]
        outcomes[upn] = (payload["learner"], [(e["field"], e["code"]) for e in payload["errors"]])
    # then
    assert outcomes == {
        UPN: (None, [("upn", "DUPLICATE")]),
        " b801 2000 05001 ": (None, [("upn", "DUPLICATE")]),
    }
    assert await Learner.all().count() == before


async def test_the_same_upn_is_accepted_in_another_school(
    services: Services, gql: GraphQLRunner
) -> None:
    # given: a pupil who moved schools keeps their UPN
    first, second = await factories.school(services), await factories.school(services)
    await factories.learner(services, first, upn=UPN)
    admin = await factories.admin_viewer(second)
    # when
    result = await gql(
        CREATE_LEARNER, admin, input={"givenName": "Moved", "familyName": "On", "upn": UPN}
    )
    # then
    payload = data_of(result)["createLearner"]
    assert payload["errors"] == []
    assert payload["learner"]["upn"] == UPN
    assert await Learner.filter(school_id=second.id).count() == 1


@pytest.mark.parametrize(
    ("existing", "duplicate", "field"),
    [
        ({"uln": ULN}, {"uln": ULN}, "uln"),
        (
            {"external_ids": [("SIMS", "42")]},
            {"externalIds": [{"system": "SIMS", "value": "42"}]},
            "externalIds",
        ),
    ],
    ids=["uln", "external-id"],
)
async def test_a_duplicate_names_the_field_that_clashes(
    services: Services,
    gql: GraphQLRunner,
    existing: dict[str, Any],
    duplicate: dict[str, Any],
    field: str,
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    await factories.learner(services, school, **existing)
    before = await Learner.all().count()
    # when
    result = await gql(
        CREATE_LEARNER, admin, input={"givenName": "Dup", "familyName": "Licate", **duplicate}
    )
    # then: the error points at the clashing field, not at a UPN that was never given
    payload = data_of(result)["createLearner"]
    assert [e["code"] for e in payload["errors"]] == ["DUPLICATE"]
    assert payload["errors"][0]["field"].startswith(field), payload["errors"]
    assert await Learner.all().count() == before


async def test_update_to_another_learners_upn_is_refused_and_keeps_the_record(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    await factories.learner(services, school, upn=UPN)
    pupil = await factories.learner(services, school, upn=OTHER_UPN, given_name="Keep")
    # when
    result = await gql(
        UPDATE_LEARNER, admin, input={"id": learner_id(pupil), "givenName": "Lost", "upn": UPN}
    )
    # then
    payload = data_of(result)["updateLearner"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("upn", "DUPLICATE")]
    read = data_of(await gql(LEARNER, admin, id=learner_id(pupil)))["learner"]
    assert (read["givenName"], read["upn"]) == ("Keep", OTHER_UPN)


# --- groups -----------------------------------------------------------------------------------


async def test_create_group_lists_it_in_groups(services: Services, gql: GraphQLRunner) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    fields = {"name": "10X Maths", "subject": "Maths", "academicYear": "2026/27", "yearGroup": 10}
    # when
    payload = data_of(await gql(CREATE_GROUP, admin, input=fields))["createGroup"]
    # then
    assert payload["errors"] == []
    group = payload["group"]
    assert {k: group[k] for k in fields} == fields
    assert group["learners"] == {"totalCount": 0, "nodes": []}
    assert group["teachers"] == []
    listed = data_of(await gql(GROUPS, admin))["groups"]
    assert listed["nodes"] == [
        {"id": group["id"], "name": "10X Maths", "subject": "Maths", "academicYear": "2026/27"}
    ]


async def test_a_group_name_may_repeat_only_in_another_academic_year(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    await factories.group(school, name="10X Maths")  # 2026/27
    before = await TeachingGroup.all().count()
    same = {"name": "10X Maths", "subject": "Maths", "academicYear": "2026/27"}
    # when
    duplicate = data_of(await gql(CREATE_GROUP, admin, input=same))["createGroup"]
    next_year = data_of(await gql(CREATE_GROUP, admin, input={**same, "academicYear": "2027/28"}))[
        "createGroup"
    ]
    # then
    assert [(e["field"], e["code"]) for e in duplicate["errors"]] == [("name", "DUPLICATE")]
    assert next_year["errors"] == []
    assert await TeachingGroup.all().count() == before + 1


async def test_update_group_changes_it(services: Services, gql: GraphQLRunner) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    group = await factories.group(school, name="10X Maths")
    changes = {"name": "11X Maths", "subject": "Further Maths", "academicYear": "2027/28"}
    # when
    result = await gql(UPDATE_GROUP, admin, input={"id": group_id(group), **changes})
    # then
    payload = data_of(result)["updateGroup"]
    assert payload["errors"] == []
    read = data_of(await gql(GROUP, admin, id=group_id(group)))["node"]
    assert {k: read[k] for k in changes} == changes
    assert read["yearGroup"] is None, "an omitted optional yearGroup is cleared"


async def test_enrol_learners_enrols_them_and_is_idempotent(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    a, b, c = [await factories.learner(services, school, family_name=n) for n in "ABC"]
    group = await factories.group(school)
    # when
    first = await gql(
        ENROL, admin, input={"groupId": group_id(group), "learnerIds": [learner_id(a)] * 2}
    )
    again = await gql(
        ENROL,
        admin,
        input={"groupId": group_id(group), "learnerIds": [learner_id(x) for x in (a, b, c, b)]},
    )
    # then
    assert data_of(first)["enrolLearners"]["errors"] == []
    payload = data_of(again)["enrolLearners"]
    assert payload["errors"] == []
    assert family_names(payload["group"]) == ["A", "B", "C"]
    assert await Enrolment.filter(group_id=group.id).count() == 3
    filtered = data_of(await gql(LEARNERS, admin, filter={"groupId": group_id(group)}))
    assert filtered["learners"]["totalCount"] == 3


async def test_enrol_refuses_a_learner_of_another_school_and_enrols_none_of_the_batch(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school, elsewhere = await factories.school(services), await factories.school(services)
    admin = await factories.admin_viewer(school)
    mine = [await factories.learner(services, school) for _ in range(3)]
    theirs = await factories.learner(services, elsewhere)
    group = await factories.group(school)
    ids = [learner_id(mine[0]), learner_id(theirs), *(learner_id(p) for p in mine[1:])]
    # when
    result = await gql(ENROL, admin, input={"groupId": group_id(group), "learnerIds": ids})
    # then
    payload = data_of(result)["enrolLearners"]
    assert payload["group"] is None
    assert [e["field"] for e in payload["errors"]] == ["learnerIds"]
    assert await Enrolment.all().count() == 0


async def test_enrol_accepts_100_learners_and_refuses_101(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    group = await factories.group(school)
    await Learner.bulk_create(  # plain rows: only the batch size matters here
        [Learner(school_id=school.id, given_name="G", family_name=f"F{i:03d}") for i in range(101)]
    )
    ids = [learner_id(p) for p in await Learner.filter(school_id=school.id)]
    # when
    too_many = await gql(ENROL, admin, input={"groupId": group_id(group), "learnerIds": ids})
    enough = await gql(ENROL, admin, input={"groupId": group_id(group), "learnerIds": ids[:100]})
    # then
    refused = data_of(too_many)["enrolLearners"]
    assert refused["group"] is None
    assert [e["field"] for e in refused["errors"]] == ["learnerIds"]
    assert "100" in refused["errors"][0]["message"]
    assert data_of(enough)["enrolLearners"]["errors"] == []
    assert await Enrolment.filter(group_id=group.id).count() == 100


async def test_unenrol_learners_removes_only_them(services: Services, gql: GraphQLRunner) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    a, b, c = [await factories.learner(services, school, family_name=n) for n in "ABC"]
    group = await factories.group(school, learners=[a, b, c])
    other = await factories.group(school, learners=[a])
    # when
    result = await gql(
        UNENROL,
        admin,
        input={"groupId": group_id(group), "learnerIds": [learner_id(a), learner_id(c)]},
    )
    # then
    payload = data_of(result)["unenrolLearners"]
    assert payload["errors"] == []
    assert family_names(payload["group"]) == ["B"]
    assert await Enrolment.filter(group_id=other.id).count() == 1
    assert await Learner.filter(school_id=school.id).count() == 3


async def test_assign_and_unassign_teacher_change_who_teaches_and_what_they_see(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    teacher = await factories.staff(school, Role.TEACHER, display_name="Ms Teach")
    as_teacher = factories.viewer(teacher, school, Role.TEACHER)
    pupil = await factories.learner(services, school)
    group = await factories.group(school, learners=[pupil])
    ids = {"groupId": group_id(group), "staffId": staff_id(teacher)}
    # when
    assigned = data_of(await gql(ASSIGN, admin, input=ids))["assignTeacher"]
    seen_while_teaching = data_of(await gql(GROUPS, as_teacher))["groups"]["totalCount"]
    twice = data_of(await gql(ASSIGN, admin, input=ids))["assignTeacher"]
    unassigned = data_of(await gql(UNASSIGN, admin, input=ids))["unassignTeacher"]
    seen_after = data_of(await gql(GROUPS, as_teacher))["groups"]["totalCount"]
    # then
    assert assigned["errors"] == twice["errors"] == unassigned["errors"] == []
    assert assigned["group"]["teachers"] == [{"id": staff_id(teacher), "displayName": "Ms Teach"}]
    assert (seen_while_teaching, seen_after) == (1, 0)
    assert unassigned["group"]["teachers"] == []
    assert await TeachingAssignment.all().count() == 0


async def test_assign_teacher_refuses_staff_without_the_teacher_role(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    dsl = await factories.staff(school, Role.SAFEGUARDING_LEAD)
    group = await factories.group(school)
    # when
    result = await gql(ASSIGN, admin, input={"groupId": group_id(group), "staffId": staff_id(dsl)})
    # then
    payload = data_of(result)["assignTeacher"]
    assert payload["group"] is None
    assert [e["field"] for e in payload["errors"]] == ["staffId"]
    assert await TeachingAssignment.all().count() == 0


# --- staff ------------------------------------------------------------------------------------


async def test_create_staff_lists_them_and_they_can_sign_in(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    fields = {
        "email": "New.Teacher@Example.TEST",
        "displayName": "New Teacher",
        "roles": ["TEACHER", "LEADER"],
        "password": NEW_PASSWORD,
    }
    # when
    payload = data_of(await gql(CREATE_STAFF, admin, input=fields))["createStaff"]
    login = data_of(
        await gql(
            LOGIN, None, input={"email": "new.teacher@example.test", "password": NEW_PASSWORD}
        )
    )["login"]
    # then
    assert payload["errors"] == []
    member = payload["staffMember"]
    assert member["email"] == "new.teacher@example.test"
    assert sorted(member["roles"]) == ["LEADER", "TEACHER"]
    assert member["isActive"] is True
    listed = data_of(await gql(STAFF, admin))["staff"]["nodes"]
    assert member in listed
    assert login["errors"] == []
    assert login["token"]
    assert login["viewer"]["staffMember"] == {"email": "new.teacher@example.test"}
    assert sorted(login["viewer"]["roles"]) == ["LEADER", "TEACHER"]


async def test_a_new_colleague_signing_in_is_told_their_school(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    fields = {
        "email": "new@example.test",
        "displayName": "New",
        "roles": ["TEACHER"],
        "password": NEW_PASSWORD,
    }
    assert data_of(await gql(CREATE_STAFF, admin, input=fields))["createStaff"]["errors"] == []
    # when: the login request itself is anonymous; its payload's viewer is the new session's
    result = await gql(
        LOGIN_SCHOOL, None, input={"email": "new@example.test", "password": NEW_PASSWORD}
    )
    # then
    login = data_of(result)["login"]
    assert login["viewer"] == {"school": {"slug": school.slug}}


WEAK_PASSWORDS = {
    "short": "too-short",
    "common": "Password1234",
    "common, mixed case": "CorrectHorseBatteryStaple",
    "the demo password": "demo-password",
    "too long": "x" * 129,
}


async def test_create_staff_with_a_weak_password_is_refused_and_creates_nothing(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    before = (await User.all().count(), await Membership.all().count())
    # when
    outcomes = {}
    for case, password in WEAK_PASSWORDS.items():
        result = await gql(
            CREATE_STAFF,
            admin,
            input={
                "email": "weak@example.test",
                "displayName": "Weak",
                "roles": ["TEACHER"],
                "password": password,
            },
        )
        payload = data_of(result)["createStaff"]
        outcomes[case] = (
            payload["staffMember"],
            [(e["field"], e["code"]) for e in payload["errors"]],
        )
    # then
    assert outcomes == {case: (None, [("password", "WEAK_PASSWORD")]) for case in WEAK_PASSWORDS}
    assert (await User.all().count(), await Membership.all().count()) == before


async def test_create_staff_with_an_existing_email_is_refused(
    services: Services, gql: GraphQLRunner
) -> None:
    # given: the address belongs to someone at another school; emails are installation-wide
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    await factories.staff(await factories.school(services), email="taken@example.test")
    before = (await User.all().count(), await Membership.all().count())
    # when
    result = await gql(
        CREATE_STAFF,
        admin,
        input={
            "email": "  TAKEN@example.test ",
            "displayName": "Second",
            "roles": ["TEACHER"],
            "password": NEW_PASSWORD,
        },
    )
    # then
    payload = data_of(result)["createStaff"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("email", "DUPLICATE")]
    assert (await User.all().count(), await Membership.all().count()) == before


async def test_update_staff_renames_changes_roles_and_deactivates_a_colleague(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    colleague = await factories.staff(school, Role.TEACHER)
    # when
    renamed = await gql(
        UPDATE_STAFF,
        admin,
        input={"id": staff_id(colleague), "displayName": "Dr Colleague", "roles": ["LEADER"]},
    )
    deactivated = await gql(
        UPDATE_STAFF, admin, input={"id": staff_id(colleague), "isActive": False}
    )
    # then
    assert data_of(renamed)["updateStaff"]["errors"] == []
    assert data_of(deactivated)["updateStaff"]["errors"] == []
    listed = data_of(await gql(STAFF, admin))["staff"]["nodes"]
    member = next(m for m in listed if m["id"] == staff_id(colleague))
    assert member == {
        "id": staff_id(colleague),
        "displayName": "Dr Colleague",
        "email": colleague.email,
        "isActive": False,
        "roles": ["LEADER"],
    }


SELF_CHANGES = {
    "drop admin": {"roles": ["TEACHER"]},
    "add a role": {"roles": ["ADMIN", "TEACHER"]},
    "no roles": {"roles": []},
    "deactivate": {"isActive": False},
    "rename and deactivate": {"displayName": "Not Me", "isActive": False},
}


async def test_update_staff_refuses_changing_your_own_roles_or_status(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    me = await factories.staff(school, Role.ADMIN, display_name="Me")
    admin = factories.viewer(me, school, Role.ADMIN)
    # when
    outcomes = {}
    for case, change in SELF_CHANGES.items():
        payload = data_of(await gql(UPDATE_STAFF, admin, input={"id": staff_id(me), **change}))
        errors = payload["updateStaff"]["errors"]
        outcomes[case] = (payload["updateStaff"]["staffMember"], [e["code"] for e in errors])
    renamed = data_of(
        await gql(UPDATE_STAFF, admin, input={"id": staff_id(me), "displayName": "Still Me"})
    )["updateStaff"]
    # then: refused, nothing changed; renaming oneself alone is fine
    assert outcomes == {case: (None, ["SELF_CHANGE"]) for case in SELF_CHANGES}
    assert renamed["errors"] == []
    row = await User.get(id=me.id)
    assert (row.display_name, row.is_active) == ("Still Me", True)
    assert [m.role for m in await Membership.filter(user_id=me.id)] == [Role.ADMIN]


# --- devices and partner keys -----------------------------------------------------------------


async def test_enrol_device_shows_its_token_once_and_lists_it_without(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    pupil = await factories.learner(services, school)
    # when
    result = await gql(
        ENROL_DEVICE,
        admin,
        input={"name": "Chromebook 7", "platform": "CHROMEOS", "learnerId": learner_id(pupil)},
    )
    # then
    payload = data_of(result)["enrolDevice"]
    assert payload["errors"] == []
    token = payload["token"]
    assert token.startswith("ppd_")
    device = payload["device"]
    assert (device["name"], device["platform"], device["revoked"]) == (
        "Chromebook 7",
        "CHROMEOS",
        False,
    )
    assert device["learner"] == {"id": learner_id(pupil)}
    assert token.startswith(device["tokenPrefix"])
    assert len(device["tokenPrefix"]) < len(token)
    listed = data_of(await gql(DEVICES, admin))["devices"]
    assert listed["nodes"] == [device]
    assert token not in json.dumps(listed)
    stored = await Device.filter(school_id=school.id).values()
    assert token not in json.dumps(stored, default=str)
    signed_in = await authenticate(services, token)
    assert signed_in is not None
    assert signed_in.kind is PrincipalKind.DEVICE


async def test_revoke_device_ends_its_token_and_hides_it(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    device, token = await factories.device(school)
    kept, _ = await factories.device(school)
    # when
    result = await gql(REVOKE_DEVICE, admin, id=to_global_id("Device", device.id))
    # then
    payload = data_of(result)["revokeDevice"]
    assert payload["errors"] == []
    assert payload["device"]["revoked"] is True
    listed = data_of(await gql(DEVICES, admin))["devices"]["nodes"]
    assert [d["id"] for d in listed] == [to_global_id("Device", kept.id)]
    assert await authenticate(services, token) is None


async def test_create_api_key_shows_the_key_once_and_lists_it_without(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    # when
    result = await gql(
        CREATE_API_KEY,
        admin,
        input={"name": "Acme MIS", "scopes": ["GROUPS_READ", "LEARNERS_READ", "GROUPS_READ"]},
    )
    # then
    payload = data_of(result)["createApiKey"]
    assert payload["errors"] == []
    key = payload["key"]
    assert key
    assert payload["apiKey"]["scopes"] == ["GROUPS_READ", "LEARNERS_READ"]
    assert key.startswith(payload["apiKey"]["prefix"])
    listed = data_of(await gql(API_KEYS, admin))["apiKeys"]
    assert listed["nodes"] == [payload["apiKey"]]
    assert key not in json.dumps(listed)
    partner = await authenticate(services, key)
    assert partner is not None
    assert partner.kind is PrincipalKind.PARTNER
    assert partner.school_ids == frozenset({school.id})


async def test_create_api_key_without_scopes_is_refused_and_creates_nothing(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    # when
    result = await gql(CREATE_API_KEY, admin, input={"name": "Acme MIS", "scopes": []})
    # then
    payload = data_of(result)["createApiKey"]
    assert (payload["key"], payload["apiKey"]) == (None, None)
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("scopes", "REQUIRED")]
    assert (await ApiKey.all().count(), await ApiKeyGrant.all().count()) == (0, 0)


async def test_revoke_api_key_ends_it_at_once(services: Services, gql: GraphQLRunner) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    key, text = await factories.api_key(school)
    # when
    result = await gql(REVOKE_API_KEY, admin, id=to_global_id("ApiKey", key.id))
    # then
    payload = data_of(result)["revokeApiKey"]
    assert payload["errors"] == []
    assert payload["apiKey"]["revoked"] is True
    assert data_of(await gql(API_KEYS, admin))["apiKeys"]["totalCount"] == 0
    assert await authenticate(services, text) is None


async def test_revoking_a_shared_key_only_withdraws_this_schools_grant(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school, other = await factories.school(services), await factories.school(services)
    admin = await factories.admin_viewer(school)
    key, text = await factories.api_key(school, other)
    # when
    result = await gql(REVOKE_API_KEY, admin, id=to_global_id("ApiKey", key.id))
    # then
    payload = data_of(result)["revokeApiKey"]
    assert payload["errors"] == []
    assert payload["apiKey"]["revoked"] is False
    partner = await authenticate(services, text)
    assert partner is not None
    assert partner.school_ids == frozenset({other.id})
