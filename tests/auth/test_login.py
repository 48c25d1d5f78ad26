"""Signing in (AUTHN-01..03, 05..07): argon2id floor, rehash, uniform failures, throttling."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from argon2 import PasswordHasher, Type, extract_parameters
from strawberry.types.execution import ExecutionResult

from app.config import DEMO_PASSWORD, Settings
from app.security.passwords import (
    MIN_MEMORY_COST_KIB,
    MIN_PARALLELISM,
    MIN_SALT_BYTES,
    MIN_TIME_COST,
    VerifyResult,
    password_parameters,
)
from models.audit import AuditEvent
from models.staff import Role, User
from resolvers.auth import authenticate
from resolvers.context import RequestInfo, Services
from tests import factories
from tests.conftest import FAST_HASHER, SCHEMA, TEST_IP, Clock, GraphQLRunner, context_for

LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) {
    token
    viewer { kind roles scopes id staffMember { id displayName } }
    errors { field code message }
  }
}
"""

LOGIN_SCHOOL = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) {
    token
    viewer { school { slug } }
    errors { field code message }
  }
}
"""

CREATE_STAFF = """
mutation CreateStaff($input: CreateStaffInput!) {
  createStaff(input: $input) { staffMember { id } errors { field code message } }
}
"""


def _aliased_logins(count: int) -> str:
    fields = " ".join(
        f'l{i}: login(input: {{email: "someone@example.test", password: "guess number {i}"}}) '
        "{ token errors { code } }"
        for i in range(count)
    )
    return f"mutation Guesses {{ {fields} }}"


TWO_ALIASED_LOGINS = _aliased_logins(2)
TWENTY_ALIASED_LOGINS = _aliased_logins(20)

WRONG_PASSWORD = "not the right password at all"
#: argon2id with less memory and time than the service's hasher: valid, but due for a rehash.
WEAK_HASHER = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


class VerifySpy:
    """Wraps ``PasswordService.verify``: records every stored hash it was asked to check."""

    def __init__(self, services: Services) -> None:
        self.calls: list[str | None] = []
        self._verify = services.passwords.verify

    async def __call__(self, stored_hash: str | None, password: str) -> VerifyResult:
        self.calls.append(stored_hash)
        return await self._verify(stored_hash, password)


@pytest.fixture
def verifier(services: Services, monkeypatch: pytest.MonkeyPatch) -> VerifySpy:
    spy = VerifySpy(services)
    monkeypatch.setattr(services.passwords, "verify", spy)
    return spy


async def login_from(
    services: Services,
    email: str,
    password: str,
    *,
    ip: str = TEST_IP,
    document: str = LOGIN,
) -> ExecutionResult:
    """Run a login document as an anonymous client at ``ip``."""
    ctx = context_for(services, None)
    ctx.request = RequestInfo(ip=ip, request_id="test")
    return await SCHEMA.execute(
        document, variable_values={"email": email, "password": password}, context_value=ctx
    )


def outcome(result: ExecutionResult) -> str:
    """OK, a payload error code, or a top-level error code."""
    if result.errors:
        return str(result.errors[0].extensions["code"])
    payload = result.data["login"]
    return "OK" if payload["token"] else payload["errors"][0]["code"]


def staff_input(**overrides: Any) -> dict[str, Any]:
    values = {
        "email": "new.colleague@example.test",
        "displayName": "New Colleague",
        "roles": ["TEACHER"],
        "password": "a long and unusual passphrase",
    }
    return {**values, **overrides}


async def test_correct_password_returns_a_token_and_the_viewer(
    services: Services, clock: Clock
) -> None:
    # given
    school = await factories.school(services, slug="northfield")
    user = await factories.staff(school, Role.TEACHER, Role.LEADER, email="ada@example.test")
    # when
    result = await login_from(services, "  Ada@Example.TEST ", factories.PASSWORD)
    # then
    assert result.errors is None
    payload = result.data["login"]
    assert payload["errors"] == []
    assert payload["token"].startswith("pps_")
    assert payload["viewer"]["kind"] == "STAFF"
    assert payload["viewer"]["roles"] == ["LEADER", "TEACHER"]
    assert payload["viewer"]["scopes"] == []
    assert payload["viewer"]["staffMember"]["displayName"] == user.display_name
    assert payload["viewer"]["id"] == payload["viewer"]["staffMember"]["id"]
    viewer = await authenticate(services, payload["token"])
    assert viewer is not None
    assert (viewer.user_id, viewer.school_id) == (user.id, school.id)
    assert viewer.roles == {Role.TEACHER, Role.LEADER}
    await user.refresh_from_db()
    assert user.last_login_at == clock.now


async def test_the_login_payload_viewer_reads_its_school(services: Services) -> None:
    # given
    school = await factories.school(services, slug="southfield")
    user = await factories.staff(school)
    # when: the request is still anonymous while `login` resolves
    result = await login_from(services, user.email, factories.PASSWORD, document=LOGIN_SCHOOL)
    # then
    assert result.errors is None
    assert result.data["login"]["viewer"] == {"school": {"slug": "southfield"}}


async def test_stored_hashes_are_argon2id_at_or_above_the_owasp_floor(
    services: Services, gql: GraphQLRunner
) -> None:
    # given: one account created through the API, one signed in with (and maybe rehashed)
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    created = await gql(CREATE_STAFF, admin, input=staff_input())
    assert created.data["createStaff"]["errors"] == []
    signed_in = await factories.staff(school, email="signed.in@example.test")
    await login_from(services, signed_in.email, factories.PASSWORD)
    # when
    stored = await User.all().values_list("password_hash", flat=True)
    # then
    assert len(stored) == 3
    for password_hash in stored:
        assert password_hash.startswith("$argon2id$v=19$")
        params = extract_parameters(password_hash)
        assert params.type is Type.ID
        assert params.memory_cost >= MIN_MEMORY_COST_KIB
        assert params.time_cost >= MIN_TIME_COST
        assert params.parallelism >= MIN_PARALLELISM
        assert params.salt_len >= MIN_SALT_BYTES
        assert params.hash_len >= 32
        assert "passphrase" not in password_hash


async def test_a_weaker_hash_is_replaced_with_the_policy_parameters_on_login(
    services: Services,
) -> None:
    # given
    school = await factories.school(services)
    weak = WEAK_HASHER.hash(factories.PASSWORD)
    user = await factories.staff(school, password_hash=weak)
    assert password_parameters(weak) == (8192, 1, 1)
    # when
    result = await login_from(services, user.email, factories.PASSWORD)
    # then
    assert outcome(result) == "OK"
    await user.refresh_from_db()
    assert user.password_hash != weak
    policy = (FAST_HASHER.memory_cost, FAST_HASHER.time_cost, FAST_HASHER.parallelism)
    assert password_parameters(user.password_hash) == policy
    assert FAST_HASHER.verify(user.password_hash, factories.PASSWORD)
    # and the new hash signs in again without another rehash
    again = await login_from(services, user.email, factories.PASSWORD)
    assert outcome(again) == "OK"
    rehashed = user.password_hash
    await user.refresh_from_db()
    assert user.password_hash == rehashed


async def test_a_failed_login_never_rehashes(services: Services) -> None:
    # given
    school = await factories.school(services)
    weak = WEAK_HASHER.hash(factories.PASSWORD)
    user = await factories.staff(school, password_hash=weak)
    # when
    result = await login_from(services, user.email, WRONG_PASSWORD)
    # then
    assert outcome(result) == "INVALID_CREDENTIALS"
    await user.refresh_from_db()
    assert user.password_hash == weak


async def test_every_kind_of_bad_credentials_gets_the_same_bytes_after_a_verify(
    services: Services, verifier: VerifySpy
) -> None:
    # given
    school = await factories.school(services)
    known = await factories.staff(school, email="known@example.test")
    await factories.staff(school, email="gone@example.test")
    await User.filter(email="gone@example.test").update(is_active=False)
    await factories.staff(
        school, email="demo@example.test", password_hash=FAST_HASHER.hash(DEMO_PASSWORD)
    )
    await factories.staff(school, email="corrupt@example.test", password_hash="$argon2id$oops")
    homeless = await User.create(
        email="homeless@example.test",
        display_name="No School",
        password_hash=FAST_HASHER.hash(factories.PASSWORD),
    )
    attempts = {
        "unknown account": ("nobody@example.test", factories.PASSWORD),
        "wrong password": (known.email, WRONG_PASSWORD),
        "deactivated account": ("gone@example.test", factories.PASSWORD),
        "demo password outside demo mode": ("demo@example.test", DEMO_PASSWORD),
        "corrupt stored hash": ("corrupt@example.test", factories.PASSWORD),
        "account without a school": (homeless.email, factories.PASSWORD),
    }
    # when
    bodies = {}
    for case, (email, password) in attempts.items():
        before = len(verifier.calls)
        result = await login_from(services, email, password)
        # then: every case paid for one password verification
        assert len(verifier.calls) == before + 1, case
        assert result.errors is None, case
        bodies[case] = json.dumps(result.data, sort_keys=True)
    # then
    reference = bodies["unknown account"]
    assert json.loads(reference)["login"] == {
        "token": None,
        "viewer": None,
        "errors": [
            {
                "field": None,
                "code": "INVALID_CREDENTIALS",
                "message": "Email or password is incorrect.",
            }
        ],
    }
    assert {case: body for case, body in bodies.items() if body != reference} == {}
    assert verifier.calls[0] is None  # the unknown account verified against the dummy hash


async def test_the_demo_password_works_in_demo_mode_only(
    services: Services, settings: Settings
) -> None:
    # given
    school = await factories.school(services)
    demo = await factories.staff(school, password_hash=FAST_HASHER.hash(DEMO_PASSWORD))
    refused = await login_from(services, demo.email, DEMO_PASSWORD)
    services.settings = dataclasses.replace(settings, demo=True)
    # when
    accepted = await login_from(services, demo.email, DEMO_PASSWORD)
    # then
    assert outcome(refused) == "INVALID_CREDENTIALS"
    assert outcome(accepted) == "OK"


@pytest.mark.usefixtures("throttle")
async def test_after_five_failures_even_the_right_password_waits_with_growing_backoff(
    services: Services, clock: Clock, verifier: VerifySpy
) -> None:
    # given
    school = await factories.school(services)
    user = await factories.staff(school)
    for _ in range(5):
        assert outcome(await login_from(services, user.email, WRONG_PASSWORD)) == (
            "INVALID_CREDENTIALS"
        )
    verified = len(verifier.calls)
    # when
    limited = await login_from(services, user.email, factories.PASSWORD)
    # then: refused before the password is even looked at
    assert limited.data is None
    assert [e.extensions for e in limited.errors] == [{"code": "RATE_LIMITED", "retryAfter": 1}]
    assert len(verifier.calls) == verified
    # when the backoff passes, a sixth failure doubles it
    clock.advance(seconds=1)
    assert outcome(await login_from(services, user.email, WRONG_PASSWORD)) == (
        "INVALID_CREDENTIALS"
    )
    doubled = await login_from(services, user.email, factories.PASSWORD)
    assert doubled.errors[0].extensions == {"code": "RATE_LIMITED", "retryAfter": 2}
    clock.advance(seconds=1)
    assert outcome(await login_from(services, user.email, factories.PASSWORD)) == "RATE_LIMITED"
    # then the right password gets in once the wait is over, and success clears the account
    clock.advance(seconds=1)
    assert outcome(await login_from(services, user.email, factories.PASSWORD)) == "OK"
    assert outcome(await login_from(services, user.email, WRONG_PASSWORD)) == (
        "INVALID_CREDENTIALS"
    )


@pytest.mark.usefixtures("throttle")
async def test_101_failures_from_rotating_addresses_are_blocked_per_account(
    services: Services, clock: Clock, verifier: VerifySpy
) -> None:
    # given
    school = await factories.school(services)
    user = await factories.staff(school)
    # when: every guess comes from a fresh address
    outcomes = [
        outcome(await login_from(services, user.email, f"guess {i:03d}", ip=f"198.51.100.{i}"))
        for i in range(1, 102)
    ]
    # then: only the free failures reached the password hasher
    assert outcomes == ["INVALID_CREDENTIALS"] * 5 + ["RATE_LIMITED"] * 96
    assert len(verifier.calls) == 5
    owner = await login_from(services, user.email, factories.PASSWORD, ip="192.0.2.10")
    assert outcome(owner) == "RATE_LIMITED"
    # and there is no permanent lockout: the owner gets in after the backoff
    clock.advance(seconds=owner.errors[0].extensions["retryAfter"])
    assert outcome(await login_from(services, user.email, factories.PASSWORD, ip="192.0.2.10")) == (
        "OK"
    )


@pytest.mark.usefixtures("throttle")
@pytest.mark.parametrize("document", [TWO_ALIASED_LOGINS, TWENTY_ALIASED_LOGINS])
async def test_a_document_with_several_logins_is_refused_before_execution(
    services: Services, gql: GraphQLRunner, verifier: VerifySpy, document: str
) -> None:
    # given
    school = await factories.school(services)
    user = await factories.staff(school, email="someone@example.test")
    # when
    result = await gql(document)
    # then
    assert result.data is None
    assert [e.message for e in result.errors] == ["Only one login per request."]
    assert verifier.calls == []
    assert not await AuditEvent.filter(action__startswith="auth.").exists()
    # and no failure was counted: five more wrong guesses are still free
    for _ in range(5):
        assert outcome(await login_from(services, user.email, WRONG_PASSWORD)) == (
            "INVALID_CREDENTIALS"
        )


@pytest.mark.usefixtures("throttle")
async def test_unknown_accounts_are_throttled_exactly_like_known_ones(
    services: Services,
) -> None:
    # given
    school = await factories.school(services)
    user = await factories.staff(school)
    # when
    known = [await login_from(services, user.email, WRONG_PASSWORD, ip="192.0.2.1")]
    unknown = [await login_from(services, "ghost@example.test", WRONG_PASSWORD, ip="192.0.2.2")]
    for _ in range(6):
        known.append(await login_from(services, user.email, WRONG_PASSWORD, ip="192.0.2.1"))
        unknown.append(
            await login_from(services, "ghost@example.test", WRONG_PASSWORD, ip="192.0.2.2")
        )
    # then
    assert [outcome(r) for r in known] == ["INVALID_CREDENTIALS"] * 5 + ["RATE_LIMITED"] * 2
    assert [outcome(r) for r in unknown] == [outcome(r) for r in known]
    assert [r.data for r in unknown] == [r.data for r in known]
    assert [e.formatted for r in unknown for e in r.errors or []] == [
        e.formatted for r in known for e in r.errors or []
    ]


@pytest.mark.parametrize(
    ("email", "password", "field"),
    [
        ("", factories.PASSWORD, "email"),
        ("   ", factories.PASSWORD, "email"),
        ("a" * 242 + "@example.test", factories.PASSWORD, "email"),  # 255 characters
        ("someone@example.test", "", "password"),
        ("someone@example.test", "p" * 129, "password"),
    ],
    ids=["blank email", "spaces", "email over 254", "blank password", "password over 128"],
)
async def test_invalid_input_is_a_payload_error_naming_the_field(
    services: Services, verifier: VerifySpy, email: str, password: str, field: str
) -> None:
    # when
    result = await login_from(services, email, password)
    # then
    assert result.errors is None
    payload = result.data["login"]
    assert payload["token"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(field, "INVALID")]
    assert verifier.calls == []


@pytest.mark.parametrize(
    ("email", "password"),
    [("a" * 241 + "@example.test", factories.PASSWORD), ("someone@example.test", "p" * 128)],
    ids=["email of 254", "password of 128"],
)
async def test_inputs_at_the_limits_are_checked_like_any_other(
    services: Services, verifier: VerifySpy, email: str, password: str
) -> None:
    # when
    result = await login_from(services, email, password)
    # then
    assert outcome(result) == "INVALID_CREDENTIALS"
    assert len(verifier.calls) == 1
