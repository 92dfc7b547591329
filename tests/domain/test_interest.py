"""Late-payment interest equals the statutory formula to the öre.

The oracle works in exact fractions, day by day, with its own half-up rounding, so it shares
neither the half-year splitting nor the Decimal arithmetic of the code under test.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from math import floor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.interest import (
    EXAMPLE_REFERENCE_RATES,
    MissingReferenceRateError,
    RateTable,
    first_missing_half_year,
    interest_parts,
    late_interest,
    late_interest_on_balances,
    reference_rate_from_policy_rate,
)

EXAMPLES = EXAMPLE_REFERENCE_RATES
PROPERTY = settings(max_examples=200, deadline=None, derandomize=True, database=None)
HALF_YEARS = [date(y, m, 1) for y in range(2019, 2031) for m in (1, 7)]


def rate_tables() -> st.SearchStrategy[dict[date, Decimal]]:
    """Reference rates from -1 % to 10 % in quarter points, one per half-year."""
    quarters = st.lists(
        st.integers(min_value=-4, max_value=40), min_size=len(HALF_YEARS), max_size=len(HALF_YEARS)
    )
    return quarters.map(lambda qs: {s: Decimal(q) / 4 for s, q in zip(HALF_YEARS, qs, strict=True)})


def principals() -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=Decimal("0.01"), max_value=Decimal("10000000"), places=2)


def dates() -> st.SearchStrategy[date]:
    return st.dates(min_value=date(2019, 1, 1), max_value=date(2028, 6, 30))  # + 800 days: covered


def round_ore(x: Fraction) -> Decimal:
    """Half up, for non-negative amounts."""
    return Decimal(floor(x * 100 + Fraction(1, 2))) / 100


def oracle(principal: Decimal, due: date, until: date, table: RateTable) -> Decimal:
    """Day by day: each day from the due date up to (not including) `until` earns 1/365 of the
    rate of its own half-year."""
    days_at: dict[date, int] = {}
    day = due
    while day < until:
        start = date(day.year, 1 if day.month <= 6 else 7, 1)
        days_at[start] = days_at.get(start, 0) + 1
        day += timedelta(days=1)
    total = sum(
        (Fraction(principal) * (Fraction(table[s]) + 8) * n / 36500 for s, n in days_at.items()),
        Fraction(0),
    )
    return round_ore(total)


@PROPERTY
@given(principals(), dates(), st.integers(min_value=0, max_value=183), rate_tables())
def test_single_half_year_matches_the_formula(
    principal: Decimal, due: date, length: int, table: dict[date, Decimal]
) -> None:
    start = date(due.year, 1 if due.month <= 6 else 7, 1)
    end = date(start.year, 7, 1) if start.month == 1 else date(start.year + 1, 1, 1)
    until = min(due + timedelta(days=length), end)
    days = (until - due).days
    expected = round_ore(
        Fraction(principal) * (Fraction(table[start]) + 8) * days / Fraction(100 * 365)
    )
    assert late_interest(principal, due, until, table) == expected


@PROPERTY
@given(principals(), dates(), st.integers(min_value=0, max_value=800), rate_tables())
def test_across_boundaries_each_day_earns_its_own_half_years_rate(
    principal: Decimal, due: date, length: int, table: dict[date, Decimal]
) -> None:
    until = min(due + timedelta(days=length), date(2031, 1, 1))
    assert late_interest(principal, due, until, table) == oracle(principal, due, until, table)
    parts = interest_parts(principal, due, until, table)
    assert sum(p.days for p in parts) == max(0, (until - due).days)
    for part in parts:  # each part lies in one half-year and uses its rate
        assert (part.first_day.month <= 6) == (part.last_day.month <= 6)
        assert part.first_day.year == part.last_day.year
        assert part.annual_rate == part.reference_rate + 8


@PROPERTY
@given(principals(), dates(), st.integers(0, 400), st.integers(0, 400), rate_tables())
def test_splitting_the_period_never_changes_the_exact_total(
    principal: Decimal, due: date, a: int, b: int, table: dict[date, Decimal]
) -> None:
    mid = due + timedelta(days=a)
    until = mid + timedelta(days=b)

    def exact(start: date, end: date) -> Fraction:
        return sum(
            (Fraction(p.amount) for p in interest_parts(principal, start, end, table)), Fraction(0)
        )

    # Parts are computed to 50 significant digits; only that last digit may differ.
    assert abs(exact(due, until) - exact(due, mid) - exact(mid, until)) < Fraction(1, 10**30)


def test_a_hand_computed_example() -> None:
    """1 250 kr due 20 June 2026, paid 10 July: 11 June days at 2 + 8 = 10 %, then 9 July days
    at 3 + 8 = 11 %: 1250 * (0.10 * 11 + 0.11 * 9) / 365 = 7.1575... -> 7.16."""
    table = {date(2026, 1, 1): Decimal("2.00"), date(2026, 7, 1): Decimal("3.00")}
    assert late_interest(Decimal("1250.00"), date(2026, 6, 20), date(2026, 7, 10), table) == (
        Decimal("7.16")
    )
    parts = interest_parts(Decimal("1250.00"), date(2026, 6, 20), date(2026, 7, 10), table)
    assert [(p.first_day, p.last_day, p.days) for p in parts] == [
        (date(2026, 6, 20), date(2026, 6, 30), 11),
        (date(2026, 7, 1), date(2026, 7, 9), 9),
    ]


def test_paying_on_the_due_date_costs_nothing() -> None:
    due = date(2026, 3, 31)
    assert late_interest(Decimal("1000"), due, due, EXAMPLES) == Decimal("0.00")
    assert late_interest(Decimal("1000"), due, due - timedelta(days=5), EXAMPLES) == Decimal("0.00")
    # One day late: one day's interest at 2 + 8 %.
    assert late_interest(Decimal("36500"), due, due + timedelta(days=1), EXAMPLES) == Decimal(
        "10.00"
    )


def test_half_up_rounding() -> None:
    # 18.25 kr at 10 % for one day is exactly 0.005 kr.
    table = {date(2026, 1, 1): Decimal("2.00")}
    assert late_interest(Decimal("18.25"), date(2026, 2, 1), date(2026, 2, 2), table) == Decimal(
        "0.01"
    )


def test_a_missing_rate_is_a_clear_error() -> None:
    table = {date(2026, 1, 1): Decimal("2.00")}
    with pytest.raises(MissingReferenceRateError, match="half-year starting 2026-07-01"):
        late_interest(Decimal("100"), date(2026, 6, 1), date(2026, 8, 1), table)


def test_a_table_keyed_mid_half_year_is_refused() -> None:
    with pytest.raises(ValueError, match="1 January or 1 July"):
        late_interest(
            Decimal("100"), date(2026, 3, 1), date(2026, 3, 5), {date(2026, 3, 1): Decimal(2)}
        )


def test_negative_principal_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        late_interest(Decimal("-1"), date(2026, 3, 1), date(2026, 3, 5), EXAMPLES)


def test_the_table_holds_only_published_half_years() -> None:
    for start in (date(2025, 1, 1), date(2025, 7, 1), date(2026, 1, 1)):
        assert start in EXAMPLE_REFERENCE_RATES
    late_interest(Decimal("100"), date(2025, 1, 1), date(2026, 6, 30), EXAMPLES)
    assert date(2026, 7, 1) not in EXAMPLE_REFERENCE_RATES  # not published when written
    assert first_missing_half_year(date(2026, 6, 1), date(2026, 8, 1), EXAMPLES) == date(2026, 7, 1)
    assert first_missing_half_year(date(2025, 2, 1), date(2026, 6, 1), EXAMPLES) is None


@pytest.mark.parametrize(
    ("policy_rate", "reference"),
    [("1.75", "2.0"), ("2.00", "2.0"), ("3.75", "4.0"), ("2.10", "2.5"), ("-0.50", "-0.5")],
)
def test_reference_rate_rounds_up_to_half_points(policy_rate: str, reference: str) -> None:
    assert reference_rate_from_policy_rate(Decimal(policy_rate)) == Decimal(reference)


@PROPERTY
@given(principals(), dates(), st.integers(0, 400), st.integers(0, 400), rate_tables())
def test_balances_with_a_partial_payment(
    principal: Decimal, due: date, a: int, b: int, table: dict[date, Decimal]
) -> None:
    paid_on = due + timedelta(days=a)
    until = paid_on + timedelta(days=b)
    rest = (principal / 2).quantize(Decimal("0.01"))
    assert late_interest_on_balances([(due, principal)], due, until, table) == late_interest(
        principal, due, until, table
    )
    # Each day earns on the balance owed that day: the oracle sums day-weights per balance.
    weights: dict[tuple[date, Decimal], int] = {}
    day = due
    while day < until:
        key = (date(day.year, 1 if day.month <= 6 else 7, 1), principal if day < paid_on else rest)
        weights[key] = weights.get(key, 0) + 1
        day += timedelta(days=1)
    expected = sum(
        (Fraction(owed) * (Fraction(table[s]) + 8) * n / 36500 for (s, owed), n in weights.items()),
        Fraction(0),
    )
    got = late_interest_on_balances([(due, principal), (paid_on, rest)], due, until, table)
    assert got == round_ore(expected)
