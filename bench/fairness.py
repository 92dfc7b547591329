"""Fairness between tenants: how late tenant B's due reminders run while tenant A ingests a
burst of invoices, with the server's task-queue fairness on and off, in one run.

    python bench/fairness.py [--burst 5000] [--b-journeys 200] [--window 90]
        [--max-cached N] [--sides off,on]

Per side: a fresh tuned dev server (`infra.temporal.tuned_args`) with
`matching.enableFairness` false on the "off" side (the server's default) and true on the
others, and the product's worker in a process of its own.
Tenant B is the default tenant; tenant A is registered (`infra.tenants.save_profile`, its
store migrated with `infra.migrations.upgrade_tenant`). Every journey is started with
`Priority(fairness_key=<tenant>)` (`starter.journey_start.tenant_priority`).

1. B's M journeys are started through the product's ingest on a compressed clock whose
   origin is chosen per journey so that its first reminder falls due at a known instant
   (`planning.step_at`, as in `bench/saturation.py`): spread evenly over `--window` seconds,
   starting `--lead` seconds after A's burst begins.
2. A's N invoices go through the product's ingest (`starter.ingest.Ingest`, what
   `POST /v1/events?tenant=tenant-a` runs for an array, called in-process with
   `tenant_settings(base, "tenant-a")`: only the HTTP hop is skipped), in arrays of
   `--array` with `--in-flight` arrays at once. A's journeys are on the real clock: their
   first reminders are days away, the burst is only their starts and first workflow tasks.
3. A reminder has run when its message is in the outbox (`created_at`, written by the
   delivery activity). B's lateness is that minus its due instant: median, p95, max.
   The journeys' shared task queue's backlog is sampled meanwhile (`DescribeTaskQueue`).

`--max-cached` sets the worker's sticky cache (default: the product's 10,000). A journey in
the cache gets its next workflow task on the worker's sticky queue, which holds one worker's
tasks only; a journey evicted from it (more open journeys than the cache holds, as a burst
of 50,000 makes) gets it on the shared queue, behind whatever backlog A's burst left there.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import secrets
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/fairness.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlmodel import col, select  # noqa: E402
from temporalio.api.enums.v1 import TaskQueueType  # noqa: E402
from temporalio.api.taskqueue.v1 import TaskQueue  # noqa: E402
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest  # noqa: E402
from temporalio.client import Client  # noqa: E402

from bench.product import PRODUCT_QUEUE, bench_settings, issued_event, make_settings  # noqa: E402
from bench.server import BenchServer  # noqa: E402
from bench.workerproc import WorkerProcess  # noqa: E402
from domain.models import Invoice, JourneyClock  # noqa: E402
from domain.outcomes import step_index_of  # noqa: E402
from infra.logging import configure_logging  # noqa: E402
from infra.migrations import init_db, upgrade_tenant  # noqa: E402
from infra.policy_file import load_policies  # noqa: E402
from infra.settings import Settings  # noqa: E402
from infra.store import OutboxMessageRow, session_scope  # noqa: E402
from infra.temporal import connect, tuned_args  # noqa: E402
from infra.tenants import TenantProfile, save_profile, tenant_settings  # noqa: E402
from starter.event_schema import parse_events  # noqa: E402
from starter.ingest import Ingest  # noqa: E402
from starter.journey_start import plan_journey  # noqa: E402
from workflows.planning import Ledger, step_at  # noqa: E402

FAIRNESS = "matching.enableFairness"
"""Set on the tuned dev server (infra.temporal.TUNED_DYNAMIC_CONFIG); the "off" side sets it
false explicitly, the others true, so that each side says what it measures."""
SECONDS_PER_DAY = 60
"""B's compressed clock: its second reminder is 7 journey days (7 minutes) after the first."""
TENANT_A = "tenant-a"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- pure figures (tests/bench/test_fairness.py) ---


def lateness(ran: Mapping[str, datetime], due: Mapping[str, datetime]) -> list[float]:
    """Seconds each due step ran after its due instant, for the steps that ran (negative:
    early), sorted. A step due but absent from `ran` is not counted: the caller waits for
    all of them or reports how many never ran."""
    return sorted((ran[k] - due[k]).total_seconds() for k in due if k in ran)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..100) of already sorted values."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def figures(values: Sequence[float]) -> dict[str, float]:
    """Median, p95 and max of sorted lateness values."""
    return {
        "median": statistics.median(values),
        "p95": percentile(values, 95),
        "max": values[-1],
    }


def ratio(off: float, on: float) -> float | None:
    """How many times later B's steps ran without fairness than with it; None when the
    "on" figure is not above zero (no meaningful ratio)."""
    return off / on if on > 0 else None


def due_instants(keys: Sequence[str], start: datetime, window_s: float) -> dict[str, datetime]:
    """`keys` due evenly over `window_s` seconds from `start` (the first at `start`)."""
    step = window_s / (len(keys) - 1) if len(keys) > 1 else 0.0
    return {k: start + timedelta(seconds=i * step) for i, k in enumerate(keys)}


# --- one side ---


def _first_steps(url: str, prefix: str) -> dict[str, datetime]:
    """When each of the journeys' first reminder's message was written, by invoice id."""
    with session_scope(url) as s:
        rows = s.exec(
            select(
                OutboxMessageRow.invoice_id, OutboxMessageRow.step_key, OutboxMessageRow.created_at
            ).where(col(OutboxMessageRow.invoice_id).startswith(prefix))
        ).all()
    return {
        inv: (t if t.tzinfo else t.replace(tzinfo=UTC))
        for inv, key, t in rows
        if step_index_of(key) == 0
    }


async def _backlog(client: Client, queue: str) -> int:
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        report_stats=True,
    )
    response = await client.workflow_service.describe_task_queue(request)
    return int(response.stats.approximate_backlog_count)


async def _sample_backlog(client: Client, queue: str, samples: list[tuple[float, int]]) -> None:
    began = time.monotonic()
    while True:
        try:
            samples.append((time.monotonic() - began, await _backlog(client, queue)))
        except Exception as err:  # a busy server: a missing sample, not a failed run
            log(f"  backlog sample failed: {err!r}")
        await asyncio.sleep(2.0)


def _b_clocks(
    settings: Settings, events: list[dict[str, Any]], due: Mapping[str, datetime]
) -> dict[str, JourneyClock]:
    """A compressed clock per B invoice whose origin puts its first reminder at `due`."""
    policies = load_policies(settings.policy_file)
    origin = datetime.now(UTC)
    probe_clock = JourneyClock(
        seconds_per_day=SECONDS_PER_DAY, origin=origin, origin_date=date.today()
    )
    probe = parse_events([events[0]])[0]
    inp = plan_journey(settings, policies, probe, [], lambda _: probe_clock).journey  # type: ignore[arg-type]
    first = step_at(
        inp, Ledger(due_date=inp.invoice.due_date, amount_due=inp.invoice.amount_due), 0
    )
    offset = first - origin  # the same for every B invoice: same dates, same policy
    return {
        inv: probe_clock.model_copy(update={"origin": moment - offset})
        for inv, moment in due.items()
    }


async def _ingest_all(
    ingest: Ingest, events: list[dict[str, Any]], array: int, in_flight: int
) -> None:
    gate = asyncio.Semaphore(in_flight)

    async def one(chunk: list[dict[str, Any]]) -> None:
        async with gate:
            outcomes = await ingest(parse_events(chunk))
        bad = [o for o in outcomes if o.status != "started"]
        if bad:
            raise RuntimeError(f"an invoice did not start its journey: {bad[0]}")

    await asyncio.gather(*(one(events[i : i + array]) for i in range(0, len(events), array)))


SIDES = ("off", "on", "on+sticky")
"""Fairness off; on; on with the worker's sticky timeout at `--sticky-timeout` seconds."""


async def side(args: argparse.Namespace, root: Path, name: str) -> dict[str, Any]:
    fair = name != "off"
    folder = root / name.replace("+", "-")
    load = os.getloadavg()
    log(f"fairness {name}: load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    flags = tuned_args({FAIRNESS: fair})
    async with BenchServer(folder, tuned=False, extra_args=flags) as server:
        values = bench_settings(folder, server)
        if name == "on+sticky":
            values["worker_sticky_timeout_seconds"] = args.sticky_timeout
        base = make_settings(values)
        init_db(base.store_url)
        save_profile(base.store_url, TenantProfile(id=TENANT_A, name="Tenant A (burst)"))
        upgrade_tenant(base, TENANT_A)
        a_settings = tenant_settings(base, TENANT_A)
        worker = WorkerProcess(
            "product",
            server.address,
            PRODUCT_QUEUE,
            folder / "worker.log",
            settings=values,
            max_cached=args.max_cached,
        )
        await worker.start()
        sampler: asyncio.Task[None] | None = None
        try:
            client = await connect(base)
            policies = load_policies(base.policy_file)
            tag = secrets.token_hex(3)
            today = date.today()
            b_events = [issued_event(f"b{tag}", n, today) for n in range(args.b_journeys)]
            a_events = [issued_event(f"a{tag}", n, today) for n in range(args.burst)]
            b_ids = [e["data"]["invoice"]["id"] for e in b_events]
            burst_at = datetime.now(UTC) + timedelta(seconds=args.b_journeys / args.start_rate + 5)
            due = due_instants(b_ids, burst_at + timedelta(seconds=args.lead), args.window)
            clocks = _b_clocks(base, b_events, due)

            def b_clock(invoice: Invoice) -> JourneyClock:
                return clocks[invoice.id]

            t = time.perf_counter()
            await _ingest_all(Ingest(client, base, policies, b_clock), b_events, 200, 1)
            log(f"  B: {len(b_events)} journeys started in {time.perf_counter() - t:.1f} s")
            wait = (burst_at - datetime.now(UTC)).total_seconds()
            if wait < 0:
                raise RuntimeError(
                    f"B's starts ran {-wait:.0f} s past the burst: lower --start-rate"
                )
            await asyncio.sleep(wait)
            samples: list[tuple[float, int]] = []
            sampler = asyncio.create_task(_sample_backlog(client, PRODUCT_QUEUE, samples))
            burst_load = os.getloadavg()[0]
            t = time.perf_counter()
            a_ingest = Ingest(client, a_settings, policies, None)
            await _ingest_all(a_ingest, a_events, args.array, args.in_flight)
            burst_s = time.perf_counter() - t
            log(f"  A: {len(a_events)} journeys started in {burst_s:.1f} s")
            last_due = max(due.values())
            deadline = last_due + timedelta(seconds=args.timeout)
            prefix = f"inv-b{tag}-"
            ran = await asyncio.to_thread(_first_steps, base.store_url, prefix)
            while len(ran) < len(due) and datetime.now(UTC) < deadline:
                if not worker.alive:
                    raise RuntimeError(f"the worker died; see {worker.log_path}")
                await asyncio.sleep(1.0)
                ran = await asyncio.to_thread(_first_steps, base.store_url, prefix)
            # A's first tasks may still be queued: sample until the backlog is gone.
            while samples and samples[-1][1] > 0 and datetime.now(UTC) < deadline:
                await asyncio.sleep(2.0)
        finally:
            if sampler is not None:
                sampler.cancel()
            await worker.stop()
    late = lateness(ran, due)
    if not late:
        raise RuntimeError("none of B's reminders ran")
    during = lateness(
        ran, {k: v for k, v in due.items() if v <= burst_at + timedelta(seconds=burst_s)}
    )
    return {
        "fairness": name,
        "load_at_start": load[0],
        "load_at_burst": burst_load,
        "burst": args.burst,
        "burst_s": burst_s,
        "burst_per_s": args.burst / burst_s,
        "b_due": len(due),
        "b_ran": len(late),
        "late": figures(late),
        "late_during_burst": figures(during) if during else None,
        "b_due_during_burst": len(during),
        "lateness": late,
        "backlog_max": max((n for _, n in samples), default=None),
        "backlog_samples": samples,
    }


def table(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> str:
    cached = args.max_cached if args.max_cached is not None else "product default"
    lines = [
        f"Fairness between tenants: tenant B's reminder lateness while tenant A ingests "
        f"{args.burst} invoices; {args.b_journeys} B reminders due over {args.window:.0f} s "
        f"from {args.lead:.0f} s after the burst began; worker cache {cached}; "
        f"{os.cpu_count()} cores",
        f"{'fairness':<10}{'load':>11}{'A inv/s':>9}{'A s':>7}{'backlog':>9}"
        f"{'B ran':>9}{'median s':>10}{'p95 s':>8}{'max s':>8}"
        f"{'  during the burst: n, median, p95':>36}",
    ]
    for name, r in results.items():
        late, during = r["late"], r["late_during_burst"]
        tail = (
            f"{r['b_due_during_burst']:>5} {during['median']:7.1f} {during['p95']:7.1f}"
            if during
            else "    0"
        )
        lines.append(
            f"{name:<10}{r['load_at_start']:5.1f}/{r['load_at_burst']:<5.1f}"
            f"{r['burst_per_s']:>9.1f}{r['burst_s']:>7.0f}{r['backlog_max'] or 0:>9}"
            f"{r['b_ran']:>5}/{r['b_due']:<3}{late['median']:>10.2f}{late['p95']:>8.2f}"
            f"{late['max']:>8.2f}{'':>14}{tail}"
        )
    for other in (n for n in results if n != "off" and "off" in results):
        for key in ("median", "p95"):
            x = ratio(results["off"]["late"][key], results[other]["late"][key])
            shown = f"{x:.2f}x" if x is not None else f"n/a ({other} <= 0 s)"
            lines.append(f"  B's {key} lateness, off / {other}: {shown}")
    lines.append("  load: 1-minute load average at the side's start / at the burst's start")
    return "\n".join(lines)


async def run(args: argparse.Namespace, root: Path) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for name in args.sides.split(","):
        if name not in SIDES:
            raise SystemExit(f"--sides: {name!r} is not one of {', '.join(SIDES)}")
        results[name] = await side(args, root, name)
        r = results[name]
        log(
            f"  fairness {name}: B median {r['late']['median']:.2f} s, p95 {r['late']['p95']:.2f} s"
        )
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--burst", type=int, default=5000, help="A's invoices (5000)")
    p.add_argument("--b-journeys", type=int, default=200, help="B's due reminders (200)")
    p.add_argument("--window", type=float, default=90.0, help="s over which B's are due (90)")
    p.add_argument("--lead", type=float, default=5.0, help="s from burst start to B's first")
    p.add_argument("--array", type=int, default=500, help="A's invoices per array (500)")
    p.add_argument("--in-flight", type=int, default=2, help="A's arrays at once (2)")
    p.add_argument("--start-rate", type=float, default=15.0, help="B starts/s assumed (15)")
    p.add_argument("--max-cached", type=int, default=None, help="worker sticky cache")
    p.add_argument("--timeout", type=float, default=900.0, help="s after the last due")
    p.add_argument("--sides", default="off,on", help="sides in order: off, on, on+sticky")
    p.add_argument(
        "--sticky-timeout", type=float, default=2.0, help="on+sticky: the worker's (2 s)"
    )
    p.add_argument("--json", type=Path, default=None, help="write every figure here")
    args = p.parse_args()
    configure_logging("console", "WARNING")
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="journeys-fairness-"))
    results = asyncio.run(run(args, root))
    print(table(args, results), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    shutil.rmtree(root, ignore_errors=True)
    os._exit(0)  # skip interpreter teardown after Temporal clients (sdk-python#300)


if __name__ == "__main__":
    main()
