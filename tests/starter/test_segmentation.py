"""Segmentation: who gets the gentle, the firm, the new-customer or the standard path, and the
reason given; the demo's customers land on each path. Lifetime value and handover approval:
tests/domain/test_lifetime_value.py; the policy file's tables and ingest: test_segmentation_*."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from domain.interest import EXAMPLE_REFERENCE_RATES
from domain.models import Customer
from domain.policies import PolicyFile
from domain.segmentation import (
    PastInvoice,
    SegmentationThresholds,
)
from infra.invoice_history import past_invoice
from journeys.demo import build_plan, load_scenario
from starter.journey_calendar import compressed_clock
from tests.factories import POLICIES
from tests.segment_history import (
    DEFAULTS,
    LOYAL_MIN_YEARS,
    RECENT_INVOICES,
    TODAY,
    choose_segment,
    customer_since,
    every_quarter,
    paid,
)


def test_a_long_standing_customer_who_always_paid_on_time_is_loyal() -> None:
    history = [paid(300, 0), paid(200, 0), paid(100, 0)]
    segment, reason = choose_segment(customer_since(date(2020, 3, 1)), history, as_of=TODAY)
    assert segment == "loyal"
    assert "2020-03-01" in reason and "6 years" in reason


def test_loyalty_needs_the_full_tenure() -> None:
    just_short = TODAY.replace(year=TODAY.year - LOYAL_MIN_YEARS) + timedelta(days=1)
    assert choose_segment(customer_since(just_short), [], as_of=TODAY)[0] == "standard"
    exactly = TODAY.replace(year=TODAY.year - LOYAL_MIN_YEARS)
    assert choose_segment(customer_since(exactly), [], as_of=TODAY)[0] == "loyal"


def test_one_late_payment_makes_a_long_standing_customer_standard() -> None:
    history = [paid(300, 0), paid(200, 5), paid(100, 0)]
    segment, reason = choose_segment(customer_since(date(2018, 1, 1)), history, as_of=TODAY)
    assert segment == "standard"
    assert "1 late payment " in reason


def test_repeated_late_payments_make_a_habitual_late_payer_whatever_the_tenure() -> None:
    history = [paid(300, 10)] + [paid(200, 0)] + [paid(100, 3)]
    assert DEFAULTS.habitual_late_min_late == 2
    segment, reason = choose_segment(customer_since(date(2010, 1, 1)), history, as_of=TODAY)
    assert segment == "habitual-late"
    assert reason == (
        "2 late payments among the last 3 invoices, customer since 2010-01-01 (16 years), "
        "no lifetime value yet (nothing invoiced in the last 24 months)"
    )


def test_only_recent_invoices_count_for_habitual_lateness() -> None:
    old_late = [paid(2000 + i, 10) for i in range(2)]
    recent_on_time = [paid(100 + i * 30, 0) for i in range(RECENT_INVOICES)]
    segment, _ = choose_segment(
        customer_since(date(2015, 1, 1)), old_late + recent_on_time, as_of=TODAY
    )
    assert segment == "standard"  # not habitual-late, and not loyal either (late on record)


def test_handed_over_and_overdue_open_invoices_count_as_late() -> None:
    handed = PastInvoice(
        "a", TODAY - timedelta(days=200), TODAY - timedelta(days=170), "handed_over"
    )
    overdue = PastInvoice("b", TODAY - timedelta(days=40), TODAY - timedelta(days=10), "open")
    not_yet_due = PastInvoice("c", TODAY - timedelta(days=5), TODAY + timedelta(days=20), "open")
    assert handed.is_late(TODAY) and overdue.is_late(TODAY)
    assert not not_yet_due.is_late(TODAY)
    segment, _ = choose_segment(customer_since(date(2019, 1, 1)), [handed, overdue], as_of=TODAY)
    assert segment == "habitual-late"


def test_a_customer_of_a_few_months_is_new() -> None:
    segment, reason = choose_segment(customer_since(TODAY - timedelta(days=90)), [], as_of=TODAY)
    assert segment == "new"
    assert "less than 1 year" in reason


def test_without_a_start_date_tenure_comes_from_the_oldest_invoice_we_hold() -> None:
    assert choose_segment(customer_since(None), [], as_of=TODAY)[0] == "new"
    history = [paid(1600, 0), paid(400, 0)]
    assert choose_segment(customer_since(None), history, as_of=TODAY)[0] == "loyal"


@pytest.mark.parametrize(
    ("key", "segment"),
    [
        ("berit", "loyal"),
        ("lars", "habitual-late"),
        ("nora", "new"),
        ("sven", "standard"),
        ("dan", "standard"),
        ("eklund", "standard"),
    ],
)
def test_the_demo_covers_every_segment(key: str, segment: str) -> None:
    """The demo's point is to show each path; its sample data must keep landing on them."""
    scenario = load_scenario()
    plan = build_plan(scenario, tag="abcd", today=TODAY, clock=compressed_clock(10))
    spec = next(c for c in scenario.customers if c.key == key)
    event = next(e for e in plan.events if e["id"] == f"evt-abcd-{key}-issued")
    customer = Customer.model_validate(event["data"]["customer"])
    history = [
        past_invoice(row, row.closed_at.date() if row.closed_at else None)
        for row in plan.history
        if row.customer_id == customer.id
    ]
    assert len(history) == len(spec.history)
    assert choose_segment(customer, history, as_of=TODAY)[0] == segment
    # The shipped thresholds decide as the defaults do.
    assert choose_segment(customer, history, TODAY, POLICIES.segmentation)[0] == segment


def test_demo_actions_are_scheduled_on_the_compressed_clock() -> None:
    origin = datetime(2026, 11, 2, 12, 0, tzinfo=datetime.now().astimezone().tzinfo)
    plan = build_plan(load_scenario(), tag="abcd", today=TODAY, clock=compressed_clock(10, origin))
    nora = next(s for s in plan.scheduled if s.invoice_id == "inv-abcd-nora")
    # issued today, due in 7 days, pays 3 days after due at 13:00: day 10.54 -> 105.4 s
    assert (nora.at - origin).total_seconds() == pytest.approx((7 + 3 + 13 / 24) * 10)
    assert [s.at for s in plan.scheduled] == sorted(s.at for s in plan.scheduled)


# --- lifetime value ---------------------------------------------------------------------------


# --- thresholds from the policy file, reasons with figures ------------------------------------


def test_the_reason_cites_tenure_lateness_and_lifetime_value() -> None:
    segment, reason = choose_segment(
        customer_since(date(2020, 3, 1)), every_quarter(8, "2060.00"), as_of=TODAY
    )
    assert segment == "loyal"
    assert reason == (
        "customer since 2020-03-01 (6 years), no late payment in 8 invoices, "
        "lifetime value 41 200 SEK"
    )
    late = [paid(700, 9, "1000.00")] + every_quarter(3, "1000.00")
    segment, reason = choose_segment(customer_since(date(2021, 1, 1)), late, as_of=TODAY)
    assert segment == "standard"
    assert reason == (
        "customer since 2021-01-01 (5 years), 1 late payment in 4 invoices, "
        "lifetime value 10 000 SEK"
    )
    segment, reason = choose_segment(customer_since(date(2026, 6, 1)), [], as_of=TODAY)
    assert segment == "new"
    assert reason == (
        "customer since 2026-06-01 (less than 1 year), no payment record, "
        "no lifetime value yet (nothing invoiced in the last 24 months)"
    )
    assert choose_segment(customer_since(None), [], as_of=TODAY) == (
        "new",
        "no customer_since and no earlier invoice, so no lifetime value yet",
    )


def test_thresholds_come_from_the_policy_file() -> None:
    four_years = customer_since(date(2022, 6, 1))
    assert choose_segment(four_years, [], as_of=TODAY)[0] == "loyal"
    strict = SegmentationThresholds(loyal_min_years=5, new_max_years=5)
    assert choose_segment(four_years, [], TODAY, strict)[0] == "new"
    assert choose_segment(four_years, [], TODAY, SegmentationThresholds(loyal_min_years=5))[0] == (
        "standard"
    )

    once_late = [paid(300, 10), paid(200, 0), paid(100, 0)]
    assert choose_segment(four_years, once_late, as_of=TODAY)[0] == "standard"
    touchy = SegmentationThresholds(habitual_late_min_late=1, habitual_late_window=3)
    segment, reason = choose_segment(four_years, once_late, TODAY, touchy)
    assert segment == "habitual-late"
    assert reason.startswith("1 late payment among the last 3 invoices, ")
    short_memory = SegmentationThresholds(habitual_late_window=2)
    twice_late = [paid(300, 10), paid(200, 10), paid(100, 0)]
    assert choose_segment(four_years, twice_late, as_of=TODAY)[0] == "habitual-late"
    assert choose_segment(four_years, twice_late, TODAY, short_memory)[0] == "standard"


def test_the_shipped_policy_file_keeps_the_product_defaults() -> None:
    shipped = POLICIES.segmentation
    defaults = SegmentationThresholds()
    assert shipped.model_dump(exclude={"high_value_min_ltv"}) == defaults.model_dump(
        exclude={"high_value_min_ltv"}
    )
    assert shipped.high_value_min_ltv == {"SEK": Decimal("50000.00")}
    assert defaults.high_value_min_ltv == {}  # without configuration nobody is high-value
    assert POLICIES.reference_rates == dict(EXAMPLE_REFERENCE_RATES)
    # A policy file without the new tables loads with the defaults (and no interest).
    bare = PolicyFile.model_validate({"segments": POLICIES.model_dump()["segments"]})
    assert bare.segmentation == defaults
    assert bare.reference_rates == {}
