"""Server-side sessions (AUTHN-09, 11, 12): opaque tokens, timeouts, and revocation at once."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import timedelta

import pytest

from app.security.tokens import TokenKind, new_token
from models.audit import AuditEvent
from models.staff import Role, Session, User
from realtime import channels
from realtime.broker import Message, Subscription
from realtime.events import Revoked
from resolvers.auth import authenticate
from resolvers.context import Services, Viewer
from schema.common import to_global_id
from tests import factories
from tests.conftest import Clock, GraphQLRunner

LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token errors { code } }
}
"""

LOGOUT = "mutation Logout { logout }"

UPDATE_STAFF = """
mutation UpdateStaff($input: UpdateStaffInput!) {
  updateStaff(input: $input) {
    staffMember { id roles isActive }
    errors { field code message }
  }
}
"""

IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=12)
TOKEN_SHAPE = re.compile(r"pps_[A-Za-z0-9_-]{43}")


async def sign_in(gql: GraphQLRunner, user: User) -> str:
    result = await gql(LOGIN, email=user.email, password=factories.PASSWORD)
    assert result.errors is None
    assert result.data["login"]["errors"] == []
    return str(result.data["login"]["token"])


async def next_message(subscription: Subscription) -> Message:
    return await asyncio.wait_for(anext(subscription), timeout=5)


async def test_the_token_is_opaque_and_stored_only_as_its_sha256(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    user = await factories.staff(school)
    # when
    token = await sign_in(gql, user)
    again = await sign_in(gql, user)
    # then
    assert TOKEN_SHAPE.fullmatch(token)
    assert again != token
    row = await Session.get(user_id=user.id, token_hash=hashlib.sha256(token.encode()).hexdigest())
    assert row.token_hash != token
    secret = token.removeprefix("pps_")
    stored = await Session.filter(id=row.id).values()
    assert all(secret not in str(value) for value in stored[0].values())
    audit = await AuditEvent.all().values()
    assert all(secret not in str(value) for event in audit for value in event.values())


async def test_idle_time_counts_from_the_last_request(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    school = await factories.school(services)
    user = await factories.staff(school)
    token = await sign_in(gql, user)
    # when / then: one second before the idle timeout it still works (and is not touched) ...
    clock.advance(seconds=IDLE.total_seconds() - 1)
    assert services.settings.session_idle_seconds == IDLE.total_seconds()
    assert await authenticate(services, token) is not None
    # ... but that late check counted as activity, so idle is measured from it
    clock.advance(seconds=IDLE.total_seconds() + 1)
    assert await authenticate(services, token) is None


async def test_a_session_idle_for_the_timeout_plus_one_second_is_dead(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    school = await factories.school(services)
    user = await factories.staff(school)
    token = await sign_in(gql, user)
    # when
    clock.advance(seconds=IDLE.total_seconds() + 1)
    # then
    assert await authenticate(services, token) is None


async def test_activity_within_the_idle_window_keeps_a_session_alive(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    school = await factories.school(services)
    user = await factories.staff(school)
    token = await sign_in(gql, user)
    # when: a request every 29 minutes for two hours
    seen = []
    for _ in range(4):
        clock.advance(minutes=29)
        seen.append(await authenticate(services, token))
    # then
    assert all(viewer is not None and viewer.user_id == user.id for viewer in seen)
    session = await Session.get(user_id=user.id)
    assert session.last_seen_at == clock.now


async def test_last_seen_is_touched_at_most_once_a_minute(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    school = await factories.school(services)
    user = await factories.staff(school)
    token = await sign_in(gql, user)
    signed_in_at = clock.now
    # when: a request 30 seconds later is not worth a write
    clock.advance(seconds=30)
    assert await authenticate(services, token) is not None
    # then
    assert (await Session.get(user_id=user.id)).last_seen_at == signed_in_at
    # when: one a minute after sign-in is
    clock.advance(seconds=30)
    assert await authenticate(services, token) is not None
    # then
    assert (await Session.get(user_id=user.id)).last_seen_at == clock.now


async def test_the_absolute_timeout_ends_a_session_despite_activity(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given: a member of staff busy all day, a request every 20 minutes
    school = await factories.school(services)
    user = await factories.staff(school)
    token = await sign_in(gql, user)
    assert services.settings.session_absolute_seconds == ABSOLUTE.total_seconds()
    for _ in range(35):
        clock.advance(minutes=20)
        assert await authenticate(services, token) is not None
    clock.advance(minutes=19, seconds=59)  # 12 h - 1 s after sign-in
    assert await authenticate(services, token) is not None
    # when
    clock.advance(seconds=2)  # 12 h + 1 s
    # then
    assert await authenticate(services, token) is None


async def test_logout_revokes_the_session_and_tells_its_websockets(
    services: Services, gql: GraphQLRunner, clock: Clock
) -> None:
    # given
    school = await factories.school(services)
    user = await factories.staff(school)
    token = await sign_in(gql, user)
    viewer = await authenticate(services, token)
    assert viewer is not None
    assert viewer.session_id is not None
    channel = channels.revocations()
    async with services.broker.subscribe(channel) as revocations:
        # when
        result = await gql(LOGOUT, viewer)
        # then
        message = await next_message(revocations)
    assert result.errors is None
    assert result.data == {"logout": True}
    assert message.channel == channel
    assert Revoked.decode(message.data) == Revoked(sessions=[viewer.session_id])
    assert services.broker.subscriber_count(channel) == 0
    assert await authenticate(services, token) is None
    session = await Session.get(id=viewer.session_id)
    assert session.revoked_at == clock.now
    assert await AuditEvent.filter(action="auth.logout", actor_id=str(user.id)).count() == 1


async def test_logout_without_a_session_is_false(services: Services, gql: GraphQLRunner) -> None:
    # given
    school = await factories.school(services)
    # when
    anonymous = await gql(LOGOUT)
    sessionless = await gql(LOGOUT, await factories.admin_viewer(school))
    # then
    assert anonymous.data == {"logout": False}
    assert sessionless.data == {"logout": False}


async def _sessions(gql: GraphQLRunner, services: Services, user: User) -> list[tuple[str, Viewer]]:
    """Two live sessions of ``user``, as (token, viewer)."""
    pairs = []
    for _ in range(2):
        token = await sign_in(gql, user)
        viewer = await authenticate(services, token)
        assert viewer is not None
        pairs.append((token, viewer))
    return pairs


@pytest.mark.parametrize(
    "change",
    [{"roles": ["LEADER"]}, {"roles": ["TEACHER", "ADMIN"]}, {"isActive": False}],
    ids=["role replaced", "role added", "deactivated"],
)
async def test_a_privilege_change_revokes_every_session_of_that_user_at_once(
    services: Services, gql: GraphQLRunner, change: dict[str, object]
) -> None:
    # given
    school = await factories.school(services)
    admin_user = await factories.staff(school, Role.ADMIN)
    admin_token = await sign_in(gql, admin_user)
    admin = await authenticate(services, admin_token)
    teacher = await factories.staff(school, Role.TEACHER)
    sessions = await _sessions(gql, services, teacher)
    async with services.broker.subscribe(channels.revocations()) as revocations:
        # when
        result = await gql(
            UPDATE_STAFF, admin, input={"id": to_global_id("StaffMember", teacher.id), **change}
        )
        # then: every process is told to close the teacher's websockets
        message = await next_message(revocations)
    assert result.errors is None
    assert result.data["updateStaff"]["errors"] == []
    assert Revoked.decode(message.data) == Revoked(
        sessions=sorted(v.session_id for _, v in sessions if v.session_id is not None)
    )
    assert [await authenticate(services, token) for token, _ in sessions] == [None, None]
    assert await authenticate(services, admin_token) is not None


async def test_a_deactivated_user_cannot_sign_in_again(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    teacher = await factories.staff(school)
    await gql(
        UPDATE_STAFF,
        admin,
        input={"id": to_global_id("StaffMember", teacher.id), "isActive": False},
    )
    # when
    result = await gql(LOGIN, email=teacher.email, password=factories.PASSWORD)
    # then
    assert result.data["login"] == {"token": None, "errors": [{"code": "INVALID_CREDENTIALS"}]}


async def test_renaming_a_colleague_leaves_their_sessions_alone(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    teacher = await factories.staff(school)
    token = await sign_in(gql, teacher)
    # when
    result = await gql(
        UPDATE_STAFF,
        admin,
        input={"id": to_global_id("StaffMember", teacher.id), "displayName": "Ms Renamed"},
    )
    # then
    assert result.data["updateStaff"]["errors"] == []
    assert await authenticate(services, token) is not None


async def test_a_user_removed_from_their_school_is_signed_out(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    teacher = await factories.staff(school)
    token = await sign_in(gql, teacher)
    # when
    await teacher.memberships.all().delete()
    # then
    assert await authenticate(services, token) is None


async def test_a_forged_or_unknown_session_token_is_never_adopted(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    user = await factories.staff(school)
    token = await sign_in(gql, user)
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    # when
    never_issued = await authenticate(services, new_token(TokenKind.SESSION).text)
    altered = await authenticate(services, flipped)
    # then
    assert never_issued is None
    assert altered is None
    assert await authenticate(services, token) is not None


MALFORMED_TOKENS = [
    None,
    "",
    "pps_",
    "pps_tooshort",
    "pps_" + "a" * 42,
    "pps_" + "\u00e9" * 43,
    "pps_" + "a" * 300,
    " pps_" + "a" * 43,
    "Bearer pps_" + "a" * 43,
    "PPS_" + "a" * 43,
    "xyz_" + "a" * 43,
    "pps-" + "a" * 43,
    "\x00" * 64,
]


async def test_malformed_tokens_authenticate_nobody(services: Services) -> None:
    # when
    viewers = {token: await authenticate(services, token) for token in MALFORMED_TOKENS}
    # then
    assert {token: viewer for token, viewer in viewers.items() if viewer is not None} == {}


async def test_the_stored_digest_is_not_a_credential(
    services: Services, gql: GraphQLRunner
) -> None:
    # given: someone who read the session table
    school = await factories.school(services)
    user = await factories.staff(school)
    await sign_in(gql, user)
    session = await Session.get(user_id=user.id)
    # when
    as_is = await authenticate(services, session.token_hash)
    dressed_up = await authenticate(services, f"pps_{session.token_hash}")
    # then
    assert as_is is None
    assert dressed_up is None
