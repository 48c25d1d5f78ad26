"""Partners and devices: API keys and device tokens, stored hashed, scoped, revocable."""

from __future__ import annotations

import hashlib
import json

from models.devices import Device
from models.partners import ApiKey, ApiKeyGrant, Scope
from models.staff import Role
from resolvers.auth import authenticate
from resolvers.context import PrincipalKind, Services
from schema.common import to_global_id
from tests import factories
from tests.conftest import GraphQLRunner

VIEWER = "query Me { viewer { kind roles scopes id } }"

LEARNERS = "query Learners { learners { nodes { familyName } } }"

LEARNERS_WITH_UPN = "query Learners { learners { nodes { familyName upn } } }"

CREATE_API_KEY = """
mutation CreateApiKey($input: CreateApiKeyInput!) {
  createApiKey(input: $input) {
    key
    apiKey { id name prefix scopes revoked }
    errors { field code message }
  }
}
"""

REVOKE_API_KEY = """
mutation RevokeApiKey($id: ID!) {
  revokeApiKey(id: $id) { apiKey { id revoked } errors { field code message } }
}
"""

API_KEYS = """
query ApiKeys {
  apiKeys { nodes { id name prefix scopes createdAt lastUsedAt revoked } totalCount }
}
"""

ENROL_DEVICE = """
mutation EnrolDevice($input: EnrolDeviceInput!) {
  enrolDevice(input: $input) {
    token
    device { id name platform tokenPrefix revoked }
    errors { field code message }
  }
}
"""

REVOKE_DEVICE = """
mutation RevokeDevice($id: ID!) {
  revokeDevice(id: $id) { device { id revoked } errors { field code message } }
}
"""

DEVICES = """
query Devices {
  devices { nodes { id name platform enrolledAt lastSeenAt revoked tokenPrefix } totalCount }
}
"""


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def test_an_api_key_authenticates_as_a_partner_with_its_scopes_and_grants(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    granting = await factories.school(services)
    also_granting = await factories.school(services)
    await factories.school(services)  # grants nothing
    key, secret = await factories.api_key(
        granting, also_granting, scopes=[Scope.LEARNERS_READ, Scope.GROUPS_READ]
    )
    # when
    viewer = await authenticate(services, secret)
    # then
    assert viewer is not None
    assert viewer.kind is PrincipalKind.PARTNER
    assert viewer.api_key_id == key.id
    assert viewer.scopes == {Scope.LEARNERS_READ, Scope.GROUPS_READ}
    assert viewer.school_ids == {granting.id, also_granting.id}
    assert viewer.school_id == min(granting.id, also_granting.id)
    assert (viewer.user_id, viewer.session_id, viewer.roles) == (None, None, frozenset())
    me = await gql(VIEWER, viewer)
    assert me.errors is None
    assert me.data["viewer"] == {
        "kind": "PARTNER",
        "roles": [],
        "scopes": ["GROUPS_READ", "LEARNERS_READ"],
        "id": to_global_id("ApiKey", key.id),
    }
    await key.refresh_from_db()
    assert key.last_used_at is not None


async def test_an_api_key_is_stored_only_as_its_hash(services: Services) -> None:
    # given
    school = await factories.school(services)
    key, secret = await factories.api_key(school)
    # when
    row = (await ApiKey.filter(id=key.id).values())[0]
    # then
    assert secret.startswith("ppk_")
    assert row["key_hash"] == sha256(secret)
    assert row["key_prefix"] == secret[:12]
    body = secret.removeprefix("ppk_")
    assert all(body not in str(value) for value in row.values())


async def test_a_revoked_or_ungranted_api_key_authenticates_nobody(services: Services) -> None:
    # given
    school = await factories.school(services)
    revoked, revoked_secret = await factories.api_key(school)
    await ApiKey.filter(id=revoked.id).update(revoked_at=services.now())
    ungranted, ungranted_secret = await factories.api_key(school)
    await ApiKeyGrant.filter(api_key_id=ungranted.id).delete()
    # when / then
    assert await authenticate(services, revoked_secret) is None
    assert await authenticate(services, ungranted_secret) is None


async def test_a_partner_with_learners_read_lists_only_granting_schools_learners(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    granting = await factories.school(services)
    other = await factories.school(services)
    await factories.learner(services, granting, family_name="Granted", upn="B801200005001")
    await factories.learner(services, other, family_name="Elsewhere")
    _, secret = await factories.api_key(granting, scopes=[Scope.LEARNERS_READ])
    viewer = await authenticate(services, secret)
    # when
    result = await gql(LEARNERS, viewer)
    identifiers = await gql(LEARNERS_WITH_UPN, viewer)
    # then
    assert result.errors is None
    assert result.data["learners"]["nodes"] == [{"familyName": "Granted"}]
    # and identifiers need their own scope
    assert [e.extensions for e in identifiers.errors] == [{"code": "FORBIDDEN"}]
    assert identifiers.data["learners"]["nodes"] == [{"familyName": "Granted", "upn": None}]


async def test_a_partner_without_learners_read_is_forbidden_learners(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    await factories.learner(services, school)
    _, secret = await factories.api_key(school, scopes=[Scope.GROUPS_READ])
    # when
    result = await gql(LEARNERS, await authenticate(services, secret))
    # then
    assert result.data is None
    assert [e.extensions for e in result.errors] == [{"code": "FORBIDDEN"}]


async def test_create_api_key_shows_the_key_once_and_stores_its_hash(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    # when
    created = await gql(
        CREATE_API_KEY, admin, input={"name": "Acme MIS", "scopes": ["LEARNERS_READ"]}
    )
    listed = await gql(API_KEYS, admin)
    # then
    assert created.errors is None
    payload = created.data["createApiKey"]
    secret = payload["key"]
    assert payload["errors"] == []
    assert payload["apiKey"]["prefix"] == secret[:12]
    assert payload["apiKey"]["scopes"] == ["LEARNERS_READ"]
    row = await ApiKey.get(name="Acme MIS")
    assert row.key_hash == sha256(secret)
    assert listed.errors is None
    assert listed.data["apiKeys"]["totalCount"] == 1
    assert secret.removeprefix("ppk_") not in json.dumps(listed.data)
    viewer = await authenticate(services, secret)
    assert viewer is not None
    assert viewer.kind is PrincipalKind.PARTNER
    assert viewer.school_ids == {school.id}


async def test_revoking_the_last_grant_kills_the_key_at_once(
    services: Services, gql: GraphQLRunner
) -> None:
    # given: a key two schools granted
    first = await factories.school(services)
    second = await factories.school(services)
    key, secret = await factories.api_key(first, second)
    # when: the first school withdraws
    withdrawn = await gql(
        REVOKE_API_KEY, await factories.admin_viewer(first), id=to_global_id("ApiKey", key.id)
    )
    # then: the key only reaches the second school
    assert withdrawn.data["revokeApiKey"] == {
        "apiKey": {"id": to_global_id("ApiKey", key.id), "revoked": False},
        "errors": [],
    }
    still = await authenticate(services, secret)
    assert still is not None
    assert still.school_ids == {second.id}
    # when: the second withdraws too
    await gql(
        REVOKE_API_KEY, await factories.admin_viewer(second), id=to_global_id("ApiKey", key.id)
    )
    # then
    assert await authenticate(services, secret) is None


async def test_a_device_token_authenticates_as_that_device(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    pupil = await factories.learner(services, school)
    device, token = await factories.device(school, learner_row=pupil)
    # when
    viewer = await authenticate(services, token)
    # then
    assert viewer is not None
    assert viewer.kind is PrincipalKind.DEVICE
    assert (viewer.device_id, viewer.learner_id) == (device.id, pupil.id)
    assert viewer.school_ids == {school.id}
    assert (viewer.user_id, viewer.roles, viewer.scopes) == (None, frozenset(), frozenset())
    me = await gql(VIEWER, viewer)
    assert me.data["viewer"]["kind"] == "DEVICE"
    # and a device reads no learners
    learners = await gql(LEARNERS, viewer)
    assert [e.extensions for e in learners.errors] == [{"code": "FORBIDDEN"}]


async def test_a_revoked_device_authenticates_nobody(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    device, token = await factories.device(school)
    admin = await factories.admin_viewer(school)
    # when
    result = await gql(REVOKE_DEVICE, admin, id=to_global_id("Device", device.id))
    # then
    assert result.data["revokeDevice"]["device"]["revoked"] is True
    assert await authenticate(services, token) is None


async def test_enrol_device_shows_the_token_once_and_stores_its_hash(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    # when
    enrolled = await gql(
        ENROL_DEVICE, admin, input={"name": "Trolley 3 laptop 7", "platform": "CHROMEOS"}
    )
    listed = await gql(DEVICES, admin)
    # then
    assert enrolled.errors is None
    payload = enrolled.data["enrolDevice"]
    token = payload["token"]
    assert payload["errors"] == []
    assert token.startswith("ppd_")
    assert payload["device"]["tokenPrefix"] == token[:12]
    row = (await Device.filter(name="Trolley 3 laptop 7").values())[0]
    assert row["token_hash"] == sha256(token)
    assert all(token.removeprefix("ppd_") not in str(value) for value in row.values())
    assert listed.data["devices"]["totalCount"] == 1
    assert token.removeprefix("ppd_") not in json.dumps(listed.data)
    viewer = await authenticate(services, token)
    assert viewer is not None
    assert (viewer.kind, viewer.device_id) == (PrincipalKind.DEVICE, row["id"])


async def test_only_admins_issue_keys_and_tokens(services: Services, gql: GraphQLRunner) -> None:
    # given
    school = await factories.school(services)
    teacher = await factories.staff(school, Role.TEACHER, Role.LEADER)
    viewer = factories.viewer(teacher, school, Role.TEACHER, Role.LEADER)
    # when
    key = await gql(CREATE_API_KEY, viewer, input={"name": "Sneaky", "scopes": ["LEARNERS_READ"]})
    device = await gql(ENROL_DEVICE, viewer, input={"name": "Sneaky", "platform": "WINDOWS"})
    # then
    assert [e.extensions for e in key.errors] == [{"code": "FORBIDDEN"}]
    assert [e.extensions for e in device.errors] == [{"code": "FORBIDDEN"}]
    assert not await ApiKey.exists()
    assert not await Device.exists()
