"""Which journey an invoice gets, from how long we have known the customer and how they paid.

The SPEC's promise is "treat customers as the company knows them": a customer who has paid on
time for years gets a gentle path, a habitual late payer a firmer one, a newcomer a standard
one. This module is the single place that decision is made. It is a pure function over data
the starter reads from the store, so it can be tested exhaustively and explained to the
customer-service team (`reason` is stored on the invoice and shown to agents).

Rules, in order (the first that matches wins):

1. ``habitual-late``: at least `HABITUAL_LATE_MIN` late payments among the customer's last
   `RECENT_INVOICES` invoices. Tenure does not protect against this: a long-standing customer
   who is now late again and again needs the firmer path.
2. ``loyal``: a customer for at least `LOYAL_MIN_YEARS` years with no late payment in the
   history we hold.
3. ``new``: a customer for less than `NEW_MAX_YEARS` year, or one whose start date we do not
   know and for whom we hold no earlier invoice.
4. ``standard``: everyone else.

An invoice counts as *late* if it was handed over to collection, paid after its due date, or
is still open past its due date on the day we decide.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from journeys.models import Customer

LOYAL_MIN_YEARS = 3
"""Years as a customer, with a clean record, before the gentle path applies."""
NEW_MAX_YEARS = 1
"""Below this tenure a customer is new, whatever their (short) record says."""
HABITUAL_LATE_MIN = 2
"""Late payments among the recent invoices that make a customer a habitual late payer."""
RECENT_INVOICES = 6
"""How many of the customer's most recent invoices the habitual-late rule looks at."""

SEGMENTS = ("loyal", "standard", "new", "habitual-late")

HANDOVER_APPROVAL_SEGMENTS = frozenset({"loyal"})
"""Segments whose journeys never hand over by themselves: an agent approves first. A customer
who paid on time for years and is late once deserves a person's look before collection."""


def handover_needs_approval(segment: str) -> bool:
    return segment in HANDOVER_APPROVAL_SEGMENTS


@dataclass(frozen=True)
class PastInvoice:
    """One earlier invoice of the customer, as the store remembers it."""

    invoice_id: str
    issued_at: date
    due_date: date
    status: str
    """open, paid, credited, voided, cancelled or handed_over."""
    paid_on: date | None = None
    """When it was paid in full, if it was."""

    def is_late(self, as_of: date) -> bool:
        if self.status == "handed_over":
            return True
        if self.paid_on is not None:
            return self.paid_on > self.due_date
        return self.status == "open" and self.due_date < as_of


def _years_between(start: date, end: date) -> int:
    """Whole years from start to end, the way a person counts birthdays."""
    years = end.year - start.year
    if (end.month, end.day) < (start.month, start.day):
        years -= 1
    return years


def choose_segment(
    customer: Customer, history: Iterable[PastInvoice], as_of: date | None = None
) -> tuple[str, str]:
    """The segment for the customer's next invoice and a one-line reason a person can read.

    `as_of` is the day the decision is made for (the new invoice's issue date); it defaults to
    today only for convenience in interactive use.
    """
    day = as_of or date.today()
    past: Sequence[PastInvoice] = sorted(history, key=lambda p: p.issued_at)
    recent = past[-RECENT_INVOICES:]
    late_recent = sum(1 for p in recent if p.is_late(day))
    if late_recent >= HABITUAL_LATE_MIN:
        return (
            "habitual-late",
            f"{late_recent} late payments among the last {len(recent)} invoices",
        )

    since = customer.customer_since or (past[0].issued_at if past else None)
    if since is None:
        return "new", "no customer_since and no earlier invoice"
    years = _years_between(since, day)
    late_total = sum(1 for p in past if p.is_late(day))
    if years >= LOYAL_MIN_YEARS and late_total == 0:
        record = f"no late payment in {len(past)} invoices" if past else "no payment record"
        return "loyal", f"customer since {since} ({years} years), {record}"
    if years < NEW_MAX_YEARS:
        return "new", f"customer since {since} (less than {NEW_MAX_YEARS} year)"
    late_text = f"{late_total} late payment{'s' if late_total != 1 else ''}"
    return "standard", f"customer since {since} ({years} years), {late_text} on record"
