"""`journeys dev --demo`: sample customers whose journeys visibly move within minutes.

A newcomer should see the product's point without reading code: a loyal customer, a habitual
late payer, a new one and standard ones each get their own path, and customers pay, promise,
dispute or stay silent. The invoices go through the same ingest path as `POST /v1/events`
(`parse_events` then `Ingest`), on a compressed clock where a journey day lasts
`seconds_per_day` seconds; the customers' payments and answers are scheduled on that clock.

Ids carry a short run tag so that a second `journeys dev --demo` on the same data folder
starts fresh journeys instead of replaying the first run's events.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TextIO

from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import Client

from domain.messages import CustomerResponse
from domain.models import Invoice
from domain.values import Currency, PositiveMoney
from infra.logging import get_logger
from infra.policy_file import load_policies
from infra.settings import REPO_ROOT, Settings
from infra.store import InvoiceRow, session_scope
from starter.actions import customer_response, get_state
from starter.event_schema import parse_events
from starter.ingest import Ingest
from starter.journey_calendar import ClockFactory, day_at

log = get_logger("journeys.demo")

SCENARIO = REPO_ROOT / "demo" / "scenario.json"
SCRIPT_HOUR = 13
"""Scripted customer actions happen at 13:00 on their journey day, after that day's step."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PastInvoiceSpec(_Model):
    due_days_ago: int = Field(ge=1)
    paid_days_late: int = Field(default=0, ge=0)
    amount: PositiveMoney = Decimal("500.00")


class InvoiceSpec(_Model):
    amount_due: PositiveMoney
    currency: Currency = "SEK"
    due_in_days: int = Field(default=7, ge=0, le=60)


class ScriptItem(_Model):
    after_due_days: int = Field(ge=-30, le=120)
    kind: Literal["payment", "promise", "dispute", "plan_request", "contact_request"]
    amount: PositiveMoney | None = None
    """For a payment: how much; without it the customer pays the whole balance."""
    promise_after_due_days: int | None = None
    channel: Literal["web", "email", "sms", "call"] = "email"
    message: str | None = None


class DemoCustomer(_Model):
    key: str = Field(pattern=r"^[a-z0-9]+$")
    story: str
    customer: dict[str, Any]
    """The `customer` of an invoice.issued event, without `id` (the demo makes one)."""
    customer_since_days_ago: int | None = Field(default=None, ge=0)
    invoice: InvoiceSpec
    history: list[PastInvoiceSpec] = []
    script: list[ScriptItem] = []


class Scenario(_Model):
    about: str = ""
    customers: list[DemoCustomer] = Field(min_length=1)


def load_scenario(path: Path = SCENARIO) -> Scenario:
    return Scenario.model_validate_json(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Scheduled:
    at: datetime
    day: int
    """Journey day relative to the due date, for the printed line."""
    invoice_id: str
    currency: str
    name: str
    item: ScriptItem
    due_date: date


@dataclass
class DemoPlan:
    tag: str
    events: list[dict[str, Any]]
    history: list[InvoiceRow]
    scheduled: list[Scheduled]
    stories: dict[str, tuple[str, str]]
    """invoice id -> (customer name, story)."""


def build_plan(scenario: Scenario, *, tag: str, today: date, clock: ClockFactory) -> DemoPlan:
    """Everything the demo will do, decided up front (pure, so tests can check it)."""
    events: list[dict[str, Any]] = []
    history: list[InvoiceRow] = []
    scheduled: list[Scheduled] = []
    stories: dict[str, tuple[str, str]] = {}
    now = datetime.now(UTC).isoformat()
    for n, spec in enumerate(scenario.customers, start=1):
        customer_id = f"cus-{tag}-{spec.key}"
        invoice_id = f"inv-{tag}-{spec.key}"
        due = today + timedelta(days=spec.invoice.due_in_days)
        customer = {"id": customer_id, **spec.customer}
        if spec.customer_since_days_ago is not None:
            since = today - timedelta(days=spec.customer_since_days_ago)
            customer["customer_since"] = since.isoformat()
        invoice = {
            "id": invoice_id,
            "number": f"D{tag.upper()}{n:02d}",
            "customer_id": customer_id,
            "currency": spec.invoice.currency,
            "amount_due": format(spec.invoice.amount_due, "f"),
            "issued_at": today.isoformat(),
            "due_date": due.isoformat(),
            "ocr": f"{n:02d}{int(tag, 16):05d}",
            "payment_url": f"https://billing.example/pay/{invoice_id}",
        }
        events.append(
            {
                "id": f"evt-{tag}-{spec.key}-issued",
                "type": "invoice.issued",
                "occurred_at": now,
                "data": {"invoice": invoice, "customer": customer},
            }
        )
        for h, past in enumerate(spec.history, start=1):
            past_due = today - timedelta(days=past.due_days_ago)
            paid = past_due + timedelta(days=past.paid_days_late)
            history.append(
                InvoiceRow(
                    id=f"{invoice_id}-h{h}",
                    number=f"D{tag.upper()}{n:02d}H{h}",
                    customer_id=customer_id,
                    currency=spec.invoice.currency,
                    amount_due=past.amount,
                    issued_at=past_due - timedelta(days=30),
                    due_date=past_due,
                    status="paid",
                    balance=Decimal("0"),
                    closed_at=datetime.combine(paid, time(12), tzinfo=UTC),
                )
            )
        inv = Invoice.model_validate(invoice)
        journey_clock = clock(inv)
        for item in spec.script:
            day = due + timedelta(days=item.after_due_days)
            scheduled.append(
                Scheduled(
                    at=day_at(journey_clock, day, SCRIPT_HOUR),
                    day=item.after_due_days,
                    invoice_id=invoice_id,
                    currency=spec.invoice.currency,
                    name=str(spec.customer.get("name", spec.key)),
                    item=item,
                    due_date=due,
                )
            )
        stories[invoice_id] = (str(spec.customer.get("name", spec.key)), spec.story)
    scheduled.sort(key=lambda s: s.at)
    return DemoPlan(tag=tag, events=events, history=history, scheduled=scheduled, stories=stories)


def seed_history(url: str, rows: Sequence[InvoiceRow]) -> None:
    """Earlier invoices, as a billing system's back-fill would leave them.

    They predate the product, so no journey ever ran for them; they exist so that the
    segmentation sees the payment history that makes one customer loyal and another a
    habitual late payer.
    """
    with session_scope(url) as s:
        for row in rows:
            if s.get(InvoiceRow, row.id) is None:
                s.add(row)


async def _perform(client: Client, ingest: Ingest, n: int, s: Scheduled, out: TextIO) -> None:
    item = s.item
    label = f"[demo] day {s.day:+d} after due: {s.name} ({s.invoice_id})"
    if item.kind == "payment":
        amount = item.amount
        if amount is None:
            amount = (await get_state(client, s.invoice_id)).balance
        if amount <= 0:
            print(f"{label} has nothing left to pay", file=out, flush=True)
            return
        paid_at = s.due_date + timedelta(days=item.after_due_days)
        event = {
            "id": f"evt-{s.invoice_id}-pay{n}",
            "type": "invoice.payment_received",
            "occurred_at": datetime.now(UTC).isoformat(),
            "data": {
                "invoice_id": s.invoice_id,
                "amount": format(amount, "f"),
                "paid_at": paid_at.isoformat(),
            },
        }
        [outcome] = await ingest(parse_events(event))
        print(f"{label} pays {amount} {s.currency}: {outcome.status}", file=out, flush=True)
        return
    promise = None
    if item.promise_after_due_days is not None:
        promise = s.due_date + timedelta(days=item.promise_after_due_days)
    response = CustomerResponse(
        kind=item.kind, channel=item.channel, promise_date=promise, message=item.message
    )
    state = await customer_response(client, s.invoice_id, response)
    what = f"promises to pay by {promise}" if promise else item.kind.replace("_", " ")
    print(f"{label} {what} by {item.channel}: journey {state.phase}", file=out, flush=True)


def _table(plan: DemoPlan, outcomes: Sequence[Any], seconds_per_day: int) -> str:
    lines = [
        "",
        f"Demo: {len(outcomes)} invoices, 1 journey day = {seconds_per_day} s "
        f"(run tag {plan.tag}).",
        f"  {'invoice':<22} {'segment':<14} {'customer':<18} story",
    ]
    for o in outcomes:
        name, story = plan.stories.get(o.invoice_id or "", ("", ""))
        segment = o.segment or o.status
        lines.append(f"  {o.invoice_id:<22} {segment:<14} {name:<18} {story}")
    first = outcomes[0].invoice_id if outcomes else "<invoice id>"
    lines += [
        f"Follow one:  curl -s localhost:8000/v1/invoices/{first}/journey",
        f"        or:  .venv/bin/journeys status {first}",
        "",
    ]
    return "\n".join(lines)


async def run_demo(
    client: Client,
    settings: Settings,
    clock: ClockFactory,
    seconds_per_day: int,
    out: TextIO | None = None,
    scenario_path: Path = SCENARIO,
) -> None:
    out = out or sys.stdout
    scenario = load_scenario(scenario_path)
    ingest = Ingest(client, settings, load_policies(settings.policy_file), clock)
    plan = build_plan(scenario, tag=secrets.token_hex(2), today=date.today(), clock=clock)
    await asyncio.to_thread(seed_history, settings.store_url, plan.history)
    outcomes = await ingest(parse_events(plan.events))
    print(_table(plan, outcomes, seconds_per_day), file=out, flush=True)
    log.info("demo loaded", invoices=len(outcomes), tag=plan.tag)
    for n, s in enumerate(plan.scheduled, start=1):
        delay = (s.at - datetime.now(UTC)).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            await _perform(client, ingest, n, s, out)
        except Exception as err:  # one refused step must not end the demo
            print(f"[demo] {s.invoice_id}: {s.item.kind} refused: {err}", file=out, flush=True)
    print(
        "[demo] all scripted customer actions done; the other journeys go on by themselves.",
        file=out,
        flush=True,
    )
