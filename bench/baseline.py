"""Running the bare baseline: one `BareJourney` per product journey, with its shape."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.bare import BARE_WORKFLOW, BareJourney, Shape
from bench.procstat import cpu_delta, cpu_snapshot
from bench.product import wait_closed
from bench.server import BenchServer
from bench.workerproc import WorkerProcess

BARE_QUEUE = "bench-bare"


@dataclass
class BareRun:
    workflow_ids: list[str]
    first_event_at: datetime
    worker_peak_rss_kb: int
    cpu_s: dict[str, float]


async def run_bare(
    server: BenchServer,
    folder: Path,
    shapes: Sequence[Shape],
    *,
    start_offsets: Sequence[float] | None = None,
    concurrency: int,
    timeout_s: float,
) -> BareRun:
    """Start one bare workflow per shape, wait for all to close.

    With `start_offsets` (seconds after the first start), workflow i starts when product
    journey i started, so that the bare run sees the same arrival pattern; without, all start
    as fast as the client can.
    """
    worker = WorkerProcess("bare", server.address, BARE_QUEUE, folder / "bare-worker.log")
    await worker.start()
    client = server.client
    tag = secrets.token_hex(3)
    ids = [f"bare-{tag}-{n:05d}" for n in range(len(shapes))]
    gate = asyncio.Semaphore(concurrency)

    offsets = list(start_offsets) if start_offsets is not None else [0.0] * len(shapes)
    t0 = 0.0

    async def start(workflow_id: str, shape: Shape, offset: float) -> None:
        delay = t0 + offset - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        async with gate:
            await client.start_workflow(
                BareJourney.run, shape, id=workflow_id, task_queue=BARE_QUEUE
            )

    try:
        first_event_at = datetime.now(UTC)
        cpu_before = cpu_snapshot(worker=worker.pid, server=server.pid)
        t0 = time.monotonic()
        await asyncio.gather(
            *(start(w, s, o) for w, s, o in zip(ids, shapes, offsets, strict=True))
        )
        await wait_closed(server, BARE_WORKFLOW, len(shapes), timeout_s, worker=worker)
        cpu = cpu_delta(cpu_before, cpu_snapshot(worker=worker.pid, server=server.pid))
        peak = worker.status()["VmHWM"]
    finally:
        await worker.stop()
    return BareRun(ids, first_event_at, peak, cpu)
