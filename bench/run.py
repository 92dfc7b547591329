"""Every performance figure in one run on this machine: `python bench/run.py`.

    python bench/run.py [--only PHASES] [--runs R] [sizes] [--json bench/results/latest.json]

Phases (all by default; `--only memory,ingest,saturation,providers,throughput` picks some),
each against its baseline within the same run, R times:

- `memory`: worker RSS per cached idle journey, product against the bare workflow
  (`bench/memory.py`), on a tuned dev server;
- `ingest`: new invoices a second into running journeys through `POST /v1/events` (arrays)
  and through `journeys events import`, against the old one-by-one path, plus bare starts as
  the server's own floor (`bench/ingest.py`, a fresh tuned server per side);
- `saturation`: N journeys whose next step falls due at the same instant, the time until
  every one of those steps ran, tuned against default dev server (`bench/saturation.py`);
- `providers`: history events per step with SendGrid and Twilio configured (the local fakes
  of the tests) against the outbox's (`bench/providers.py`);
- `throughput`: N journeys end to end through the product's real path against the bare
  baseline on the same tuned server, and the same load on a default server (below).

The throughput phase starts a dev server with the tuned flags (`bench/server.py`), runs N
journeys (billing events POSTed to the HTTP API, the product's worker, outbox delivery,
handover), reads every history, then runs one bare workflow per journey with exactly that
journey's timers and activities on the same server; then the same product load on a dev
server with its defaults.

At the end it prints one table (`bench/report.py`): each figure, its baseline, the ratio,
the target and MET/MISSED, medians over the runs, and writes every run as JSON. Not part of
the test suite.
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
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/run.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import ingest, saturation  # noqa: E402
from bench.baseline import run_bare  # noqa: E402
from bench.histories import Journey, read_journeys, shapes_of, summarize  # noqa: E402
from bench.memory import idle_memory  # noqa: E402
from bench.product import PAY_AFTER_DAYS, ProductRun, run_product  # noqa: E402
from bench.providers import provider_steps  # noqa: E402
from bench.report import figures_of, medians, table  # noqa: E402
from bench.server import BenchServer  # noqa: E402
from infra.logging import configure_logging  # noqa: E402
from infra.temporal import TUNED_DEV_SERVER_ARGS  # noqa: E402

PHASES = ("memory", "ingest", "saturation", "providers", "throughput")


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


async def throughput(
    args: argparse.Namespace, index: int, folder: Path, result: dict[str, Any]
) -> None:
    """Product against bare on a tuned server, and the product on a default server."""
    product_kwargs: dict[str, Any] = {
        "journeys": args.journeys,
        "seconds_per_day": args.seconds_per_day,
        "paid_share": args.paid_share,
        "batch_size": args.batch_size,
        "concurrency": args.concurrency,
        "timeout_s": args.timeout,
    }

    async def product_on(
        server: BenchServer, where: Path
    ) -> tuple[ProductRun, list[Journey], dict[str, Any]]:
        """The product's load on `server`: the run, its journeys and their summary."""
        prod = await run_product(server, where, **product_kwargs)
        journeys = await read_journeys(server.client, prod.workflow_ids)
        return (
            prod,
            journeys,
            summarize(journeys, prod.first_event_at)
            | {
                "worker_peak_rss_kb": prod.worker_peak_rss_kb,
                **_cpu(prod.cpu_s),
                "ingest_s": prod.ingest_s,
            },
        )

    async def tuned() -> None:
        async with BenchServer(folder / "tuned", tuned=True, extra_args=args.server_arg) as server:
            log(f"run {index + 1}: product, tuned server ({args.journeys} journeys)")
            prod, journeys, summary = await product_on(server, folder / "tuned")
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
            _, _, result["product_default_server"] = await product_on(server, folder / "default")
            _progress("product/default", result["product_default_server"])

    # Alternate which server goes first, so that neither always gets the fresher machine.
    order: list[Callable[[], Any]] = [tuned, default] if index % 2 == 0 else [default, tuned]
    for phase in [tuned] if args.skip_default else order:
        await phase()


async def memory(
    args: argparse.Namespace, index: int, folder: Path, result: dict[str, Any]
) -> None:
    async with BenchServer(folder, tuned=True) as server:
        kinds = ("product", "bare") + (("product-by-value",) if args.by_value_too else ())
        for kind in kinds:
            log(f"run {index + 1}: memory, {args.idle_journeys} idle {kind} journeys")
            result[f"memory_{kind}"] = await idle_memory(server, folder, kind, args.idle_journeys)
            log(f"  {result[f'memory_{kind}']['kb_per_journey']:.1f} kB per idle journey")


async def ingest_phase(
    args: argparse.Namespace, index: int, folder: Path, result: dict[str, Any]
) -> None:
    sizes = argparse.Namespace(
        invoices=args.ingest_invoices,
        array=args.array,
        in_flight=args.in_flight,
        import_lines=args.import_lines,
    )
    result["ingest"] = await ingest.one_run(sizes, folder, index)


async def saturation_phase(
    args: argparse.Namespace, index: int, folder: Path, result: dict[str, Any]
) -> None:
    sizes = argparse.Namespace(journeys=args.burst_journeys, start_rate=args.start_rate)
    result["saturation"] = await saturation.one_run(sizes, folder, index)


async def providers_phase(
    args: argparse.Namespace, index: int, folder: Path, result: dict[str, Any]
) -> None:
    log(f"run {index + 1}: providers, {args.provider_journeys} journeys on outbox, then fakes")
    result["providers"] = await provider_steps(
        folder, args.provider_journeys, args.seconds_per_day, args.timeout
    )
    for side in ("outbox", "providers"):
        log(f"  {side}: {result['providers'][side]['step_events_p50']:.1f} events per step")


RUNNERS: dict[str, Callable[[argparse.Namespace, int, Path, dict[str, Any]], Any]] = {
    "memory": memory,
    "ingest": ingest_phase,
    "saturation": saturation_phase,
    "providers": providers_phase,
    "throughput": throughput,
}


async def one_run(args: argparse.Namespace, index: int, root: Path) -> dict[str, Any]:
    """Every selected phase once; a phase that fails is recorded and the others still run."""
    result: dict[str, Any] = {"run": index + 1, "load_avg": {}, "phase_s": {}, "errors": {}}
    for name in args.only:
        started = time.perf_counter()
        result["load_avg"][name] = os.getloadavg()
        try:
            await RUNNERS[name](args, index, root / f"run-{index + 1}" / name, result)
        except Exception as err:  # noqa: BLE001 - one phase's failure must not lose the rest
            log(f"run {index + 1}: {name} FAILED: {type(err).__name__}: {err}")
            result["errors"][name] = f"{type(err).__name__}: {err}"
        result["phase_s"][name] = time.perf_counter() - started
        log(f"run {index + 1}: {name} took {result['phase_s'][name]:.0f} s")
    result["load_avg"]["end"] = os.getloadavg()
    result["figures"] = figures_of(result)
    return result


def _cpu(cpu: dict[str, float]) -> dict[str, float]:
    return {f"{name}_cpu_s": value for name, value in cpu.items()}


def _progress(label: str, s: dict[str, Any]) -> None:
    log(
        f"  {label}: {s['journeys_per_s']:.2f} journeys/s over {s['wall_s']:.1f} s, "
        f"{s['completed']}/{s['journeys']} completed, {s['events_per_journey']:.1f} events/journey"
    )


async def main(args: argparse.Namespace) -> dict[str, Any]:
    # SIGTERM stops the run like Ctrl-C: servers and workers are stopped on the way out.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    configure_logging("console", "WARNING")
    if os.environ.get(SNAPSHOT_ENV):
        root = Path(os.environ[SNAPSHOT_ENV])
    else:
        base = Path(args.tmp_dir) if args.tmp_dir else None
        root = Path(tempfile.mkdtemp(prefix="journeys-bench-", dir=base))
    started = time.perf_counter()
    load_at_start = os.getloadavg()
    runs: list[dict[str, Any]] = []
    try:
        for i in range(args.runs):
            runs.append(await one_run(args, i, root))
    finally:
        if args.keep:
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return {
        "measured_at": datetime.now(UTC).isoformat(),
        "elapsed_s": time.perf_counter() - started,
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_start": load_at_start,
            "load_avg_end": os.getloadavg(),
        },
        "config": {k: v for k, v in vars(args).items() if k not in ("json", "tmp_dir", "keep")},
        "tuned_dev_server_args": list(TUNED_DEV_SERVER_ARGS),
        "median": medians(runs),
        "runs": runs,
    }


def header(args: argparse.Namespace, report: dict[str, Any]) -> str:
    """What was run, with which sizes, and how loaded the machine was."""
    sizes = {
        "memory": f"{args.idle_journeys} idle journeys",
        "ingest": f"{args.ingest_invoices} invoices in arrays of {args.array}, "
        f"{args.in_flight} in flight; import of {args.import_lines} lines",
        "saturation": f"{args.burst_journeys} journeys with a step due at once",
        "providers": f"{args.provider_journeys} journeys a side, nobody pays",
        "throughput": f"{args.journeys} journeys ({args.paid_share:.0%} paid on journey day "
        f"{PAY_AFTER_DAYS}), 1 journey day = {args.seconds_per_day} s",
    }
    loads = [load[0] for r in report["runs"] for load in r["load_avg"].values()]
    return "\n".join(
        [
            f"Reminder Journeys benchmark: R={args.runs} run(s), medians; "
            f"{os.cpu_count()} cores; load average (1 min) {min(loads):.1f} to "
            f"{max(loads):.1f} at phase starts; {report['elapsed_s'] / 60:.0f} min",
            *(f"  {name}: {sizes[name]}" for name in args.only),
        ]
    )


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
    # The providers phase points the real clients at the tests' fake SendGrid and Twilio.
    shutil.copytree(
        repo / "tests" / "fakes", root / "src" / "tests" / "fakes", ignore=SNAPSHOT_IGNORE
    )
    shutil.copy2(repo / "tests" / "__init__.py", root / "src" / "tests" / "__init__.py")
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
    p.add_argument(
        "--only",
        default=",".join(PHASES),
        help=f"comma-separated phases to run (default all: {','.join(PHASES)})",
    )
    p.add_argument("--runs", type=int, default=3, help="runs; medians are reported (default 3)")
    p.add_argument("--json", type=Path, default=None, help="write all results here as JSON")
    g = p.add_argument_group("memory")
    g.add_argument("--idle-journeys", type=int, default=2000, help="idle journeys (2000)")
    g.add_argument(
        "--by-value-too",
        action="store_true",
        help="also measure journeys started with their configuration by value (before issue 17)",
    )
    g = p.add_argument_group("ingest")
    g.add_argument("--ingest-invoices", type=int, default=2000, help="per API side (2000)")
    g.add_argument("--array", type=int, default=500, help="events per POST (500)")
    g.add_argument("--in-flight", type=int, default=2, help="POSTs in flight (2)")
    g.add_argument("--import-lines", type=int, default=10_000, help="0: no import (10000)")
    g = p.add_argument_group("saturation")
    g.add_argument("--burst-journeys", type=int, default=1000, help="due at once (1000)")
    g.add_argument(
        "--start-rate",
        type=float,
        default=20.0,
        help="starts/s assumed to place T0 after the last start (20; lower on a loaded machine:\n"
        "the phase fails if starting takes past T0)",
    )
    g = p.add_argument_group("providers")
    g.add_argument("--provider-journeys", type=int, default=30, help="per side (30)")
    g = p.add_argument_group("throughput")
    g.add_argument("--journeys", type=int, default=1000, help="journeys per run (default 1000)")
    g.add_argument("--seconds-per-day", type=int, default=1, help="compressed clock (default 1)")
    g.add_argument("--paid-share", type=float, default=0.3, help="share that pays (default 0.3)")
    g.add_argument("--batch-size", type=int, default=100, help="events per POST (default 100)")
    g.add_argument("--concurrency", type=int, default=4, help="POSTs in flight (default 4)")
    g.add_argument("--skip-default", action="store_true", help="no default-server run")
    g.add_argument(
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
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in args.only if name not in PHASES]
    if unknown or not args.only:
        p.error(f"--only takes some of {','.join(PHASES)}; not {','.join(unknown) or 'nothing'}")
    sizes = (args.journeys, args.idle_journeys, args.ingest_invoices, args.burst_journeys)
    if args.runs < 1 or min(sizes) < 1 or args.provider_journeys < 1:
        p.error("--runs and every size must be at least 1")
    if not 0 <= args.paid_share <= 1:
        p.error("--paid-share must be within 0..1")
    return args


def cli() -> None:
    args = parse_args()
    if not args.no_snapshot and not os.environ.get(SNAPSHOT_ENV):
        run_from_snapshot(args)
    report = asyncio.run(main(args))
    print(table(report["median"], report["runs"], header(args, report)), flush=True)
    for run in report["runs"]:
        for name, error in run["errors"].items():
            print(f"run {run['run']}: {name} failed: {error}", flush=True)
    if "throughput" in args.only:
        print(f"tuned server flags: {' '.join(TUNED_DEV_SERVER_ARGS)}", flush=True)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        log(f"wrote {args.json}")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip interpreter teardown after Temporal clients (sdk-python#300)


if __name__ == "__main__":
    cli()
