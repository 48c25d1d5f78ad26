"""The reference device agent: one socket for commands and activity, resumable after outages."""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import uuid
from collections import Counter, OrderedDict, deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from agent import protocol
from agent.activity import BROWSER, ActivitySource, Attempt
from agent.backoff import Backoff, Pacer
from agent.errors import TOO_BIG, FatalError, ProtocolError
from agent.outbox import Outbox, encoded_size
from agent.policy import LocalPolicy, normalise_url
from agent.session import REPORT_MUTATION, Session

FLUSH_AT = 50
#: Attempts that open a page or an app, and so are checked against the policy first.
CHECKED_KINDS = frozenset({"URL_VISIT", "SEARCH", "APP_FOCUS"})

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_time(value: object) -> datetime | None:
    """An ISO-8601 time from the server (naive means UTC); None if absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        log.warning("unreadable time %r ignored", value)
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class DeviceAgent:
    """Connects, subscribes to commands, reports activity, and reconnects with backoff.

    Example:
        >>> agent = DeviceAgent("ws://127.0.0.1:8000/graphql", "ppd_…", SimulatedBrowsing(1))
        >>> await agent.run()       # until agent.stop(); raises FatalError on 4403
    """

    def __init__(
        self,
        url: str,
        token: str,
        source: ActivitySource | None = None,
        *,
        clock: Clock = utc_now,
        batch_interval: float = 2.0,
        max_buffer: int = 10_000,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        request_timeout: float = 30.0,
        max_message_bytes: int = 131_072,
        name: str = "device",
    ) -> None:
        self.url, self.name = url, name
        self._token, self._source, self.clock, self.sleep = token, source, clock, sleep
        self.batch_interval, self.request_timeout = batch_interval, request_timeout
        # Leave room for the envelope and query around the events list.
        room = max_message_bytes - encoded_size(REPORT_MUTATION) - 256
        self.outbox = Outbox(max_buffer, max_batch=100, max_batch_bytes=room)
        self.backoff, self.pacer = Backoff(rng=rng), Pacer()
        self.policy = LocalPolicy()
        self.locked = False
        self.current_url: str | None = None
        self.current_title: str | None = None
        self.current_app: str | None = None
        self.messages: deque[str] = deque(maxlen=50)
        self.stats: Counter[str] = Counter()
        self.error: FatalError | None = None
        self.connected = asyncio.Event()
        self._handled: OrderedDict[str, None] = OrderedDict()  # bounded memory of command ids
        #: Commands handled but not yet acknowledged; the session drains it.
        self.pending_acks: dict[str, None] = {}
        self.ack_wanted = asyncio.Event()
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._producer: asyncio.Task[None] | None = None

    # -- activity ----------------------------------------------------------------------

    def perform(self, attempt: Attempt) -> str | None:
        """Do what the learner tried, as far as the lock and policy allow; report it.

        Returns the event id, or None when the device was locked and nothing happened.
        """
        if self.locked and attempt.kind != "IDLE":
            self.stats["suppressed_while_locked"] += 1
            return None
        url, title, app = attempt.url, attempt.title, attempt.app
        if attempt.kind == "SCREENSHOT" and url is None:
            url, title = self.current_url, self.current_title
        if attempt.kind in CHECKED_KINDS:
            verdict = self.policy.check(url=url, app=app, now=self.clock())
            if not verdict.allowed:
                # Still reported: the server judges it and the teacher sees the attempt.
                self.stats["blocked_locally"] += 1
                log.info("%s: not opening %s (%s)", self.name, url or app, verdict.reason)
            elif attempt.kind == "APP_FOCUS":
                self.current_app = app
            else:
                self.current_url, self.current_title, self.current_app = url, title, app
        return self.record(
            attempt.kind,
            app=app,
            url=url,
            title=title,
            text=attempt.text,
            thumbnail=attempt.thumbnail,
        )

    def record(
        self,
        kind: str,
        *,
        app: str | None = None,
        url: str | None = None,
        title: str | None = None,
        text: str | None = None,
        thumbnail: bytes | None = None,
    ) -> str:
        """Queue one event for the server under a fresh id, kept until it is answered."""
        event_id = str(uuid.uuid4())
        occurred = self.clock().astimezone(UTC).isoformat(timespec="milliseconds")
        self.outbox.add(
            {
                "eventId": event_id,
                "occurredAt": occurred,
                "kind": kind,
                "app": app,
                "url": url,
                "title": title,
                "text": text,
                "thumbnail": base64.b64encode(thumbnail).decode("ascii") if thumbnail else None,
            }
        )
        if len(self.outbox) >= FLUSH_AT:
            self._wakeup.set()
        return event_id

    async def _produce(self, source: ActivitySource) -> None:
        while True:
            await self.sleep(source.delay())
            self.perform(source.next_attempt())

    # -- commands ----------------------------------------------------------------------

    def handle_command(self, command: dict[str, Any]) -> None:
        """Obey one ``deviceCommands`` item; re-deliveries are acknowledged, not re-run."""
        command_id, kind = command.get("id"), command.get("kind")
        if kind == "POLICY":
            try:
                self.policy = LocalPolicy.from_payload(command.get("policy"))
            except (TypeError, ValueError) as exc:
                log.error("%s: malformed policy ignored: %s", self.name, exc)
                return
            log.info("%s: policy %s (mode %s)", self.name, self.policy.version, self.policy.mode)
            if self.current_url and not self.policy.check(url=self.current_url).allowed:
                # What an enforcing browser does when a page becomes forbidden: close it.
                self.current_url = self.current_title = None
            return
        if not isinstance(command_id, str):
            log.error("%s: command without an id ignored: %r", self.name, command)
            return
        if command_id in self._handled:
            self.stats["redelivered"] += 1
        else:
            self._handled[command_id] = None
            if len(self._handled) > 1000:
                self._handled.popitem(last=False)
            expires = parse_time(command.get("expiresAt"))
            if expires is not None and expires <= self.clock():
                log.info("%s: command %s (%s) expired, skipped", self.name, command_id, kind)
            else:
                self._obey(str(kind), command)
        self.pending_acks[command_id] = None
        self.ack_wanted.set()

    def _obey(self, kind: str, command: dict[str, Any]) -> None:
        self.stats[f"command_{kind.lower()}"] += 1
        if kind == "LOCK":
            self.locked = True
        elif kind == "UNLOCK":
            self.locked = False
        elif kind == "OPEN_URL" and isinstance(command.get("url"), str):
            if self.perform(Attempt("URL_VISIT", app=BROWSER, url=command["url"])) is None:
                log.info("%s: OPEN_URL ignored while locked", self.name)
        elif kind == "CLOSE_TAB":
            # With a url, only a tab showing that page (or below it) closes.
            wanted = command.get("url")
            here = normalise_url(self.current_url or "")
            if not isinstance(wanted, str) or here.startswith(normalise_url(wanted)):
                self.current_url = self.current_title = None
        elif kind == "MESSAGE":
            self.messages.append(str(command.get("message") or ""))
            log.info("%s: message from teacher: %s", self.name, command.get("message"))
        else:
            # Acknowledged anyway: an unknown command would otherwise be re-sent forever.
            log.warning("%s: unsupported command %r acknowledged", self.name, kind)

    # -- the connection ----------------------------------------------------------------

    def stop(self) -> None:
        """Ask :meth:`run` to flush what it can and return."""
        self._stopping.set()
        self._wakeup.set()
        if self._producer is not None:
            self._producer.cancel()  # the learner stops now, so the final flush is final

    async def run(self) -> None:
        """Run until :meth:`stop`; raises :class:`FatalError` if retrying is futile."""
        if self._source is not None and not self._stopping.is_set():
            self._producer = asyncio.create_task(self._produce(self._source))
        try:
            await self._connection_loop()
        finally:
            if self._producer is not None:
                self._producer.cancel()
                await asyncio.gather(self._producer, return_exceptions=True)
                self._producer = None

    async def _connection_loop(self) -> None:
        while not self._stopping.is_set():
            up_since: datetime | None = None
            try:
                async with protocol.connect(
                    self.url, {"authToken": self._token}, ack_timeout=self.request_timeout
                ) as conn:
                    up_since = self.clock()
                    self.stats["connections"] += 1
                    self.connected.set()
                    log.info("%s: connected to %s", self.name, self.url)
                    await Session(self, conn).run()
            except FatalError as exc:
                self.error = exc
                log.error("%s: giving up: %s", self.name, exc)
                raise
            except ProtocolError as exc:
                log.warning("%s: %s; %d events buffered", self.name, exc, len(self.outbox))
                if exc.code == TOO_BIG:
                    self.outbox.shrink()
            finally:
                self.connected.clear()
            if up_since is not None:
                self.backoff.stayed_up((self.clock() - up_since).total_seconds())
            if not self._stopping.is_set():
                await self.pause(self.backoff.next_delay())

    async def pause(self, seconds: float) -> None:
        """Sleep (through the injected sleep) unless asked to stop first."""
        tasks = [
            asyncio.ensure_future(self.sleep(seconds)),
            asyncio.create_task(self._stopping.wait()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def wait_for_flush(self) -> bool:
        """Wait for the batch interval or a full batch; True once stopping."""
        try:
            async with asyncio.timeout(self.batch_interval):
                await self._wakeup.wait()
        except TimeoutError:
            pass
        self._wakeup.clear()
        return self._stopping.is_set()


__all__ = [
    "FLUSH_AT",
    "Clock",
    "DeviceAgent",
    "Sleep",
    "parse_time",
    "utc_now",
]
