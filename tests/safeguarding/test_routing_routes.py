"""Alert routes over GraphQL: create, list, change and delete them; bad input is data."""

from __future__ import annotations

from typing import Any

import pytest

from models.alert_routing import AlertRoute, RouteContact, WebhookEndpoint
from models.audit import AuditEvent
from models.staff import Role
from resolvers.context import Services
from schema.common import to_global_id
from tests import factories
from tests.classroom.helpers import error_code, ok
from tests.conftest import GraphQLRunner
from tests.safeguarding.routing_helpers import Place, a_place

ROUTE_FIELDS = """
  id name categories minSeverity yearGroups hours ackTimeoutMinutes enabled
  contacts { position kind email webhookUrl staffMember { id displayName } }
"""
CREATE = f"""
mutation Create($input: CreateAlertRouteInput!) {{
  createAlertRoute(input: $input) {{
    route {{ {ROUTE_FIELDS} }} webhookSecrets {{ url secret }} errors {{ field code message }}
  }}
}}
"""
UPDATE = f"""
mutation Update($input: UpdateAlertRouteInput!) {{
  updateAlertRoute(input: $input) {{
    route {{ {ROUTE_FIELDS} }} webhookSecrets {{ url secret }} errors {{ field code message }}
  }}
}}
"""
DELETE = """
mutation Delete($id: ID!) { deleteAlertRoute(id: $id) { deletedId errors { field code } } }
"""
LIST = f"query Routes {{ alertRoutes(first: 10) {{ nodes {{ {ROUTE_FIELDS} }} }} }}"
HOOK = "https://hooks.school.example/pupil-progress"


def staff_id(user: Any) -> str:
    return to_global_id("StaffMember", user.id)


def route_input(place: Place, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "Suicide and self-harm",
        "categories": ["SUICIDE", "self_harm"],
        "minSeverity": 3,
        "yearGroups": [11, 10, 10],
        "hours": "ALWAYS",
        "ackTimeoutMinutes": 10,
        "contacts": [
            {"staffId": staff_id(place.lead)},
            {"email": "Deputy.DSL@School.example"},
            {"webhookUrl": HOOK},
        ],
    }
    values.update(changes)
    return values


async def test_a_lead_creates_a_route_and_gets_the_webhook_secret_once(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    place = await a_place(services)
    # when
    payload = ok(await gql(CREATE, place.lead_viewer, input=route_input(place)))["createAlertRoute"]
    # then
    assert payload["errors"] == []
    route = payload["route"]
    assert route["categories"] == ["SELF_HARM", "SUICIDE"]
    assert route["yearGroups"] == [10, 11]
    assert [(c["position"], c["kind"]) for c in route["contacts"]] == [
        (0, "STAFF"),
        (1, "EMAIL"),
        (2, "WEBHOOK"),
    ]
    assert route["contacts"][0]["staffMember"]["displayName"] == "Dana Lead"
    assert route["contacts"][1]["email"] == "deputy.dsl@school.example"
    [secret] = payload["webhookSecrets"]
    assert secret["url"] == HOOK
    assert secret["secret"].startswith("whsec_")
    endpoint = await WebhookEndpoint.get(url=HOOK)
    assert secret["secret"].encode() not in bytes(endpoint.secret_enc)
    event = await AuditEvent.filter(action="safeguarding.route.create").first()
    assert event is not None
    assert event.actor_id == str(place.lead.id)


#: (what is wrong, the input changes, the field named, the code)
INVALID = [
    ("blank name", {"name": "  "}, "name", "REQUIRED"),
    ("unknown category", {"categories": ["SPORTS"]}, "categories.0", "INVALID"),
    ("severity too high", {"minSeverity": 6}, "minSeverity", "OUT_OF_RANGE"),
    ("year group out of range", {"yearGroups": [15]}, "yearGroups.0", "INVALID"),
    ("no timeout", {"ackTimeoutMinutes": 0}, "ackTimeoutMinutes", "OUT_OF_RANGE"),
    ("no contacts", {"contacts": []}, "contacts", "INVALID"),
    (
        "two targets",
        {"contacts": [{"email": "a@b.example", "webhookUrl": HOOK}]},
        "contacts.0",
        "INVALID",
    ),
    ("bad email", {"contacts": [{"email": "not-an-address"}]}, "contacts.0.email", "INVALID"),
    (
        "ftp webhook",
        {"contacts": [{"webhookUrl": "ftp://x.example/"}]},
        "contacts.0.webhookUrl",
        "INVALID_URL",
    ),
    (
        "credentials in URL",
        {"contacts": [{"webhookUrl": "https://u:p@x.example/"}]},
        "contacts.0.webhookUrl",
        "INVALID",
    ),
    (
        "repeated contact",
        {"contacts": [{"email": "a@b.example"}, {"email": "A@b.example"}]},
        "contacts.1",
        "DUPLICATE",
    ),
    (
        "eleven contacts",
        {"contacts": [{"email": f"c{i}@b.example"} for i in range(11)]},
        "contacts",
        "INVALID",
    ),
]


@pytest.mark.parametrize(
    ("changes", "field", "code"), [case[1:] for case in INVALID], ids=[c[0] for c in INVALID]
)
async def test_bad_input_is_a_payload_error_and_nothing_is_stored(
    services: Services, gql: GraphQLRunner, changes: dict[str, Any], field: str, code: str
) -> None:
    # given
    place = await a_place(services)
    # when
    payload = ok(await gql(CREATE, place.lead_viewer, input=route_input(place, **changes)))[
        "createAlertRoute"
    ]
    # then
    assert payload["route"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(field, code)]
    assert await AlertRoute.all().count() == 0
    assert await WebhookEndpoint.all().count() == 0


async def test_staff_contacts_must_be_safeguarding_leads_of_the_school(
    services: Services, gql: GraphQLRunner
) -> None:
    # given: a teacher of the school, and a lead of another school
    place = await a_place(services)
    teacher = await factories.staff(place.school, Role.TEACHER)
    elsewhere = await a_place(services)
    for user in (teacher, elsewhere.lead):
        # when
        contacts = [{"staffId": staff_id(user)}]
        payload = ok(
            await gql(CREATE, place.lead_viewer, input=route_input(place, contacts=contacts))
        )["createAlertRoute"]
        # then
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [
            ("contacts.0.staffId", "NOT_A_SAFEGUARDING_LEAD")
        ]


async def test_route_names_are_unique_in_a_school(services: Services, gql: GraphQLRunner) -> None:
    # given
    place = await a_place(services)
    ok(await gql(CREATE, place.lead_viewer, input=route_input(place)))
    # when
    payload = ok(await gql(CREATE, place.lead_viewer, input=route_input(place)))["createAlertRoute"]
    # then
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("name", "DUPLICATE")]
    assert await AlertRoute.all().count() == 1


async def test_updating_changes_only_what_is_given_and_keeps_webhook_secrets(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    place = await a_place(services)
    created = ok(await gql(CREATE, place.lead_viewer, input=route_input(place)))
    route_id = created["createAlertRoute"]["route"]["id"]
    # when: the contacts are reordered and the name changes
    contacts = [{"webhookUrl": HOOK}, {"staffId": staff_id(place.deputy)}]
    payload = ok(
        await gql(
            UPDATE,
            place.lead_viewer,
            input={"id": route_id, "name": "Out of hours", "contacts": contacts},
        )
    )["updateAlertRoute"]
    # then
    assert payload["errors"] == []
    route = payload["route"]
    assert route["name"] == "Out of hours"
    assert route["minSeverity"] == 3
    assert [c["kind"] for c in route["contacts"]] == ["WEBHOOK", "STAFF"]
    assert payload["webhookSecrets"] == []
    assert await WebhookEndpoint.all().count() == 1
    assert await RouteContact.all().count() == 2


async def test_an_update_with_bad_input_changes_nothing(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    place = await a_place(services)
    created = ok(await gql(CREATE, place.lead_viewer, input=route_input(place)))
    route_id = created["createAlertRoute"]["route"]["id"]
    # when
    payload = ok(await gql(UPDATE, place.lead_viewer, input={"id": route_id, "name": None}))[
        "updateAlertRoute"
    ]
    bad = ok(await gql(UPDATE, place.lead_viewer, input={"id": route_id, "minSeverity": 0}))[
        "updateAlertRoute"
    ]
    # then
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("name", "REQUIRED")]
    assert [(e["field"], e["code"]) for e in bad["errors"]] == [("minSeverity", "OUT_OF_RANGE")]
    stored = await AlertRoute.get()
    assert (stored.name, stored.min_severity) == ("Suicide and self-harm", 3)


async def test_deleting_a_route_removes_it_from_the_list(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    place = await a_place(services)
    created = ok(await gql(CREATE, place.lead_viewer, input=route_input(place)))
    route_id = created["createAlertRoute"]["route"]["id"]
    # when
    deleted = ok(await gql(DELETE, place.lead_viewer, id=route_id))["deleteAlertRoute"]
    listed = ok(await gql(LIST, place.lead_viewer))["alertRoutes"]["nodes"]
    # then
    assert deleted == {"deletedId": route_id, "errors": []}
    assert listed == []
    assert await RouteContact.all().count() == 0


async def test_routes_are_the_lead_s_own_school_s_only(
    services: Services, gql: GraphQLRunner
) -> None:
    # given: a route in another school, and staff of this one who are not leads
    place = await a_place(services)
    other = await a_place(services)
    created = ok(await gql(CREATE, other.lead_viewer, input=route_input(other)))
    route_id = created["createAlertRoute"]["route"]["id"]
    admin = await factories.admin_viewer(place.school)
    teacher = factories.viewer(await factories.staff(place.school), place.school, Role.TEACHER)
    # when / then
    assert ok(await gql(LIST, place.lead_viewer))["alertRoutes"]["nodes"] == []
    assert error_code(await gql(DELETE, place.lead_viewer, id=route_id)) == "NOT_FOUND"
    for viewer in (admin, teacher):
        assert error_code(await gql(LIST, viewer)) == "FORBIDDEN"
    assert error_code(await gql(LIST, None)) == "UNAUTHENTICATED"
    assert await AlertRoute.all().count() == 1
