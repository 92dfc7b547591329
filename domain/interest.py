"""Swedish late-payment interest (dröjsmålsränta), Räntelagen (1975:635) §§ 3, 6, 9.

Why its own module: the rate is not a constant. It is the Riksbank's reference rate for each
calendar half-year plus 8 percentage points, so a claim that stays open across 1 January or
1 July accrues at two rates, and the table of reference rates is configuration that someone
must keep up to date. Getting this wrong by an öre is an error a customer can point at, so
the convention is spelled out and tested against an independent computation.

Convention (the product's, stated on every calculation it shows):

- Simple interest on the unpaid principal (fees bear no interest), never on interest.
- It accrues for each day from the due date (inclusive) to the day of payment (exclusive):
  `(until - due_date).days` days, so paying on the due date costs nothing and paying the day
  after costs one day. Each day accrues at the rate of the half-year it falls in.
- Day count actual/365: a day is 1/365 of the annual rate, in leap years too.
- The exact sum is rounded once, to öre, half up (ROUND_HALF_UP); parts are never rounded
  separately, so splitting a period never changes the total.
- Rate for a half-year = reference rate in force on its first day + 8 percentage points
  (§ 6). The reference rate itself is the Riksbank's policy rate at the end of the previous
  half-year rounded up to the nearest half percentage point (§ 9):
  `reference_rate_from_policy_rate`.

Pure: no I/O, no clock, Decimal throughout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, localcontext
from types import MappingProxyType

STATUTORY_MARGIN = Decimal("8")
"""Percentage points over the reference rate (Räntelagen 6 §)."""
DAYS_PER_YEAR = Decimal(365)
_ORE = Decimal("0.01")
_PRECISION = 50

RateTable = Mapping[date, Decimal]
"""Reference rate in percent per year, keyed by the half-year's first day (1 Jan or 1 Jul)."""

PUBLISHED_REFERENCE_RATES: RateTable = MappingProxyType(
    {
        date(2024, 1, 1): Decimal("4.00"),
        date(2024, 7, 1): Decimal("4.00"),
        date(2025, 1, 1): Decimal("2.50"),
        date(2025, 7, 1): Decimal("2.00"),
        date(2026, 1, 1): Decimal("2.00"),
    }
)
"""Only reference rates the Riksbank has published (source: riksbank.se, "Referensränta"),
as config/policies.toml carries them; a half-year that is not published yet is left out,
never carried forward: a journey whose interest reaches it says so
(`JourneyState.interest_unknown_from`) instead of guessing. README "Interest" says how to add
a half-year. Deliberately no function's default, so that using it is a visible decision.

Each is the policy rate at the end of the preceding half-year, rounded up to the next half
point (§ 9): 4.00 (end 2023), 3.75 -> 4.00 (end Jun 2024), 2.50 (end 2024), 2.00 (end Jun
2025), 1.75 -> 2.00 (end 2025)."""
EXAMPLE_REFERENCE_RATES: RateTable = PUBLISHED_REFERENCE_RATES
"""The table's earlier name."""


def first_missing_half_year(due_date: date, until: date, rate_table: RateTable) -> date | None:
    """The first half-year in `[due_date, until)` the table has no rate for, or None."""
    day = due_date
    while day < until:
        start = half_year_start(day)
        if start not in rate_table:
            return start
        day = next_half_year(start)
    return None


class MissingReferenceRateError(LookupError):
    """The rate table does not cover part of the period; interest cannot be computed."""


@dataclass(frozen=True)
class InterestPart:
    """Interest for the days of one half-year: `first_day` to `last_day` inclusive."""

    first_day: date
    last_day: date
    days: int
    reference_rate: Decimal
    annual_rate: Decimal
    amount: Decimal
    """Exact (unrounded); only the total is rounded, so show parts as indicative."""


def half_year_start(day: date) -> date:
    return date(day.year, 1 if day.month <= 6 else 7, 1)


def next_half_year(start: date) -> date:
    return date(start.year, 7, 1) if start.month == 1 else date(start.year + 1, 1, 1)


def reference_rate_from_policy_rate(policy_rate: Decimal) -> Decimal:
    """§ 9: the Riksbank policy rate at the end of the previous half-year, rounded up (if
    needed) to the nearest half percentage point; for filling in the table."""
    return (policy_rate * 2).to_integral_value(rounding=ROUND_CEILING) / 2


def check_rate_table(rate_table: RateTable) -> None:
    """Refuse a table keyed by anything but 1 January or 1 July: a mid-half-year key means the
    table was misunderstood, and silently applying it would charge the wrong rate."""
    bad = [d for d in rate_table if (d.month, d.day) not in ((1, 1), (7, 1))]
    if bad:
        listed = ", ".join(d.isoformat() for d in sorted(bad))
        raise ValueError(
            f"reference rates must be keyed by 1 January or 1 July (the half-years of "
            f"Räntelagen 9 §), got {listed}"
        )


def interest_parts(
    principal: Decimal,
    due_date: date,
    until: date,
    rate_table: RateTable,
) -> list[InterestPart]:
    """The period `[due_date, until)` split at each 1 January and 1 July, with each part's
    exact interest; empty when nothing is late."""
    if principal < 0:
        raise ValueError(f"principal must not be negative, got {principal}")
    check_rate_table(rate_table)
    parts: list[InterestPart] = []
    day = due_date
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        while day < until:
            start = half_year_start(day)
            end = min(next_half_year(start), until)  # exclusive
            if start not in rate_table:
                raise MissingReferenceRateError(
                    f"no reference rate for the half-year starting {start.isoformat()} "
                    f"(needed for {day.isoformat()} to {(end - timedelta(days=1)).isoformat()}); "
                    "add it to the rate table"
                )
            reference = rate_table[start]
            annual = reference + STATUTORY_MARGIN
            days = (end - day).days
            amount = principal * annual * days / (100 * DAYS_PER_YEAR)
            parts.append(
                InterestPart(
                    first_day=day,
                    last_day=end - timedelta(days=1),
                    days=days,
                    reference_rate=reference,
                    annual_rate=annual,
                    amount=amount,
                )
            )
            day = end
    return parts


def _round_ore(amount: Decimal) -> Decimal:
    return amount.quantize(_ORE, rounding=ROUND_HALF_UP)


def late_interest(
    principal: Decimal,
    due_date: date,
    until: date,
    rate_table: RateTable,
) -> Decimal:
    """Statutory late-payment interest on `principal` from `due_date` to `until`, in öre.

    Raises `MissingReferenceRateError` when the table lacks a half-year the period touches.
    """
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        total = sum(
            (p.amount for p in interest_parts(principal, due_date, until, rate_table)),
            Decimal(0),
        )
    return _round_ore(total)


def late_interest_on_balances(
    balances: Sequence[tuple[date, Decimal]],
    due_date: date,
    until: date,
    rate_table: RateTable,
) -> Decimal:
    """Interest when partial payments change the principal over time.

    `balances` lists `(from_day, principal)`: the principal in force from that day (inclusive)
    until the next entry (of entries for the same day, the last listed counts). Days before
    the first entry bear no interest. Rounded once, like
    `late_interest`, so one balance over the whole period gives exactly the same answer.
    """
    ordered = sorted(balances, key=lambda entry: entry[0])  # stable: the last of a day wins
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        total = Decimal(0)
        for i, (start, principal) in enumerate(ordered):
            stop = ordered[i + 1][0] if i + 1 < len(ordered) else until
            lo, hi = max(start, due_date), min(stop, until)
            if lo < hi:
                total += sum(
                    (p.amount for p in interest_parts(principal, lo, hi, rate_table)), Decimal(0)
                )
    return _round_ore(total)
