"""Ingest speed: new invoices a second into running journeys, the batch path against the old.

    python bench/ingest.py [--invoices N] [--array 500] [--import-lines 10000] [--runs R]

Each run, on a fresh tuned dev server with the product's worker running (each invoice starts
a journey that the worker runs to its first timer) and the HTTP API served in this process:

1. `old`: N `invoice.issued` POSTed to `/v1/events` in arrays of `--array`, applied the way
   every batch was before the batch path (`OneByOne`: each event alone through
   `apply_event`, 16 ordering groups at a time: five store transactions and one start each);
2. `new`: the same through today's `Ingest` (one store query per question, one transaction
   to record, many journey starts in flight: `starter/issue_batch.py`);
3. `import`: `journeys events import` of a file of `--import-lines` lines, as its own process;
4. `floor`: N starts of a bare workflow (a 2.3 kB argument, no search attributes, no worker),
   64 in flight from one client: what the dev server itself allows on this machine now.

Every phase checks that each invoice answered `started` once. It prints invoices a second and
the ratio of each to `old` in the same run (medians over runs). Not part of the test suite.

`bench/run.py --only ingest` runs the same as one phase of the whole benchmark (its
`one_run`), with the other figures in one table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/ingest.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import uvicorn  # noqa: E402

from bench.procstat import cpu_delta, cpu_snapshot  # noqa: E402
from bench.product import (  # noqa: E402
    PRODUCT_QUEUE,
    bench_settings,
    issued_event,
    make_settings,
    until_serving,
)
from bench.server import BenchServer, free_port  # noqa: E402
from bench.workerproc import WorkerProcess  # noqa: E402
from infra.logging import configure_logging  # noqa: E402
from infra.migrations import init_db  # noqa: E402
from journeys.devstack import ApiServer  # noqa: E402
from starter.api import create_app  # noqa: E402
from starter.event_schema import AnyEvent, EventOutcome  # noqa: E402
from starter.ingest import Ingest, apply_event, invoice_owners, ordering_key  # noqa: E402

OLD_CONCURRENCY = 16
"""What `Ingest` applied at once before the batch path (`INGEST_CONCURRENCY` then)."""
REPO = Path(__file__).resolve().parent.parent


class OneByOne(Ingest):
    """The ingest as it was before the batch path: every event alone through `apply_event`,
    ordering groups `OLD_CONCURRENCY` at a time. The baseline the batch path is held to."""

    async def __call__(
        self, events: Sequence[AnyEvent], concurrency: int = OLD_CONCURRENCY
    ) -> list[EventOutcome]:
        groups: dict[str, list[AnyEvent]] = defaultdict(list)
        owners = invoice_owners(events)
        for event in events:
            groups[ordering_key(event, owners)].append(event)
        outcomes: dict[str, EventOutcome] = {}
        limit = asyncio.Semaphore(concurrency)

        async def apply_in_order(group: list[AnyEvent]) -> None:
            async with limit:
                for event in group:
                    if event.id not in outcomes:
                        outcomes[event.id] = await apply_event(
                            self.client, self.settings, self.policies, event, clock=self.clock
                        )

        await asyncio.gather(*(apply_in_order(g) for g in groups.values()))
        return [outcomes[e.id] for e in events]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _check(outcomes: list[dict[str, Any]], expected: int) -> None:
    started = [o for o in outcomes if o["status"] == "started"]
    if len(started) != expected or len({o["event_id"] for o in started}) != expected:
        bad = [o for o in outcomes if o["status"] != "started"][:1]
        raise RuntimeError(f"{len(started)}/{expected} started; first other: {bad}")


async def api_phase(
    server: BenchServer, folder: Path, invoices: int, array: int, in_flight: int, old: bool
) -> dict[str, float]:
    """POST `invoices` new invoices in arrays; invoices a second from first POST to last answer."""
    values = bench_settings(folder, server, api_port=free_port())
    settings = make_settings(values)
    init_db(settings.store_url)
    worker = WorkerProcess(
        "product", server.address, PRODUCT_QUEUE, folder / "worker.log", settings=values
    )
    await worker.start()
    app = create_app(settings)
    api = ApiServer(
        uvicorn.Config(
            app, host="127.0.0.1", port=settings.api_port, log_config=None, access_log=False
        )
    )
    serving = asyncio.create_task(api.serve())
    try:
        await until_serving(api, serving)
        if old:
            ingest: Ingest = app.state.ingest
            app.state.ingest = OneByOne(ingest.client, ingest.settings, ingest.policies)
        tag = secrets.token_hex(3)
        events = [issued_event(tag, n, date.today()) for n in range(invoices)]
        arrays = [events[i : i + array] for i in range(0, len(events), array)]
        gate = asyncio.Semaphore(in_flight)
        outcomes: list[dict[str, Any]] = []
        base = f"http://127.0.0.1:{settings.api_port}"
        async with httpx.AsyncClient(base_url=base, timeout=600) as http:

            async def post(body: list[dict[str, Any]]) -> None:
                async with gate:
                    r = await http.post("/v1/events", json=body)
                if r.status_code != 202:
                    raise RuntimeError(f"POST answered {r.status_code}: {r.text[:300]}")
                outcomes.extend(r.json()["outcomes"])

            before = cpu_snapshot(server=server.pid, worker=worker.pid)
            t0 = time.perf_counter()
            await asyncio.gather(*(post(a) for a in arrays))
            elapsed = time.perf_counter() - t0
            cpu = cpu_delta(before, cpu_snapshot(server=server.pid, worker=worker.pid))
        _check(outcomes, invoices)
    finally:
        api.should_exit = True
        await serving
        await worker.stop()
    return {"invoices_per_s": invoices / elapsed, "elapsed_s": elapsed} | {
        f"{k}_cpu_ms_per_invoice": 1000 * v / invoices for k, v in cpu.items()
    }


async def import_phase(server: BenchServer, folder: Path, lines: int) -> dict[str, float]:
    """`journeys events import` of a `lines`-line file, timed from launch to exit."""
    values = bench_settings(folder, server)
    init_db(make_settings(values).store_url)
    worker = WorkerProcess(
        "product", server.address, PRODUCT_QUEUE, folder / "worker.log", settings=values
    )
    await worker.start()
    tag = secrets.token_hex(3)
    path = folder / "events.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for n in range(lines):
            f.write(json.dumps(issued_event(tag, n, date.today())) + "\n")
    env = dict(os.environ) | {k.upper(): str(v) for k, v in values.items() if v is not None}
    for unset in ("DATABASE_URL", "API_KEY", "SENDGRID_API_KEY", "TWILIO_ACCOUNT_SID"):
        env.pop(unset, None)
    cmd = [
        sys.executable,
        "-c",
        "from journeys.cli import app; app()",
        "events",
        "import",
        str(path),
    ]
    try:
        before = cpu_snapshot(server=server.pid, worker=worker.pid)
        t0 = time.perf_counter()
        done = await asyncio.to_thread(
            subprocess.run, cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=1800
        )
        elapsed = time.perf_counter() - t0
        cpu = cpu_delta(before, cpu_snapshot(server=server.pid, worker=worker.pid))
    finally:
        await worker.stop()
    if done.returncode != 0 or f"{lines} applied ({lines} started)" not in done.stdout:
        raise RuntimeError(f"import failed ({done.returncode}): {done.stdout}{done.stderr[-2000:]}")
    return {"invoices_per_s": lines / elapsed, "elapsed_s": elapsed} | {
        f"{k}_cpu_ms_per_invoice": 1000 * v / lines for k, v in cpu.items() if k != "driver"
    }


async def floor_phase(server: BenchServer, invoices: int) -> dict[str, float]:
    """Bare starts, 64 in flight: the server's own ceiling for starting workflows here."""
    gate = asyncio.Semaphore(64)
    arg = "x" * 2300

    async def start(n: int) -> None:
        async with gate:
            await server.client.start_workflow("Floor", arg, id=f"floor-{n}", task_queue="floor")

    before = cpu_snapshot(server=server.pid)
    t0 = time.perf_counter()
    await asyncio.gather(*(start(n) for n in range(invoices)))
    elapsed = time.perf_counter() - t0
    cpu = cpu_delta(before, cpu_snapshot(server=server.pid))
    return {"invoices_per_s": invoices / elapsed, "elapsed_s": elapsed} | {
        f"{k}_cpu_ms_per_invoice": 1000 * v / invoices for k, v in cpu.items()
    }


async def one_run(args: argparse.Namespace, root: Path, index: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    phases = ["old", "new", "import"] if index % 2 == 0 else ["new", "old", "import"]
    phases.append("floor")
    if args.import_lines <= 0:
        phases.remove("import")
    for phase in phases:
        folder = root / f"run-{index + 1}" / phase
        async with BenchServer(folder, tuned=True) as server:
            log(f"run {index + 1}: {phase}")
            if phase == "import":
                result[phase] = await import_phase(server, folder, args.import_lines)
            elif phase == "floor":
                result[phase] = await floor_phase(server, args.invoices)
            else:
                result[phase] = await api_phase(
                    server, folder, args.invoices, args.array, args.in_flight, old=phase == "old"
                )
            log(f"  {phase}: {result[phase]['invoices_per_s']:.1f} invoices/s")
    old = result["old"]["invoices_per_s"]
    result["ratios"] = {k: v["invoices_per_s"] / old for k, v in result.items() if k != "old"}
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--invoices", type=int, default=2000, help="invoices per API phase (2000)")
    p.add_argument("--array", type=int, default=500, help="events per POST (500)")
    p.add_argument("--in-flight", type=int, default=2, help="POSTs in flight (2)")
    p.add_argument("--import-lines", type=int, default=10_000, help="0: no import phase")
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    configure_logging("console", "WARNING")
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="journeys-ingest-"))
    runs = [asyncio.run(one_run(args, root, i)) for i in range(args.runs)]
    lines = [f"ingest: {args.invoices} invoices in arrays of {args.array}, R={args.runs}, medians"]
    for phase in ("old", "new", "import", "floor"):
        values = [r[phase]["invoices_per_s"] for r in runs if phase in r]
        if not values:
            continue
        ratio = [r["ratios"][phase] for r in runs if phase in r.get("ratios", {})]
        cpu = statistics.median(
            r[phase].get("server_cpu_ms_per_invoice", 0) for r in runs if phase in r
        )
        lines.append(
            f"  {phase:<7} {statistics.median(values):7.1f} invoices/s"
            + (f"  {statistics.median(ratio):.2f}x old" if ratio else "")
            + f"  (server {cpu:.1f} ms CPU / invoice)"
        )
    print("\n".join(lines), flush=True)
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2) + "\n", encoding="utf-8")
    import shutil

    shutil.rmtree(root, ignore_errors=True)
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown after Temporal clients (sdk-python#300)


if __name__ == "__main__":
    main()
