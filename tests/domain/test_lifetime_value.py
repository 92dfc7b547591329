"""What a customer is worth (annualised, per currency, over the configured window and horizon)
and whose handover waits for an agent because of it."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from domain.segmentation import (
    SegmentationThresholds,
    customer_lifetime_value,
    handover_needs_approval,
    lifetime_value,
)
from tests.factories import POLICIES
from tests.segment_history import (
    DEFAULTS,
    TODAY,
    billed,
    choose_segment,
    customer_since,
    every_quarter,
    paid,
)


def test_lifetime_value_is_the_annualised_window_times_the_horizon() -> None:
    # 8 x 2 060 SEK in the last 24 months = 16 480 SEK: 8 240 a year, x 5 years = 41 200 SEK.
    history = every_quarter(8, "2060.00")
    assert lifetime_value(history, date(2020, 3, 1), TODAY) == {"SEK": Decimal("41200.00")}
    assert lifetime_value(history, date(2020, 3, 1), TODAY, horizon_years=10) == {
        "SEK": Decimal("82400.00")
    }
    # A 12-month window sees the four most recent invoices: 8 240 a year as well.
    assert lifetime_value(history, date(2020, 3, 1), TODAY, window_months=12) == {
        "SEK": Decimal("41200.00")
    }


def test_a_short_tenure_is_annualised_over_at_least_a_year() -> None:
    # 8 months a customer, 4 x 1 000 SEK: 4 000 over the 12-month floor, x 5 = 20 000 SEK.
    since = date(2026, 3, 2)
    history = every_quarter(3, "1000.00") + [billed(since, "1000.00")]
    assert lifetime_value(history, since, TODAY) == {"SEK": Decimal("20000.00")}
    # 18 months a customer, 3 x 1 500 SEK: 4 500 over 18 months = 3 000 a year, x 5 = 15 000.
    since = date(2025, 5, 2)
    history = every_quarter(3, "1500.00")
    assert lifetime_value(history, since, TODAY) == {"SEK": Decimal("15000.00")}


def test_lifetime_value_counts_only_the_window_and_only_real_invoices() -> None:
    window_start = date(2024, 11, 2)  # 24 months before TODAY
    history = [
        billed(window_start, "1000.00"),  # first day of the window: counts
        billed(window_start - timedelta(days=1), "9999.00"),  # a day too old
        billed(TODAY - timedelta(days=40), "500.00", status="open"),  # owed: counts
        billed(TODAY - timedelta(days=300), "500.00", status="handed_over"),  # counts
        billed(TODAY - timedelta(days=200), "7777.00", status="voided"),  # withdrawn
        billed(TODAY - timedelta(days=100), "8888.00", status="credited"),  # withdrawn
    ]
    # 2 000 SEK over 24 months = 1 000 a year, x 5 = 5 000 SEK.
    assert lifetime_value(history, date(2015, 1, 1), TODAY) == {"SEK": Decimal("5000.00")}


def test_lifetime_value_is_per_currency_never_converted() -> None:
    history = every_quarter(4, "1000.00") + every_quarter(2, "100.00", "EUR")
    assert lifetime_value(history, date(2018, 1, 1), TODAY) == {
        "EUR": Decimal("500.00"),
        "SEK": Decimal("10000.00"),
    }


def test_lifetime_value_without_a_start_uses_the_oldest_invoice_and_may_be_empty() -> None:
    assert lifetime_value([], None, TODAY) == {}
    assert lifetime_value([], date(2020, 1, 1), TODAY) == {}
    old = [billed(date(2019, 1, 1), "5000.00")]  # tenure from 2019, nothing in the window
    assert lifetime_value(old, None, TODAY) == {}
    history = every_quarter(2, "600.00")  # oldest 91 days ago: the 12-month floor applies
    assert lifetime_value(history, None, TODAY) == {"SEK": Decimal("6000.00")}


def test_customer_lifetime_value_uses_the_configured_window_and_horizon() -> None:
    thresholds = SegmentationThresholds(ltv_window_months=12, ltv_horizon_years=2)
    value = customer_lifetime_value(
        customer_since(date(2020, 3, 1)), every_quarter(8, "2060.00"), thresholds, TODAY
    )
    assert value == {"SEK": Decimal("16480.00")}  # 4 x 2 060 in 12 months, x 2 years


def test_loyal_and_high_lifetime_value_customers_need_approval_before_handover() -> None:
    rules = POLICIES.segmentation  # loyal, and 50 000 SEK or more
    high = {"SEK": Decimal("50000.00")}
    low = {"SEK": Decimal("49999.99")}
    assert handover_needs_approval("loyal", {}, rules)
    assert handover_needs_approval("standard", high, rules)
    assert handover_needs_approval("habitual-late", high, rules)
    assert not handover_needs_approval("standard", low, rules)
    assert not handover_needs_approval("new", {}, rules)
    # The threshold is per currency: 60 000 EUR is not compared with a SEK threshold.
    assert not handover_needs_approval("standard", {"EUR": Decimal("60000")}, rules)
    both = SegmentationThresholds(
        high_value_min_ltv={"SEK": Decimal("50000"), "EUR": Decimal("5000")}
    )
    assert handover_needs_approval("standard", {"EUR": Decimal("5000")}, both)
    # Configurable: no segment waits, only high value does.
    by_value_only = SegmentationThresholds(
        approval_for_segments=(), high_value_min_ltv={"SEK": Decimal("50000")}
    )
    assert not handover_needs_approval("loyal", low, by_value_only)
    assert handover_needs_approval("loyal", high, by_value_only)
    # Unconfigured: today's behaviour, loyal only.
    assert not handover_needs_approval("standard", {"SEK": Decimal("10000000")}, DEFAULTS)


def test_a_high_value_customer_is_named_so_in_the_reason() -> None:
    # Late once (so standard), but 4 x 30 000 SEK in the last year: 60 000 a year, x 5.
    history = [paid(600, 9, "30000.00")] + every_quarter(4, "30000.00")
    customer = customer_since(date(2019, 5, 1))
    segment, reason = choose_segment(customer, history, TODAY, POLICIES.segmentation)
    assert segment == "standard"
    assert reason.endswith("lifetime value 375 000 SEK (high value: 50 000 SEK or more)")
    value = customer_lifetime_value(customer, history, POLICIES.segmentation, TODAY)
    assert handover_needs_approval(segment, value, POLICIES.segmentation)
