"""Set-password links: invitations, resets, expiry, single use, sessions ended (AUTHN-07, -12)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from strawberry.types.execution import ExecutionResult
from tortoise.connection import get_connection

from app.config import DEMO_PASSWORD
from app.security.throttle import Throttle
from app.security.tokens import TokenKind, hash_token, new_token
from models.credentials import CredentialPurpose, CredentialToken
from models.schools import School
from models.staff import Role, Session, User
from resolvers.auth import authenticate
from resolvers.context import Services, Viewer
from schema.common import to_global_id
from tests import factories
from tests.auth.mail_helpers import body_of, token_in
from tests.conftest import Clock, GraphQLRunner
from tests.mail_server import smtp_server

INVITE = """
mutation Invite($staffId: ID!) {
  inviteStaff(input: {staffId: $staffId}) { link expiresAt emailed errors { field code message } }
}
"""
REQUEST_RESET = """
mutation Reset($email: String!) {
  requestPasswordReset(input: {email: $email}) { ok errors { field code message } }
}
"""
SET_PASSWORD = """
mutation SetPassword($token: String!, $password: String!) {
  setPassword(input: {token: $token, password: $password}) { ok errors { field code message } }
}
"""
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token errors { code } }
}
"""
CREATE_STAFF = """
mutation CreateStaff($input: CreateStaffInput!) {
  createStaff(input: $input) { staffMember { id } errors { field code } }
}
"""

NEW_PASSWORD = "a quiet lighthouse by the sea"
INVALID = {
    "field": "token",
    "code": "INVALID_TOKEN",
    "message": "This link is invalid or has expired.",
}


@dataclasses.dataclass(frozen=True)
class Staffroom:
    school: School
    admin: Viewer
    colleague: User


@pytest.fixture
async def staffroom(services: Services) -> Staffroom:
    school = await factories.school(services, name="Southgate Academy")
    colleague = await factories.staff(school, Role.TEACHER, email="colleague@example.test")
    return Staffroom(school, await factories.admin_viewer(school), colleague)


def staff_id(user: User) -> str:
    return str(to_global_id("StaffMember", user.id))


async def invite(gql: GraphQLRunner, room: Staffroom, user: User | None = None) -> dict[str, Any]:
    result = await gql(INVITE, room.admin, staffId=staff_id(user or room.colleague))
    assert result.errors is None, result.errors
    payload: dict[str, Any] = result.data["inviteStaff"]
    assert payload["errors"] == []
    return payload


def token_of(link: str) -> str:
    return link.partition("#token=")[2]


async def set_password(gql: GraphQLRunner, token: str, password: str = NEW_PASSWORD) -> Any:
    result = await gql(SET_PASSWORD, None, token=token, password=password)
    assert result.errors is None, result.errors
    return result.data["setPassword"]


async def login(gql: GraphQLRunner, email: str, password: str) -> ExecutionResult:
    return await gql(LOGIN, None, email=email, password=password)


def signed_in(result: ExecutionResult) -> bool:
    assert result.errors is None, result.errors
    return result.data["login"]["token"] is not None


async def test_an_invited_colleague_chooses_a_password_and_signs_in_with_it(
    services: Services, gql: GraphQLRunner, staffroom: Staffroom
) -> None:
    # given: an account made without a password, which nothing can sign in to
    created = await gql(
        CREATE_STAFF,
        staffroom.admin,
        input={"email": "newcomer@example.test", "displayName": "Newcomer", "roles": ["TEACHER"]},
    )
    assert created.data["createStaff"]["errors"] == []
    newcomer = await User.get(email="newcomer@example.test")
    assert not signed_in(await login(gql, newcomer.email, NEW_PASSWORD))
    # when
    invitation = await invite(gql, staffroom, newcomer)
    outcome = await set_password(gql, token_of(invitation["link"]))
    # then
    assert outcome == {"ok": True, "errors": []}
    assert invitation["link"].startswith(f"{services.settings.public_url}/set-password#token=ppc_")
    assert invitation["emailed"] is False
    assert signed_in(await login(gql, newcomer.email, NEW_PASSWORD))


async def test_setting_a_password_ends_every_session_and_the_old_password(
    services: Services, gql: GraphQLRunner, staffroom: Staffroom
) -> None:
    # given: the colleague is signed in twice with their old password
    email = staffroom.colleague.email
    first = (await login(gql, email, factories.PASSWORD)).data["login"]["token"]
    second = (await login(gql, email, factories.PASSWORD)).data["login"]["token"]
    invitation = await invite(gql, staffroom)
    # when
    outcome = await set_password(gql, token_of(invitation["link"]))
    # then
    assert outcome["ok"] is True
    assert await authenticate(services, first) is None
    assert await authenticate(services, second) is None
    assert await Session.filter(user_id=staffroom.colleague.id, revoked_at=None).count() == 0
    assert not signed_in(await login(gql, email, factories.PASSWORD))
    assert signed_in(await login(gql, email, NEW_PASSWORD))


async def test_an_invitation_is_emailed_to_the_colleague_when_smtp_is_configured(
    services: Services, gql: GraphQLRunner, staffroom: Staffroom
) -> None:
    async with smtp_server(services) as inbox:
        # when
        invitation = await invite(gql, staffroom)
        # then
        [message] = inbox.to(staffroom.colleague.email)
    assert invitation["emailed"] is True
    assert invitation["link"] in body_of(message)
    assert "Southgate Academy" in message["Subject"]
    assert len(inbox.messages) == 1


async def test_a_link_works_once(gql: GraphQLRunner, staffroom: Staffroom) -> None:
    # given
    token = token_of((await invite(gql, staffroom))["link"])
    assert (await set_password(gql, token))["ok"] is True
    # when
    again = await set_password(gql, token, "another quiet lighthouse")
    # then
    assert again == {"ok": False, "errors": [INVALID]}
    assert signed_in(await login(gql, staffroom.colleague.email, NEW_PASSWORD))


async def test_a_second_invitation_voids_the_first(
    gql: GraphQLRunner, staffroom: Staffroom
) -> None:
    # given
    first = token_of((await invite(gql, staffroom))["link"])
    second = token_of((await invite(gql, staffroom))["link"])
    # when
    with_first = await set_password(gql, first)
    with_second = await set_password(gql, second)
    # then
    assert with_first == {"ok": False, "errors": [INVALID]}
    assert with_second == {"ok": True, "errors": []}


@pytest.mark.parametrize(
    ("purpose", "lifetime"),
    [(CredentialPurpose.INVITE, {"days": 7}), (CredentialPurpose.RESET, {"hours": 1})],
)
async def test_a_link_expires_after_its_lifetime(
    services: Services,
    gql: GraphQLRunner,
    staffroom: Staffroom,
    clock: Clock,
    purpose: CredentialPurpose,
    lifetime: dict[str, float],
) -> None:
    # given: two links of the purpose, one used a second before its end, one at its end
    email = staffroom.colleague.email
    tokens = []
    for _ in range(2):
        if purpose is CredentialPurpose.INVITE:
            tokens.append(token_of((await invite(gql, staffroom))["link"]))
        else:
            async with smtp_server(services) as inbox:
                await gql(REQUEST_RESET, None, email=email)
                tokens.append(token_in(await inbox.wait_for(email)))
    # when: the clock reaches the later link's last second, then its end
    clock.advance(**lifetime)
    clock.advance(seconds=-1)
    just_in_time = await set_password(gql, tokens[1])
    await CredentialToken.filter(token_hash=hash_token(tokens[1])).update(used_at=None)
    clock.advance(seconds=1)
    too_late = await set_password(gql, tokens[1], "yet another quiet lighthouse")
    # then
    assert just_in_time == {"ok": True, "errors": []}
    assert too_late == {"ok": False, "errors": [INVALID]}
    row = await CredentialToken.get(token_hash=hash_token(tokens[1]))
    assert row.purpose is purpose


async def test_unknown_and_foreign_tokens_get_the_same_answer(
    services: Services, gql: GraphQLRunner, staffroom: Staffroom
) -> None:
    # given: a session token (wrong kind), a well-formed unknown link and garbage
    session = (await login(gql, staffroom.colleague.email, factories.PASSWORD)).data["login"]
    unknown = new_token(TokenKind.CREDENTIAL).text
    # when
    answers = [await set_password(gql, t) for t in (session["token"], unknown, "nonsense", "")]
    # then
    assert answers == [{"ok": False, "errors": [INVALID]}] * 4
    assert signed_in(await login(gql, staffroom.colleague.email, factories.PASSWORD))


@pytest.mark.parametrize("password", ["too short", "password1234", "x" * 129, DEMO_PASSWORD])
async def test_a_weak_password_is_refused_and_the_link_still_works(
    gql: GraphQLRunner, staffroom: Staffroom, password: str
) -> None:
    # given
    token = token_of((await invite(gql, staffroom))["link"])
    # when
    refused = await set_password(gql, token, password)
    # then
    assert refused["ok"] is False
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [("password", "WEAK_PASSWORD")]
    assert (await set_password(gql, token))["ok"] is True


async def test_a_reset_answers_the_same_for_unknown_addresses_and_mails_only_real_ones(
    services: Services, gql: GraphQLRunner, staffroom: Staffroom
) -> None:
    # given
    email = staffroom.colleague.email
    async with smtp_server(services) as inbox:
        # when
        known = await gql(REQUEST_RESET, None, email=email)
        unknown = await gql(REQUEST_RESET, None, email="nobody@example.test")
        message = await inbox.wait_for(email)
        # then: identical responses, one message, to the real account
        assert known.errors is None
        assert (known.data, known.errors, known.extensions) == (
            unknown.data,
            unknown.errors,
            unknown.extensions,
        )
        assert known.data == {"requestPasswordReset": {"ok": True, "errors": []}}
        assert [rcpts for rcpts, _ in inbox.messages] == [[email]]
    # and the link sets the password
    assert (await set_password(gql, token_in(message)))["ok"] is True
    assert signed_in(await login(gql, email, NEW_PASSWORD))


async def test_no_reset_mail_for_a_deactivated_account(
    services: Services, gql: GraphQLRunner, staffroom: Staffroom
) -> None:
    # given
    await User.filter(id=staffroom.colleague.id).update(is_active=False)
    async with smtp_server(services) as inbox:
        # when
        result = await gql(REQUEST_RESET, None, email=staffroom.colleague.email)
        # then: the usual answer, no link issued, nothing sent
        assert result.data == {"requestPasswordReset": {"ok": True, "errors": []}}
        assert await CredentialToken.filter(user_id=staffroom.colleague.id).count() == 0
    assert inbox.messages == []


async def test_reset_requests_are_throttled_alike_for_known_and_unknown_addresses(
    gql: GraphQLRunner, staffroom: Staffroom, throttle: Throttle, clock: Clock
) -> None:
    # given: the free requests of each address are used up (no SMTP: nothing is sent)
    codes: dict[str, list[str]] = {}
    for email in (staffroom.colleague.email, "nobody@example.test"):
        codes[email] = []
        for _ in range(7):
            result = await gql(REQUEST_RESET, None, email=email)
            codes[email].append(str(result.errors[0].extensions["code"]) if result.errors else "OK")
    # then: five free requests, then a backoff, the same for both
    assert codes[staffroom.colleague.email] == ["OK"] * 5 + ["RATE_LIMITED"] * 2
    assert codes["nobody@example.test"] == codes[staffroom.colleague.email]
    # and logins to the account are not held back by reset requests
    assert signed_in(await login(gql, staffroom.colleague.email, factories.PASSWORD))
    clock.advance(seconds=2)
    assert (await gql(REQUEST_RESET, None, email=staffroom.colleague.email)).errors is None


async def test_tokens_are_stored_hashed_and_never_reach_the_audit_trail(
    services: Services, gql: GraphQLRunner, staffroom: Staffroom
) -> None:
    # given
    email = staffroom.colleague.email
    invited = token_of((await invite(gql, staffroom))["link"])
    async with smtp_server(services) as inbox:
        await gql(REQUEST_RESET, None, email=email)
        await gql(REQUEST_RESET, None, email="nobody@example.test")
        reset = token_in(await inbox.wait_for(email))
    await set_password(gql, reset)
    # when
    connection = get_connection("default")
    stored = await connection.execute_query_dict("SELECT * FROM credential_token ORDER BY id")
    audit = await connection.execute_query_dict("SELECT * FROM audit_event ORDER BY id")
    # then
    assert [row["token_hash"] for row in stored] == [hash_token(invited), hash_token(reset)]
    for secret in (invited, reset, invited[4:], reset[4:], email, "nobody@example.test"):
        assert secret not in repr(stored + audit)
    actions = [row["action"] for row in audit]
    assert "staff.invite" in actions
    assert actions.count("auth.password_reset_requested") == 2
    assert "auth.password_reset" in actions
    outcomes = [r["outcome"] for r in audit if r["action"] == "auth.password_reset_requested"]
    assert outcomes == ["success", "failure"]


async def test_inviting_a_deactivated_colleague_is_refused(
    gql: GraphQLRunner, staffroom: Staffroom
) -> None:
    # given
    await User.filter(id=staffroom.colleague.id).update(is_active=False)
    # when
    result = await gql(INVITE, staffroom.admin, staffId=staff_id(staffroom.colleague))
    # then
    assert result.data["inviteStaff"]["link"] is None
    assert [e["code"] for e in result.data["inviteStaff"]["errors"]] == ["INACTIVE"]
    assert await CredentialToken.filter(user_id=staffroom.colleague.id).count() == 0
