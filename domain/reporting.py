"""The experience report: per segment and per step, how journeys went, as pure functions.

Input is one `OutcomeFact` per finished journey (its outcome row plus what happened to the
customer afterwards: a churn, their next invoice, a rating); output is a `Report` of rows that
the CLI, the API and the HTML page only format. Definitions, for a segment's rows:

- step *k* is "after k reminder steps went out"; step 0 is "before any reminder".
- *reached* at step k: journeys that sent at least k steps (step 0: every journey).
- *resolved* at step k: journeys that ended **paid** with `resolved_at_step == k`; the share
  is resolved / reached. The segment's "all" row counts every paid journey over every journey.
- *median days to pay*: over the resolved journeys (days from due date to payment).
- CSAT, leakage and handovers count against the step a journey **ended** after (its last step,
  `steps_sent`): CSAT mean and count of the 1-5 ratings given, customers leaked and the lifetime
  value lost, handovers over reached.
- *contacts per resolved invoice* and *provider cost per resolved invoice*: at step k, what the
  journeys resolved at step k took; on the "all" row, what every journey took (resolved or
  not) over the journeys resolved, i.e. the true cost of one paid invoice.

Leakage (`LeakageRule`): a customer who churned (`customer.churned`) within `window_days` after
a journey ended, or (if `silence_days` is set) got no new invoice within `silence_days` after
it, is counted against their latest journey that ended before that, once, with the lifetime
value recorded when that journey closed.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

CHANNELS = ("email", "sms", "call")
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class OutcomeFact:
    invoice_id: str
    customer_id: str
    segment: str
    policy_name: str
    outcome: str
    steps_sent: int
    resolved_at_step: int | None
    closed_at: datetime
    currency: str
    lifetime_value: Decimal = Decimal("0")
    days_to_pay: int | None = None
    contacts: Mapping[str, int] = field(default_factory=dict)
    """Reminder contacts per channel: email, sms, call."""
    policy_version: str | None = None
    churned_at: datetime | None = None
    next_invoice_on: date | None = None
    """The customer's first invoice issued after this journey closed, if any."""
    rating: int | None = None
    """The customer's 1-5 rating of this journey, if they gave one."""


@dataclass(frozen=True)
class Costs:
    """What the providers charge, in one currency, from configuration."""

    per_email: Decimal = Decimal("0")
    per_sms: Decimal = Decimal("0")
    per_call_minute: Decimal = Decimal("0")
    call_minutes: Decimal = Decimal("1")
    """Minutes billed per placed call (the ledger does not keep call durations)."""
    currency: str = "SEK"

    def of(self, contacts: Mapping[str, int]) -> Decimal:
        return (
            contacts.get("email", 0) * self.per_email
            + contacts.get("sms", 0) * self.per_sms
            + contacts.get("call", 0) * self.call_minutes * self.per_call_minute
        )


@dataclass(frozen=True)
class LeakageRule:
    window_days: int = 90
    silence_days: int | None = None


@dataclass(frozen=True)
class ReportFilter:
    """Which journeys the report covers: closed in [period_from, period_to] (dates of
    `closed_at`, both inclusive), of one segment, under one policy. None: no limit."""

    period_from: date | None = None
    period_to: date | None = None
    segment: str | None = None
    policy: str | None = None

    def describe(self) -> str:
        """The limits in words, as the report's title shows them ("" for none)."""
        parts = (
            f"closed from {self.period_from}" if self.period_from else "",
            f"to {self.period_to}" if self.period_to else "",
            f"segment {self.segment}" if self.segment else "",
            f"policy {self.policy}" if self.policy else "",
        )
        return ", ".join(part for part in parts if part)

    def admits(self, fact: OutcomeFact) -> bool:
        day = fact.closed_at.date()
        return (
            (self.period_from is None or day >= self.period_from)
            and (self.period_to is None or day <= self.period_to)
            and (self.segment is None or fact.segment == self.segment)
            and (self.policy is None or fact.policy_name == self.policy)
        )


@dataclass(frozen=True)
class ReportRow:
    segment: str
    step: str
    """"all", or the number of steps sent ("0" is before any reminder)."""
    reached: int
    resolved: int
    share_resolved: Decimal | None
    median_days_to_pay: Decimal | None
    csat_mean: Decimal | None
    csat_count: int
    leaked: int
    ltv_lost: dict[str, Decimal]
    handovers: int
    handover_rate: Decimal | None
    contacts: int
    contacts_per_resolved: Decimal | None
    provider_cost: Decimal
    cost_per_resolved: Decimal | None


@dataclass(frozen=True)
class Report:
    rows: tuple[ReportRow, ...]
    journeys: int
    filter: ReportFilter
    costs: Costs
    leakage: LeakageRule
    as_of: datetime


def _ratio(num: int | Decimal, den: int, places: str = "0.0001") -> Decimal | None:
    if den == 0:
        return None
    return (Decimal(num) / Decimal(den)).quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _median(values: Sequence[int]) -> Decimal | None:
    if not values:
        return None
    return Decimal(str(statistics.median(values))).quantize(Decimal("0.1"), ROUND_HALF_UP)


def leaked_journeys(facts: Iterable[OutcomeFact], rule: LeakageRule, as_of: datetime) -> set[str]:
    """The invoice ids of the journeys a lost customer counts against (see module doc).
    Works on every journey, before any filter: which journey was a customer's last is a fact
    about them, not about the period asked for."""
    by_customer: dict[str, list[OutcomeFact]] = defaultdict(list)
    for fact in facts:
        by_customer[fact.customer_id].append(fact)
    leaked: set[str] = set()
    window = timedelta(days=rule.window_days)
    for journeys in by_customer.values():
        journeys.sort(key=lambda f: f.closed_at)
        churned_at = max((f.churned_at for f in journeys if f.churned_at), default=None)
        if churned_at is not None:
            before = [f for f in journeys if f.closed_at <= churned_at]
            if before and churned_at - before[-1].closed_at <= window:
                leaked.add(before[-1].invoice_id)
                continue
        if rule.silence_days is not None:
            last = journeys[-1]
            silent_until = last.closed_at + timedelta(days=rule.silence_days)
            quiet = last.next_invoice_on is None or last.next_invoice_on > silent_until.date()
            if quiet and as_of >= silent_until:
                leaked.add(last.invoice_id)
    return leaked


def _row(
    segment: str,
    step: str,
    reached: Sequence[OutcomeFact],
    resolved: Sequence[OutcomeFact],
    ended: Sequence[OutcomeFact],
    costed: Sequence[OutcomeFact],
    leaked: set[str],
    costs: Costs,
) -> ReportRow:
    ratings = [f.rating for f in ended if f.rating is not None]
    lost: dict[str, Decimal] = {}
    for f in ended:
        if f.invoice_id in leaked:
            lost[f.currency] = lost.get(f.currency, Decimal("0")) + f.lifetime_value
    handovers = sum(1 for f in ended if f.outcome == "handed_over")
    contacts = sum(sum(f.contacts.get(c, 0) for c in CHANNELS) for f in costed)
    cost = sum((costs.of(f.contacts) for f in costed), Decimal("0")).quantize(_CENT)
    return ReportRow(
        segment=segment,
        step=step,
        reached=len(reached),
        resolved=len(resolved),
        share_resolved=_ratio(len(resolved), len(reached)),
        median_days_to_pay=_median([f.days_to_pay for f in resolved if f.days_to_pay is not None]),
        csat_mean=_ratio(sum(ratings), len(ratings), "0.01"),
        csat_count=len(ratings),
        leaked=sum(1 for f in ended if f.invoice_id in leaked),
        ltv_lost=dict(sorted(lost.items())),
        handovers=handovers,
        handover_rate=_ratio(handovers, len(reached)),
        contacts=contacts,
        contacts_per_resolved=_ratio(contacts, len(resolved), "0.01"),
        provider_cost=cost,
        cost_per_resolved=_ratio(cost, len(resolved), "0.01"),
    )


def _segment_rows(
    segment: str, facts: Sequence[OutcomeFact], leaked: set[str], costs: Costs
) -> list[ReportRow]:
    paid = [f for f in facts if f.outcome == "paid"]
    rows = [_row(segment, "all", facts, paid, facts, facts, leaked, costs)]
    for k in range(max((f.steps_sent for f in facts), default=0) + 1):
        resolved = [f for f in paid if f.resolved_at_step == k]
        rows.append(
            _row(
                segment,
                str(k),
                [f for f in facts if f.steps_sent >= k],
                resolved,
                [f for f in facts if f.steps_sent == k],
                resolved,
                leaked,
                costs,
            )
        )
    return rows


def build_report(
    facts: Iterable[OutcomeFact],
    report_filter: ReportFilter,
    costs: Costs,
    leakage: LeakageRule,
    as_of: datetime,
) -> Report:
    """Rows for every segment present (sorted) and for "all" segments first, each an "all"
    row then one per step."""
    everything = list(facts)
    leaked = leaked_journeys(everything, leakage, as_of)
    chosen = [f for f in everything if report_filter.admits(f)]
    rows = _segment_rows("all", chosen, leaked, costs)
    for segment in sorted({f.segment for f in chosen}):
        rows += _segment_rows(segment, [f for f in chosen if f.segment == segment], leaked, costs)
    return Report(
        rows=tuple(rows),
        journeys=len(chosen),
        filter=report_filter,
        costs=costs,
        leakage=leakage,
        as_of=as_of,
    )
