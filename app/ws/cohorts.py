"""Multiplexed subscriptions: one execution and one serialisation per event, fanned out.

Subscribers with the same document, variables and permission scope (school, principal kind,
roles) share a cohort. The cohort runs the subscription once, serialises each result once, and
each subscriber's frame is its own prefix plus those shared bytes. Whether each subscriber may
still watch is checked for every delivered event (a dict hit while the grant is fresh), at once
when the school's access changes, and every half minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    parse,
)
from graphql.language import StringValueNode
from strawberry.types.execution import PreExecutionError

from app.errors import PublicError
from app.ws import frames
from app.ws.connection import WRITER_TURN_AT
from realtime import channels
from realtime.broker import BrokerError
from resolvers.context import Context
from schema import hardening_rules
from schema.classroom.activity_document import ActivityDocuments
from schema.common import parse_int_id

if TYPE_CHECKING:
    from app.ws.connection import Connection
    from app.ws.hub import Hub

log = logging.getLogger("pupil_progress.ws")
MULTIPLEXED_FIELD = "classroomActivity"
RECHECK_SECONDS = 30.0
REVOKED = "You can no longer watch this class."


@functools.lru_cache(maxsize=256)
def _parsed(query: str) -> Any:
    try:
        return parse(query, max_tokens=1000)
    except GraphQLError:
        return None


def shared_group(query: str, name: str | None, variables: dict[str, Any]) -> int | None:
    """The group id if this is a plain `classroomActivity` subscription, else None."""
    document = _parsed(query)
    if document is None:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if name is None or (o.name and o.name.value == name)]
    if len(chosen) != 1 or len(document.definitions) != 1:
        return None
    operation = chosen[0]
    selections = operation.selection_set.selections
    if operation.operation is not OperationType.SUBSCRIPTION or len(selections) != 1:
        return None
    root = selections[0]
    if not isinstance(root, FieldNode) or root.name.value != MULTIPLEXED_FIELD or root.directives:
        return None
    for argument in root.arguments or ():
        if argument.name.value != "groupId":
            continue
        value = argument.value
        raw = (
            variables.get(value.name.value)
            if isinstance(value, VariableNode)
            else value.value
            if isinstance(value, StringValueNode)
            else None
        )
        if isinstance(raw, str):
            with contextlib.suppress(PublicError):
                return parse_int_id(raw, "Group", "groupId")
    return None


def _error_frame(operation_id: str, *, errors: list[dict[str, Any]]) -> str:
    return frames.error_frame(operation_id, errors)


@dataclass(eq=False, slots=True)
class Member:
    connection: Connection
    operation_id: str
    cohort: Cohort
    prefix: str


@dataclass(eq=False)
class Cohort:
    key: tuple[Any, ...]
    query: str
    variables: dict[str, Any]
    name: str | None
    group_id: int
    school_id: int
    context: Context
    members: dict[Member, None] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None


class Cohorts:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._cohorts: dict[tuple[Any, ...], Cohort] = {}
        self.deliveries = 0
        limits = hub.services.settings.limits
        #: The usual documents, answered without GraphQL execution (the same bytes).
        self.activity = ActivityDocuments(
            hub.schema,
            dumps=frames.dumps,
            max_chars=limits.max_query_chars,
            max_tokens=limits.max_tokens,
            rules=hardening_rules(limits, introspection=False),
        )

    async def join(
        self,
        connection: Connection,
        operation_id: str,
        query: str,
        variables: dict[str, Any],
        name: str | None,
    ) -> Member | None:
        """Join (or start) the cohort for this subscription; None when it is not shareable
        or the viewer may not watch (the ordinary path then answers with the error)."""
        group_id = shared_group(query, name, variables)
        viewer = connection.viewer
        if group_id is None or viewer is None:
            return None
        try:
            await self.hub.services.watch.check(connection.context, group_id)
        except PublicError:
            return None
        key = (
            query,
            name,
            frames.dumps(sorted(variables.items())),
            viewer.school_id,
            viewer.kind,
            tuple(sorted(viewer.roles)),
            group_id,
        )
        cohort = self._cohorts.get(key)
        if cohort is None:
            shared = Context(
                self.hub.services,
                viewer=viewer,
                request=connection.context.request,
                cache_loaders=False,
                multiplexed=True,
            )
            cohort = Cohort(key, query, variables, name, group_id, viewer.school_id, shared)
            self._cohorts[key] = cohort
            cohort.task = asyncio.create_task(self._run(cohort))
        member = Member(connection, operation_id, cohort, frames.next_prefix(operation_id))
        cohort.members[member] = None
        connection.operations[operation_id] = member
        return member

    def leave(self, member: Member) -> None:
        cohort = member.cohort
        cohort.members.pop(member, None)
        if not cohort.members and self._cohorts.get(cohort.key) is cohort:
            del self._cohorts[cohort.key]
            if cohort.task is not None:
                cohort.task.cancel()

    def _end(self, member: Member, frame: str) -> None:
        self.leave(member)
        member.connection.finished(member.operation_id, frame)

    def _end_all(self, cohort: Cohort, frame_for: Any) -> None:
        for member in list(cohort.members):
            self._end(member, frame_for(member.operation_id))

    async def _run(self, cohort: Cohort) -> None:
        guard = asyncio.create_task(self._guard(cohort))
        try:
            stream = await self._results(cohort)
            async with contextlib.aclosing(stream):
                async for result in stream:
                    if isinstance(result, str):
                        payload = result
                    else:
                        errors = [dict(e.formatted) for e in getattr(result, "errors", None) or []]
                        if isinstance(result, PreExecutionError) or (
                            errors and getattr(result, "data", None) is None
                        ):
                            self._end_all(cohort, functools.partial(_error_frame, errors=errors))
                            return
                        payload = frames.dumps(frames.result_payload(result))
                    if await self._deliver(cohort, payload) >= WRITER_TURN_AT:
                        await asyncio.sleep(0)  # let the writers drain (WRITER_TURN_AT)
            self._end_all(cohort, frames.complete_frame)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("shared subscription failed")
            error = [frames.public_error("Unexpected error.", "INTERNAL")]
            self._end_all(cohort, lambda op: frames.error_frame(op, error))
        finally:
            guard.cancel()
            if self._cohorts.get(cohort.key) is cohort:
                del self._cohorts[cohort.key]

    async def _results(self, cohort: Cohort) -> AsyncGenerator[str | Any, None]:
        """The cohort's payload texts (or results, where they carry errors): straight from the
        use case for the usual documents, else through GraphQL."""
        shape = self.activity.shape(cohort.query, cohort.name)
        if shape is not None:
            return self.activity.stream(shape, cohort.context, cohort.group_id)
        return await self.hub.schema.stream(
            cohort.query,
            variable_values=cohort.variables,
            context_value=cohort.context,
            operation_name=cohort.name,
        )

    async def _deliver(self, cohort: Cohort, payload: str) -> int:
        """Push the event to every member still allowed; the longest outbox after it."""
        backlog = 0
        watch = self.hub.services.watch
        suffix = payload + "}"
        # Members share the school, principal kind and roles (the cohort key), so a grant can
        # differ only by user: look it up once per user and event. Nothing can change it
        # without an await, and after one (a real check) the answers are looked up afresh.
        fresh: dict[int | None, bool] = {}
        for member in list(cohort.members):
            context = member.connection.context
            user = context.viewer.user_id if context.viewer is not None else None
            allowed = fresh.get(user)
            if allowed is None:
                allowed = fresh[user] = watch.cached(context, cohort.group_id)
            if not allowed:
                try:
                    await watch.check(context, cohort.group_id)
                except PublicError:
                    fresh.clear()
                    self._revoke(member)
                    continue
                fresh.clear()
                fresh[user] = True
            member.connection.push(member.prefix + suffix)
            backlog = max(backlog, member.connection.backlog)
        self.deliveries += len(cohort.members)
        return backlog

    def _revoke(self, member: Member) -> None:
        self._end(
            member,
            frames.error_frame(member.operation_id, [frames.public_error(REVOKED, "FORBIDDEN")]),
        )

    async def _recheck(self, cohort: Cohort) -> None:
        watch = self.hub.services.watch
        # One fresh check per user (a grant differs only by user within a cohort); the user's
        # other members then find that fresh grant, or check again if it was dropped meanwhile.
        checked: set[int | None] = set()
        for member in list(cohort.members):
            context = member.connection.context
            user = context.viewer.user_id if context.viewer is not None else None
            try:
                await watch.check(context, cohort.group_id, fresh=user not in checked)
            except PublicError:
                self._revoke(member)
                continue
            checked.add(user)

    async def _guard(self, cohort: Cohort) -> None:
        """Re-check every member when the school's access changes, and every half minute."""
        broker = self.hub.services.broker
        while True:
            try:
                async with broker.subscribe(channels.access(cohort.school_id)) as changes:
                    while True:
                        with contextlib.suppress(TimeoutError):
                            async with asyncio.timeout(RECHECK_SECONDS):
                                await anext(changes)
                        await self._recheck(cohort)
            except BrokerError:
                await asyncio.sleep(1.0)
                await self._recheck(cohort)

    async def aclose(self) -> None:
        for cohort in list(self._cohorts.values()):
            if cohort.task is not None:
                cohort.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await cohort.task
        self._cohorts.clear()


__all__ = ["Cohorts", "Member", "shared_group"]
