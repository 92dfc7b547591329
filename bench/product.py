"""The product's load: N invoices through the real HTTP API, some paid, the rest handed over.

Billing events are POSTed in batches to `create_app` served by uvicorn in this process (the
same app `journeys dev` serves). The app is built with a clock factory, as `journeys dev
--demo` builds it: each invoice's journey day 0 starts when the API accepts its
`invoice.issued`, and a journey day lasts `seconds_per_day` seconds. The worker is the
product's own `build_worker`, in a process of its own; email, SMS and calls go to the outbox
(no provider credentials are set), and unpaid invoices end with the handover activity.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from bench.procstat import cpu_delta, cpu_snapshot
from bench.server import BenchServer, free_port
from bench.workerproc import WorkerProcess
from domain.models import Invoice, JourneyClock
from infra.logging import configure_logging
from infra.migrations import init_db
from infra.settings import Settings
from infra.temporal import connect
from journeys.devstack import ApiServer
from starter.api import create_app

PRODUCT_QUEUE = "bench-product"
PRODUCT_WORKFLOW = "InvoiceJourney"
AMOUNT = "1250.00"
PAY_AFTER_DAYS = 6.5
"""When paying customers pay, in journey days after issue (= due date): after the standard
policy's first reminder (day 3) and before its second (day 10)."""
CUSTOMER_YEARS = 2
"""Customers of two years with no history: segmentation puts them on the `standard` policy."""
POLL_INTERVAL = 0.5


def bench_settings(folder: Path, server: BenchServer, **extra: Any) -> dict[str, Any]:
    """Settings for the API and the worker: our store, our server, no providers, quiet logs."""
    values: dict[str, Any] = {
        "data_dir": str(folder / "store"),
        "database_url": None,
        "temporal_address": server.address,
        "temporal_task_queue": PRODUCT_QUEUE,
        "api_key": None,
        "sendgrid_api_key": None,
        "twilio_account_sid": None,
        "twilio_auth_token": None,
        "twilio_from_number": None,
        "collection_agency_url": None,
        "log_level": "WARNING",
    }
    values.update(extra)
    return values


def make_settings(values: dict[str, Any]) -> Settings:
    return Settings(_env_file=None, **values)


def issued_event(tag: str, n: int, today: date) -> dict[str, Any]:
    invoice_id = f"inv-{tag}-{n:05d}"
    customer_id = f"cus-{tag}-{n:05d}"
    since = today.replace(year=today.year - CUSTOMER_YEARS)
    return {
        "id": f"evt-{tag}-{n:05d}-issued",
        "type": "invoice.issued",
        "occurred_at": datetime.now(UTC).isoformat(),
        "data": {
            "invoice": {
                "id": invoice_id,
                "number": f"B{n:05d}",
                "customer_id": customer_id,
                "currency": "SEK",
                "amount_due": AMOUNT,
                "issued_at": today.isoformat(),
                "due_date": today.isoformat(),
                "ocr": f"{n:05d}{n % 10}",
                "payment_url": f"https://billing.example/pay/{invoice_id}",
            },
            "customer": {
                "id": customer_id,
                "name": f"Bench Customer {n}",
                "email": f"customer{n}@example.se",
                "phone": f"+4670{n % 10_000_000:07d}",
                "locale": "sv",
                "timezone": "Europe/Stockholm",
                "customer_since": since.isoformat(),
                "consent": {"email": True, "sms": True, "call": True},
                "fee_agreed": True,
                "is_business": False,
            },
        },
    }


def payment_event(invoice_id: str, today: date) -> dict[str, Any]:
    return {
        "id": f"evt-{invoice_id}-paid",
        "type": "invoice.payment_received",
        "occurred_at": datetime.now(UTC).isoformat(),
        "data": {"invoice_id": invoice_id, "amount": AMOUNT, "paid_at": today.isoformat()},
    }


def batches(items: Sequence[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


@dataclass
class ProductRun:
    workflow_ids: list[str]
    first_event_at: datetime
    worker_peak_rss_kb: int
    cpu_s: dict[str, float]
    api_posts: int
    paid: int
    ingest_s: float
    origins: dict[str, datetime] = field(default_factory=dict)


class _Clock:
    """A ClockFactory that starts each journey's day 0 when the API accepts its invoice."""

    def __init__(self, seconds_per_day: int) -> None:
        self.seconds_per_day = seconds_per_day
        self.origins: dict[str, datetime] = {}

    def __call__(self, invoice: Invoice) -> JourneyClock:
        origin = datetime.now(UTC)
        self.origins[invoice.id] = origin
        return JourneyClock(
            seconds_per_day=self.seconds_per_day, origin=origin, origin_date=invoice.issued_at
        )


async def until_serving(api: ApiServer, serving: asyncio.Task[None]) -> None:
    """Wait for the API to listen; a server that failed to start raises its error here
    instead of leaving the run waiting for ever."""
    while not api.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.05)


async def _post(http: httpx.AsyncClient, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = await http.post("/v1/events", json=events)
    if response.status_code != 202:
        raise RuntimeError(f"POST /v1/events answered {response.status_code}: {response.text}")
    outcomes: list[dict[str, Any]] = response.json()["outcomes"]
    return outcomes


async def run_product(
    server: BenchServer,
    folder: Path,
    *,
    journeys: int,
    seconds_per_day: int,
    paid_share: float,
    batch_size: int,
    concurrency: int,
    timeout_s: float,
    overrides: dict[str, Any] | None = None,
) -> ProductRun:
    """`overrides`: settings for the API and the worker (a provider's credentials and host,
    say); without them every delivery goes to the outbox."""
    values = bench_settings(folder, server, api_port=free_port(), **(overrides or {}))
    settings = make_settings(values)
    configure_logging("console", "WARNING")
    init_db(settings.store_url)
    worker = WorkerProcess(
        "product", server.address, PRODUCT_QUEUE, folder / "worker.log", settings=values
    )
    await worker.start()
    clock = _Clock(seconds_per_day)
    client = await connect(settings)
    app = create_app(settings, client=client, clock=clock)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=settings.api_port,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    api = ApiServer(config)
    serving = asyncio.create_task(api.serve())
    try:
        await until_serving(api, serving)
        tag = secrets.token_hex(3)
        today = date.today()
        issued = [issued_event(tag, n, today) for n in range(journeys)]
        ids = [e["data"]["invoice"]["id"] for e in issued]
        k = round(journeys * paid_share)
        paying = {ids[i * journeys // k] for i in range(k)} if k else set()
        base = f"http://127.0.0.1:{settings.api_port}"
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as http:
            first_event_at = datetime.now(UTC)
            cpu_before = cpu_snapshot(worker=worker.pid, server=server.pid)
            t0 = time.perf_counter()
            gate = asyncio.Semaphore(concurrency)
            posts = 0

            async def issue(batch: list[dict[str, Any]]) -> None:
                nonlocal posts
                async with gate:
                    outcomes = await _post(http, batch)
                    posts += 1
                bad = [o for o in outcomes if o["status"] != "started"]
                if bad:
                    raise RuntimeError(f"invoice.issued not started: {bad[0]}")

            payments = asyncio.create_task(
                _pay(http, clock, paying, seconds_per_day, today, batch_size)
            )
            await asyncio.gather(*(issue(b) for b in batches(issued, batch_size)))
            ingest_s = time.perf_counter() - t0
            posts += await payments
        wids = [f"invoice-{i}" for i in ids]
        stall = 120.0 + 50 * seconds_per_day
        await wait_closed(
            server, PRODUCT_WORKFLOW, journeys, timeout_s, worker=worker, stall_s=stall
        )
        cpu = cpu_delta(cpu_before, cpu_snapshot(worker=worker.pid, server=server.pid))
        peak = worker.status()["VmHWM"]
    finally:
        api.should_exit = True
        await serving
        await worker.stop()
    return ProductRun(
        workflow_ids=wids,
        first_event_at=first_event_at,
        worker_peak_rss_kb=peak,
        cpu_s=cpu,
        api_posts=posts,
        paid=len(paying),
        ingest_s=ingest_s,
        origins=dict(clock.origins),
    )


async def _pay(
    http: httpx.AsyncClient,
    clock: _Clock,
    paying: set[str],
    seconds_per_day: int,
    today: date,
    batch_size: int,
) -> int:
    """Post each paying customer's payment PAY_AFTER_DAYS journey days after its issue."""
    after = timedelta(seconds=PAY_AFTER_DAYS * seconds_per_day)
    remaining = set(paying)
    at: dict[str, datetime] = {}
    posts = 0
    while remaining:
        for invoice_id in remaining - at.keys():
            origin = clock.origins.get(invoice_id)
            if origin is not None:
                at[invoice_id] = origin + after
        now = datetime.now(UTC)
        ready = sorted((i for i in at if at[i] <= now), key=lambda i: at[i])
        for chunk in batches([payment_event(i, today) for i in ready], batch_size):
            outcomes = await _post(http, chunk)
            posts += 1
            bad = [o for o in outcomes if o["status"] != "applied"]
            if bad:
                raise RuntimeError(f"payment not applied: {bad[0]}")
        for i in ready:
            remaining.discard(i)
            del at[i]
        await asyncio.sleep(0.1)
    return posts


async def wait_closed(
    server: BenchServer,
    workflow_type: str,
    count: int,
    timeout_s: float,
    *,
    worker: WorkerProcess | None = None,
    stall_s: float = 180.0,
) -> None:
    """Until `count` workflows of the type exist and none of them is running.

    Gives up early when the worker died or no workflow closed for `stall_s` (a workflow task
    that keeps failing, say): the worker's log then says why.
    """
    client = server.client
    deadline = time.monotonic() + timeout_s
    query = f'WorkflowType="{workflow_type}"'
    last_closed, last_change = -1, time.monotonic()
    while True:
        total = (await client.count_workflows(query)).count
        running = (await client.count_workflows(f'{query} AND ExecutionStatus="Running"')).count
        if total >= count and running == 0:
            return
        now = time.monotonic()
        if total - running != last_closed:
            last_closed, last_change = total - running, now
        where = f"; see {worker.log_path}" if worker is not None else ""
        if worker is not None and not worker.alive:
            raise RuntimeError(f"{workflow_type}: the worker exited{where}")
        if now - last_change > stall_s:
            raise RuntimeError(
                f"{workflow_type}: no workflow closed in {stall_s:.0f} s "
                f"({last_closed}/{count} closed){where}"
            )
        if now > deadline:
            raise TimeoutError(f"{workflow_type}: not all {count} closed in {timeout_s:.0f} s")
        await asyncio.sleep(POLL_INTERVAL)
