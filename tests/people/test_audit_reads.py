"""Every path that returns a Learner audits the personal fields it read, once per operation.

Plain personal fields (names, year group, SEN status, flags) have no resolvers: the executor
notes them per Learner object from the fields selected on it (schema.extensions.SchemaExecutor).
The encrypted ones note themselves after their role check. These tests pin the trail for each
way a Learner can be reached, and that reading them directly in lists answers exactly as the
ordinary GraphQL execution does.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import strawberry
from graphql import GraphQLString, Undefined
from strawberry.schema.config import StrawberryConfig

from models.audit import AuditEvent
from models.learners import Learner as LearnerRow
from models.schools import School
from models.staff import Role
from resolvers.context import Context, RequestInfo, Services, Viewer
from resolvers.keyring import Keyring
from schema import Mutation, Query
from schema.common import to_global_id
from schema.extensions import _leaf_value
from tests import factories
from tests.conftest import SCHEMA, GraphQLRunner, context_for

UPN = "B801200005001"
ULN = "1234567899"


@dataclasses.dataclass
class Pupils:
    school: School
    admin: Viewer
    teacher: Viewer
    taught: LearnerRow
    other: LearnerRow
    group_id: int


@pytest.fixture
async def pupils(services: Services) -> Pupils:
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    teacher = await factories.staff(school, Role.TEACHER)
    taught = await factories.learner(
        services,
        school,
        family_name="Adams",
        upn=UPN,
        uln=ULN,
        date_of_birth=factories.a_date_of_birth(),
        send_details="Needs a quiet space.",
    )
    other = await factories.learner(services, school, family_name="Brown")
    group = await factories.group(school, teachers=[teacher], learners=[taught])
    await factories.device(school, learner_row=taught)
    return Pupils(
        school, admin, factories.viewer(teacher, school, Role.TEACHER), taught, other, group.id
    )


async def read_events() -> list[tuple[list[str], list[str]]]:
    """(learner ids, field names) of each learner.read event, oldest first."""
    rows = await AuditEvent.filter(action="learner.read").order_by("seq")
    return [(list(r.target_ids), list(r.fields_touched)) for r in rows]


def ok(result: Any) -> dict[str, Any]:
    assert result.errors is None, result.errors
    data: dict[str, Any] = result.data
    return data


def ids(*rows: LearnerRow) -> list[str]:
    return sorted(str(r.id) for r in rows)


async def test_the_learners_list_audits_the_selected_fields_of_every_learner(
    pupils: Pupils, gql: GraphQLRunner
) -> None:
    # when
    data = ok(await gql("{ learners { edges { node { id givenName upn } } } }", pupils.admin))
    # then
    assert [e["node"]["upn"] for e in data["learners"]["edges"]] == [UPN, None]
    assert await read_events() == [(ids(pupils.taught, pupils.other), ["given_name", "upn"])]


async def test_fields_in_a_fragment_are_audited(pupils: Pupils, gql: GraphQLRunner) -> None:
    # when
    document = """
    query { learners { nodes { ...Row } } }
    fragment Row on Learner { familyName yearGroup }
    """
    ok(await gql(document, pupils.admin))
    # then
    assert await read_events() == [
        (ids(pupils.taught, pupils.other), ["family_name", "year_group"])
    ]


async def test_one_learner_audits_its_fields(pupils: Pupils, gql: GraphQLRunner) -> None:
    # when
    document = "query($id: ID!) { learner(id: $id) { preferredName sendStatus pupilPremium } }"
    ok(await gql(document, pupils.admin, id=to_global_id("Learner", pupils.other.id)))
    # then
    assert await read_events() == [
        (ids(pupils.other), ["preferred_name", "pupil_premium", "send_status"])
    ]


async def test_node_audits_the_fields_of_its_learner_type_condition(
    pupils: Pupils, gql: GraphQLRunner
) -> None:
    # when
    document = """
    query($id: ID!) {
      node(id: $id) { id ... on Learner { freeSchoolMeals eal } ... on Group { yearGroup } }
    }
    """
    data = ok(await gql(document, pupils.admin, id=to_global_id("Learner", pupils.taught.id)))
    # then
    assert data["node"]["eal"] is False
    assert await read_events() == [(ids(pupils.taught), ["eal", "free_school_meals"])]


async def test_node_without_personal_fields_writes_no_read_event(
    pupils: Pupils, gql: GraphQLRunner
) -> None:
    # when: only the id, and a Group's yearGroup that a Learner does not answer
    document = "query($id: ID!) { node(id: $id) { id __typename ... on Group { yearGroup } } }"
    data = ok(await gql(document, pupils.admin, id=to_global_id("Learner", pupils.taught.id)))
    # then
    assert data["node"]["__typename"] == "Learner"
    assert await read_events() == []


async def test_a_groups_learners_are_audited(pupils: Pupils, gql: GraphQLRunner) -> None:
    # when
    ok(await gql("{ groups { nodes { learners { nodes { givenName } } } } }", pupils.teacher))
    # then
    assert await read_events() == [(ids(pupils.taught), ["given_name"])]


async def test_a_devices_learner_is_audited(pupils: Pupils, gql: GraphQLRunner) -> None:
    # when
    data = ok(await gql("{ devices { nodes { learner { familyName uln } } } }", pupils.admin))
    # then
    assert data["devices"]["nodes"] == [{"learner": {"familyName": "Adams", "uln": ULN}}]
    assert await read_events() == [(ids(pupils.taught), ["family_name", "uln"])]


async def test_a_mutation_payloads_learner_is_audited(pupils: Pupils, gql: GraphQLRunner) -> None:
    # when
    document = """
    mutation($id: ID!) {
      updateLearner(input: {id: $id, yearGroup: 9}) {
        learner { yearGroup dateOfBirth sendDetails }
        errors { code }
      }
    }
    """
    data = ok(await gql(document, pupils.admin, id=to_global_id("Learner", pupils.taught.id)))
    # then
    learner = data["updateLearner"]["learner"]
    assert learner == {
        "yearGroup": 9,
        "dateOfBirth": factories.a_date_of_birth().isoformat(),
        "sendDetails": "Needs a quiet space.",
    }
    assert await read_events() == [
        (ids(pupils.taught), ["date_of_birth", "send_details", "year_group"])
    ]


async def test_a_classroom_tiles_learner_is_audited(pupils: Pupils, gql: GraphQLRunner) -> None:
    # when
    document = "query($g: ID!) { classroom(groupId: $g) { tiles { learner { givenName } } } }"
    ok(await gql(document, pupils.teacher, g=to_global_id("Group", pupils.group_id)))
    # then
    assert await read_events() == [(ids(pupils.taught), ["given_name"])]


@pytest.mark.parametrize(
    ("show", "expected"),
    [(False, []), (True, [["given_name"]])],
    ids=["excluded", "included"],
)
async def test_skipped_fields_are_not_read_and_included_ones_are(
    pupils: Pupils, gql: GraphQLRunner, show: bool, expected: list[list[str]]
) -> None:
    # when
    document = """
    query($show: Boolean!) {
      learners { nodes { id givenName @include(if: $show) familyName @skip(if: true) } }
    }
    """
    ok(await gql(document, pupils.admin, show=show))
    # then
    assert [fields for _, fields in await read_events()] == expected


async def test_aliases_of_one_field_name_it_once(pupils: Pupils, gql: GraphQLRunner) -> None:
    # when
    data = ok(await gql("{ learners { nodes { a: givenName b: givenName } } }", pupils.admin))
    # then
    assert data["learners"]["nodes"][0]["a"] == data["learners"]["nodes"][0]["b"]
    assert [fields for _, fields in await read_events()] == [["given_name"]]


async def test_a_field_refused_to_the_role_is_neither_answered_nor_audited(
    pupils: Pupils, gql: GraphQLRunner
) -> None:
    # when: a teacher asks for UPNs (admins only)
    result = await gql("{ learners { nodes { givenName upn } } }", pupils.teacher)
    # then: FORBIDDEN on that field of each row, the names still answered
    assert result.data == {
        "learners": {"nodes": [{"givenName": pupils.taught.given_name, "upn": None}]}
    }
    assert [(e.message, e.path) for e in result.errors or []] == [
        ("Not allowed.", ["learners", "nodes", 0, "upn"])
    ]
    assert await read_events() == [(ids(pupils.taught), ["given_name"])]


async def test_encrypted_fields_read_while_the_keys_load_are_answered_and_audited(
    pupils: Pupils, services: Services
) -> None:
    # given: a process that has not loaded the school's keys yet
    cold = dataclasses.replace(services, keyring=Keyring(services.keyring.masters))
    document = "{ learners { nodes { upn uln dateOfBirth sendDetails } } }"
    # when
    result = await SCHEMA.execute(document, context_value=context_for(cold, pupils.admin))
    # then
    assert ok(result)["learners"]["nodes"][0] == {
        "upn": UPN,
        "uln": ULN,
        "dateOfBirth": factories.a_date_of_birth().isoformat(),
        "sendDetails": "Needs a quiet space.",
    }
    assert await read_events() == [
        (
            ids(pupils.taught, pupils.other),
            ["date_of_birth", "send_details", "uln", "upn"],
        )
    ]


# --- the executor reads leaves directly: same answers as graphql-core's own path -------------

#: The same types without the executor and extensions: graphql-core and strawberry as shipped.
PLAIN = strawberry.Schema(
    query=Query, mutation=Mutation, config=StrawberryConfig(disable_field_suggestions=True)
)

DOCUMENTS = [
    "{ learners { edges { cursor node { id givenName familyName yearGroup upn } } } }",
    """{ learners { nodes { __typename id preferredName sendStatus pupilPremium
         freeSchoolMeals eal uln dateOfBirth sendDetails groups { id name } } } }""",
    "{ groups { nodes { name learners { totalCount nodes { familyName upn } } } } }",
    "{ devices { nodes { name platform revoked learner { givenName sendStatus } } } }",
]


@pytest.mark.parametrize("document", DOCUMENTS)
@pytest.mark.parametrize("role", ["admin", "teacher"])
async def test_the_executor_answers_as_graphql_core_does(
    pupils: Pupils, services: Services, document: str, role: str
) -> None:
    viewer = pupils.admin if role == "admin" else pupils.teacher
    # when
    ours = await SCHEMA.execute(document, context_value=context_for(services, viewer))
    plain = await PLAIN.execute(
        document, context_value=Context(services, viewer=viewer, request=RequestInfo())
    )
    # then
    assert ours.data == plain.data
    assert [(e.message, e.path) for e in ours.errors or []] == [
        (e.message, e.path) for e in plain.errors or []
    ]


class _Row:
    name = "Ada"
    empty = None

    @property
    def broken(self) -> str:
        raise RuntimeError("boom")


@pytest.mark.parametrize(
    ("resolve", "non_null", "expected"),
    [
        ("name", True, "Ada"),
        ("empty", False, None),
        ("empty", True, Undefined),  # null for a non-null field: graphql-core reports it
        ("broken", False, Undefined),  # an exception: graphql-core reports it, with its path
        ("missing", False, Undefined),
    ],
)
def test_a_leaf_that_is_not_a_plain_value_is_left_to_graphql_core(
    resolve: str, non_null: bool, expected: object
) -> None:
    value = _leaf_value(resolve, _Row(), None, GraphQLString.coerce_output_value, non_null)
    assert value is expected


def test_an_awaitable_from_a_context_resolver_is_closed_and_left_to_graphql_core(
    services: Services,
) -> None:
    started = []

    async def later() -> str:
        started.append(True)
        return "late"

    coroutine = later()
    context = Context(services)
    value = _leaf_value(
        lambda _row, _ctx: coroutine, _Row(), context, GraphQLString.coerce_output_value, False
    )
    assert value is Undefined
    assert coroutine.cr_frame is None  # closed, never run
    assert started == []
