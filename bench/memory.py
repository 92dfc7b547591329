"""Worker memory per cached idle journey: the product's journey against the bare workflow.

A worker process (its cache large enough for all of them) gets `count` journeys that each
sit on a timer days away. Its RSS after a garbage collection, before and after, divided by
`count`, is what one cached idle journey costs. A warm-up batch first loads the modules and
fills the SDK's one-off structures, so that only the per-journey part is counted.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.bare import BareJourney, Shape
from bench.product import bench_settings, issued_event, make_settings
from bench.server import BenchServer
from bench.workerproc import WorkerProcess
from infra.migrations import init_db
from infra.policy_file import load_policies
from infra.temporal import connect
from starter.event_schema import parse_events
from starter.ingest import Ingest

WARMUP = 50
IDLE_DUE_IN_DAYS = 30
IDLE_BARE_SHAPE: Shape = [
    [0.0],
    *([float((IDLE_DUE_IN_DAYS + d) * 86400), 1.0] for d in (3, 10, 17, 24, 34)),
]
"""Like a standard journey on the real clock: five timers weeks away, an activity after each."""
START_CONCURRENCY = 8
IDLE_TIMEOUT = 600.0


async def _wait_idle(server: BenchServer, workflow_ids: Sequence[str]) -> None:
    """Until every workflow has finished its first workflow task (and so sits in the cache)."""
    client = server.client
    gate = asyncio.Semaphore(16)
    pending = list(workflow_ids)
    deadline = time.monotonic() + IDLE_TIMEOUT

    async def busy(wid: str) -> bool:
        async with gate:
            desc = await client.get_workflow_handle(wid).describe()
            raw = desc.raw_description
            return (
                raw.HasField("pending_workflow_task")
                or raw.workflow_execution_info.history_length < 4
            )

    while pending:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} idle journeys never finished their first task")
        flags = await asyncio.gather(*(busy(w) for w in pending))
        pending = [w for w, b in zip(pending, flags, strict=True) if b]
        if pending:
            await asyncio.sleep(1)


async def idle_memory(server: BenchServer, folder: Path, kind: str, count: int) -> dict[str, float]:
    """RSS per cached idle journey (kB) of a `kind` worker: "product" (journeys started as
    the product starts them: their configuration by reference), "product-by-value" (the
    configuration in every journey's input, as before issue 17) or "bare"."""
    queue = f"bench-mem-{kind}"
    extra = {"journey_config_by_reference": False} if kind == "product-by-value" else {}
    values = bench_settings(folder / f"mem-{kind}", server, temporal_task_queue=queue, **extra)
    worker = WorkerProcess(
        "bare" if kind == "bare" else "product",
        server.address,
        queue,
        folder / f"mem-{kind}-worker.log",
        settings=values,
        max_cached=count + WARMUP + 100,
    )
    start: Callable[[int, int], Awaitable[list[str]]]
    if kind != "bare":
        settings = make_settings(values)
        init_db(settings.store_url)
        client = await connect(settings)
        ingest = Ingest(client, settings, load_policies(settings.policy_file), None)
        tag = secrets.token_hex(3)
        issue_day = date.today()

        async def start_product(first: int, n: int) -> list[str]:
            events: list[dict[str, Any]] = []
            for i in range(first, first + n):
                event = issued_event(tag, i, issue_day)
                due = issue_day + timedelta(days=IDLE_DUE_IN_DAYS)
                event["data"]["invoice"]["due_date"] = due.isoformat()
                events.append(event)
            for chunk in range(0, len(events), 100):
                await ingest(parse_events(events[chunk : chunk + 100]))
            return [f"invoice-{e['data']['invoice']['id']}" for e in events]

        start = start_product
    else:
        bare_tag = secrets.token_hex(3)
        gate = asyncio.Semaphore(START_CONCURRENCY)

        async def one(wid: str) -> None:
            async with gate:
                await server.client.start_workflow(
                    BareJourney.run, IDLE_BARE_SHAPE, id=wid, task_queue=queue
                )

        async def start_bare(first: int, n: int) -> list[str]:
            ids = [f"idle-{bare_tag}-{i:05d}" for i in range(first, first + n)]
            await asyncio.gather(*(one(w) for w in ids))
            return ids

        start = start_bare

    await worker.start()
    try:
        await _wait_idle(server, await start(0, WARMUP))
        before = await worker.rss_after_gc()
        t0 = time.perf_counter()
        await _wait_idle(server, await start(WARMUP, count))
        loaded_s = time.perf_counter() - t0
        await asyncio.sleep(1)
        after = await worker.rss_after_gc()
    finally:
        await worker.stop()
    return {
        "idle_journeys": count,
        "rss_before_kb": before,
        "rss_after_kb": after,
        "kb_per_journey": (after - before) / count,
        "load_s": loaded_s,
    }
