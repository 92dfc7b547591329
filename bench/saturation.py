"""Saturation: N journeys whose next step falls due at the same instant, and the time until
every one of those steps has run, on the tuned and on the default dev server.

    python bench/saturation.py [--journeys 2000] [--runs 1]

Journeys per second end to end (`bench/run.py`) is floored by the compressed clock: a
journey takes as long as its schedule whatever the server does. A burst is not: all N steps
are due at once and the server and the worker run them as fast as they can. Per server, in
one run: a fresh dev server, the product's worker in a process of its own, N invoices
started through the product's ingest with one shared compressed clock whose origin is
chosen so that every journey's first step is due at the same instant `T0`, a little after
the last journey has started and sits on its timer. The clock is `planning.step_at` of the
journey itself, so `T0` is where the journey puts its step. A step has run when its message
is in the outbox (one row per journey and step): the figure is the time from `T0` to the
last row, and N divided by it. Not part of the test suite.

`bench/run.py --only saturation` runs the same as one phase of the whole benchmark (its
`one_run`), with the other figures in one table.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/saturation.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func  # noqa: E402
from sqlmodel import select  # noqa: E402

from bench.procstat import cpu_delta, cpu_snapshot  # noqa: E402
from bench.product import PRODUCT_QUEUE, bench_settings, issued_event, make_settings  # noqa: E402
from bench.server import BenchServer  # noqa: E402
from bench.workerproc import WorkerProcess  # noqa: E402
from domain.models import Invoice, JourneyClock  # noqa: E402
from infra.logging import configure_logging  # noqa: E402
from infra.migrations import init_db  # noqa: E402
from infra.policy_file import load_policies  # noqa: E402
from infra.store import OutboxMessageRow, session_scope  # noqa: E402
from infra.temporal import connect  # noqa: E402
from starter.event_schema import parse_events  # noqa: E402
from starter.ingest import Ingest  # noqa: E402
from starter.journey_start import plan_journey  # noqa: E402
from workflows.planning import Ledger, step_at  # noqa: E402

SECONDS_PER_DAY = 60
"""Compressed clock: long enough that no second step falls inside the measurement."""
SETTLE_S = 10.0
"""Seconds between the last start and `T0`, for the last journeys to reach their timers."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _outbox_count(url: str) -> int:
    with session_scope(url) as s:
        return int(s.exec(select(func.count()).select_from(OutboxMessageRow)).one())


def _outbox_times(url: str) -> list[datetime]:
    with session_scope(url) as s:
        return sorted(_utc(t) for t in s.exec(select(OutboxMessageRow.created_at)).all())


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def burst(
    server: BenchServer, folder: Path, journeys: int, start_rate: float
) -> dict[str, Any]:
    values = bench_settings(folder, server)
    settings = make_settings(values)
    url = settings.store_url
    init_db(url)
    worker = WorkerProcess(
        "product", server.address, PRODUCT_QUEUE, folder / "worker.log", settings=values
    )
    await worker.start()
    try:
        policies = load_policies(settings.policy_file)
        tag = secrets.token_hex(3)
        events = [issued_event(tag, n, date.today()) for n in range(journeys)]
        # One origin for every journey: its first step at T0, after all have started.
        t0 = datetime.now(UTC) + timedelta(seconds=journeys / start_rate + SETTLE_S)
        probe = parse_events([events[0]])[0]
        origin = datetime.now(UTC)
        clock = JourneyClock(
            seconds_per_day=SECONDS_PER_DAY, origin=origin, origin_date=date.today()
        )
        inp = plan_journey(settings, policies, probe, [], lambda _: clock).journey  # type: ignore[arg-type]
        due = step_at(
            inp, Ledger(due_date=inp.invoice.due_date, amount_due=inp.invoice.amount_due), 0
        )
        shared = clock.model_copy(update={"origin": origin + (t0 - due)})

        def factory(_: Invoice) -> JourneyClock:
            return shared

        ingest = Ingest(await connect(settings), settings, policies, factory)
        started = time.perf_counter()
        for i in range(0, journeys, 500):
            outcomes = await ingest(parse_events(events[i : i + 500]))
            if any(o.status != "started" for o in outcomes):
                raise RuntimeError("an invoice did not start its journey")
        start_s = time.perf_counter() - started
        slack = (t0 - datetime.now(UTC)).total_seconds()
        if slack < 2:
            raise RuntimeError(f"starting took {start_s:.0f} s, past T0: lower --start-rate")
        log(f"  {journeys} started in {start_s:.1f} s; the burst is due in {slack:.1f} s")
        await asyncio.sleep(max(0.0, slack - 1))
        before = cpu_snapshot(server=server.pid, worker=worker.pid)
        deadline = time.monotonic() + 600 + journeys / 5
        while await asyncio.to_thread(_outbox_count, url) < journeys:
            if not worker.alive or time.monotonic() > deadline:
                raise RuntimeError(f"the burst did not finish; see {worker.log_path}")
            await asyncio.sleep(0.25)
        cpu = cpu_delta(before, cpu_snapshot(server=server.pid, worker=worker.pid))
        times = await asyncio.to_thread(_outbox_times, url)
    finally:
        await worker.stop()
    drain = (times[-1] - t0).total_seconds()
    return {
        "journeys": journeys,
        "start_s": start_s,
        "first_step_late_s": (times[0] - t0).total_seconds(),
        "half_done_s": (times[len(times) // 2] - t0).total_seconds(),
        "burst_s": drain,
        "steps_per_s": journeys / drain if drain > 0 else None,
        "server_cpu_s": cpu["server"],
        "worker_cpu_s": cpu["worker"],
    }


async def one_run(args: argparse.Namespace, root: Path, index: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    order = [True, False] if index % 2 == 0 else [False, True]
    for tuned in order:
        name = "tuned" if tuned else "default"
        folder = root / f"run-{index + 1}" / name
        async with BenchServer(folder, tuned=tuned) as server:
            log(f"run {index + 1}: {args.journeys} due at once, {name} server")
            result[name] = await burst(server, folder, args.journeys, args.start_rate)
            log(f"  {name}: every step ran {result[name]['burst_s']:.1f} s after T0")
    result["tuned_vs_default"] = result["default"]["burst_s"] / result["tuned"]["burst_s"]
    return result


def summary(runs: list[dict[str, Any]]) -> str:
    n = runs[0]["tuned"]["journeys"]
    lines = [f"saturation: {n} journeys with a step due at once, R={len(runs)}, medians"]
    for name in ("tuned", "default"):
        burst_s = statistics.median(r[name]["burst_s"] for r in runs)
        late = statistics.median(r[name]["first_step_late_s"] for r in runs)
        half = statistics.median(r[name]["half_done_s"] for r in runs)
        cpu = statistics.median(r[name]["server_cpu_s"] for r in runs)
        lines.append(
            f"  {name:<8} every step ran in {burst_s:6.1f} s ({n / burst_s:6.1f} steps/s; "
            f"first {late:+.1f} s, half {half:.1f} s from T0; server CPU {cpu:.1f} s)"
        )
    ratio = statistics.median(r["tuned_vs_default"] for r in runs)
    lines.append(f"  tuned vs default: {ratio:.2f}x faster")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--journeys", type=int, default=2000, help="journeys in the burst (2000)")
    p.add_argument("--runs", type=int, default=1)
    p.add_argument(
        "--start-rate", type=float, default=40.0, help="starts/s assumed to place T0 (40)"
    )
    args = p.parse_args()
    configure_logging("console", "WARNING")
    import json
    import os
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="journeys-saturation-"))
    runs = [asyncio.run(one_run(args, root, i)) for i in range(args.runs)]
    print(summary(runs), flush=True)
    print(json.dumps(runs), file=sys.stderr, flush=True)
    shutil.rmtree(root, ignore_errors=True)
    os._exit(0)  # skip interpreter teardown after Temporal clients (sdk-python#300)


if __name__ == "__main__":
    main()
