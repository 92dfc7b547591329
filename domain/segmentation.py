"""Which journey an invoice gets, from how long we have known the customer, how they paid and
what they are worth to the company.

The SPEC's promise is "treat customers as the company knows them": a customer who has paid on
time for years gets a gentle path, a habitual late payer a firmer one, a newcomer a standard
one, and a customer the company would hate to lose is not handed to a collection agency
without a person looking first. This module is the single place those decisions are made. It
is pure over data the starter reads from the store, so it can be tested exhaustively and
explained to the customer-service team (`reason` is stored on the invoice and shown to
agents). Every threshold comes from the `[segmentation]` table of the policy file
(`SegmentationThresholds`); the defaults below are the product's out-of-the-box behaviour.

Rules, in order (the first that matches wins):

1. ``habitual-late``: at least `habitual_late_min_late` late payments among the customer's last
   `habitual_late_window` invoices. Tenure does not protect against this: a long-standing
   customer who is now late again and again needs the firmer path.
2. ``loyal``: a customer for at least `loyal_min_years` years with no late payment in the
   history we hold.
3. ``new``: a customer for less than `new_max_years` year(s), or one whose start date we do not
   know and for whom we hold no earlier invoice.
4. ``standard``: everyone else.

An invoice counts as *late* if it was handed over to collection, paid after its due date, or
is still open past its due date on the day we decide.

Lifetime value (`lifetime_value`) does not change the segment; it is cited in the reason and
decides, with the segment, whether handover waits for an agent (`handover_needs_approval`).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from domain.models import Customer
from domain.values import Currency, PositiveMoney

SEGMENTS = ("loyal", "standard", "new", "habitual-late")

NOT_INVOICED_STATUSES = frozenset({"voided", "credited"})
"""Invoices the billing system withdrew: they were never revenue, so they add no lifetime value."""

LifetimeValue = Mapping[str, Decimal]
"""Lifetime value per ISO 4217 currency, in the major unit. Never converted between
currencies: a customer billed in SEK and EUR has a value in each."""


class SegmentationThresholds(BaseModel):
    """The `[segmentation]` table of the policy file. Defaults are the product's own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    loyal_min_years: StrictInt = Field(default=3, ge=0, le=100)
    """Years as a customer, with a clean record, before the gentle path applies."""
    new_max_years: StrictInt = Field(default=1, ge=0, le=100)
    """Below this tenure a customer is new, whatever their (short) record says."""
    habitual_late_min_late: StrictInt = Field(default=2, ge=1, le=1000)
    """Late payments among the recent invoices that make a customer a habitual late payer."""
    habitual_late_window: StrictInt = Field(default=6, ge=1, le=1000)
    """How many of the customer's most recent invoices the habitual-late rule looks at."""
    ltv_window_months: StrictInt = Field(default=24, ge=12, le=240)
    """Lifetime value looks at what was invoiced in this many months before the decision."""
    ltv_horizon_years: StrictInt = Field(default=5, ge=1, le=50)
    """How many more years a customer is expected to stay: the annual value times this."""
    high_value_min_ltv: dict[Currency, PositiveMoney] = {}
    """Lifetime value, per currency, from which a customer counts as high-value (their
    handover then waits for an agent). Empty: no customer is high-value by amount."""
    approval_for_segments: tuple[Annotated[str, Field(min_length=1)], ...] = ("loyal",)
    """Segments whose journeys never hand over by themselves: an agent approves first. A
    customer who paid on time for years and is late once deserves a person's look."""

    @model_validator(mode="after")
    def _consistent(self) -> SegmentationThresholds:
        if self.new_max_years > self.loyal_min_years:
            raise ValueError(
                f"new_max_years ({self.new_max_years}) must not exceed loyal_min_years "
                f"({self.loyal_min_years}): a customer cannot be both new and loyal"
            )
        if self.habitual_late_min_late > self.habitual_late_window:
            raise ValueError(
                f"habitual_late_min_late ({self.habitual_late_min_late}) must not exceed "
                f"habitual_late_window ({self.habitual_late_window}), or no customer could "
                "ever be a habitual late payer"
            )
        return self


DEFAULT_THRESHOLDS = SegmentationThresholds()


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
    amount: Decimal = Decimal("0")
    """What was invoiced (amount due, fees excluded), in `currency`'s major unit."""
    currency: str = ""

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


def _months_between(start: date, end: date) -> int:
    """Whole months from start to end, counted like birthdays (negative if start is later)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if end.day < start.day:
        months -= 1
    return months


def _months_before(day: date, months: int) -> date:
    """The same day of the month `months` earlier (the month's last day if it is shorter)."""
    year, month0 = divmod(day.year * 12 + day.month - 1 - months, 12)
    last_day = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last_day))


def _tenure_start(customer: Customer, past: Sequence[PastInvoice]) -> date | None:
    """When the relationship began: `customer_since`, else the oldest invoice we hold."""
    if customer.customer_since is not None:
        return customer.customer_since
    return min((p.issued_at for p in past), default=None)


def lifetime_value(
    history: Iterable[PastInvoice],
    since: date | None,
    as_of: date,
    *,
    window_months: int = DEFAULT_THRESHOLDS.ltv_window_months,
    horizon_years: int = DEFAULT_THRESHOLDS.ltv_horizon_years,
) -> dict[str, Decimal]:
    """A customer's lifetime value per currency, from what we invoiced them and their tenure.

    Formula (per currency, never converted between currencies)::

        annual value   = invoiced in the window × 12 / months observed
        lifetime value = annual value × horizon_years

    - *invoiced in the window*: the amounts due (fees excluded) of the customer's invoices
      issued in the `window_months` months up to `as_of` (both ends inclusive); voided and
      credited invoices count nothing, paid, open and handed-over ones count in full.
    - *months observed*: the customer's tenure in whole months (from `since`, or from their
      oldest invoice when `since` is None), but at least 12 and at most `window_months`. The
      floor keeps a newcomer's first large invoice from being annualised into a fortune; the
      cap makes a long-standing customer's value reflect what they buy now.
    - *horizon_years*: how many more years the company expects to keep a customer
      (configurable; 5 by default).
    - Rounded to öre/cents (half up) at the end only. Empty when there is nothing to count.

    Example: a customer since 2020 billed eight invoices of 2 060 SEK in the last 24 months:
    16 480 SEK / 24 months × 12 = 8 240 SEK a year, × 5 years = 41 200 SEK. A customer of
    8 months billed four invoices of 1 000 SEK: 4 000 SEK over the 12-month floor = 4 000 a
    year, × 5 = 20 000 SEK.
    """
    past = list(history)
    start = since if since is not None else min((p.issued_at for p in past), default=None)
    if start is None:
        return {}
    window_start = _months_before(as_of, window_months)
    totals: dict[str, Decimal] = {}
    for p in past:
        if p.status in NOT_INVOICED_STATUSES or not p.currency or p.amount <= 0:
            continue
        if window_start <= p.issued_at <= as_of:
            totals[p.currency] = totals.get(p.currency, Decimal("0")) + p.amount
    observed = min(window_months, max(12, _months_between(start, as_of)))
    return {
        currency: (total * 12 * horizon_years / observed).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )
        for currency, total in sorted(totals.items())
    }


def customer_lifetime_value(
    customer: Customer,
    history: Iterable[PastInvoice],
    thresholds: SegmentationThresholds,
    as_of: date,
) -> dict[str, Decimal]:
    """`lifetime_value` with the customer's tenure and the configured window and horizon."""
    past = list(history)
    return lifetime_value(
        past,
        _tenure_start(customer, past),
        as_of,
        window_months=thresholds.ltv_window_months,
        horizon_years=thresholds.ltv_horizon_years,
    )


def is_high_value(value: LifetimeValue, thresholds: SegmentationThresholds) -> bool:
    """Whether the lifetime value reaches `high_value_min_ltv` in any currency it names."""
    return any(
        value.get(currency, Decimal("0")) >= minimum
        for currency, minimum in thresholds.high_value_min_ltv.items()
    )


def handover_needs_approval(
    segment: str, value: LifetimeValue, thresholds: SegmentationThresholds
) -> bool:
    """Handover waits for an agent for the configured segments (loyal by default) and for
    high-lifetime-value customers whatever their segment: before the company gives a valuable
    customer to a collection agency, a person looks."""
    return segment in thresholds.approval_for_segments or is_high_value(value, thresholds)


def format_amount(amount: Decimal, currency: str) -> str:
    """An amount for a reason line: whole units, digits grouped by spaces ("41 200 SEK")."""
    whole = int(amount.quantize(Decimal("1"), rounding=ROUND_HALF_UP))
    return f"{whole:,} {currency}".replace(",", " ")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _value_text(value: LifetimeValue, thresholds: SegmentationThresholds) -> str:
    if not value:
        return (
            f"no lifetime value yet (nothing invoiced in the last "
            f"{thresholds.ltv_window_months} months)"
        )
    amounts = " and ".join(format_amount(v, c) for c, v in value.items())
    text = f"lifetime value {amounts}"
    reached = [
        format_amount(minimum, currency)
        for currency, minimum in sorted(thresholds.high_value_min_ltv.items())
        if value.get(currency, Decimal("0")) >= minimum
    ]
    if reached:
        text += f" (high value: {' and '.join(reached)} or more)"
    return text


def choose_segment(
    customer: Customer,
    history: Iterable[PastInvoice],
    thresholds: SegmentationThresholds,
    as_of: date | None = None,
) -> tuple[str, str]:
    """The segment for the customer's next invoice and a one-line reason a person can read.

    The reason cites the figures the rules used: tenure, late payments, lifetime value (e.g.
    "customer since 2020-03-01 (6 years), no late payment in 8 invoices, lifetime value
    41 200 SEK"). `as_of` is the day the decision is made for (the new invoice's issue date);
    it defaults to today only for convenience in interactive use.
    """
    day = as_of or date.today()
    past: Sequence[PastInvoice] = sorted(history, key=lambda p: p.issued_at)
    since = _tenure_start(customer, past)
    if since is None:  # no start date and no invoice: nothing to be late with or worth
        return "new", "no customer_since and no earlier invoice, so no lifetime value yet"
    years = max(0, _years_between(since, day))
    tenure = f"customer since {since} ({_plural(years, 'year')})"
    value = _value_text(customer_lifetime_value(customer, past, thresholds, day), thresholds)

    recent = past[-thresholds.habitual_late_window :]
    late_recent = sum(1 for p in recent if p.is_late(day))
    if late_recent >= thresholds.habitual_late_min_late:
        lateness = (
            f"{_plural(late_recent, 'late payment')} among the last "
            f"{_plural(len(recent), 'invoice')}"
        )
        return "habitual-late", f"{lateness}, {tenure}, {value}"

    late_total = sum(1 for p in past if p.is_late(day))
    if not past:
        record = "no payment record"
    elif late_total == 0:
        record = f"no late payment in {_plural(len(past), 'invoice')}"
    else:
        record = f"{_plural(late_total, 'late payment')} in {_plural(len(past), 'invoice')}"
    if years >= thresholds.loyal_min_years and late_total == 0:
        return "loyal", f"{tenure}, {record}, {value}"
    if years < thresholds.new_max_years:
        newcomer = f"customer since {since} (less than {_plural(thresholds.new_max_years, 'year')})"
        return "new", f"{newcomer}, {record}, {value}"
    return "standard", f"{tenure}, {record}, {value}"
