"""Customers and their past invoices for the segmentation tests: a fixed today, invoices paid
so many days late, and a steady invoice every quarter."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from domain.models import Customer
from domain.segmentation import PastInvoice, SegmentationThresholds
from domain.segmentation import choose_segment as _choose_segment

TODAY = date(2026, 11, 2)
DEFAULTS = SegmentationThresholds()
LOYAL_MIN_YEARS = DEFAULTS.loyal_min_years
RECENT_INVOICES = DEFAULTS.habitual_late_window


def choose_segment(
    customer: Customer,
    history: list[PastInvoice],
    as_of: date,
    thresholds: SegmentationThresholds = DEFAULTS,
) -> tuple[str, str]:
    return _choose_segment(customer, history, thresholds, as_of=as_of)


def customer_since(since: date | None) -> Customer:
    return Customer(id="cus_1", name="Test Kund", customer_since=since)


def billed(
    issued: date, amount: str, currency: str = "SEK", status: str = "paid", late_days: int = 0
) -> PastInvoice:
    """An invoice due 30 days after it was issued; a paid one paid `late_days` after that."""
    due = issued + timedelta(days=30)
    return PastInvoice(
        invoice_id=f"inv_{issued}_{currency}_{amount}",
        issued_at=issued,
        due_date=due,
        status=status,
        paid_on=due + timedelta(days=late_days) if status == "paid" else None,
        amount=Decimal(amount),
        currency=currency,
    )


def paid(
    due_days_ago: int, late_days: int, amount: str = "0", currency: str = "SEK"
) -> PastInvoice:
    """Due `due_days_ago` days before TODAY, paid `late_days` after that."""
    issued = TODAY - timedelta(days=due_days_ago + 30)
    return billed(issued, amount, currency, late_days=late_days)


def every_quarter(count: int, amount: str, currency: str = "SEK") -> list[PastInvoice]:
    """`count` invoices, one every 90 days, the latest 45 days ago: four in any 12 months."""
    return [billed(TODAY - timedelta(days=45 + 90 * i), amount, currency) for i in range(count)]
