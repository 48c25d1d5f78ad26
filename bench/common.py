"""Shared pieces of the websocket benches (``bench.fanout``, ``bench.ingest``).

* a fresh private database (``bench.queries.fresh_database``: a temporary SQLite file, or a
  ``pp_bench_<hex>`` PostgreSQL database dropped at the end), seeded through the project's own
  code before any server opens it: one school, one group, teachers with sessions, learners
  with one enrolled device each;
* real servers in subprocesses on a free loopback port: the project (``uvicorn`` with
  ``app.main:app_from_env`` and ``app.server.uvicorn_options``), any other ASGI factory under
  the same uvicorn options, or a bench's own server; each is stopped however the bench ends;
* client worker processes that hold many ``websockets`` connections and answer commands over a
  pipe, so that clients never share the server's process or the coordinator's event loop;
* latency stamps (fixed width, so every payload keeps its size), percentiles, and the RSS and
  CPU time of a process from ``/proc``.

Everything targets 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import itertools
import json
import math
import multiprocessing
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tortoise.context import TortoiseContext
from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from app.config import Mode, Settings
from app.db import tortoise_config
from app.security.crypto import MasterKey
from app.security.tokens import TokenKind, new_token
from app.services import build_services
from bench.queries import fresh_database
from models.devices import Device, Platform
from models.groups import Enrolment, TeachingAssignment, TeachingGroup
from models.learners import Learner
from models.staff import Membership, Role, Session, User
from resolvers.schools import create_school
from schema.common import to_global_id

PROJECT_ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
PUBLIC_URL = "https://school.example"
WS_PROTOCOL = Subprotocol("graphql-transport-ws")
STARTUP_SECONDS = 60.0
STOP_SECONDS = 10.0
_LISTENING = re.compile(r"running on http://127\.0\.0\.1:(\d+)")
#: Variables of the bench's own environment that must not reach a server's configuration.
_NOT_INHERITED = {
    "DATABASE_URL",
    "REDIS_URL",
    "BROKER_URL",
    "PP_ENV",
    "PP_DEBUG",
    "PP_MASTER_KEY",
    "PP_MASTER_KEY_FILE",
    "PP_PREVIOUS_MASTER_KEYS",
    "PP_ALLOWED_ORIGINS",
    "PP_PUBLIC_URL",
    "PP_NAMESPACE",
}
NO_LOGIN = "!"  # bench staff never sign in with a password: their sessions are made directly

CLASSROOM_ACTIVITY = (
    "subscription Live($groupId: ID!) { classroomActivity(groupId: $groupId) "
    "{ groupId deviceId learnerId kind at online idle app url title blocked reason } }"
)
REPORT_ACTIVITY = (
    "mutation Report($input: ReportActivityInput!) { reportActivity(input: $input) "
    "{ results { eventId status blocked reason } errors { field code message } } }"
)


# --- limits ------------------------------------------------------------------------------------


def raise_fd_limit() -> int:
    """Raise the soft open-files limit to the hard limit; returns the new soft limit.

    Called by the coordinator, every client worker and every server subprocess."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1_048_576)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --- stamps and statistics ---------------------------------------------------------------------

MARK = "ppb~"
_MARK_BYTES = MARK.encode()
#: ``ppb~SSSSSSSSS~TTTTTTTTTTTTTTTTTTT``: sequence and CLOCK_MONOTONIC nanoseconds, fixed width.
STAMP_LENGTH = len(MARK) + 9 + 1 + 19


def stamp(seq: int, at_ns: int | None = None) -> str:
    """A fixed-width stamp: ``time.monotonic_ns()`` is one clock for every process on Linux."""
    return f"{MARK}{seq:09d}~{time.monotonic_ns() if at_ns is None else at_ns:019d}"


def read_stamp(data: bytes | str) -> tuple[int, int] | None:
    """(sequence, sent at ns) of the first stamp in a frame, without parsing the JSON."""
    raw = data.encode() if isinstance(data, str) else data
    at = raw.find(_MARK_BYTES)
    if at < 0:
        return None
    start = at + len(_MARK_BYTES)
    try:
        return int(raw[start : start + 9]), int(raw[start + 10 : start + 29])
    except ValueError:
        return None


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence (NaN when empty)."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True, slots=True)
class Latency:
    count: int
    p50: float
    p99: float
    max: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Latency:
        ordered = sorted(samples)
        top = ordered[-1] if ordered else math.nan
        return cls(len(ordered), percentile(ordered, 50), percentile(ordered, 99), top)

    def __str__(self) -> str:
        return f"p50 {self.p50:7.1f} ms  p99 {self.p99:7.1f} ms  max {self.max:7.1f} ms"


def milliseconds() -> array.array[float]:
    return array.array("d")


# --- /proc ------------------------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    """Resident set size (VmRSS) of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


# --- seeding -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Seeded:
    school_id: int
    group_pk: int
    group_id: str
    teacher_tokens: list[str]
    device_tokens: list[str]


def _session(user: User, school_id: int, now: datetime) -> tuple[Session, str]:
    issued = new_token(TokenKind.SESSION)
    row = Session(
        token_hash=issued.digest,
        user_id=user.id,
        school_id=school_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=12),
    )
    return row, issued.text


async def seed_classroom(settings: Settings, *, devices: int, teachers: int) -> Seeded:
    """One school (keys made by ``create_school``), one group taught by ``teachers`` teachers,
    each with a session; ``devices`` learners in the group, each with one enrolled device."""
    services = build_services(settings)
    ctx = TortoiseContext()
    try:
        async with ctx:
            await ctx.init(
                config=tortoise_config(settings.database_url), _enable_global_fallback=True
            )
            school = await create_school(services, "Bench Academy", "bench-academy")
            group = await TeachingGroup.create(
                school_id=school.id,
                name="10X Maths",
                subject="Maths",
                year_group=10,
                academic_year="2026/27",
            )
            now = datetime.now(UTC)
            tokens = []
            for n in range(teachers):
                user = await User.create(
                    email=f"teacher{n}@bench.test",
                    display_name=f"Teacher {n}",
                    password_hash=NO_LOGIN,
                )
                await Membership.create(school_id=school.id, user_id=user.id, role=Role.TEACHER)
                await TeachingAssignment.create(
                    school_id=school.id, group_id=group.id, user_id=user.id
                )
                row, token = _session(user, school.id, now)
                await row.save()
                tokens.append(token)
            learners = [
                Learner(
                    id=uuid.uuid4(),
                    school_id=school.id,
                    given_name=f"Pupil{n}",
                    family_name=f"Bench{n:05d}",
                    year_group=10,
                )
                for n in range(devices)
            ]
            await Learner.bulk_create(learners, batch_size=500)
            await Enrolment.bulk_create(
                [
                    Enrolment(school_id=school.id, group_id=group.id, learner_id=learner.id)
                    for learner in learners
                ],
                batch_size=500,
            )
            issued = [new_token(TokenKind.DEVICE) for _ in learners]
            await Device.bulk_create(
                [
                    Device(
                        school_id=school.id,
                        learner_id=learner.id,
                        name=f"Chromebook {n:05d}",
                        platform=Platform.CHROMEOS,
                        token_hash=token.digest,
                        token_prefix=token.display_prefix,
                    )
                    for n, (learner, token) in enumerate(zip(learners, issued, strict=True))
                ],
                batch_size=500,
            )
            return Seeded(
                school.id,
                group.id,
                to_global_id("Group", group.id),
                tokens,
                [token.text for token in issued],
            )
    finally:
        await services.throttle.aclose()


@dataclass(frozen=True, slots=True)
class Backends:
    database_url: str
    broker_url: str
    namespace: str
    master_key: str

    def settings(self) -> Settings:
        """A production server's settings (introspection off, the real limits)."""
        return Settings(
            mode=Mode.PRODUCTION,
            database_url=self.database_url,
            broker_url=self.broker_url,
            namespace=self.namespace,
            master_key=self.master_key,
            public_url=PUBLIC_URL,
            allowed_origins=(PUBLIC_URL,),
        )


@contextlib.asynccontextmanager
async def backends(database_url: str | None, broker_url: str) -> AsyncIterator[Backends]:
    """A fresh migrated database and a random key namespace (Redis keys are deleted after)."""
    namespace = f"ppbench-{uuid.uuid4().hex[:10]}"
    async with fresh_database(database_url) as url:
        try:
            yield Backends(url, broker_url, namespace, MasterKey.generate().to_text())
        finally:
            if broker_url.startswith(("redis://", "rediss://")):
                await delete_redis_keys(broker_url, namespace)


async def delete_redis_keys(url: str, namespace: str) -> int:
    """Delete what this run left in Redis (dedupe ids live for a day otherwise)."""
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    deleted = 0
    try:
        batch: list[bytes] = []
        async for key in client.scan_iter(match=f"{namespace}:*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += await client.delete(*batch)
                batch = []
        if batch:
            deleted += await client.delete(*batch)
    finally:
        await client.aclose()
    return deleted


def describe(backend: Backends) -> str:
    database = "postgresql" if backend.database_url.startswith("postgres") else "sqlite"
    broker = "redis" if backend.broker_url.startswith("redis") else "memory"
    return f"database={database} broker={broker} (live state and throttle on the same URL)"


# --- servers -----------------------------------------------------------------------------------


class ServerFailed(RuntimeError):
    """A server exited or did not come up in time; the message carries its log."""


def environment(settings: Settings, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    env.update(
        {
            "PP_ENV": settings.mode.value,
            "PP_DEBUG": "false",
            "DATABASE_URL": settings.database_url,
            "BROKER_URL": settings.broker_url,
            "PP_NAMESPACE": settings.namespace,
            "PP_PUBLIC_URL": settings.public_url,
            "PP_ALLOWED_ORIGINS": ",".join(settings.allowed_origins),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if settings.master_key:
        env["PP_MASTER_KEY"] = settings.master_key
    env.update(extra or {})
    return env


def serve_asgi(factory: str) -> None:
    """Server subprocess entry: uvicorn with the project's transport options, on port 0."""
    import uvicorn

    from app.server import uvicorn_options

    raise_fd_limit()
    options = uvicorn_options(Settings.from_environ())
    uvicorn.run(factory, factory=True, host=HOST, port=0, **options)


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    port: int = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def http_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}/graphql"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def count_in_log(self, text: str) -> int:
        return self.log().count(text)


@contextlib.contextmanager
def run_server(
    name: str, code: str, env: Mapping[str, str], folder: Path, *, health: str | None = None
) -> Iterator[Server]:
    """Run ``python -c code`` until it logs ``running on http://127.0.0.1:PORT`` (and, with
    ``health``, answers 200 there); terminate it (then kill) however the block ends."""
    log_path = folder / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and code
            [sys.executable, "-c", code],
            cwd=PROJECT_ROOT,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = Server(name, process, log_path)
        try:
            server.port = _wait_for_port(server, health)
            yield server
        finally:
            stop_process(process)


def _wait_for_port(server: Server, health: str | None) -> int:
    deadline = time.monotonic() + STARTUP_SECONDS
    port = 0
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerFailed(f"{server.name} exited:\n{_tail(server.log())}")
        if not port:
            found = _LISTENING.search(server.log())
            port = int(found.group(1)) if found else 0
        if port and (health is None or _healthy(f"http://{HOST}:{port}{health}")):
            return port
        time.sleep(0.05)
    raise ServerFailed(f"{server.name} not up after {STARTUP_SECONDS} s:\n{_tail(server.log())}")


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy


def _healthy(url: str) -> bool:
    try:
        with _DIRECT.open(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def project_server(settings: Settings, folder: Path, name: str = "project") -> Iterator[Server]:
    """``app.main:app_from_env`` under uvicorn with ``app.server.uvicorn_options``."""
    code = "from bench.common import serve_asgi; serve_asgi('app.main:app_from_env')"
    with run_server(name, code, environment(settings), folder, health="/healthz") as server:
        yield server


@contextlib.contextmanager
def scratch_folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="pp-bench-") as folder:
        yield Path(folder)


# --- websocket clients -------------------------------------------------------------------------


async def raw_socket(url: str) -> ClientConnection:
    """A websocket offering the graphql-transport-ws sub-protocol, nothing sent yet."""
    return await connect(
        url,
        subprotocols=[WS_PROTOCOL],
        compression=None,
        ping_interval=None,  # the server pings every 20 s; the client answers
        max_size=2**20,
        open_timeout=60,
        close_timeout=2,
    )


async def open_socket(url: str, token: str | None = None) -> ClientConnection:
    """A graphql-transport-ws connection, initialised (with ``token``) and acknowledged."""
    ws = await raw_socket(url)
    try:
        payload = {"authToken": token} if token else {}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 60))
        if reply.get("type") != "connection_ack":
            raise RuntimeError(f"no connection_ack: {reply}")
    except BaseException:
        await ws.close()
        raise
    return ws


def subscribe_frame(operation_id: str, query: str, **variables: Any) -> str:
    return json.dumps(
        {
            "id": operation_id,
            "type": "subscribe",
            "payload": {"query": query, "variables": variables},
        }
    )


async def gather_limited(
    factories: Sequence[Callable[[], Awaitable[Any]]], limit: int
) -> list[Any]:
    """Run the awaitables with at most ``limit`` at once; exceptions are returned, not raised."""
    gate = asyncio.Semaphore(limit)

    async def one(factory: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await factory()

    return await asyncio.gather(*(one(f) for f in factories), return_exceptions=True)


def report_frame(operation_id: str, events: list[dict[str, Any]]) -> str:
    return subscribe_frame(operation_id, REPORT_ACTIVITY, input={"events": events})


def activity(event_id: str, title: str, *, kind: str = "URL_VISIT") -> dict[str, Any]:
    return {
        "eventId": event_id,
        "occurredAt": datetime.now(UTC).isoformat(),
        "kind": kind,
        "app": "Chrome",
        "url": "https://www.bbc.co.uk/bitesize/subjects/maths",
        "title": title,
    }


class LightSocket(asyncio.Protocol):
    """A websocket client on the ``websockets`` Sans-I/O ``ClientProtocol``.

    Frames are handled inside ``data_received``: no task, queue or future per message. The
    asyncio client costs several times more CPU per received message, and with a thousand
    subscribers on two cores the fan-out bench would then measure its own clients. Pings are
    answered and the closing handshake is done by the protocol object, as in any client."""

    def __init__(self, url: str, on_frame: Callable[[bytes], None]) -> None:
        self.ws = ClientProtocol(parse_uri(url), subprotocols=[WS_PROTOCOL], max_size=2**20)
        self.on_frame = on_frame
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None

    @property
    def close_code(self) -> int | None:
        return self.ws.close_code

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.ws.send_request(self.ws.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Frame):
                if event.opcode in (Opcode.TEXT, Opcode.BINARY):
                    self.on_frame(bytes(event.data))  # already bytes: no copy
            elif not self.opened.done():
                if self.ws.handshake_exc is None:
                    self.opened.set_result(None)
                else:
                    self.opened.set_exception(self.ws.handshake_exc)
        self._flush()

    def eof_received(self) -> bool | None:
        self.ws.receive_eof()
        self._flush()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("connection lost during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    def send_text(self, text: str) -> None:
        if self.ws.state is State.OPEN:
            self.ws.send_text(text.encode())
            self._flush()

    def _flush(self) -> None:
        if self.transport is None:
            return
        for data in self.ws.data_to_send():
            if data:
                self.transport.write(data)
            elif self.transport.can_write_eof():
                self.transport.write_eof()
        if self.ws.close_expected():
            self.transport.close()

    async def close(self) -> None:
        if self.ws.state is State.OPEN:
            self.ws.send_close(1000)
            self._flush()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.closed), 2)
        if self.transport is not None and not self.closed.done():
            self.transport.abort()


async def light_subscriber(
    url: str, token: str | None, frame: str, on_frame: Callable[[bytes], None]
) -> LightSocket:
    """A ``LightSocket``: initialised (with ``token``), acknowledged, and ``frame`` sent."""
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    first: asyncio.Future[bytes] = loop.create_future()

    def before_ack(data: bytes) -> None:
        if not first.done():
            first.set_result(data)

    _, sock = await loop.create_connection(
        lambda: LightSocket(url, before_ack), parts.hostname or HOST, parts.port or 80
    )
    try:
        await asyncio.wait_for(sock.opened, 60)
        payload = {"authToken": token} if token else {}
        sock.send_text(json.dumps({"type": "connection_init", "payload": payload}))
        ack = await asyncio.wait_for(first, 60)
        if b"connection_ack" not in ack:
            raise RuntimeError(f"no connection_ack: {ack[:200]!r}")
    except BaseException:
        await sock.close()
        raise
    sock.on_frame = on_frame
    sock.send_text(frame)
    return sock


# --- client worker processes -------------------------------------------------------------------


class Emitter:
    """A worker's way to tell the coordinator something unasked (e.g. an event completed)."""

    def __init__(self, pipe: Pipe) -> None:
        self._pipe = pipe

    def __call__(self, *message: Any) -> None:
        with contextlib.suppress(OSError, ValueError):  # the coordinator is gone: nobody cares
            self._pipe.send(("event", None, message))


def worker_loop(pipe: Pipe, make_handler: Callable[[Emitter], Any]) -> None:
    """The body of a client worker process: run commands ``(id, name, args)`` from the pipe
    as tasks on one event loop, answering ``("reply", id, value)`` or ``("error", id, text)``."""
    raise_fd_limit()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        handler = make_handler(Emitter(pipe))
        finished = loop.create_future()
        tasks: set[asyncio.Task[None]] = set()

        async def run(command_id: int, name: str, args: tuple[Any, ...]) -> None:
            try:
                value = await getattr(handler, name)(*args)
                pipe.send(("reply", command_id, value))
            except Exception as error:
                pipe.send(("error", command_id, f"{type(error).__name__}: {error}"))

        def readable() -> None:
            while pipe.poll():
                try:
                    command_id, name, args = pipe.recv()
                except EOFError:
                    if not finished.done():
                        finished.set_result(None)
                    return
                if name == "exit":
                    if not finished.done():
                        finished.set_result(None)
                    return
                task = loop.create_task(run(command_id, name, args))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

        loop.add_reader(pipe.fileno(), readable)
        await finished
        loop.remove_reader(pipe.fileno())
        closing = getattr(handler, "aclose", None)
        if closing is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(closing(), 20)

    asyncio.run(main())


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    pipe: Pipe
    waiting: dict[int, asyncio.Future[Any]] = field(default_factory=dict)


class Workers:
    """Client worker processes (spawned fresh: they share nothing with the coordinator)."""

    def __init__(self, target: Callable[[Pipe], None], count: int) -> None:
        self._target = target
        self._count = count
        self._workers: list[_Worker] = []
        self._ids = itertools.count(1)
        self.on_event: Callable[[int, tuple[Any, ...]], None] = lambda index, message: None

    def __len__(self) -> int:
        return len(self._workers)

    @property
    def pids(self) -> list[int]:
        return [w.process.pid or 0 for w in self._workers]

    async def __aenter__(self) -> Workers:
        spawn = multiprocessing.get_context("spawn")
        loop = asyncio.get_running_loop()
        for index in range(self._count):
            mine, theirs = spawn.Pipe()
            process = spawn.Process(target=self._target, args=(theirs,), daemon=True)
            process.start()
            theirs.close()
            worker = _Worker(process, mine)
            self._workers.append(worker)
            loop.add_reader(mine.fileno(), self._readable, index)
        return self

    def _readable(self, index: int) -> None:
        worker = self._workers[index]
        while worker.pipe.poll():
            try:
                kind, command_id, value = worker.pipe.recv()
            except (EOFError, OSError):
                asyncio.get_running_loop().remove_reader(worker.pipe.fileno())
                for future in worker.waiting.values():
                    if not future.done():
                        future.set_exception(RuntimeError(f"worker {index} exited"))
                return
            if kind == "event":
                self.on_event(index, value)
                continue
            future = worker.waiting.pop(command_id)
            if future.done():
                continue
            if kind == "reply":
                future.set_result(value)
            else:
                future.set_exception(RuntimeError(f"worker {index}: {value}"))

    async def call(self, index: int, name: str, *args: Any) -> Any:
        worker = self._workers[index]
        command_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        worker.waiting[command_id] = future
        worker.pipe.send((command_id, name, args))
        return await future

    async def call_each(self, name: str, args_for: Callable[[int], tuple[Any, ...]]) -> list[Any]:
        return list(
            await asyncio.gather(*(self.call(i, name, *args_for(i)) for i in range(len(self))))
        )

    async def call_all(self, name: str, *args: Any) -> list[Any]:
        return await self.call_each(name, lambda index: args)

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids if pid)

    async def __aexit__(self, *exc_info: object) -> None:
        loop = asyncio.get_running_loop()
        for worker in self._workers:
            with contextlib.suppress(OSError, ValueError):
                loop.remove_reader(worker.pipe.fileno())
                worker.pipe.send((0, "exit", ()))
        for worker in self._workers:
            await asyncio.to_thread(worker.process.join, 30)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(5)
            worker.pipe.close()


def spread(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` near-equal counts."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def slices(items: Sequence[Any], parts: int) -> list[list[Any]]:
    counts, out, start = spread(len(items), parts), [], 0
    for count in counts:
        out.append(list(items[start : start + count]))
        start += count
    return out


__all__ = [
    "CLASSROOM_ACTIVITY",
    "MARK",
    "REPORT_ACTIVITY",
    "STAMP_LENGTH",
    "Backends",
    "Emitter",
    "Latency",
    "LightSocket",
    "Seeded",
    "Server",
    "Workers",
    "activity",
    "backends",
    "cpu_seconds",
    "describe",
    "environment",
    "gather_limited",
    "light_subscriber",
    "open_socket",
    "percentile",
    "project_server",
    "raise_fd_limit",
    "raw_socket",
    "read_stamp",
    "report_frame",
    "rss_kib",
    "run_server",
    "scratch_folder",
    "seed_classroom",
    "serve_asgi",
    "slices",
    "spread",
    "stamp",
    "subscribe_frame",
    "worker_loop",
]


def check_urls(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``--database-url`` (PostgreSQL) and ``--broker-url`` (memory or Redis), loopback only."""
    if args.database_url and not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("--database-url must be a postgres:// URL (SQLite is the default)")
    if not args.broker_url.startswith(("memory://", "redis://", "rediss://")):
        parser.error("--broker-url must be memory:// or redis://")
    for url in (args.database_url, args.broker_url):
        host = urlsplit(url).hostname if url and not url.startswith("memory") else None
        if host not in (None, "127.0.0.1", "localhost", "::1"):
            parser.error(f"benches only target this machine (127.0.0.1), not {host}")
