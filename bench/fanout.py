"""Fan-out: one group's ``classroomActivity`` to many subscribers, against a bare broadcast.

    python -m bench.fanout [--subscribers 1000] [--workers 4] [--rounds 3] [--seconds 6]
                           [--database-url postgres://...] [--broker-url redis://...] [--quick]

Two real servers run side by side, each in its own process, on 127.0.0.1:

* **project**: ``app.main:app_from_env`` under uvicorn with ``app.server.uvicorn_options``, in
  production mode, on a fresh private database (a temporary SQLite file, or a ``pp_bench_<hex>``
  PostgreSQL database, dropped after) seeded through the project's code: one school, one group
  with ``--teachers`` teachers (one session each) and ``--devices`` learners with a device.
* **bare**: a minimal ``websockets`` server. It answers ``connection_init`` and takes the
  ``subscribe``, and every message received on its ``/trigger`` socket goes to all subscribers
  with ``websockets.broadcast``. The driver sends it the project's own ``next`` frame with a
  new stamp, so both servers deliver the same number of bytes per event.

The same client harness (``--workers`` processes, each holding an equal share of the
``--subscribers`` connections to *each* server) subscribes to ``classroomActivity`` on both. The
subscribers' sessions belong to the ``--teachers`` teachers, round robin.

An event is triggered on the project by a learner's device reporting one ``URL_VISIT`` over its
own graphql-transport-ws socket (``reportActivity``; the driver rotates over the devices so that
none exceeds the per-socket message rate), and on the bare server by a message on ``/trigger``.
The event's ``title`` carries a fixed-width stamp: a sequence number and the driver's
``time.monotonic_ns()``, one clock for all processes on Linux. Each client notes the latency on
receipt; each worker tells the driver when all of its connections have an event.

Per round, for each server (the order alternates between rounds):

1. **saturation**: at most ``--window`` events in flight (an event is done when every
   subscriber has it) for ``--seconds``; deliveries/s = deliveries received / time from the
   first trigger to the last completion, with the latencies under that load;
2. **paced**: ``--rate`` events/s for ``--paced-seconds``, well below both capacities: the
   latency of one event.

The server's CPU time per delivery is read from ``/proc``. The last line is ``ratio=`` project
deliveries/s ÷ bare deliveries/s, the median of the rounds' ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import json
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

from bench.common import (
    CLASSROOM_ACTIVITY,
    HOST,
    STAMP_LENGTH,
    WS_PROTOCOL,
    Emitter,
    Latency,
    LightSocket,
    Seeded,
    Server,
    Workers,
    activity,
    backends,
    check_urls,
    cpu_seconds,
    describe,
    environment,
    gather_limited,
    light_subscriber,
    milliseconds,
    open_socket,
    project_server,
    raise_fd_limit,
    raw_socket,
    read_stamp,
    report_frame,
    run_server,
    scratch_folder,
    seed_classroom,
    spread,
    stamp,
    subscribe_frame,
    worker_loop,
)

#: An event not received by every subscriber by then counts as done (its missing deliveries
#: show in the totals); nothing waits longer.
EVENT_TIMEOUT = 10.0
CONNECT_AT_ONCE = 50


# --- the bare broadcast server -----------------------------------------------------------------


def serve_bare() -> None:
    """Subprocess entry: the bare ``websockets`` broadcast server."""
    raise_fd_limit()
    subscribers: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        if ws.request is not None and ws.request.path == "/trigger":
            async for message in ws:
                broadcast(subscribers, message)
            return
        try:
            await ws.recv()  # connection_init
            await ws.send('{"type":"connection_ack"}')
            await ws.recv()  # subscribe
            subscribers.add(ws)
            await ws.wait_closed()
        except ConnectionClosed:
            pass
        finally:
            subscribers.discard(ws)

    async def main() -> None:
        async with serve(
            handler,
            HOST,
            0,
            subprotocols=[WS_PROTOCOL],
            compression=None,
            ping_interval=20,
            ping_timeout=20,
            max_size=131_072,
        ) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            print(f"bare broadcast server running on http://{HOST}:{port}", flush=True)
            await asyncio.Future()

    asyncio.run(main())


# --- client workers ----------------------------------------------------------------------------


@dataclass
class Audience:
    """One worker's subscribers to one server."""

    name: str
    emit: Emitter
    sockets: list[LightSocket] = field(default_factory=list)
    open: int = 0
    counts: dict[int, int] = field(default_factory=dict)
    received: int = 0
    other: int = 0
    closes: list[str] = field(default_factory=list)
    latencies: Any = field(default_factory=milliseconds)
    sample: bytes = b""

    def on_frame(self, data: bytes) -> None:
        found = read_stamp(data)
        if found is None:
            self.other += 1
            return
        seq, sent_ns = found
        self.latencies.append((time.monotonic_ns() - sent_ns) / 1e6)
        self.received += 1
        self.sample = data
        count = self.counts.get(seq, 0) + 1
        if count >= self.open:
            self.counts.pop(seq, None)
            self.emit("done", self.name, seq)
        else:
            self.counts[seq] = count

    def watch(self, sock: LightSocket) -> None:
        sock.closed.add_done_callback(lambda _: self.lost_one(str(sock.close_code or 1006)))

    def lost_one(self, why: str) -> None:
        self.open -= 1
        self.closes.append(why)
        for seq, count in list(self.counts.items()):
            if count >= self.open:
                del self.counts[seq]
                self.emit("done", self.name, seq)


class Clients:
    """Worker-side commands (see ``common.worker_loop``)."""

    def __init__(self, emit: Emitter) -> None:
        self.emit = emit
        self.audiences: dict[str, Audience] = {}
        self.closing = False

    async def connect(self, name: str, url: str, tokens: list[str], frame: str) -> list[Any]:
        audience = self.audiences.setdefault(name, Audience(name, self.emit))
        starts: list[Callable[[], Awaitable[LightSocket]]] = [
            functools.partial(light_subscriber, url, token or None, frame, audience.on_frame)
            for token in tokens
        ]
        results = await gather_limited(starts, CONNECT_AT_ONCE)
        for result in results:
            if isinstance(result, LightSocket):
                audience.sockets.append(result)
                audience.open += 1
                audience.watch(result)
        errors = [repr(r) for r in results if isinstance(r, BaseException)]
        return [audience.open, errors[:3]]

    async def collect(self, name: str) -> list[Any]:
        """What arrived since the last collect: [received, latencies (ms), other frames]."""
        audience = self.audiences[name]
        out = [audience.received, audience.latencies, audience.other, list(audience.closes)]
        audience.received, audience.other, audience.latencies = 0, 0, milliseconds()
        audience.counts.clear()
        audience.closes.clear()
        return out

    async def sample(self, name: str) -> bytes:
        return self.audiences[name].sample

    async def aclose(self) -> None:
        sockets = [sock for audience in self.audiences.values() for sock in audience.sockets]
        await asyncio.gather(*(sock.close() for sock in sockets), return_exceptions=True)


def worker(pipe: Pipe) -> None:
    worker_loop(pipe, Clients)


# --- the driver --------------------------------------------------------------------------------


class Tracker:
    """Events in flight on one server; an event is done once every worker reported it."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.partial: dict[int, int] = {}
        self.in_flight: dict[int, float] = {}
        self.last_done = 0.0
        self.timed_out = 0
        self.changed = asyncio.Event()

    def sent(self, seq: int) -> None:
        self.in_flight[seq] = time.monotonic()

    def done(self, seq: int) -> None:
        count = self.partial.get(seq, 0) + 1
        if count < self.workers:
            self.partial[seq] = count
            return
        self.partial.pop(seq, None)
        if self.in_flight.pop(seq, None) is not None:
            self.last_done = time.monotonic()
            self.changed.set()

    async def wait(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.changed.wait(), 0.25)
        self.changed.clear()
        now = time.monotonic()
        for seq, sent in list(self.in_flight.items()):
            if now - sent > EVENT_TIMEOUT:
                del self.in_flight[seq]
                self.timed_out += 1
                self.last_done = now

    async def drain(self) -> None:
        while self.in_flight:
            await self.wait()

    def reset(self) -> None:
        self.partial.clear()
        self.in_flight.clear()


@dataclass
class Phase:
    deliveries: int
    seconds: float
    events: int
    latency: Latency
    server_cpu: float
    client_cpu: float
    timed_out: int

    @property
    def rate(self) -> float:
        return self.deliveries / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us(self) -> float:
        return self.server_cpu / self.deliveries * 1e6 if self.deliveries else float("nan")


@dataclass
class Side:
    name: str
    server: Server
    tracker: Tracker
    trigger: Callable[[int], Awaitable[None]]
    subscribers: int
    saturated: list[Phase] = field(default_factory=list)
    paced: list[Phase] = field(default_factory=list)


class Devices:
    """The project's trigger: learners' devices reporting over their own sockets, in turn."""

    def __init__(self, sockets: list[ClientConnection]) -> None:
        self.sockets = sockets
        self.turn = itertools.cycle(range(len(sockets)))
        self.run = uuid.uuid4().hex[:8]
        self.statuses: dict[str, int] = {}
        self.readers = [asyncio.create_task(self._read(ws)) for ws in sockets]

    async def trigger(self, seq: int) -> None:
        event = activity(f"fan-{self.run}-{seq}", stamp(seq))
        await self.sockets[next(self.turn)].send(report_frame(f"r{seq}", [event]))

    async def _read(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for text in ws:
                frame = json.loads(text)
                if frame.get("type") == "next":
                    body = (frame["payload"].get("data") or {}).get("reportActivity") or {}
                    for result in body.get("results") or [{"status": "FAILED"}]:
                        status = result["status"]
                        self.statuses[status] = self.statuses.get(status, 0) + 1
                elif frame.get("type") == "error":
                    self.statuses["ERROR"] = self.statuses.get("ERROR", 0) + 1

    async def aclose(self) -> None:
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)
        for reader in self.readers:
            reader.cancel()


class Run:
    def __init__(self, args: argparse.Namespace, workers: Workers, group_id: str) -> None:
        self.args = args
        self.workers = workers
        self.group_id = group_id
        self.seq = itertools.count(1)
        self.sides: dict[str, Side] = {}
        workers.on_event = self._event

    def _event(self, index: int, message: tuple[Any, ...]) -> None:
        kind, name, seq = message
        if kind == "done" and name in self.sides:
            self.sides[name].tracker.done(seq)

    async def connect(self, name: str, url: str, tokens: list[str]) -> int:
        counts = spread(self.args.subscribers, len(self.workers))
        offsets = [sum(counts[:i]) for i in range(len(counts))]
        frame = subscribe_frame("live", CLASSROOM_ACTIVITY, groupId=self.group_id)

        def args_for(i: int) -> tuple[Any, ...]:
            mine = [tokens[(offsets[i] + n) % len(tokens)] for n in range(counts[i])]
            return (name, url, mine, frame)

        results = await self.workers.call_each("connect", args_for)
        connected: int = sum(r[0] for r in results)
        problems = [p for r in results for p in r[1]]
        if connected < self.args.subscribers:
            raise SystemExit(f"FAIL: {name}: {connected} subscribers connected: {problems}")
        return connected

    async def collect(self, name: str) -> tuple[int, list[float], int, list[str]]:
        results = await self.workers.call_all("collect", name)
        samples: list[float] = []
        for result in results:
            samples.extend(result[1])
        closes = [c for r in results for c in r[3]]
        return sum(r[0] for r in results), samples, sum(r[2] for r in results), closes

    async def warm(self, side: Side) -> None:
        """Trigger until one event reaches every subscriber (cohort joined), then a few more."""
        deadline = time.monotonic() + 60
        while True:
            if time.monotonic() > deadline:
                received, _, other, closes = await self.collect(side.name)
                raise SystemExit(
                    f"FAIL: {side.name}: no event reached every subscriber in 60 s "
                    f"({received} deliveries, {other} other frames, closed: {closes[:5]})\n"
                    + "\n".join(side.server.log().splitlines()[-20:])
                )
            seq = next(self.seq)
            side.tracker.sent(seq)
            await side.trigger(seq)
            await side.tracker.wait()
            if seq not in side.tracker.in_flight:
                break
        side.tracker.reset()
        await self.saturate(side, 1.0, keep=False)
        side.tracker.reset()
        await self.collect(side.name)

    async def saturate(self, side: Side, seconds: float, *, keep: bool = True) -> Phase:
        tracker, window = side.tracker, self.args.window
        server0, clients0 = cpu_seconds(side.server.pid), self.workers.cpu_seconds()
        timed_out0 = tracker.timed_out
        started = time.monotonic()
        events = 0
        while time.monotonic() - started < seconds:
            while len(tracker.in_flight) >= window:
                await tracker.wait()
            seq = next(self.seq)
            tracker.sent(seq)
            await side.trigger(seq)
            events += 1
        await tracker.drain()
        elapsed = tracker.last_done - started
        phase = await self._phase(side, events, elapsed, server0, clients0, timed_out0)
        if keep:
            side.saturated.append(phase)
        return phase

    async def pace(self, side: Side) -> Phase:
        tracker, rate = side.tracker, self.args.rate
        server0, clients0 = cpu_seconds(side.server.pid), self.workers.cpu_seconds()
        timed_out0 = tracker.timed_out
        events = max(1, round(self.args.paced_seconds * rate))
        started = time.monotonic()
        for n in range(events):
            delay = started + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            seq = next(self.seq)
            tracker.sent(seq)
            await side.trigger(seq)
        await tracker.drain()
        elapsed = tracker.last_done - started
        phase = await self._phase(side, events, elapsed, server0, clients0, timed_out0)
        side.paced.append(phase)
        return phase

    async def _phase(
        self,
        side: Side,
        events: int,
        elapsed: float,
        server0: float,
        clients0: float,
        timed_out0: int,
    ) -> Phase:
        server_cpu = cpu_seconds(side.server.pid) - server0
        client_cpu = self.workers.cpu_seconds() - clients0
        received, samples, other, closes = await self.collect(side.name)
        if closes:
            print(f"  ! {side.name}: {len(closes)} subscriber sockets closed: {closes[:5]}")
        if other:
            print(f"  ! {side.name}: {other} frames without a stamp (errors, completes)")
        timed_out = side.tracker.timed_out - timed_out0
        return Phase(
            received,
            elapsed,
            events,
            Latency.of(samples),
            server_cpu,
            client_cpu,
            timed_out,
        )


def _line(name: str, phase: Phase) -> str:
    return (
        f"{name:>7}: {phase.rate:9,.0f} deliveries/s  ({phase.events} events x "
        f"{phase.deliveries / max(phase.events, 1):.0f} in {phase.seconds:.2f} s)  "
        f"{phase.latency}  server {phase.cpu_us:5.1f} µs CPU/delivery "
        f"({phase.server_cpu / max(phase.seconds, 1e-9):.0%} of a core); clients "
        f"{phase.client_cpu / max(phase.deliveries, 1) * 1e6:.1f} µs/delivery"
        + (f"  {phase.timed_out} events timed out" if phase.timed_out else "")
    )


async def measure(args: argparse.Namespace) -> float:
    raise_fd_limit()
    async with backends(args.database_url, args.broker_url) as backend:
        settings = backend.settings()
        started = time.monotonic()
        seeded = await seed_classroom(settings, devices=args.devices, teachers=args.teachers)
        print(
            f"fanout: {describe(backend)}; {args.subscribers} subscribers per server in "
            f"{args.workers} client processes; {args.teachers} teachers' sessions; "
            f"{args.devices} reporting devices (seeded in {time.monotonic() - started:.1f} s; "
            f"load average {os.getloadavg()[0]:.1f})"
        )
        with scratch_folder() as folder:
            bare_code = "from bench.fanout import serve_bare; serve_bare()"
            with (
                project_server(settings, folder) as project,
                run_server("bare", bare_code, environment(settings), folder) as bare,
            ):
                async with Workers(worker, args.workers) as workers:
                    return await _run(args, seeded, workers, project, bare)


async def _run(
    args: argparse.Namespace, seeded: Seeded, workers: Workers, project: Server, bare: Server
) -> float:
    run = Run(args, workers, seeded.group_id)
    started = time.monotonic()
    await run.connect("project", project.ws_url, seeded.teacher_tokens)
    await run.connect("bare", f"ws://{HOST}:{bare.port}/subscribe", [""])
    print(f"connected 2 x {args.subscribers} subscribers in {time.monotonic() - started:.1f} s")
    device_sockets = await asyncio.gather(
        *(open_socket(project.ws_url, token) for token in seeded.device_tokens)
    )
    devices = Devices(list(device_sockets))
    control = await raw_socket(f"ws://{HOST}:{bare.port}/trigger")
    template: list[bytes] = []

    async def bare_trigger(seq: int) -> None:
        prefix, suffix = template
        await control.send(prefix.decode() + stamp(seq) + suffix.decode())

    try:
        project_side = Side(
            "project", project, Tracker(len(workers)), devices.trigger, args.subscribers
        )
        bare_side = Side("bare", bare, Tracker(len(workers)), bare_trigger, args.subscribers)
        run.sides = {"project": project_side, "bare": bare_side}
        await run.warm(project_side)
        frame = await workers.call(0, "sample", "project")
        at = frame.find(b"ppb~")
        template[:] = [frame[:at], frame[at + STAMP_LENGTH :]]
        print(f"frame: {len(frame)} bytes (the project's `next`; the bare server sends the same)")
        await run.warm(bare_side)
        ratios = []
        for round_ in range(1, args.rounds + 1):
            order = [project_side, bare_side] if round_ % 2 else [bare_side, project_side]
            print(f"round {round_}:")
            for side in order:
                print(_line(side.name, await run.saturate(side, args.seconds)))
            for side in order:
                print("  paced " + _line(side.name, await run.pace(side)).lstrip())
            ratios.append(project_side.saturated[-1].rate / bare_side.saturated[-1].rate)
            print(f"  ratio {ratios[-1]:.3f}")
        _summary(args, project_side, bare_side, devices)
        return statistics.median(ratios)
    finally:
        await control.close()
        await devices.aclose()


def _median_phase(phases: list[Phase]) -> tuple[float, float, float, float]:
    return (
        statistics.median(p.rate for p in phases),
        statistics.median(p.latency.p50 for p in phases),
        statistics.median(p.latency.p99 for p in phases),
        statistics.median(p.cpu_us for p in phases),
    )


def _summary(args: argparse.Namespace, project: Side, bare: Side, devices: Devices) -> None:
    print(f"medians of {args.rounds} rounds (saturation: window {args.window} events in flight;")
    print(f"  paced: {args.rate:g} events/s = {args.rate * args.subscribers:,.0f} deliveries/s)")
    for side in (project, bare):
        rate, p50, p99, cpu = _median_phase(side.saturated)
        _, paced50, paced99, _ = _median_phase(side.paced)
        print(
            f"{side.name:>7}: {rate:9,.0f} deliveries/s  saturated p50 {p50:.1f} / p99 {p99:.1f} ms"
            f"  paced p50 {paced50:.1f} / p99 {paced99:.1f} ms  server {cpu:.1f} µs CPU/delivery"
        )
    cpu_ratio = _median_phase(bare.saturated)[3] / _median_phase(project.saturated)[3]
    print(
        f"server CPU per delivery, bare ÷ project: {cpu_ratio:.3f} (the deliveries/s ratio if "
        "both servers had a core of their own; the one below is bounded by the clients too)"
    )
    print(f"project reports: {devices.statuses}; load average {os.getloadavg()[0]:.1f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fanout",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--database-url", help="a PostgreSQL server URL (default: SQLite)")
    parser.add_argument("--broker-url", default="memory://", help="memory:// or redis://…")
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4, help="client processes")
    parser.add_argument("--teachers", type=int, default=10)
    parser.add_argument("--devices", type=int, default=100, help="devices that trigger events")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0, help="saturation, each side")
    parser.add_argument("--window", type=int, default=8, help="events in flight (saturation)")
    parser.add_argument("--rate", type=float, default=10.0, help="events/s (paced)")
    parser.add_argument("--paced-seconds", type=float, default=3.0)
    parser.add_argument("--quick", action="store_true", help="a ~30 s smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.subscribers, args.workers, args.rounds = 200, 2, 1
        args.seconds, args.paced_seconds, args.devices = 2.0, 1.0, 20
    positive = ("subscribers", "workers", "teachers", "devices", "rounds", "window")
    if any(getattr(args, name) < 1 for name in positive):
        parser.error("counts must be positive")
    if args.seconds <= 0 or args.rate <= 0 or args.paced_seconds <= 0:
        parser.error("--seconds, --rate and --paced-seconds must be positive")
    check_urls(parser, args)
    ratio = asyncio.run(measure(args))
    print(f"ratio={ratio:.3f}")


if __name__ == "__main__":
    main()
