"""The faults of the fault-injection run (bench/faults.py): SIGKILL and restart of the worker
(some while a send is in flight at a provider), of the Temporal dev server (restarted on its
own SQLite file and port, so that everybody reconnects), and of the HTTP API while events are
being posted. Nothing is stopped gracefully: SIGKILL is a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.server import BenchServer, spawn_module
from bench.workerproc import WorkerProcess
from tests.fakes.server import FakeServer

IN_FLIGHT_WAIT = 8.0
"""How long a kill "during a send" waits for a provider request to be in flight."""


class ApiProcess:
    """`python -m bench.faultapi` on a fixed port, restartable on that port."""

    def __init__(self, values: dict[str, Any], port: int, seconds_per_day: int, log: Path):
        self.args = [
            "--settings",
            json.dumps(values),
            "--port",
            str(port),
            "--seconds-per-day",
            str(seconds_per_day),
        ]
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = log
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, timeout: float = 60.0) -> None:
        with self.log_path.open("ab") as out:
            self.proc = await spawn_module("bench.faultapi", self.args, out, out)
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2) as http:
            while time.monotonic() < deadline:
                if self.proc.returncode is not None:
                    raise RuntimeError(f"the API exited; see {self.log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise RuntimeError(f"the API did not answer in {timeout:.0f} s; see {self.log_path}")

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def kill(self) -> None:
        if self.alive and self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def stop(self) -> None:
        if self.alive and self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout=15)
            except TimeoutError:
                await self.kill()


async def kill_server(server: BenchServer) -> None:
    """SIGKILL the dev server's whole process group: a crash, not a shutdown."""
    proc = server.proc
    if proc is not None and proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await asyncio.to_thread(proc.wait)
    server.proc = None
    log_file = server._log
    if log_file is not None:
        log_file.close()
        server._log = None


async def restart_server(server: BenchServer) -> None:
    """The same port and the same SQLite file: clients and workers reconnect to it."""
    for attempt in range(10):
        try:
            await server.__aenter__()
            return
        except RuntimeError:  # the port may still be held for a moment
            if attempt == 9:
                raise
            await asyncio.sleep(1.0)


@dataclass
class ChaosPlan:
    wave_seconds: float
    api_kill_at: Sequence[float]
    worker_kills: int
    server_kills: int

    def timeline(self) -> list[tuple[float, str]]:
        w = self.wave_seconds
        events = [(t, "api") for t in self.api_kill_at]
        n = self.worker_kills
        for i in range(n):
            # Every other worker kill waits for a send in flight at a provider.
            kind = "worker-in-send" if i % 2 == 0 else "worker"
            events.append((w * (0.12 + 0.8 * i / max(n - 1, 1)), kind))
        for i in range(self.server_kills):
            events.append((w * (0.3 + 0.4 * i / max(self.server_kills - 1, 1)), "server"))
        return sorted(events)


@dataclass
class Chaos:
    plan: ChaosPlan
    server: BenchServer
    worker: WorkerProcess
    api: Any
    providers: Sequence[FakeServer]
    log: Callable[[str], None]
    counts: dict[str, int] = field(default_factory=dict)

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    async def run(self) -> None:
        started = time.monotonic()
        for at, kind in self.plan.timeline():
            await asyncio.sleep(max(at - (time.monotonic() - started), 0))
            await self.keep_alive()
            if kind == "api":
                await self.api.kill()
                self._count("API SIGKILLs")
                self.log("SIGKILL API")
                await asyncio.sleep(1.0)
                await self.api.start()
            elif kind.startswith("worker"):
                in_send = kind == "worker-in-send" and await self._send_in_flight()
                await self._kill_worker()
                self._count("worker SIGKILLs")
                if in_send:
                    self._count("worker SIGKILLs during a send")
                self.log(f"SIGKILL worker{' during a send' if in_send else ''}")
                await asyncio.sleep(0.5)
                await self._start_worker()
            else:
                await kill_server(self.server)
                self._count("Temporal server SIGKILLs")
                self.log("SIGKILL Temporal server")
                await asyncio.sleep(2.0)
                await restart_server(self.server)
                self.log("Temporal server restarted on its SQLite file")

    async def _send_in_flight(self) -> bool:
        deadline = time.monotonic() + IN_FLIGHT_WAIT
        while time.monotonic() < deadline:
            if any(p.in_flight for p in self.providers):
                return True
            await asyncio.sleep(0.01)
        return False

    async def _kill_worker(self) -> None:
        proc = self.worker.proc
        if proc is not None and proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()

    async def _start_worker(self) -> None:
        for attempt in range(20):
            try:
                await self.worker.start()
                return
            except (RuntimeError, TimeoutError):
                if attempt == 19:
                    raise
                await asyncio.sleep(1.0)

    async def keep_alive(self) -> None:
        """A worker or API that died by itself (say while the server was down) is restarted
        and counted: the run's own faults must not be mistaken for the product's."""
        if not self.worker.alive:
            self._count("worker restarts after exiting by itself")
            await self._start_worker()
        if not self.api.alive:
            self._count("API restarts after exiting by itself")
            await self.api.start()
