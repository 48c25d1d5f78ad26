"""Bad input gets a clear error naming what is wrong; nothing already stored is lost or corrupted.

Every table below runs its cases against one seeded school and then compares every row of every
table with a snapshot taken before: a refused input must change nothing at all.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from models.audit import AuditEvent, AuditHead
from models.devices import Device
from models.groups import Enrolment, TeachingAssignment, TeachingGroup
from models.learners import ExternalId, Learner
from models.partners import ApiKey, ApiKeyGrant
from models.schools import School, SchoolKey
from models.staff import Membership, Role, Session, User
from resolvers.context import Services, Viewer
from schema.common import to_global_id
from tests import factories
from tests.conftest import Clock, GraphQLRunner

UPN = "B801200005001"
ULN = "1234567899"
BAD_CHECK_UPN = "A801200005001"  # the check letter of B801200005001 changed
BAD_CHECK_ULN = "1234567890"  # the check digit of 1234567899 changed

ERRORS = "errors { field code message }"

CREATE_LEARNER = f"""
mutation M($input: CreateLearnerInput!) {{
  createLearner(input: $input) {{ learner {{ id }} {ERRORS} }}
}}
"""
UPDATE_LEARNER = f"""
mutation M($input: UpdateLearnerInput!) {{
  updateLearner(input: $input) {{ learner {{ id }} {ERRORS} }}
}}
"""
CREATE_GROUP = f"""
mutation M($input: CreateGroupInput!) {{
  createGroup(input: $input) {{ group {{ id }} {ERRORS} }}
}}
"""
UPDATE_GROUP = f"""
mutation M($input: UpdateGroupInput!) {{
  updateGroup(input: $input) {{ group {{ id }} {ERRORS} }}
}}
"""
ENROL = f"""
mutation M($input: GroupLearnersInput!) {{
  enrolLearners(input: $input) {{ group {{ id }} {ERRORS} }}
}}
"""
UNENROL = f"""
mutation M($input: GroupLearnersInput!) {{
  unenrolLearners(input: $input) {{ group {{ id }} {ERRORS} }}
}}
"""
ASSIGN = f"""
mutation M($input: GroupTeacherInput!) {{
  assignTeacher(input: $input) {{ group {{ id }} {ERRORS} }}
}}
"""
UNASSIGN = f"""
mutation M($input: GroupTeacherInput!) {{
  unassignTeacher(input: $input) {{ group {{ id }} {ERRORS} }}
}}
"""
CREATE_STAFF = f"""
mutation M($input: CreateStaffInput!) {{
  createStaff(input: $input) {{ staffMember {{ id }} {ERRORS} }}
}}
"""
UPDATE_STAFF = f"""
mutation M($input: UpdateStaffInput!) {{
  updateStaff(input: $input) {{ staffMember {{ id }} {ERRORS} }}
}}
"""
ENROL_DEVICE = f"""
mutation M($input: EnrolDeviceInput!) {{
  enrolDevice(input: $input) {{ token {ERRORS} }}
}}
"""
ENROL_DEVICE_INLINE = f"""
mutation {{ enrolDevice(input: {{name: "Tablet", platform: SPACESHIP}}) {{ token {ERRORS} }} }}
"""
REVOKE_DEVICE = f"mutation M($id: ID!) {{ revokeDevice(id: $id) {{ device {{ id }} {ERRORS} }} }}"
CREATE_API_KEY = f"""
mutation M($input: CreateApiKeyInput!) {{
  createApiKey(input: $input) {{ key {ERRORS} }}
}}
"""
REVOKE_API_KEY = f"mutation M($id: ID!) {{ revokeApiKey(id: $id) {{ apiKey {{ id }} {ERRORS} }} }}"

LEARNER = "query Q($id: ID!) { learner(id: $id) { id } }"
NODE = "query Q($id: ID!) { node(id: $id) { id } }"
LEARNERS_IN_GROUP = """
query Q($id: ID!) { learners(first: 5, filter: {groupId: $id}) { nodes { id } } }
"""

LEARNER_RECORD = """
query Q($id: ID!) {
  learner(id: $id) {
    givenName familyName preferredName yearGroup upn uln dateOfBirth sendStatus sendDetails
    pupilPremium freeSchoolMeals eal externalIds { system value } groups { name }
  }
}
"""

#: Every table, so "nothing changed" means nothing anywhere.
MODELS = [
    School,
    SchoolKey,
    User,
    Membership,
    Session,
    Learner,
    ExternalId,
    TeachingGroup,
    Enrolment,
    TeachingAssignment,
    Device,
    ApiKey,
    ApiKeyGrant,
    AuditHead,
    AuditEvent,
]


@dataclass(frozen=True, slots=True)
class World:
    """One school with one of everything, seen by its admin."""

    admin: Viewer
    learner: str
    group: str
    teacher: str
    colleague: str
    device: str
    api_key: str


async def seed(services: Services) -> World:
    school = await factories.school(services)
    pupil = await factories.learner(
        services,
        school,
        given_name="Ada",
        family_name="Lovelace",
        preferred_name="Addie",
        upn=UPN,
        uln=ULN,
        date_of_birth=factories.a_date_of_birth(),
        send_details="Needs a reader.",
        pupil_premium=True,
        external_ids=[("SIMS", "4711")],
    )
    teacher = await factories.staff(school, Role.TEACHER)
    group = await factories.group(school, name="10X Maths", teachers=[teacher], learners=[pupil])
    colleague = await factories.staff(school, Role.TEACHER)
    device, _ = await factories.device(school, learner_row=pupil)
    key, _ = await factories.api_key(school)
    return World(
        admin=await factories.admin_viewer(school),
        learner=to_global_id("Learner", pupil.id),
        group=to_global_id("Group", group.id),
        teacher=to_global_id("StaffMember", teacher.id),
        colleague=to_global_id("StaffMember", colleague.id),
        device=to_global_id("Device", device.id),
        api_key=to_global_id("ApiKey", key.id),
    )


async def snapshot() -> dict[str, list[dict[str, Any]]]:
    return {m.__name__: list(await m.all().order_by("id").values()) for m in MODELS}


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def outcome(result: Any) -> object:
    """Top-level errors as ("<top>", code); else the payload's [(field, code)], or "accepted"."""
    if result.errors:
        return [("<top>", (e.extensions or {}).get("code") or e.message) for e in result.errors]
    (payload,) = result.data.values()
    errors = payload.get("errors", []) if isinstance(payload, dict) else []
    return [(e["field"], e["code"]) for e in errors] or "accepted"


def assert_as_expected(outcomes: dict[str, object], expected: dict[str, object]) -> None:
    """Every case went as expected; otherwise list each one that did not, one per line."""
    assert outcomes.keys() == expected.keys()
    wrong = [
        f"{case}: got {got!r}, expected {expected[case]!r}"
        for case, got in outcomes.items()
        if got != expected[case]
    ]
    assert not wrong, "\n".join(["", *wrong])


# --- ids --------------------------------------------------------------------------------------


def malformed_ids(type_name: str, uuid_key: bool) -> dict[str, str]:
    """Ids no server could have issued for ``type_name``."""
    shaped = "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz" if uuid_key else "12ab"
    ids = {
        "not base64": "%%% not an id %%%",
        "base64 of nonsense": b64("nonsense"),
        "empty": "",
        "type but no key": b64(f"{type_name}:"),
        "key but no type": b64(f":{uuid.uuid4() if uuid_key else 1}"),
        "over 100 characters": b64(f"{type_name}:{'1' * 100}"),
        "key of the wrong shape": b64(f"{type_name}:{shaped}"),
        "not ascii": "Lérner:1",
    }
    if not uuid_key:
        ids |= {
            "negative key": b64(f"{type_name}:-1"),
            "superscript digit key": b64(f"{type_name}:\u00b2"),
        }
    return ids


#: Well-formed ids naming nothing: a type with no objects (same key shape), or a key that never
#: existed. (`node` resolves every real type, so "another type" must be one that has no objects.)
def absent_ids(type_name: str, uuid_key: bool) -> dict[str, str]:
    other = "Widget"
    if uuid_key:
        return {
            "another type": b64(f"{other}:{uuid.uuid4()}"),
            "no such key": b64(f"{type_name}:{uuid.uuid4()}"),
        }
    return {
        "another type": b64(f"{other}:1"),
        "no such key": b64(f"{type_name}:999999"),
        "key beyond 32 bits": b64(f"{type_name}:{2**40}"),
    }


@dataclass(frozen=True, slots=True)
class IdCase:
    """A mutation argument that takes an id of ``type_name``, and the field its error names."""

    document: str
    type_name: str
    uuid_key: bool
    field: str
    variables: Callable[[World, str], dict[str, Any]]


ID_CASES = {
    "updateLearner.id": IdCase(
        UPDATE_LEARNER, "Learner", True, "id", lambda w, x: {"input": {"id": x, "eal": True}}
    ),
    "updateGroup.id": IdCase(
        UPDATE_GROUP,
        "Group",
        False,
        "id",
        lambda w, x: {"input": {"id": x, "name": "N", "subject": "S", "academicYear": "2026/27"}},
    ),
    "enrolLearners.groupId": IdCase(
        ENROL,
        "Group",
        False,
        "groupId",
        lambda w, x: {"input": {"groupId": x, "learnerIds": [w.learner]}},
    ),
    "enrolLearners.learnerIds": IdCase(
        ENROL,
        "Learner",
        True,
        "learnerIds",
        lambda w, x: {"input": {"groupId": w.group, "learnerIds": [w.learner, x]}},
    ),
    "unenrolLearners.learnerIds": IdCase(
        UNENROL,
        "Learner",
        True,
        "learnerIds",
        lambda w, x: {"input": {"groupId": w.group, "learnerIds": [x, w.learner]}},
    ),
    "assignTeacher.staffId": IdCase(
        ASSIGN,
        "StaffMember",
        False,
        "staffId",
        lambda w, x: {"input": {"groupId": w.group, "staffId": x}},
    ),
    "unassignTeacher.groupId": IdCase(
        UNASSIGN,
        "Group",
        False,
        "groupId",
        lambda w, x: {"input": {"groupId": x, "staffId": w.teacher}},
    ),
    "updateStaff.id": IdCase(
        UPDATE_STAFF,
        "StaffMember",
        False,
        "id",
        lambda w, x: {"input": {"id": x, "isActive": False}},
    ),
    "enrolDevice.learnerId": IdCase(
        ENROL_DEVICE,
        "Learner",
        True,
        "learnerId",
        lambda w, x: {"input": {"name": "Tablet", "platform": "IPADOS", "learnerId": x}},
    ),
    "revokeDevice.id": IdCase(REVOKE_DEVICE, "Device", False, "id", lambda w, x: {"id": x}),
    "revokeApiKey.id": IdCase(REVOKE_API_KEY, "ApiKey", False, "id", lambda w, x: {"id": x}),
}

#: Query arguments that take ids: (document, type name, uuid key?, field named in the error).
ID_QUERIES = {
    "learner(id:)": (LEARNER, "Learner", True, "id"),
    "node(id:) for a learner": (NODE, "Learner", True, "id"),
    "node(id:) for a group": (NODE, "Group", False, "id"),
    "learners(filter: {groupId:})": (LEARNERS_IN_GROUP, "Group", False, "filter.groupId"),
}


async def test_malformed_ids_in_queries_are_invalid_input_naming_the_argument(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    world = await seed(services)
    before = await snapshot()
    # when
    outcomes, expected = {}, {}
    for name, (document, type_name, uuid_key, field) in ID_QUERIES.items():
        for case, bad in malformed_ids(type_name, uuid_key).items():
            result = await gql(document, world.admin, id=bad)
            fields = [(e.extensions or {}).get("field") for e in result.errors or []]
            outcomes[f"{name} {case}"] = (outcome(result), fields)
            expected[f"{name} {case}"] = ([("<top>", "INVALID_INPUT")], [field])
    # then
    assert_as_expected(outcomes, expected)
    assert await snapshot() == before


async def test_well_formed_ids_naming_nothing_are_not_found_in_queries(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    world = await seed(services)
    # when
    outcomes, expected = {}, {}
    for name, (document, type_name, uuid_key, _) in ID_QUERIES.items():
        cases = absent_ids(type_name, uuid_key)
        if document is NODE:
            cases |= {"unknown type": b64("Spaceship:1")}
        for case, absent in cases.items():
            outcomes[f"{name} {case}"] = outcome(await gql(document, world.admin, id=absent))
            expected[f"{name} {case}"] = [("<top>", "NOT_FOUND")]
    # then
    assert_as_expected(outcomes, expected)


async def test_malformed_ids_in_mutations_are_payload_errors_naming_the_field(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    world = await seed(services)
    before = await snapshot()
    # when
    outcomes, expected = {}, {}
    for name, case in ID_CASES.items():
        for kind, bad in malformed_ids(case.type_name, case.uuid_key).items():
            result = await gql(case.document, world.admin, **case.variables(world, bad))
            outcomes[f"{name} {kind}"] = outcome(result)
            expected[f"{name} {kind}"] = [(case.field, "MALFORMED_ID")]
    # then
    assert_as_expected(outcomes, expected)
    assert await snapshot() == before


async def test_well_formed_ids_naming_nothing_are_not_found_in_mutations(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    world = await seed(services)
    before = await snapshot()
    # when
    outcomes, expected = {}, {}
    for name, case in ID_CASES.items():
        not_found = ([("<top>", "NOT_FOUND")], [(case.field, "NOT_FOUND")])
        for kind, absent in absent_ids(case.type_name, case.uuid_key).items():
            got = outcome(await gql(case.document, world.admin, **case.variables(world, absent)))
            outcomes[f"{name} {kind}"] = "NOT_FOUND" if got in not_found else got
            expected[f"{name} {kind}"] = "NOT_FOUND"
    # then: NOT_FOUND, as a top-level error or as the payload error naming the field
    assert_as_expected(outcomes, expected)
    assert await snapshot() == before


# --- text -------------------------------------------------------------------------------------


def learner_input(**fields: Any) -> dict[str, Any]:
    return {"input": {"givenName": "Grace", "familyName": "Hopper", **fields}}


def group_input(**fields: Any) -> dict[str, Any]:
    return {"input": {"name": "10Y", "subject": "Science", "academicYear": "2026/27", **fields}}


def staff_input(**fields: Any) -> dict[str, Any]:
    return {
        "input": {
            "email": "new@example.test",
            "displayName": "New",
            "roles": ["TEACHER"],
            "password": "a long and unusual passphrase",
            **fields,
        }
    }


def device_input(**fields: Any) -> dict[str, Any]:
    return {"input": {"name": "Tablet", "platform": "IPADOS", **fields}}


def key_input(**fields: Any) -> dict[str, Any]:
    return {"input": {"name": "Acme", "scopes": ["LEARNERS_READ"], **fields}}


#: (document, variables for a world, the field the error must name), keyed by what is wrong.
TextCase = tuple[str, Callable[[World], dict[str, Any]], str]

TOO_LONG: dict[str, TextCase] = {
    "givenName 101": (CREATE_LEARNER, lambda w: learner_input(givenName="G" * 101), "givenName"),
    "familyName 101": (
        CREATE_LEARNER,
        lambda w: learner_input(familyName="F" * 101),
        "familyName",
    ),
    "preferredName 101": (
        CREATE_LEARNER,
        lambda w: learner_input(preferredName="P" * 101),
        "preferredName",
    ),
    "sendDetails 4001": (
        CREATE_LEARNER,
        lambda w: learner_input(sendDetails="S" * 4001),
        "sendDetails",
    ),
    "externalId value 256": (
        CREATE_LEARNER,
        lambda w: learner_input(externalIds=[{"system": "SIMS", "value": "9" * 256}]),
        "externalIds.0.value",
    ),
    "update givenName 101": (
        UPDATE_LEARNER,
        lambda w: {"input": {"id": w.learner, "givenName": "G" * 101}},
        "givenName",
    ),
    "update sendDetails 4001": (
        UPDATE_LEARNER,
        lambda w: {"input": {"id": w.learner, "sendDetails": "S" * 4001}},
        "sendDetails",
    ),
    "group name 101": (CREATE_GROUP, lambda w: group_input(name="N" * 101), "name"),
    "group subject 101": (CREATE_GROUP, lambda w: group_input(subject="S" * 101), "subject"),
    "update group name 101": (
        UPDATE_GROUP,
        lambda w: {"input": {**group_input(name="N" * 101)["input"], "id": w.group}},
        "name",
    ),
    "staff displayName 201": (
        CREATE_STAFF,
        lambda w: staff_input(displayName="D" * 201),
        "displayName",
    ),
    "staff email 256": (
        CREATE_STAFF,
        lambda w: staff_input(email=f"{'e' * 64}@{'d' * 186}.test"),
        "email",
    ),
    "update staff displayName 201": (
        UPDATE_STAFF,
        lambda w: {"input": {"id": w.colleague, "displayName": "D" * 201}},
        "displayName",
    ),
    "device name 101": (ENROL_DEVICE, lambda w: device_input(name="D" * 101), "name"),
    "api key name 101": (CREATE_API_KEY, lambda w: key_input(name="K" * 101), "name"),
}

BLANK: dict[str, TextCase] = {
    "givenName empty": (CREATE_LEARNER, lambda w: learner_input(givenName=""), "givenName"),
    "givenName spaces": (CREATE_LEARNER, lambda w: learner_input(givenName="   "), "givenName"),
    "familyName one space": (
        CREATE_LEARNER,
        lambda w: learner_input(familyName=" "),
        "familyName",
    ),
    "externalId system": (
        CREATE_LEARNER,
        lambda w: learner_input(externalIds=[{"system": " ", "value": "1"}]),
        "externalIds.0.system",
    ),
    "update givenName empty": (
        UPDATE_LEARNER,
        lambda w: {"input": {"id": w.learner, "givenName": ""}},
        "givenName",
    ),
    "update givenName null": (
        UPDATE_LEARNER,
        lambda w: {"input": {"id": w.learner, "givenName": None}},
        "givenName",
    ),
    "update familyName null": (
        UPDATE_LEARNER,
        lambda w: {"input": {"id": w.learner, "familyName": None}},
        "familyName",
    ),
    "group name": (CREATE_GROUP, lambda w: group_input(name=" "), "name"),
    "group subject": (CREATE_GROUP, lambda w: group_input(subject=""), "subject"),
    "update group name": (
        UPDATE_GROUP,
        lambda w: {"input": {**group_input(name="")["input"], "id": w.group}},
        "name",
    ),
    "staff email": (CREATE_STAFF, lambda w: staff_input(email=" "), "email"),
    "staff displayName": (CREATE_STAFF, lambda w: staff_input(displayName=""), "displayName"),
    "staff roles": (CREATE_STAFF, lambda w: staff_input(roles=[]), "roles"),
    "update staff displayName null": (
        UPDATE_STAFF,
        lambda w: {"input": {"id": w.colleague, "displayName": None}},
        "displayName",
    ),
    "update staff roles": (
        UPDATE_STAFF,
        lambda w: {"input": {"id": w.colleague, "roles": []}},
        "roles",
    ),
    "device name": (ENROL_DEVICE, lambda w: device_input(name=""), "name"),
    "api key name": (CREATE_API_KEY, lambda w: key_input(name="  "), "name"),
    "api key scopes": (CREATE_API_KEY, lambda w: key_input(scopes=[]), "scopes"),
}

#: Control characters (Unicode category Cc) have no place in a name.
CONTROL: dict[str, TextCase] = {
    "NUL in givenName": (
        CREATE_LEARNER,
        lambda w: learner_input(givenName="Gr\x00ace"),
        "givenName",
    ),
    "newline in familyName": (
        CREATE_LEARNER,
        lambda w: learner_input(familyName="Hop\nper"),
        "familyName",
    ),
    "escape in preferredName": (
        CREATE_LEARNER,
        lambda w: learner_input(preferredName="\x1b[31mRed"),
        "preferredName",
    ),
    "DEL in givenName": (
        CREATE_LEARNER,
        lambda w: learner_input(givenName="Gr\x7face"),
        "givenName",
    ),
    "C1 CSI in familyName": (
        CREATE_LEARNER,
        lambda w: learner_input(familyName="Hop\x9bper"),
        "familyName",
    ),
    "bell in update givenName": (
        UPDATE_LEARNER,
        lambda w: {"input": {"id": w.learner, "givenName": "A\x07da"}},
        "givenName",
    ),
    "tab in group name": (CREATE_GROUP, lambda w: group_input(name="10Y\tScience"), "name"),
    "NUL in staff displayName": (
        CREATE_STAFF,
        lambda w: staff_input(displayName="Ne\x00w"),
        "displayName",
    ),
    "NUL in device name": (ENROL_DEVICE, lambda w: device_input(name="Tab\x00let"), "name"),
    "NUL in api key name": (CREATE_API_KEY, lambda w: key_input(name="Ac\x00me"), "name"),
}


async def run_text_cases(
    gql: GraphQLRunner, world: World, cases: dict[str, TextCase]
) -> dict[str, object]:
    outcomes = {}
    for case, (document, variables, _) in cases.items():
        outcomes[case] = outcome(await gql(document, world.admin, **variables(world)))
    return outcomes


async def test_oversized_text_is_too_long_naming_the_field(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    world = await seed(services)
    before = await snapshot()
    # when
    outcomes = await run_text_cases(gql, world, TOO_LONG)
    # then
    expected = {case: [(field, "TOO_LONG")] for case, (_, _, field) in TOO_LONG.items()}
    assert_as_expected(outcomes, expected)
    assert await snapshot() == before


async def test_text_at_its_limit_is_accepted(services: Services, gql: GraphQLRunner) -> None:
    # given
    world = await seed(services)
    # when
    learner = await gql(
        CREATE_LEARNER,
        world.admin,
        **learner_input(givenName="G" * 100, familyName="F" * 100, sendDetails="S" * 4000),
    )
    group = await gql(CREATE_GROUP, world.admin, **group_input(name="N" * 100))
    # then
    assert (outcome(learner), outcome(group)) == ("accepted", "accepted")


async def test_blank_required_text_is_required_naming_the_field(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    world = await seed(services)
    before = await snapshot()
    # when
    outcomes = await run_text_cases(gql, world, BLANK)
    # then
    expected = {case: [(field, "REQUIRED")] for case, (_, _, field) in BLANK.items()}
    assert_as_expected(outcomes, expected)
    assert await snapshot() == before


async def test_control_characters_are_refused_naming_the_field(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    world = await seed(services)
    before = await snapshot()
    # when
    outcomes = await run_text_cases(gql, world, CONTROL)
    # then
    expected = {case: [(field, "INVALID")] for case, (_, _, field) in CONTROL.items()}
    assert_as_expected(outcomes, expected)
    assert await snapshot() == before


# --- values -----------------------------------------------------------------------------------


def invalid_values(today: date) -> dict[str, TextCase]:
    tomorrow = (today + timedelta(days=1)).isoformat()
    return {
        "UPN check letter": (CREATE_LEARNER, lambda w: learner_input(upn=BAD_CHECK_UPN), "upn"),
        "UPN too short": (CREATE_LEARNER, lambda w: learner_input(upn="B80120000"), "upn"),
        "ULN check digit": (CREATE_LEARNER, lambda w: learner_input(uln=BAD_CHECK_ULN), "uln"),
        "ULN letters": (CREATE_LEARNER, lambda w: learner_input(uln="12345abcde"), "uln"),
        "year group 15": (CREATE_LEARNER, lambda w: learner_input(yearGroup=15), "yearGroup"),
        "year group -1": (CREATE_LEARNER, lambda w: learner_input(yearGroup=-1), "yearGroup"),
        "born tomorrow": (
            CREATE_LEARNER,
            lambda w: learner_input(dateOfBirth=tomorrow),
            "dateOfBirth",
        ),
        "born in 1900": (
            CREATE_LEARNER,
            lambda w: learner_input(dateOfBirth="1900-01-01"),
            "dateOfBirth",
        ),
        "update UPN check letter": (
            UPDATE_LEARNER,
            lambda w: {"input": {"id": w.learner, "upn": BAD_CHECK_UPN}},
            "upn",
        ),
        "update ULN check digit": (
            UPDATE_LEARNER,
            lambda w: {"input": {"id": w.learner, "uln": BAD_CHECK_ULN}},
            "uln",
        ),
        "update year group 15": (
            UPDATE_LEARNER,
            lambda w: {"input": {"id": w.learner, "yearGroup": 15}},
            "yearGroup",
        ),
        "update born tomorrow": (
            UPDATE_LEARNER,
            lambda w: {"input": {"id": w.learner, "dateOfBirth": tomorrow}},
            "dateOfBirth",
        ),
        "academic year 2026-27": (
            CREATE_GROUP,
            lambda w: group_input(academicYear="2026-27"),
            "academicYear",
        ),
        "academic year 2026/28": (
            CREATE_GROUP,
            lambda w: group_input(academicYear="2026/28"),
            "academicYear",
        ),
        "group year group 15": (CREATE_GROUP, lambda w: group_input(yearGroup=15), "yearGroup"),
        "update academic year 2026-27": (
            UPDATE_GROUP,
            lambda w: {"input": {**group_input(academicYear="2026-27")["input"], "id": w.group}},
            "academicYear",
        ),
        "staff email without @": (
            CREATE_STAFF,
            lambda w: staff_input(email="new.example.test"),
            "email",
        ),
    }


async def test_invalid_values_are_invalid_naming_the_field(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    world = await seed(services)
    cases = invalid_values(clock.now.date())
    before = await snapshot()
    # when
    outcomes = await run_text_cases(gql, world, cases)
    # then
    expected = {case: [(field, "INVALID")] for case, (_, _, field) in cases.items()}
    assert_as_expected(outcomes, expected)
    assert await snapshot() == before


#: (document, variables for a world, the enum the message must name, the unknown value).
UNKNOWN_ENUMS: dict[str, tuple[str, Callable[[World], dict[str, Any]], str, str]] = {
    "platform": (
        ENROL_DEVICE,
        lambda w: device_input(platform="SPACESHIP"),
        "Platform",
        "SPACESHIP",
    ),
    "platform, inline": (ENROL_DEVICE_INLINE, lambda w: {}, "Platform", "SPACESHIP"),
    "platform, lower case": (
        ENROL_DEVICE,
        lambda w: device_input(platform="ipados"),
        "Platform",
        "ipados",
    ),
    "roles": (CREATE_STAFF, lambda w: staff_input(roles=["TEACHER", "GOD"]), "Role", "GOD"),
    "update roles": (
        UPDATE_STAFF,
        lambda w: {"input": {"id": w.colleague, "roles": ["GOD"]}},
        "Role",
        "GOD",
    ),
    "scopes": (CREATE_API_KEY, lambda w: key_input(scopes=["EVERYTHING"]), "Scope", "EVERYTHING"),
    "sendStatus": (
        CREATE_LEARNER,
        lambda w: learner_input(sendStatus="MAYBE"),
        "SendStatus",
        "MAYBE",
    ),
}


async def test_unknown_enum_values_fail_validation_naming_the_enum(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    world = await seed(services)
    before = await snapshot()
    # when
    outcomes: dict[str, object] = {}
    for case, (document, variables, enum, value) in UNKNOWN_ENUMS.items():
        result = await gql(document, world.admin, **variables(world))
        messages = [e.message for e in result.errors or []]
        named = len(messages) == 1 and f"'{enum}'" in messages[0] and value in messages[0]
        outcomes[case] = "refused, naming both" if named and result.data is None else messages
    # then: a validation error naming the enum and the value, before anything runs
    assert_as_expected(outcomes, dict.fromkeys(UNKNOWN_ENUMS, "refused, naming both"))
    assert await snapshot() == before


# --- updates keep what they do not touch ------------------------------------------------------


async def test_an_update_of_one_field_leaves_every_other_field_intact(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    world = await seed(services)
    before_record = (await gql(LEARNER_RECORD, world.admin, id=world.learner)).data["learner"]
    stored = await Learner.all().order_by("id").values()
    # when
    result = await gql(
        UPDATE_LEARNER, world.admin, input={"id": world.learner, "preferredName": "Countess"}
    )
    # then
    assert outcome(result) == "accepted"
    after_record = (await gql(LEARNER_RECORD, world.admin, id=world.learner)).data["learner"]
    assert after_record == {**before_record, "preferredName": "Countess"}
    (row_before,), (row_after,) = stored, await Learner.all().order_by("id").values()
    untouched = set(row_before) - {"preferred_name", "updated_at"}
    assert {k: row_after[k] for k in untouched} == {k: row_before[k] for k in untouched}
    assert row_after["upn_enc"] is not None
    assert row_after["upn_enc"] == row_before["upn_enc"], "the encrypted UPN is not rewritten"


async def test_clearing_a_learners_given_name_is_refused_and_keeps_the_record(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    world = await seed(services)
    before = await snapshot()
    # when
    outcomes = {}
    for case, value in {"null": None, "empty": "", "blank": " \t "}.items():
        result = await gql(
            UPDATE_LEARNER,
            world.admin,
            input={"id": world.learner, "givenName": value, "yearGroup": 11},
        )
        outcomes[case] = outcome(result)
    # then
    assert outcomes == {case: [("givenName", "REQUIRED")] for case in ("null", "empty", "blank")}
    assert await snapshot() == before
    record = (await gql(LEARNER_RECORD, world.admin, id=world.learner)).data["learner"]
    assert (record["givenName"], record["yearGroup"], record["upn"]) == ("Ada", 10, UPN)
