"""The product against bare Temporal, in one run on this machine: `python bench/run.py`.

    python bench/run.py [--journeys N] [--runs R] [--json bench/results/latest.json]

Each of the R runs:

1. starts a dev server with the tuned flags (`bench/server.py`), runs N journeys through the
   product's real path (billing events POSTed to the HTTP API, the product's worker, outbox
   delivery, handover), reads every history, then runs the bare baseline on the same server:
   one bare workflow per journey with exactly that journey's timers and activities;
2. starts a dev server with its defaults and runs the same product load on it;
3. measures worker memory per cached idle journey, product against bare (tuned server).

It prints medians over the runs and the ratios the Performance issue sets targets for, and
writes everything (every run too) as JSON. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import json
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/run.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.baseline import run_bare  # noqa: E402
from bench.histories import Journey, read_journeys, shapes_of, summarize  # noqa: E402
from bench.memory import idle_memory  # noqa: E402
from bench.product import PAY_AFTER_DAYS, ProductRun, run_product  # noqa: E402
from bench.server import BenchServer  # noqa: E402
from infra.temporal import TUNED_DEV_SERVER_ARGS  # noqa: E402

TARGETS = {
    "product_vs_bare_throughput": 0.85,
    "tuned_vs_default_server": 1.8,
    "memory_per_idle_journey_vs_bare": 1.3,
    "events_per_step_happy_path": 8.0,
}


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


async def one_run(args: argparse.Namespace, index: int, root: Path) -> dict[str, Any]:
    folder = root / f"run-{index + 1}"
    result: dict[str, Any] = {"run": index + 1}
    product_kwargs: dict[str, Any] = {
        "journeys": args.journeys,
        "seconds_per_day": args.seconds_per_day,
        "paid_share": args.paid_share,
        "batch_size": args.batch_size,
        "concurrency": args.concurrency,
        "timeout_s": args.timeout,
    }

    async def product_on(
        server: BenchServer, name: str
    ) -> tuple[ProductRun, list[Journey], dict[str, Any]]:
        """The product's run on `server`: what it did, its journeys as read back, the summary."""
        prod = await run_product(server, folder / name, **product_kwargs)
        journeys = await read_journeys(server.client, prod.workflow_ids)
        summary = summarize(journeys, prod.first_event_at) | {
            "worker_peak_rss_kb": prod.worker_peak_rss_kb,
            **_cpu(prod.cpu_s),
            "ingest_s": prod.ingest_s,
        }
        return prod, journeys, summary

    async def tuned() -> None:
        async with BenchServer(folder / "tuned", tuned=True, extra_args=args.server_arg) as server:
            log(f"run {index + 1}: product, tuned server ({args.journeys} journeys)")
            prod, journeys, summary = await product_on(server, "tuned")
            result["product"] = summary | {"paid": prod.paid, "api_posts": prod.api_posts}
            _progress("product/tuned", result["product"])
            log(f"run {index + 1}: bare baseline, same server")
            # Each bare workflow starts when its product journey started (same arrival pattern).
            offsets = [
                max(0.0, (j.started_at - prod.first_event_at).total_seconds())
                if j.started_at is not None
                else 0.0
                for j in journeys
            ]
            bare = await run_bare(
                server,
                folder / "tuned",
                shapes_of(journeys),
                start_offsets=offsets,
                concurrency=args.concurrency * 2,
                timeout_s=args.timeout,
            )
            bare_journeys = await read_journeys(server.client, bare.workflow_ids)
            result["bare"] = summarize(bare_journeys, bare.first_event_at) | {
                "worker_peak_rss_kb": bare.worker_peak_rss_kb,
                **_cpu(bare.cpu_s),
            }
            _progress("bare/tuned", result["bare"])
            # Bare journey i has product journey i's timers and activities: its events per
            # product step are the floor for one timer and one activity per step.
            handed = [i for i, j in enumerate(journeys) if j.cohort == "handed_over"]
            steps = sum(journeys[i].steps for i in handed)
            if steps:
                bare_events = sum(bare_journeys[i].events for i in handed)
                result["bare_per_product_step"] = bare_events / steps

    async def default() -> None:
        async with BenchServer(folder / "default", tuned=False) as server:
            log(f"run {index + 1}: product, default server")
            _, _, result["product_default_server"] = await product_on(server, "default")
            _progress("product/default", result["product_default_server"])

    # Alternate which server goes first, so that neither always gets the fresher machine.
    order: list[Callable[[], Any]] = [tuned, default] if index % 2 == 0 else [default, tuned]
    if args.skip_default:
        order = [tuned]
    if args.memory_only:
        order = []
    for phase in order:
        await phase()

    if not args.skip_memory:
        async with BenchServer(folder / "memory", tuned=True) as server:
            for kind in ("product", "bare"):
                log(f"run {index + 1}: memory, {args.idle_journeys} idle {kind} journeys")
                result[f"memory_{kind}"] = await idle_memory(
                    server, folder / "memory", kind, args.idle_journeys
                )
                log(f"  {result[f'memory_{kind}']['kb_per_journey']:.1f} kB per idle journey")
    return result


def _cpu(cpu: dict[str, float]) -> dict[str, float]:
    return {f"{name}_cpu_s": value for name, value in cpu.items()}


def _progress(label: str, s: dict[str, Any]) -> None:
    log(
        f"  {label}: {s['journeys_per_s']:.2f} journeys/s over {s['wall_s']:.1f} s, "
        f"{s['completed']}/{s['journeys']} completed, {s['events_per_journey']:.1f} events/journey"
    )


def _median(runs: list[dict[str, Any]], *path: str) -> float | None:
    values: list[float] = []
    for run in runs:
        node: Any = run
        for key in path:
            if not isinstance(node, dict) or key not in node:
                node = None
                break
            node = node[key]
        if isinstance(node, int | float):
            values.append(float(node))
    return statistics.median(values) if values else None


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    m: dict[str, Any] = {}
    for side in ("product", "bare", "product_default_server"):
        m[side] = {
            key: _median(runs, side, key)
            for key in (
                "journeys_per_s",
                "wall_s",
                "events_per_journey",
                "events_per_step",
                "step_events_p50",
                "step_events_mean",
                "events_per_activity",
                "timers_per_journey",
                "activities_per_journey",
                "local_activities_per_journey",
                "steps_per_journey",
                "state_transitions_per_journey",
                "lateness_p50_s",
                "lateness_p99_s",
                "worker_peak_rss_kb",
                "worker_cpu_s",
                "server_cpu_s",
                "driver_cpu_s",
                "ingest_s",
            )
        }
    m["happy_path_events_per_step"] = _median(
        runs, "product", "cohorts", "handed_over", "events_per_step"
    )
    m["paid_events_per_step"] = _median(runs, "product", "cohorts", "paid", "events_per_step")
    m["bare_events_per_product_step"] = _median(runs, "bare_per_product_step")
    for kind in ("product", "bare"):
        m[f"memory_{kind}_kb_per_journey"] = _median(runs, f"memory_{kind}", "kb_per_journey")
    # Ratios are taken per run (both sides measured minutes apart), then the median of those.
    m["ratios"] = {
        "product_vs_bare_throughput": _median(runs, "ratios", "product_vs_bare_throughput"),
        "tuned_vs_default_server": _median(runs, "ratios", "tuned_vs_default_server"),
        "memory_per_idle_journey_vs_bare": _median(
            runs, "ratios", "memory_per_idle_journey_vs_bare"
        ),
    }
    return m


def add_ratios(run: dict[str, Any]) -> None:
    p, b, d = run.get("product", {}), run.get("bare", {}), run.get("product_default_server", {})
    mp, mb = run.get("memory_product", {}), run.get("memory_bare", {})
    run["ratios"] = {
        "product_vs_bare_throughput": _ratio(p.get("journeys_per_s"), b.get("journeys_per_s")),
        "tuned_vs_default_server": _ratio(p.get("journeys_per_s"), d.get("journeys_per_s")),
        "memory_per_idle_journey_vs_bare": _ratio(
            mp.get("kb_per_journey"), mb.get("kb_per_journey")
        ),
    }


def _f(value: float | None, fmt: str = ".2f") -> str:
    return "n/a" if value is None else format(value, fmt)


def _check(value: float | None, target: float, *, at_most: bool = False) -> str:
    if value is None:
        return "n/a"
    ok = value <= target if at_most else value >= target
    return "met" if ok else "MISSED"


def table(args: argparse.Namespace, m: dict[str, Any]) -> str:
    p, b, d, r = m["product"], m["bare"], m["product_default_server"], m["ratios"]
    rows: list[tuple[str, str, str, str, str]] = []

    def row(label: str, prod: str, bare: str = "", ratio: str = "", target: str = "") -> None:
        rows.append((label, prod, bare, ratio, target))

    def beside(label: str, key: str, *, ratio: bool = False) -> None:
        """One figure of the product beside the bare workflow's (and, if asked, their ratio)."""
        row(
            label,
            _f(p[key], ".1f"),
            _f(b[key], ".1f"),
            _f(_ratio(p[key], b[key])) if ratio else "",
        )

    t = TARGETS
    row("", "product", "bare", "ratio", "target")
    row(
        "journeys/s, tuned server",
        _f(p["journeys_per_s"]),
        _f(b["journeys_per_s"]),
        _f(r["product_vs_bare_throughput"]),
        f">= {t['product_vs_bare_throughput']} "
        + _check(r["product_vs_bare_throughput"], t["product_vs_bare_throughput"]),
    )
    row("  wall time (s)", _f(p["wall_s"], ".1f"), _f(b["wall_s"], ".1f"))
    row(
        "journeys/s, default server",
        _f(d["journeys_per_s"]),
        "",
        _f(r["tuned_vs_default_server"]),
        f">= {t['tuned_vs_default_server']} "
        + _check(r["tuned_vs_default_server"], t["tuned_vs_default_server"]),
    )
    row("  wall time (s)", _f(d["wall_s"], ".1f"))
    beside("history events / journey", "events_per_journey")
    row(
        "history events / executed step (p50)",
        _f(p["step_events_p50"], ".1f"),
        _f(b["step_events_p50"], ".1f"),
        "",
        f"<= {t['events_per_step_happy_path']:.0f} "
        + _check(p["step_events_p50"], t["events_per_step_happy_path"], at_most=True),
    )
    row(
        "history events / journey ÷ steps, handed over",
        _f(m["happy_path_events_per_step"], ".1f"),
        _f(m["bare_events_per_product_step"], ".1f"),
    )
    row("history events / journey ÷ steps, all", _f(p["events_per_step"], ".1f"))
    beside("history events / activity", "events_per_activity")
    row(
        "timers / activities (local) per journey",
        f"{_f(p['timers_per_journey'], '.1f')} / {_f(p['activities_per_journey'], '.1f')}"
        f" ({_f(p['local_activities_per_journey'], '.1f')})",
        f"{_f(b['timers_per_journey'], '.1f')} / {_f(b['activities_per_journey'], '.1f')}",
    )
    beside("state transitions / journey", "state_transitions_per_journey", ratio=True)
    row(
        "step lateness p50 / p99 (s)",
        f"{_f(p['lateness_p50_s'])} / {_f(p['lateness_p99_s'])}",
        f"{_f(b['lateness_p50_s'])} / {_f(b['lateness_p99_s'])}",
    )
    row(
        "worker peak RSS (MB)",
        _f(_mb(p["worker_peak_rss_kb"]), ".0f"),
        _f(_mb(b["worker_peak_rss_kb"]), ".0f"),
        _f(_ratio(p["worker_peak_rss_kb"], b["worker_peak_rss_kb"])),
    )
    beside("CPU s: worker", "worker_cpu_s", ratio=True)
    beside("CPU s: Temporal server", "server_cpu_s", ratio=True)
    beside("CPU s: API + load driver", "driver_cpu_s")
    row(
        f"worker kB / cached idle journey ({args.idle_journeys})",
        _f(m["memory_product_kb_per_journey"], ".1f"),
        _f(m["memory_bare_kb_per_journey"], ".1f"),
        _f(r["memory_per_idle_journey_vs_bare"]),
        f"<= {t['memory_per_idle_journey_vs_bare']} "
        + _check(
            r["memory_per_idle_journey_vs_bare"],
            t["memory_per_idle_journey_vs_bare"],
            at_most=True,
        ),
    )
    widths = [max(len(rw[i]) for rw in rows) for i in range(5)]
    lines = [
        f"Reminder Journeys benchmark: N={args.journeys} journeys "
        f"({args.paid_share:.0%} paid on journey day {PAY_AFTER_DAYS}, the rest handed over), "
        f"R={args.runs} run(s), medians; 1 journey day = {args.seconds_per_day} s; "
        f"{os.cpu_count()} cores",
    ]
    for rw in rows:
        lines.append(
            f"{rw[0]:<{widths[0]}}  {rw[1]:>{widths[1]}}  {rw[2]:>{widths[2]}}  "
            f"{rw[3]:>{widths[3]}}  {rw[4]}".rstrip()
        )
    lines.append(f"tuned server flags: {' '.join(TUNED_DEV_SERVER_ARGS)}")
    return "\n".join(lines)


def _mb(kb: float | None) -> float | None:
    return None if kb is None else kb / 1024


async def main(args: argparse.Namespace) -> dict[str, Any]:
    # SIGTERM stops the run like Ctrl-C: servers and workers are stopped on the way out.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    if os.environ.get(SNAPSHOT_ENV):
        root = Path(os.environ[SNAPSHOT_ENV])
    else:
        base = Path(args.tmp_dir) if args.tmp_dir else None
        root = Path(tempfile.mkdtemp(prefix="journeys-bench-", dir=base))
    started = time.perf_counter()
    runs: list[dict[str, Any]] = []
    try:
        for i in range(args.runs):
            run = await one_run(args, i, root)
            add_ratios(run)
            runs.append(run)
    finally:
        if args.keep:
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return {
        "measured_at": datetime.now(UTC).isoformat(),
        "elapsed_s": time.perf_counter() - started,
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "config": {k: v for k, v in vars(args).items() if k not in ("json", "tmp_dir", "keep")},
        "tuned_dev_server_args": list(TUNED_DEV_SERVER_ARGS),
        "targets": TARGETS,
        "median": medians(runs),
        "runs": runs,
    }


SNAPSHOT_ENV = "JOURNEYS_BENCH_ROOT"
SNAPSHOT_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "data",
    "docs",
    "tests",
    "results",
    "__pycache__",
    "*.egg-info",
    ".*_cache",
    "*.db",
    "*.db-*",
    "*.log",
)


def run_from_snapshot(args: argparse.Namespace) -> None:
    """Re-run this command on a copy of the code as it is now, and never return.

    Each phase starts its worker processes anew, minutes apart, so an edit made while the
    benchmark runs would otherwise land in the middle of a measurement. The copy also holds
    the run's databases and is removed at the end (kept with --keep).
    """
    repo = Path(__file__).resolve().parent.parent
    if os.environ.get(SNAPSHOT_ENV):
        root = Path(os.environ[SNAPSHOT_ENV])
    else:
        base = Path(args.tmp_dir) if args.tmp_dir else None
        root = Path(tempfile.mkdtemp(prefix="journeys-bench-", dir=base))
    shutil.copytree(repo, root / "src", ignore=SNAPSHOT_IGNORE)
    # Bytecode, as an installed package has it (pip compiles at install): without it, and with
    # PYTHONDONTWRITEBYTECODE set, the sandbox of the bare baseline (which keeps the SDK's
    # defaults) compiles bench/bare.py from source for every workflow it loads.
    compileall.compile_dir(root / "src", quiet=1, workers=1)
    env = dict(os.environ)
    env[SNAPSHOT_ENV] = str(root)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(root / "src"), env.get("PYTHONPATH", "")) if p
    )
    script = root / "src" / "bench" / "run.py"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, str(script), *sys.argv[1:]], env)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--journeys", type=int, default=1000, help="journeys per run (default 1000)")
    p.add_argument("--runs", type=int, default=3, help="runs; medians are reported (default 3)")
    p.add_argument("--json", type=Path, default=None, help="write all results here as JSON")
    p.add_argument("--seconds-per-day", type=int, default=1, help="compressed clock (default 1)")
    p.add_argument("--paid-share", type=float, default=0.3, help="share that pays (default 0.3)")
    p.add_argument("--batch-size", type=int, default=100, help="events per POST (default 100)")
    p.add_argument("--concurrency", type=int, default=4, help="POSTs in flight (default 4)")
    p.add_argument("--idle-journeys", type=int, default=2000, help="for the memory figure")
    p.add_argument("--skip-memory", action="store_true", help="no idle-memory measurement")
    p.add_argument("--skip-default", action="store_true", help="no default-server run")
    p.add_argument("--memory-only", action="store_true", help="only the idle-memory figure")
    p.add_argument(
        "--server-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="one more flag for the tuned server, to try it (repeat: --server-arg=--x ...)",
    )
    p.add_argument("--timeout", type=float, default=1800, help="seconds a phase may take")
    p.add_argument("--tmp-dir", default=None, help="where the throw-away databases go")
    p.add_argument("--keep", action="store_true", help="keep databases and logs")
    p.add_argument(
        "--no-snapshot",
        action="store_true",
        help="run the working tree itself, not a copy taken at start",
    )
    args = p.parse_args(argv)
    if args.journeys < 1 or args.runs < 1 or not 0 <= args.paid_share <= 1:
        p.error("--journeys and --runs must be at least 1, --paid-share within 0..1")
    return args


def cli() -> None:
    args = parse_args()
    if not args.no_snapshot and not os.environ.get(SNAPSHOT_ENV):
        run_from_snapshot(args)
    report = asyncio.run(main(args))
    print(table(args, report["median"]), flush=True)
    log(f"took {report['elapsed_s'] / 60:.1f} min")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        log(f"wrote {args.json}")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip interpreter teardown after Temporal clients (sdk-python#300)


if __name__ == "__main__":
    cli()
