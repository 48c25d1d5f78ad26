"""One connected session of a device agent: command stream, acknowledgements, reports."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any

from agent.errors import ConnectionLost, OperationError, OperationTimeout, ProtocolError
from agent.protocol import GraphQLWebSocket, Operation

if TYPE_CHECKING:
    from agent.device import DeviceAgent

COMMANDS_ID = "commands"
COMMANDS_QUERY = (
    "subscription { deviceCommands { id kind url message expiresAt policy { version mode "
    "lessonEndsAt allowDomains allowUrlPrefixes allowApps blockDomains blockUrlPrefixes "
    "blockApps } } }"
)
ACK_MUTATION = (
    "mutation Ack($ids: [ID!]!) { acknowledgeDeviceCommands(ids: $ids) "
    "{ acknowledged errors { field code message } } }"
)
REPORT_MUTATION = (
    "mutation Report($input: ReportActivityInput!) { reportActivity(input: $input) "
    "{ results { eventId status blocked reason } errors { field code message } } }"
)
SETTLED = frozenset({"ACCEPTED", "DUPLICATE", "REJECTED"})
#: A payload error's ``field`` naming one event of the batch, e.g. ``events.3.thumbnail``.
EVENT_FIELD = re.compile(r"(?:^|\.)events\.(\d+)(?:\.|$)")
MAX_ACK_IDS = 100
AUTH_CODES = frozenset({"UNAUTHENTICATED", "FORBIDDEN"})
#: How long a final flush on shutdown may take.
STOP_FLUSH_TIMEOUT = 5.0

log = logging.getLogger(__name__)


def check_credentials(errors: Any) -> None:
    """Top-level errors saying our token no longer counts (revoked device) end the socket.

    Resubscribing on the same socket would fail the same way forever; a fresh connection
    lets the server refuse the token at ``connection_init`` (4403), which stops the agent.
    """
    for error in errors if isinstance(errors, list) else []:
        code = ((error.get("extensions") or {}) if isinstance(error, dict) else {}).get("code")
        if code in AUTH_CODES:
            raise ConnectionLost(f"server says {code}: {error_text([error])}; reconnecting")


def error_text(errors: Any) -> str:
    if not isinstance(errors, list):
        return ""
    return "; ".join(
        str(e.get("message") or e.get("code") or e) if isinstance(e, dict) else str(e)
        for e in errors
    )


class Session:
    """Three loops over one socket; the first failure ends them all (and the socket)."""

    def __init__(self, agent: DeviceAgent, conn: GraphQLWebSocket) -> None:
        self.agent, self.conn = agent, conn

    async def send(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """Run a mutation over the socket, no faster than the server allows."""
        wait = self.agent.pacer.delay()
        if wait:
            await asyncio.sleep(wait)  # real time: the server's limit is in real seconds
        return await self.conn.execute(query, variables, time_limit=self.agent.request_timeout)

    async def run(self) -> None:
        """Return when the agent stops; raise the connection's failure otherwise."""
        reports = asyncio.create_task(self.report())
        tasks = [
            asyncio.create_task(self.commands()),
            asyncio.create_task(self.acknowledge()),
            reports,
        ]
        watched: list[asyncio.Future[Any]] = [*tasks, self.conn.closed]
        try:
            done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                if task in done and (error := task.exception()) is not None:
                    raise error
            if reports in done:
                return
            raise self.conn.closed.result() if self.conn.closed.done() else ConnectionLost("ended")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- commands ----------------------------------------------------------------------

    async def commands(self) -> None:
        """Subscribe, obey, and resubscribe (after backoff) whenever the stream ends."""
        agent = self.agent
        while True:
            op = await self.conn.start(COMMANDS_QUERY, op_id=COMMANDS_ID)
            since = agent.clock()
            reason = await self._consume(op)
            agent.stats["command_stream_restarts"] += 1
            log.warning("%s: command stream ended (%s); resubscribing", agent.name, reason)
            agent.backoff.stayed_up((agent.clock() - since).total_seconds())
            await agent.sleep(agent.backoff.next_delay())

    async def _consume(self, op: Operation) -> str:
        try:
            async for payload in op:
                command = (payload.get("data") or {}).get("deviceCommands")
                if isinstance(command, dict):
                    self.agent.handle_command(command)
                if payload.get("errors"):
                    check_credentials(payload["errors"])
                    # Strawberry follows an errored `next` with `complete`; wait for it so the
                    # id is free again, or resubscribing as "commands" would be closed 4409.
                    await self._drain(op)
                    return error_text(payload["errors"]) or "errors"
                if not isinstance(command, dict):
                    log.error("%s: malformed command payload %r", self.agent.name, payload)
        except OperationError as exc:
            await self.conn.stop(op)
            check_credentials(exc.errors)
            return str(exc)
        return "completed by the server"

    async def _drain(self, op: Operation) -> None:
        try:
            async with asyncio.timeout(self.agent.request_timeout):
                async for _ in op:
                    pass
        except OperationError:
            pass
        except TimeoutError:
            raise OperationTimeout("command stream did not complete after an error") from None

    # -- acknowledgements --------------------------------------------------------------

    async def acknowledge(self) -> None:
        agent = self.agent
        while True:
            await agent.ack_wanted.wait()
            agent.ack_wanted.clear()
            ids = list(agent.pending_acks)[:MAX_ACK_IDS]
            if not ids:
                continue
            result = await self.send(ACK_MUTATION, {"ids": ids})
            check_credentials(result.get("errors"))
            payload = (result.get("data") or {}).get("acknowledgeDeviceCommands")
            problems = error_text(result.get("errors")) or error_text(
                payload.get("errors") if isinstance(payload, dict) else None
            )
            if problems:
                log.warning("%s: acknowledging %s: %s", agent.name, ids, problems)
            # Forgotten either way: unacknowledged commands come back on the next subscribe
            # and are acknowledged again then, so nothing loops on a refused id.
            for command_id in ids:
                agent.pending_acks.pop(command_id, None)
            agent.stats["acknowledged"] += len(ids)
            if agent.pending_acks:
                agent.ack_wanted.set()

    # -- activity reports --------------------------------------------------------------

    async def report(self) -> None:
        """Flush every batch interval or at a full batch; flush once more on stop."""
        if self.agent.pending_acks:
            self.agent.ack_wanted.set()
        while True:
            stopping = await self.agent.wait_for_flush()
            if stopping:
                try:
                    async with asyncio.timeout(STOP_FLUSH_TIMEOUT):
                        await self.flush()
                except (TimeoutError, ProtocolError) as exc:
                    log.warning("%s: final flush incomplete: %r", self.agent.name, exc)
                return
            await self.flush()

    async def flush(self) -> None:
        """Send everything buffered, batch after batch, while the server makes progress."""
        outbox = self.agent.outbox
        while batch := outbox.batch():
            result = await self.send(REPORT_MUTATION, {"input": {"events": batch}})
            if not self.settle(batch, result):
                return  # refused as a whole (rate limit…): keep them for the next tick

    def settle(self, batch: list[dict[str, Any]], result: dict[str, Any]) -> int:
        """Forget the events the server answered for; the count of them."""
        agent, outbox, settled = self.agent, self.agent.outbox, 0
        check_credentials(result.get("errors"))
        payload = (result.get("data") or {}).get("reportActivity")
        if result.get("errors"):
            log.warning("%s: report refused: %s", agent.name, error_text(result["errors"]))
        if not isinstance(payload, dict):
            return 0
        for item in payload.get("results") or []:
            status = item.get("status")
            if status in SETTLED and outbox.settle(item.get("eventId")):
                settled += 1
                agent.stats[str(status).lower()] += 1
                agent.stats["blocked_by_server"] += bool(item.get("blocked"))
                if status == "REJECTED":
                    log.warning("%s: event rejected: %s", agent.name, item.get("reason"))
        for error in payload.get("errors") or []:
            field = str(error.get("field") or "") if isinstance(error, dict) else ""
            log.warning("%s: report error: %s", agent.name, error_text([error]))
            # An error naming one event is that event's rejection; the rest can go on.
            match = EVENT_FIELD.search(field)
            index = int(match.group(1)) if match else len(batch)
            if index < len(batch) and outbox.settle(batch[index]["eventId"]):
                settled += 1
                agent.stats["rejected"] += 1
        return settled


__all__ = [
    "ACK_MUTATION",
    "COMMANDS_ID",
    "COMMANDS_QUERY",
    "REPORT_MUTATION",
    "Session",
    "check_credentials",
    "error_text",
]
