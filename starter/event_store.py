"""The store side of applying events (sync; callers run these in a thread).

The `JourneyEventRow` (unique `event_id`) is written last, after Temporal, and is what makes
a replay a no-op that answers exactly what the first delivery answered.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlmodel import col, select

from domain.models import Customer
from domain.segmentation import PastInvoice
from infra.invoice_history import past_invoice
from infra.store import CustomerRow, InvoiceRow, JourneyEventRow, session_scope
from starter.event_schema import (
    AnyEvent,
    CustomerChurned,
    CustomerUpdated,
    EventOutcome,
    InvoiceIssued,
    canonical_payload,
)


@dataclass(frozen=True)
class IssuedRecord:
    """What `record_issued` records for one invoice.issued: the event, its answer, its segment."""

    event: InvoiceIssued
    outcome: EventOutcome
    segment: str
    reason: str


def find_event(url: str, event_id: str) -> JourneyEventRow | None:
    with session_scope(url) as s:
        return s.exec(select(JourneyEventRow).where(JourneyEventRow.event_id == event_id)).first()


def find_events(url: str, event_ids: Sequence[str]) -> list[JourneyEventRow]:
    if not event_ids:
        return []
    with session_scope(url) as s:
        rows = s.exec(
            select(JourneyEventRow).where(col(JourneyEventRow.event_id).in_(list(event_ids)))
        )
        return list(rows.all())


def invoice_known(url: str, invoice_id: str) -> bool:
    with session_scope(url) as s:
        return s.get(InvoiceRow, invoice_id) is not None


def open_invoices_of(url: str, customer_id: str) -> list[str]:
    """The customer's open invoices, whose journeys are running: from the store, which ingest
    keeps, not from Temporal's visibility (eventually consistent, and a scan)."""
    with session_scope(url) as s:
        rows = s.exec(
            select(InvoiceRow.id)
            .where(InvoiceRow.customer_id == customer_id, InvoiceRow.status == "open")
            .order_by(col(InvoiceRow.id))
        )
        return list(rows.all())


def history_of(url: str, customer_id: str, exclude_invoice: str) -> list[PastInvoice]:
    """The customer's earlier invoices, with the date each was paid in full if it was.

    The paid date is the latest `paid_at` among the invoice's payment events when we have
    them (what the billing system says), else the day its journey closed.
    """
    with session_scope(url) as s:
        rows = s.exec(
            select(InvoiceRow).where(
                InvoiceRow.customer_id == customer_id, InvoiceRow.id != exclude_invoice
            )
        ).all()
        paid_dates: dict[str, date] = {}
        ids = [r.id for r in rows if r.status == "paid"]
        if ids:
            payments = s.exec(
                select(JourneyEventRow).where(
                    col(JourneyEventRow.invoice_id).in_(ids),
                    JourneyEventRow.type == "invoice.payment_received",
                )
            ).all()
            for p in payments:
                paid = date.fromisoformat(json.loads(p.payload)["data"]["paid_at"])
                paid_dates[p.invoice_id] = max(paid, paid_dates.get(p.invoice_id, paid))
    history = []
    for r in rows:
        paid_on = None
        if r.status == "paid":
            paid_on = paid_dates.get(r.id) or (r.closed_at.date() if r.closed_at else None)
        history.append(past_invoice(r, paid_on))
    return history


def _upsert_customer(s: Any, c: Customer) -> None:
    row = s.get(CustomerRow, c.id)
    if row is None:
        s.add(CustomerRow.from_customer(c))
        return
    row.update_from(c)
    s.add(row)


def _event_row(event: AnyEvent, outcome: EventOutcome, status: str) -> JourneyEventRow:
    return JourneyEventRow(
        event_id=event.id,
        invoice_id=event.invoice_id or "",
        type=event.type,
        occurred_at=event.occurred_at,
        payload=canonical_payload(event),
        status=status,
        result=outcome.model_dump_json(),
    )


def record_issued(
    url: str, event: InvoiceIssued, outcome: EventOutcome, segment: str, reason: str
) -> None:
    inv = event.data.invoice
    with session_scope(url) as s:
        _upsert_customer(s, event.data.customer)
        if s.get(InvoiceRow, inv.id) is None:
            s.add(InvoiceRow.from_invoice(inv, segment=segment, segment_reason=reason))
        s.add(_event_row(event, outcome, "applied"))


def record_event(url: str, event: AnyEvent, outcome: EventOutcome, status: str) -> None:
    with session_scope(url) as s:
        s.add(_event_row(event, outcome, status))


def record_customer_event(url: str, event: AnyEvent, outcome: EventOutcome) -> None:
    with session_scope(url) as s:
        if isinstance(event, CustomerUpdated):
            _upsert_customer(s, event.data.customer)
        elif isinstance(event, CustomerChurned):
            row = s.get(CustomerRow, event.data.customer_id)
            if row is None:
                # Churn of a customer we have not seen yet is kept, not dropped: the row is
                # filled in by the customer's first invoice.issued or customer.updated.
                row = CustomerRow(id=event.data.customer_id, name=event.data.customer_id)
            row.churned_at = event.data.churned_at
            row.updated_at = datetime.now(UTC)
            s.add(row)
        s.add(_event_row(event, outcome, "applied"))


def pending_for(url: str, invoice_id: str) -> list[JourneyEventRow]:
    with session_scope(url) as s:
        rows = s.exec(
            select(JourneyEventRow)
            .where(JourneyEventRow.invoice_id == invoice_id, JourneyEventRow.status == "pending")
            .order_by(col(JourneyEventRow.id))
        )
        return list(rows.all())


def mark_applied(url: str, row_id: int, status: str) -> None:
    with session_scope(url) as s:
        row = s.get(JourneyEventRow, row_id)
        if row is not None and row.status == "pending":
            row.status = status
            s.add(row)


def mark_reopened(url: str, invoice_id: str) -> None:
    with session_scope(url) as s:
        row = s.get(InvoiceRow, invoice_id)
        if row is not None:
            row.status, row.closed_at = "open", None
            s.add(row)


# --- a batch of invoice.issued at once: one query per question, one transaction to record ---


def invoices_known(url: str, invoice_ids: Sequence[str]) -> set[str]:
    if not invoice_ids:
        return set()
    with session_scope(url) as s:
        rows = s.exec(select(InvoiceRow.id).where(col(InvoiceRow.id).in_(list(invoice_ids))))
        return set(rows.all())


def histories_of(url: str, invoices: Mapping[str, str]) -> dict[str, list[PastInvoice]]:
    """`history_of` for many invoices at once: invoice id -> customer id in, invoice id -> that
    customer's earlier invoices out (the invoice itself left out, as `history_of` does)."""
    customers = sorted(set(invoices.values()))
    if not customers:
        return {}
    with session_scope(url) as s:
        rows = s.exec(select(InvoiceRow).where(col(InvoiceRow.customer_id).in_(customers))).all()
    if not rows:
        return {invoice_id: [] for invoice_id in invoices}
    # Rare (returning customers): the one-invoice query keeps the paid-date rules in one place.
    return {
        invoice_id: history_of(url, customer_id, invoice_id)
        if any(r.customer_id == customer_id and r.id != invoice_id for r in rows)
        else []
        for invoice_id, customer_id in invoices.items()
    }


def record_issued_many(url: str, items: Sequence[IssuedRecord]) -> None:
    """`record_issued` for a batch, in one transaction: all of it is recorded or none."""
    if not items:
        return
    with session_scope(url) as s:
        customer_ids = sorted({i.event.data.customer.id for i in items})
        customers = {
            r.id: r
            for r in s.exec(select(CustomerRow).where(col(CustomerRow.id).in_(customer_ids)))
        }
        invoice_ids = [i.event.data.invoice.id for i in items]
        known = set(s.exec(select(InvoiceRow.id).where(col(InvoiceRow.id).in_(invoice_ids))))
        for item in items:
            c, inv = item.event.data.customer, item.event.data.invoice
            row = customers.get(c.id)
            if row is None:
                customers[c.id] = row = CustomerRow.from_customer(c)
            else:
                row.update_from(c)
            s.add(row)
            if inv.id not in known:
                known.add(inv.id)
                s.add(
                    InvoiceRow.from_invoice(inv, segment=item.segment, segment_reason=item.reason)
                )
            s.add(_event_row(item.event, item.outcome, "applied"))


def invoices_with_pending(url: str, invoice_ids: Sequence[str]) -> set[str]:
    if not invoice_ids:
        return set()
    with session_scope(url) as s:
        rows = s.exec(
            select(JourneyEventRow.invoice_id).where(
                col(JourneyEventRow.invoice_id).in_(list(invoice_ids)),
                JourneyEventRow.status == "pending",
            )
        )
        return set(rows.all())
