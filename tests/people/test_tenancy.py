"""Tenancy: foreign ids look random (AUTHZ-04), the tenant comes only from the session (AUTHZ-01),
no mass assignment (AUTHZ-08), aliases do not dodge authorization (GQL-11), and losing a group
loses its learners at once."""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from graphql import (
    ExecutionResult,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLNamedType,
    get_named_type,
)

from app.config import Settings
from app.main import create_app
from models.devices import Device
from models.groups import TeachingGroup
from models.learners import Learner
from models.partners import ApiKey, ApiKeyGrant
from models.schools import School
from models.staff import Membership, Role, User
from resolvers.context import Services, Viewer
from schema.common import to_global_id
from tests import factories
from tests.conftest import SCHEMA, GraphQLRunner

LEARNER = "query Learner($id: ID!) { learner(id: $id) { id familyName } }"
NODE = "query Node($id: ID!) { node(id: $id) { id } }"
LEARNERS_IN_GROUP = """
query InGroup($id: ID!) { learners(filter: {groupId: $id}) { nodes { id } } }
"""
LEARNER_IDS = "query Learners { learners(first: 100) { nodes { id } } }"
GROUP_IDS = "query Groups { groups(first: 100) { nodes { id } } }"
UPDATE_LEARNER = """
mutation Update($id: ID!) {
  updateLearner(input: {id: $id, familyName: "Changed"}) { learner { id } errors { field code } }
}
"""
UPDATE_GROUP = """
mutation Update($id: ID!) {
  updateGroup(input: {id: $id, name: "Changed", subject: "Art", academicYear: "2026/27"}) {
    group { id } errors { field code }
  }
}
"""
UPDATE_STAFF = """
mutation Update($id: ID!) {
  updateStaff(input: {id: $id, displayName: "Changed"}) { staffMember { id } errors { field code } }
}
"""
REVOKE_DEVICE = (
    "mutation Revoke($id: ID!) { revokeDevice(id: $id) { device { id } errors { code } } }"
)
REVOKE_API_KEY = (
    "mutation Revoke($id: ID!) { revokeApiKey(id: $id) { apiKey { id } errors { code } } }"
)
ENROL = """
mutation Enrol($group: ID!, $id: ID!) {
  enrolLearners(input: {groupId: $group, learnerIds: [$id]}) {
    group { id } errors { field code message }
  }
}
"""
ASSIGN_TEACHER = """
mutation Assign($group: ID!, $id: ID!) {
  assignTeacher(input: {groupId: $group, staffId: $id}) { group { id } errors { field code } }
}
"""
ENROL_DEVICE = """
mutation EnrolDevice($id: ID!) {
  enrolDevice(input: {name: "Laptop", platform: WINDOWS, learnerId: $id}) {
    device { id } token errors { field code }
  }
}
"""
UNASSIGN_TEACHER = """
mutation Unassign($group: ID!, $staff: ID!) {
  unassignTeacher(input: {groupId: $group, staffId: $staff}) { group { id } errors { code } }
}
"""
PROMOTE = """
mutation Promote($id: ID!) {
  updateStaff(input: {id: $id, roles: [TEACHER, ADMIN]}) { staffMember { id } errors { code } }
}
"""
CREATE_ADMIN = """
mutation CreateAdmin {
  createStaff(input: {email: "sneaky@example.test", displayName: "Sneaky", roles: [ADMIN],
                      password: "a long unusual passphrase 42"}) {
    staffMember { id } errors { code }
  }
}
"""
CREATE_LEARNER_WITH_SCHOOL = """
mutation Create {
  createLearner(input: {givenName: "Mass", familyName: "Assignment", schoolId: "U2Nob29sOjI"}) {
    learner { id } errors { code }
  }
}
"""
CREATE_LEARNER = """
mutation Create($input: CreateLearnerInput!) {
  createLearner(input: $input) { learner { id } errors { code } }
}
"""
UPDATE_STAFF_WITH_SCHOOL = """
mutation Move($id: ID!) {
  updateStaff(input: {id: $id, schoolId: "U2Nob29sOjI", roles: [ADMIN]}) { errors { code } }
}
"""
LEARNERS_OF_SCHOOL = """
query Foreign($school: ID!) { learners(schoolId: $school) { nodes { id } } }
"""
ALIASED_IDENTIFIERS = """
query Aliased($id: ID!) {
  learner(id: $id) { id name: familyName pupilNumber: upn birthday: dateOfBirth }
}
"""
ALIASED_DEVICES = "query Aliased { kit: devices { nodes { id } } }"
ALIASED_API_KEYS = "query Aliased { keys: apiKeys { nodes { id } } }"
ALIASED_PROMOTION = """
mutation Aliased($id: ID!) {
  becomeAdmin: updateStaff(input: {id: $id, roles: [ADMIN]}) { errors { code } }
}
"""
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token errors { code } }
}
"""
WHERE_AM_I = "query Where { school { id } schools { id } learners { nodes { id } } }"

TENANT_HEADERS = ("X-Tenant-ID", "X-School-ID", "X-Tenant", "School-Id")
#: An argument or input field naming a tenant: school, schoolId, school_ids, tenantId, orgId...
TENANT_NAME = re.compile(r"(school|tenant|organi[sz]ation|org)_?(id|ids|s)?$", re.IGNORECASE)


def gid(kind: str, pk: object) -> str:
    return str(to_global_id(kind, pk))


def exact(result: ExecutionResult) -> str:
    """The response as the client gets it, byte for byte (data, message, path, extensions)."""
    errors = [error.formatted for error in result.errors or ()]
    return json.dumps({"data": result.data, "errors": errors}, sort_keys=True)


def codes(result: ExecutionResult) -> list[str]:
    return [str((error.extensions or {}).get("code")) for error in result.errors or ()]


@dataclass(frozen=True)
class Schools:
    """Southgate, with a teacher of one group, and Northfield, with one of everything."""

    southgate: School
    northfield: School
    admin: Viewer
    teacher: Viewer
    teacher_user: User
    taught: Learner
    untaught: Learner
    group: TeachingGroup
    foreign_learner: Learner
    foreign_group: TeachingGroup
    foreign_staff: User
    foreign_device: Device
    foreign_key: ApiKey


async def two_schools(services: Services) -> Schools:
    south = await factories.school(services, slug="southgate", name="Southgate Academy")
    north = await factories.school(services, slug="northfield", name="Northfield School")
    teacher = await factories.staff(south, Role.TEACHER)
    taught = await factories.learner(services, south, family_name="Adams")
    untaught = await factories.learner(services, south, family_name="Baker")
    group = await factories.group(south, name="10S Maths", teachers=[teacher], learners=[taught])
    await factories.group(south, name="10T Science", learners=[untaught])
    foreign_staff = await factories.staff(north, Role.TEACHER)
    foreign_learner = await factories.learner(services, north, family_name="Dixon")
    foreign_group = await factories.group(
        north, name="10N Maths", teachers=[foreign_staff], learners=[foreign_learner]
    )
    await factories.api_key(south)
    return Schools(
        southgate=south,
        northfield=north,
        admin=await factories.admin_viewer(south),
        teacher=factories.viewer(teacher, south, Role.TEACHER),
        teacher_user=teacher,
        taught=taught,
        untaught=untaught,
        group=group,
        foreign_learner=foreign_learner,
        foreign_group=foreign_group,
        foreign_staff=foreign_staff,
        foreign_device=(await factories.device(north, learner_row=foreign_learner))[0],
        foreign_key=(await factories.api_key(north))[0],
    )


# -- AUTHZ-04: a foreign id answers exactly like a random one --------------------------------------


@dataclass(frozen=True)
class Probe:
    """A document, and how to fill it with a foreign or a random id of the same type."""

    name: str
    document: str
    kind: str
    foreign: Callable[[Schools], object]
    random_pk: Callable[[], object]
    more: Callable[[Schools], dict[str, Any]] = lambda s: {}


def _random_int() -> int:
    return 987_654_321


PROBES = (
    Probe("learner", LEARNER, "Learner", lambda s: s.foreign_learner.id, uuid.uuid4),
    Probe("node(Learner)", NODE, "Learner", lambda s: s.foreign_learner.id, uuid.uuid4),
    Probe("node(Group)", NODE, "Group", lambda s: s.foreign_group.id, _random_int),
    Probe("node(StaffMember)", NODE, "StaffMember", lambda s: s.foreign_staff.id, _random_int),
    Probe("node(School)", NODE, "School", lambda s: s.northfield.id, _random_int),
    Probe("node(Device)", NODE, "Device", lambda s: s.foreign_device.id, _random_int),
    Probe("node(ApiKey)", NODE, "ApiKey", lambda s: s.foreign_key.id, _random_int),
    Probe(
        "learners(groupId)", LEARNERS_IN_GROUP, "Group", lambda s: s.foreign_group.id, _random_int
    ),
    Probe("updateLearner", UPDATE_LEARNER, "Learner", lambda s: s.foreign_learner.id, uuid.uuid4),
    Probe("updateGroup", UPDATE_GROUP, "Group", lambda s: s.foreign_group.id, _random_int),
    Probe("updateStaff", UPDATE_STAFF, "StaffMember", lambda s: s.foreign_staff.id, _random_int),
    Probe("revokeDevice", REVOKE_DEVICE, "Device", lambda s: s.foreign_device.id, _random_int),
    Probe("revokeApiKey", REVOKE_API_KEY, "ApiKey", lambda s: s.foreign_key.id, _random_int),
    Probe(
        "enrolLearners(learnerIds)",
        ENROL,
        "Learner",
        lambda s: s.foreign_learner.id,
        uuid.uuid4,
        more=lambda s: {"group": gid("Group", s.group.id)},
    ),
    Probe(
        "assignTeacher(staffId)",
        ASSIGN_TEACHER,
        "StaffMember",
        lambda s: s.foreign_staff.id,
        _random_int,
        more=lambda s: {"group": gid("Group", s.group.id)},
    ),
    Probe(
        "enrolDevice(learnerId)",
        ENROL_DEVICE,
        "Learner",
        lambda s: s.foreign_learner.id,
        uuid.uuid4,
    ),
)


async def test_a_foreign_id_answers_exactly_like_a_random_id(
    services: Services, gql: GraphQLRunner, subtests: pytest.Subtests
) -> None:
    # given
    world = await two_schools(services)
    for probe in PROBES:
        with subtests.test(msg=probe.name):
            foreign = {"id": gid(probe.kind, probe.foreign(world)), **probe.more(world)}
            random = {"id": gid(probe.kind, probe.random_pk()), **probe.more(world)}
            # when
            seen = await gql(probe.document, world.admin, **foreign)
            unseen = await gql(probe.document, world.admin, **random)
            # then
            assert exact(seen) == exact(unseen)
            payload_codes = [
                e["code"] for v in (seen.data or {}).values() for e in (v or {}).get("errors", [])
            ]
            assert codes(seen) + payload_codes == ["NOT_FOUND"]


async def test_a_southgate_teacher_cannot_tell_a_northfield_learner_from_a_random_id(
    services: Services, gql: GraphQLRunner, subtests: pytest.Subtests
) -> None:
    # given
    world = await two_schools(services)
    ids = {
        "northfield": gid("Learner", world.foreign_learner.id),
        "untaught": gid("Learner", world.untaught.id),
        "random": gid("Learner", uuid.uuid4()),
    }
    for root, document in (("learner", LEARNER), ("node", NODE)):
        with subtests.test(msg=root):
            # when
            answers = {n: exact(await gql(document, world.teacher, id=i)) for n, i in ids.items()}
            result = await gql(document, world.teacher, id=ids["northfield"])
            # then
            assert answers["northfield"] == answers["random"] == answers["untaught"]
            assert result.data == {root: None}
            assert codes(result) == ["NOT_FOUND"]
            assert [e.path for e in result.errors or ()] == [[root]]


# -- ids of another type, and malformed ids --------------------------------------------------------


async def test_a_well_formed_id_of_another_type_is_not_found(
    services: Services, gql: GraphQLRunner, subtests: pytest.Subtests
) -> None:
    """Like a random id of the right type: NOT_FOUND, not INVALID_INPUT (the id is well formed)."""
    # given
    world = await two_schools(services)
    a_group = gid("Group", world.group.id)
    a_teacher = gid("StaffMember", world.teacher_user.id)
    a_learner = gid("Learner", world.taught.id)
    cases = [
        ("learner given a Group id", LEARNER, a_group, gid("Learner", uuid.uuid4())),
        ("learner given a StaffMember id", LEARNER, a_teacher, gid("Learner", uuid.uuid4())),
        ("updateGroup given a Learner id", UPDATE_GROUP, a_learner, gid("Group", _random_int())),
        ("updateStaff given a Group id", UPDATE_STAFF, a_group, gid("StaffMember", _random_int())),
        ("node given an unknown type", NODE, gid("Spaceship", 1), gid("Learner", uuid.uuid4())),
    ]
    for name, document, other_type, random in cases:
        with subtests.test(msg=name):
            # when
            result = await gql(document, world.admin, id=other_type)
            like_random = await gql(document, world.admin, id=random)
            # then
            assert codes(result) == ["NOT_FOUND"], exact(result)
            assert codes(like_random) == ["NOT_FOUND"]
            assert [e.path for e in result.errors or ()] == [
                e.path for e in like_random.errors or ()
            ]


BAD_IDS = ("%%%", "not an id", gid("Learner", "12345"), "TGVhcm5lcg")


async def test_a_malformed_id_is_invalid_input_naming_the_field(
    services: Services, gql: GraphQLRunner, subtests: pytest.Subtests
) -> None:
    # given
    world = await two_schools(services)
    for (root, document), bad in itertools.product((("learner", LEARNER), ("node", NODE)), BAD_IDS):
        with subtests.test(msg=f"{root}(id: {bad!r})"):
            # when
            result = await gql(document, world.admin, id=bad)
            # then
            assert result.data == {root: None}
            assert [e.extensions for e in result.errors or ()] == [
                {"code": "INVALID_INPUT", "field": "id", "reason": "MALFORMED_ID"}
            ]
    # when
    enrol = await gql(ENROL, world.admin, group=gid("Group", world.group.id), id="%%%")
    in_filter = await gql(LEARNERS_IN_GROUP, world.admin, id="%%%")
    # then
    assert enrol.errors is None
    assert enrol.data is not None
    assert enrol.data["enrolLearners"]["errors"] == [
        {
            "field": "learnerIds",
            "code": "MALFORMED_ID",
            "message": "`learnerIds` is not a valid id.",
        }
    ]
    assert [e.extensions for e in in_filter.errors or ()] == [
        {"code": "INVALID_INPUT", "field": "filter.groupId", "reason": "MALFORMED_ID"}
    ]


# -- AUTHZ-01: the tenant comes only from the session ----------------------------------------------


def _input_fields(named: GraphQLNamedType, seen: set[str]) -> Iterator[tuple[str, str]]:
    if not isinstance(named, GraphQLInputObjectType) or named.name in seen:
        return
    seen.add(named.name)
    for name, field in named.fields.items():
        yield f"{named.name}.{name}", name
        yield from _input_fields(get_named_type(field.type), seen)


def _arguments_of_root_fields() -> Iterator[tuple[str, str]]:
    """Every argument of every root field, and every field of their input types, recursively."""
    schema = SCHEMA._schema
    roots = (schema.query_type, schema.mutation_type, schema.subscription_type)
    seen: set[str] = set()
    for root in (r for r in roots if r is not None):
        for field_name, field in root.fields.items():
            for arg_name, arg in field.args.items():
                yield f"{root.name}.{field_name}({arg_name})", arg_name
                arg_type: GraphQLInputType = arg.type
                yield from _input_fields(get_named_type(arg_type), seen)


def test_no_root_field_takes_a_school_or_tenant() -> None:
    # given
    arguments = list(_arguments_of_root_fields())
    # when
    tenant_like = [where for where, name in arguments if TENANT_NAME.search(name)]
    # then
    assert len(arguments) > 20
    assert tenant_like == []


async def test_a_school_argument_cannot_even_be_sent(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    world = await two_schools(services)
    # when
    result = await gql(LEARNERS_OF_SCHOOL, world.admin, school=gid("School", world.northfield.id))
    # then
    assert result.data is None
    assert result.errors is not None
    assert ["schoolId" in e.message for e in result.errors] == [True]


async def _login(client: httpx2.AsyncClient, email: str) -> dict[str, str]:
    variables = {"email": email, "password": factories.PASSWORD}
    response = await client.post("/graphql", json={"query": LOGIN, "variables": variables})
    login = response.json()["data"]["login"]
    assert login["errors"] == []
    return {"Authorization": f"Bearer {login['token']}"}


async def test_a_tenant_header_is_ignored(services: Services, settings: Settings) -> None:
    """Over HTTP with a real session token.

    The app runs on the test's event loop through httpx2's ASGITransport: starlette's TestClient
    would run it on a loop of its own, where the test's database and Redis connections, opened
    on this loop, cannot be used.
    """
    # given
    world = await two_schools(services)
    await factories.staff(world.southgate, Role.ADMIN, email="head@southgate.test")
    app = create_app(settings, services, manage_database=False)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as client:
        auth = await _login(client, "head@southgate.test")
        # when
        plain = await client.post("/graphql", json={"query": WHERE_AM_I}, headers=auth)
        tampered = [
            await client.post(
                "/graphql", json={"query": WHERE_AM_I}, headers={**auth, header: value}
            )
            for header in TENANT_HEADERS
            for value in (str(world.northfield.id), gid("School", world.northfield.id))
        ]
    # then
    assert plain.status_code == 200
    body = plain.json()
    south = gid("School", world.southgate.id)
    assert body["data"]["school"] == {"id": south}
    assert body["data"]["schools"] == [{"id": south}]
    learners = {n["id"] for n in body["data"]["learners"]["nodes"]}
    assert learners == {gid("Learner", world.taught.id), gid("Learner", world.untaught.id)}
    assert [(r.status_code, r.json()) for r in tampered] == [(200, body)] * len(tampered)


# -- AUTHZ-08: no mass assignment ------------------------------------------------------------------


async def _learner_count() -> int:
    return await Learner.all().count()


async def test_an_unknown_input_field_is_rejected_and_nothing_is_created(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    world = await two_schools(services)
    before = await _learner_count()
    variables = {"givenName": "Mass", "familyName": "Assignment", "schoolId": "U2Nob29sOjI"}
    # when
    inline = await gql(CREATE_LEARNER_WITH_SCHOOL, world.admin)
    via_variables = await gql(CREATE_LEARNER, world.admin, input=variables)
    # then
    for result in (inline, via_variables):
        assert result.data is None
        assert result.errors is not None
        assert len(result.errors) == 1
        assert "schoolId" in result.errors[0].message
        assert "Did you mean" not in result.errors[0].message
    assert await _learner_count() == before
    assert not await Learner.exists(family_name="Assignment")


async def test_staff_cannot_be_moved_to_another_school_by_input(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    world = await two_schools(services)
    target = gid("StaffMember", world.teacher_user.id)
    # when
    result = await gql(UPDATE_STAFF_WITH_SCHOOL, world.admin, id=target)
    # then
    assert result.data is None
    assert result.errors is not None
    assert "schoolId" in result.errors[0].message
    memberships = await Membership.filter(user_id=world.teacher_user.id).values_list(
        "school_id", "role"
    )
    assert memberships == [(world.southgate.id, Role.TEACHER)]


async def test_a_teacher_cannot_promote_themself(services: Services, gql: GraphQLRunner) -> None:
    # given
    world = await two_schools(services)
    me = gid("StaffMember", world.teacher_user.id)
    users_before = await User.all().count()
    # when
    promoted = await gql(PROMOTE, world.teacher, id=me)
    created = await gql(CREATE_ADMIN, world.teacher)
    # then
    assert codes(promoted) == ["FORBIDDEN"]
    assert codes(created) == ["FORBIDDEN"]
    roles = [m.role for m in await Membership.filter(user_id=world.teacher_user.id)]
    assert roles == [Role.TEACHER]
    assert await User.all().count() == users_before
    assert not await User.exists(email="sneaky@example.test")


# -- GQL-11: aliases do not dodge authorization ----------------------------------------------------


async def test_aliased_forbidden_fields_are_still_denied(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    world = await two_schools(services)
    keys_before = await ApiKeyGrant.all().count()
    # when
    fields = await gql(ALIASED_IDENTIFIERS, world.teacher, id=gid("Learner", world.taught.id))
    roots = [await gql(doc, world.teacher) for doc in (ALIASED_DEVICES, ALIASED_API_KEYS)]
    promotion = await gql(
        ALIASED_PROMOTION, world.teacher, id=gid("StaffMember", world.teacher_user.id)
    )
    # then
    assert fields.data == {
        "learner": {
            "id": gid("Learner", world.taught.id),
            "name": "Adams",
            "pupilNumber": None,
            "birthday": None,
        }
    }
    assert sorted((e.path or [])[-1] for e in fields.errors or ()) == ["birthday", "pupilNumber"]
    assert codes(fields) == ["FORBIDDEN", "FORBIDDEN"]
    assert [root.data for root in roots] == [None, None]
    assert [[e.path for e in root.errors or ()] for root in roots] == [[["kit"]], [["keys"]]]
    assert [codes(root) for root in roots] == [["FORBIDDEN"], ["FORBIDDEN"]]
    assert codes(promotion) == ["FORBIDDEN"]
    assert [e.path for e in promotion.errors or ()] == [["becomeAdmin"]]
    roles = [m.role for m in await Membership.filter(user_id=world.teacher_user.id)]
    assert roles == [Role.TEACHER]
    assert await ApiKeyGrant.all().count() == keys_before


# -- losing a group loses its learners at once -----------------------------------------------------


async def test_unassigning_a_teacher_removes_the_groups_learners_at_once(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    teacher = await factories.staff(school, Role.TEACHER)
    as_teacher = factories.viewer(teacher, school, Role.TEACHER)
    only_maths = await factories.learner(services, school, family_name="Adams")
    both = await factories.learner(services, school, family_name="Baker")
    only_art = await factories.learner(services, school, family_name="Clark")
    maths = await factories.group(
        school, name="10S Maths", teachers=[teacher], learners=[only_maths, both]
    )
    art = await factories.group(
        school, name="10S Art", teachers=[teacher], learners=[both, only_art]
    )
    before = await _ids(gql, LEARNER_IDS, "learners", as_teacher)
    # when
    result = await gql(
        UNASSIGN_TEACHER,
        admin,
        group=gid("Group", maths.id),
        staff=gid("StaffMember", teacher.id),
    )
    # then
    assert result.errors is None
    assert result.data == {
        "unassignTeacher": {"group": {"id": gid("Group", maths.id)}, "errors": []}
    }
    assert before == {gid("Learner", r.id) for r in (only_maths, both, only_art)}
    after = await _ids(gql, LEARNER_IDS, "learners", as_teacher)
    assert after == {gid("Learner", both.id), gid("Learner", only_art.id)}
    assert await _ids(gql, GROUP_IDS, "groups", as_teacher) == {gid("Group", art.id)}
    gone = await gql(LEARNER, as_teacher, id=gid("Learner", only_maths.id))
    assert codes(gone) == ["NOT_FOUND"]
    group_gone = await gql(NODE, as_teacher, id=gid("Group", maths.id))
    assert codes(group_gone) == ["NOT_FOUND"]


async def _ids(
    gql: Callable[..., Awaitable[ExecutionResult]], document: str, root: str, viewer: Viewer
) -> set[str]:
    result = await gql(document, viewer)
    assert result.errors is None, result.errors
    assert result.data is not None
    return {node["id"] for node in result.data[root]["nodes"]}
