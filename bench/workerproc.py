"""A worker in a process of its own, so that its memory is the worker's alone.

    python -m bench.workerproc product|bare --address HOST:PORT --task-queue Q
        [--settings JSON] [--max-cached N]

`product` is the product's own `build_worker` (`--max-cached` sets its
`worker_max_cached_workflows`); `bare` is `BareJourney` on one SDK `Worker` with the product's
default worker knobs. It prints
`READY <pid>` once polling; on SIGUSR1 it collects garbage and prints
`RSS <VmRSS kB> <VmHWM kB>`; SIGTERM shuts it down gracefully.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol, TextIO

from temporalio.client import Client
from temporalio.worker import Worker

from bench.procstat import cpu_seconds, proc_status
from bench.server import spawn_module
from infra.settings import Settings

READY_TIMEOUT = 90.0
SHUTDOWN_TIMEOUT = 15.0


class WorkerProcess:
    """Parent side: start `python -m bench.workerproc ...`, read its memory, stop it."""

    def __init__(
        self,
        kind: str,
        address: str,
        task_queue: str,
        log_path: Path,
        *,
        settings: dict[str, Any] | None = None,
        max_cached: int | None = None,
    ) -> None:
        self.args = [
            kind,
            "--address",
            address,
            "--task-queue",
            task_queue,
            "--settings",
            json.dumps(settings or {}),
        ]
        if max_cached is not None:
            self.args += ["--max-cached", str(max_cached)]
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self) -> None:
        log = self.log_path.open("ab")
        try:
            self.proc = await spawn_module(
                "bench.workerproc", self.args, asyncio.subprocess.PIPE, log
            )
        finally:
            log.close()
        line = await asyncio.wait_for(self._line(), timeout=READY_TIMEOUT)
        if not line.startswith("READY"):
            raise RuntimeError(f"worker did not start ({line!r}); see {self.log_path}")

    async def _line(self) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        raw = await self.proc.stdout.readline()
        if not raw:
            raise RuntimeError(f"worker exited; see {self.log_path}")
        return raw.decode().strip()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def status(self) -> dict[str, int]:
        return proc_status(self.pid)

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    async def rss_after_gc(self) -> int:
        """The worker's RSS in kB right after a full garbage collection in it."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGUSR1)
        line = await asyncio.wait_for(self._line(), timeout=60)
        return int(line.split()[1])

    async def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout=SHUTDOWN_TIMEOUT + 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


class Runnable(Protocol):
    async def run(self) -> None: ...

    async def shutdown(self) -> None: ...


def _knob(name: str, fallback: Any) -> Any:
    """The product's default for a worker setting, so that both sides use the same knobs."""
    field = Settings.model_fields.get(name)
    return fallback if field is None else field.default


def product_worker(client: Client, settings: Settings) -> Runnable:
    import worker as product

    built: Runnable = product.build_worker(client, settings)
    return built


def bare_worker(client: Client, task_queue: str, max_cached: int | None) -> Runnable:
    from bench.bare import BareJourney, bare_noop

    return Worker(
        client,
        task_queue=task_queue,
        workflows=[BareJourney],
        activities=[bare_noop],
        max_cached_workflows=max_cached or _knob("worker_max_cached_workflows", 1000),
        max_concurrent_workflow_tasks=_knob("worker_max_concurrent_workflow_tasks", 100),
        max_concurrent_activities=_knob("worker_max_concurrent_activities", 50),
        graceful_shutdown_timeout=timedelta(
            seconds=_knob("worker_graceful_shutdown_seconds", 10.0)
        ),
    )


async def main(args: argparse.Namespace) -> None:
    if args.kind == "product":
        from infra.logging import configure_logging
        from infra.temporal import connect

        values = json.loads(args.settings)
        values.update(temporal_address=args.address, temporal_task_queue=args.task_queue)
        if args.max_cached is not None:
            values["worker_max_cached_workflows"] = args.max_cached
        settings = Settings(_env_file=None, **values)
        configure_logging(settings.log_format, settings.log_level)
        w = product_worker(await connect(settings), settings)
    else:
        w = bare_worker(await Client.connect(args.address), args.task_queue, args.max_cached)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def report() -> None:
        gc.collect()
        s = proc_status()
        print(f"RSS {s['VmRSS']} {s['VmHWM']}", file=CONTROL, flush=True)

    loop.add_signal_handler(signal.SIGUSR1, report)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    running = asyncio.create_task(w.run())
    await asyncio.sleep(0.3)
    print(f"READY {os.getpid()}", file=CONTROL, flush=True)
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait([running, waiter], return_when=asyncio.FIRST_COMPLETED)
    if not running.done():
        # Graceful, but bounded: with the server already gone, shutdown would wait forever.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(w.shutdown(), timeout=SHUTDOWN_TIMEOUT)
    if not running.done():
        running.cancel()
    with contextlib.suppress(BaseException):
        await running


CONTROL: TextIO = sys.stdout
"""Where READY and RSS lines go: the parent reads them from our stdout pipe."""


def _keep_stdout_for_control() -> None:
    """Point fd 1 at the log (stderr) and keep the pipe for control lines only. The parent
    reads the pipe only when it expects a control line, so anything else written to stdout
    (the product's logs, the SDK core's) would fill the pipe and block the worker."""
    global CONTROL
    CONTROL = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)


def cli() -> None:
    _keep_stdout_for_control()
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["product", "bare"])
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--settings", default="{}", help="Settings overrides as JSON (product)")
    parser.add_argument("--max-cached", type=int, default=None)
    status = 0
    try:
        asyncio.run(main(parser.parse_args()))
    except BaseException as err:  # report, then leave without interpreter teardown
        print(f"worker failed: {err!r}", file=sys.stderr, flush=True)
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)  # a process that ran a Temporal worker can abort in teardown


if __name__ == "__main__":
    cli()
