"""Segmentation: who gets the gentle, the firm, the new-customer or the standard path, what
a customer is worth, whose handover waits for an agent, and the policy file's tables for them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, cast

import pytest
from temporalio.client import Client

from domain.interest import EXAMPLE_REFERENCE_RATES
from domain.models import Customer, JourneyInput
from domain.policies import PolicyConfigError, PolicyFile, parse_policies
from domain.segmentation import (
    PastInvoice,
    SegmentationThresholds,
    customer_lifetime_value,
    handover_needs_approval,
    lifetime_value,
)
from domain.segmentation import choose_segment as _choose_segment
from infra.policy_file import load_policies
from infra.settings import REPO_ROOT, Settings
from infra.store import InvoiceRow, session_scope
from journeys.demo import build_plan, load_scenario
from starter.event_schema import parse_event
from starter.ingest import apply_event
from starter.journey_calendar import compressed_clock
from tests.factories import POLICIES
from tests.starter.conftest import issued

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


def _customer(since: date | None) -> Customer:
    return Customer(id="cus_1", name="Test Kund", customer_since=since)


def _paid(
    due_days_ago: int, late_days: int, amount: str = "0", currency: str = "SEK"
) -> PastInvoice:
    due = TODAY - timedelta(days=due_days_ago)
    return PastInvoice(
        invoice_id=f"inv_{due_days_ago}",
        issued_at=due - timedelta(days=30),
        due_date=due,
        status="paid",
        paid_on=due + timedelta(days=late_days),
        amount=Decimal(amount),
        currency=currency,
    )


def test_a_long_standing_customer_who_always_paid_on_time_is_loyal() -> None:
    history = [_paid(300, 0), _paid(200, 0), _paid(100, 0)]
    segment, reason = choose_segment(_customer(date(2020, 3, 1)), history, as_of=TODAY)
    assert segment == "loyal"
    assert "2020-03-01" in reason and "6 years" in reason


def test_loyalty_needs_the_full_tenure() -> None:
    just_short = TODAY.replace(year=TODAY.year - LOYAL_MIN_YEARS) + timedelta(days=1)
    assert choose_segment(_customer(just_short), [], as_of=TODAY)[0] == "standard"
    exactly = TODAY.replace(year=TODAY.year - LOYAL_MIN_YEARS)
    assert choose_segment(_customer(exactly), [], as_of=TODAY)[0] == "loyal"


def test_one_late_payment_makes_a_long_standing_customer_standard() -> None:
    history = [_paid(300, 0), _paid(200, 5), _paid(100, 0)]
    segment, reason = choose_segment(_customer(date(2018, 1, 1)), history, as_of=TODAY)
    assert segment == "standard"
    assert "1 late payment " in reason


def test_repeated_late_payments_make_a_habitual_late_payer_whatever_the_tenure() -> None:
    history = [_paid(300, 10)] + [_paid(200, 0)] + [_paid(100, 3)]
    assert DEFAULTS.habitual_late_min_late == 2
    segment, reason = choose_segment(_customer(date(2010, 1, 1)), history, as_of=TODAY)
    assert segment == "habitual-late"
    assert reason == (
        "2 late payments among the last 3 invoices, customer since 2010-01-01 (16 years), "
        "no lifetime value yet (nothing invoiced in the last 24 months)"
    )


def test_only_recent_invoices_count_for_habitual_lateness() -> None:
    old_late = [_paid(2000 + i, 10) for i in range(2)]
    recent_on_time = [_paid(100 + i * 30, 0) for i in range(RECENT_INVOICES)]
    segment, _ = choose_segment(_customer(date(2015, 1, 1)), old_late + recent_on_time, as_of=TODAY)
    assert segment == "standard"  # not habitual-late, and not loyal either (late on record)


def test_handed_over_and_overdue_open_invoices_count_as_late() -> None:
    handed = PastInvoice(
        "a", TODAY - timedelta(days=200), TODAY - timedelta(days=170), "handed_over"
    )
    overdue = PastInvoice("b", TODAY - timedelta(days=40), TODAY - timedelta(days=10), "open")
    not_yet_due = PastInvoice("c", TODAY - timedelta(days=5), TODAY + timedelta(days=20), "open")
    assert handed.is_late(TODAY) and overdue.is_late(TODAY)
    assert not not_yet_due.is_late(TODAY)
    segment, _ = choose_segment(_customer(date(2019, 1, 1)), [handed, overdue], as_of=TODAY)
    assert segment == "habitual-late"


def test_a_customer_of_a_few_months_is_new() -> None:
    segment, reason = choose_segment(_customer(TODAY - timedelta(days=90)), [], as_of=TODAY)
    assert segment == "new"
    assert "less than 1 year" in reason


def test_without_a_start_date_tenure_comes_from_the_oldest_invoice_we_hold() -> None:
    assert choose_segment(_customer(None), [], as_of=TODAY)[0] == "new"
    history = [_paid(1600, 0), _paid(400, 0)]
    assert choose_segment(_customer(None), history, as_of=TODAY)[0] == "loyal"


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
        PastInvoice(
            invoice_id=row.id,
            issued_at=row.issued_at,
            due_date=row.due_date,
            status=row.status,
            paid_on=row.closed_at.date() if row.closed_at else None,
            amount=row.amount_due,
            currency=row.currency,
        )
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


def _billed(issued: date, amount: str, currency: str = "SEK", status: str = "paid") -> PastInvoice:
    due = issued + timedelta(days=30)
    return PastInvoice(
        invoice_id=f"inv_{issued}_{currency}_{amount}",
        issued_at=issued,
        due_date=due,
        status=status,
        paid_on=due if status == "paid" else None,
        amount=Decimal(amount),
        currency=currency,
    )


def _every_quarter(count: int, amount: str, currency: str = "SEK") -> list[PastInvoice]:
    """`count` invoices, one every 90 days, the latest 45 days ago: four in any 12 months."""
    return [_billed(TODAY - timedelta(days=45 + 90 * i), amount, currency) for i in range(count)]


def test_lifetime_value_is_the_annualised_window_times_the_horizon() -> None:
    # 8 x 2 060 SEK in the last 24 months = 16 480 SEK: 8 240 a year, x 5 years = 41 200 SEK.
    history = _every_quarter(8, "2060.00")
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
    history = _every_quarter(3, "1000.00") + [_billed(since, "1000.00")]
    assert lifetime_value(history, since, TODAY) == {"SEK": Decimal("20000.00")}
    # 18 months a customer, 3 x 1 500 SEK: 4 500 over 18 months = 3 000 a year, x 5 = 15 000.
    since = date(2025, 5, 2)
    history = _every_quarter(3, "1500.00")
    assert lifetime_value(history, since, TODAY) == {"SEK": Decimal("15000.00")}


def test_lifetime_value_counts_only_the_window_and_only_real_invoices() -> None:
    window_start = date(2024, 11, 2)  # 24 months before TODAY
    history = [
        _billed(window_start, "1000.00"),  # first day of the window: counts
        _billed(window_start - timedelta(days=1), "9999.00"),  # a day too old
        _billed(TODAY - timedelta(days=40), "500.00", status="open"),  # owed: counts
        _billed(TODAY - timedelta(days=300), "500.00", status="handed_over"),  # counts
        _billed(TODAY - timedelta(days=200), "7777.00", status="voided"),  # withdrawn
        _billed(TODAY - timedelta(days=100), "8888.00", status="credited"),  # withdrawn
    ]
    # 2 000 SEK over 24 months = 1 000 a year, x 5 = 5 000 SEK.
    assert lifetime_value(history, date(2015, 1, 1), TODAY) == {"SEK": Decimal("5000.00")}


def test_lifetime_value_is_per_currency_never_converted() -> None:
    history = _every_quarter(4, "1000.00") + _every_quarter(2, "100.00", "EUR")
    assert lifetime_value(history, date(2018, 1, 1), TODAY) == {
        "EUR": Decimal("500.00"),
        "SEK": Decimal("10000.00"),
    }


def test_lifetime_value_without_a_start_uses_the_oldest_invoice_and_may_be_empty() -> None:
    assert lifetime_value([], None, TODAY) == {}
    assert lifetime_value([], date(2020, 1, 1), TODAY) == {}
    old = [_billed(date(2019, 1, 1), "5000.00")]  # tenure from 2019, nothing in the window
    assert lifetime_value(old, None, TODAY) == {}
    history = _every_quarter(2, "600.00")  # oldest 91 days ago: the 12-month floor applies
    assert lifetime_value(history, None, TODAY) == {"SEK": Decimal("6000.00")}


def test_customer_lifetime_value_uses_the_configured_window_and_horizon() -> None:
    thresholds = SegmentationThresholds(ltv_window_months=12, ltv_horizon_years=2)
    value = customer_lifetime_value(
        _customer(date(2020, 3, 1)), _every_quarter(8, "2060.00"), thresholds, TODAY
    )
    assert value == {"SEK": Decimal("16480.00")}  # 4 x 2 060 in 12 months, x 2 years


# --- thresholds from the policy file, reasons with figures ------------------------------------


def test_the_reason_cites_tenure_lateness_and_lifetime_value() -> None:
    segment, reason = choose_segment(
        _customer(date(2020, 3, 1)), _every_quarter(8, "2060.00"), as_of=TODAY
    )
    assert segment == "loyal"
    assert reason == (
        "customer since 2020-03-01 (6 years), no late payment in 8 invoices, "
        "lifetime value 41 200 SEK"
    )
    late = [_paid(700, 9, "1000.00")] + _every_quarter(3, "1000.00")
    segment, reason = choose_segment(_customer(date(2021, 1, 1)), late, as_of=TODAY)
    assert segment == "standard"
    assert reason == (
        "customer since 2021-01-01 (5 years), 1 late payment in 4 invoices, "
        "lifetime value 10 000 SEK"
    )
    segment, reason = choose_segment(_customer(date(2026, 6, 1)), [], as_of=TODAY)
    assert segment == "new"
    assert reason == (
        "customer since 2026-06-01 (less than 1 year), no payment record, "
        "no lifetime value yet (nothing invoiced in the last 24 months)"
    )
    assert choose_segment(_customer(None), [], as_of=TODAY) == (
        "new",
        "no customer_since and no earlier invoice, so no lifetime value yet",
    )


def test_thresholds_come_from_the_policy_file() -> None:
    four_years = _customer(date(2022, 6, 1))
    assert choose_segment(four_years, [], as_of=TODAY)[0] == "loyal"
    strict = SegmentationThresholds(loyal_min_years=5, new_max_years=5)
    assert choose_segment(four_years, [], TODAY, strict)[0] == "new"
    assert choose_segment(four_years, [], TODAY, SegmentationThresholds(loyal_min_years=5))[0] == (
        "standard"
    )

    once_late = [_paid(300, 10), _paid(200, 0), _paid(100, 0)]
    assert choose_segment(four_years, once_late, as_of=TODAY)[0] == "standard"
    touchy = SegmentationThresholds(habitual_late_min_late=1, habitual_late_window=3)
    segment, reason = choose_segment(four_years, once_late, TODAY, touchy)
    assert segment == "habitual-late"
    assert reason.startswith("1 late payment among the last 3 invoices, ")
    short_memory = SegmentationThresholds(habitual_late_window=2)
    twice_late = [_paid(300, 10), _paid(200, 10), _paid(100, 0)]
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


# --- handover approval --------------------------------------------------------------------------


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
    history = [_paid(600, 9, "30000.00")] + _every_quarter(4, "30000.00")
    customer = _customer(date(2019, 5, 1))
    segment, reason = choose_segment(customer, history, TODAY, POLICIES.segmentation)
    assert segment == "standard"
    assert reason.endswith("lifetime value 375 000 SEK (high value: 50 000 SEK or more)")
    value = customer_lifetime_value(customer, history, POLICIES.segmentation, TODAY)
    assert handover_needs_approval(segment, value, POLICIES.segmentation)


# --- the policy file's [segmentation] and [reference_rates] tables ----------------------------


def _policy_data(**tables: Any) -> dict[str, Any]:
    data = POLICIES.model_dump(mode="json", exclude={"reference_rates", "segmentation"})
    return {**data, **tables}


@pytest.mark.parametrize(
    ("segmentation", "message"),
    [
        ({"loyal_min_yeras": 3}, r"segmentation\.loyal_min_yeras: Extra inputs are not permitted"),
        ({"loyal_min_years": "3"}, r"segmentation\.loyal_min_years: Input should be a valid int"),
        ({"loyal_min_years": True}, r"segmentation\.loyal_min_years: Input should be a valid int"),
        ({"habitual_late_window": 0}, r"segmentation\.habitual_late_window: .*greater than or"),
        ({"ltv_window_months": 6}, r"segmentation\.ltv_window_months: .*greater than or equal"),
        ({"ltv_horizon_years": 0}, r"segmentation\.ltv_horizon_years: .*greater than or equal"),
        (
            {"high_value_min_ltv": {"SKE": "50000.00"}},
            r"segmentation\.high_value_min_ltv\.SKE: 'SKE' is not an ISO 4217 currency code",
        ),
        (
            {"high_value_min_ltv": {"SEK": 50000}},
            r"segmentation\.high_value_min_ltv\.SEK: must be a decimal string",
        ),
        (
            {"high_value_min_ltv": {"SEK": "0.00"}},
            r"segmentation\.high_value_min_ltv\.SEK: must be greater than zero",
        ),
        (
            {"approval_for_segments": ["loyal", "lyoal"]},
            r"segmentation\.approval_for_segments\[1\]: unknown segment 'lyoal'",
        ),
        (
            {"new_max_years": 4},
            r"segmentation: new_max_years \(4\) must not exceed loyal_min_years \(3\)",
        ),
        (
            {"habitual_late_min_late": 7},
            r"segmentation: habitual_late_min_late \(7\) must not exceed habitual_late_window",
        ),
    ],
)
def test_a_bad_segmentation_entry_is_refused_with_its_field_named(
    segmentation: dict[str, Any], message: str
) -> None:
    with pytest.raises(PolicyConfigError, match=message):
        parse_policies(_policy_data(segmentation=segmentation))


@pytest.mark.parametrize(
    ("rates", "message"),
    [
        (
            {"2025-01-01": "2.50", "2025-03-01": "2.50"},
            r"reference_rates\.2025-03-01: reference rates must be keyed by 1 January or 1 July",
        ),
        ({"2025-13-01": "2.50"}, r"reference_rates\.2025-13-01: Input should be a valid date"),
        ({"first half": "2.50"}, r"reference_rates\.first half: Input should be a valid date"),
        ({"2025-07-01": 2.5}, r"reference_rates\.2025-07-01: must be a percent per year as a"),
        ({"2025-07-01": "2,50"}, r"reference_rates\.2025-07-01: must be a percent per year as a"),
        ({"2025-07-01": "75.00"}, r"reference_rates\.2025-07-01: must be between -10 and 50"),
    ],
)
def test_a_bad_reference_rate_is_refused_with_its_key_named(
    rates: dict[str, Any], message: str
) -> None:
    with pytest.raises(PolicyConfigError, match=message):
        parse_policies(_policy_data(reference_rates=rates))


def test_reference_rates_load_from_the_file_including_negative_ones(tmp_path: Any) -> None:
    text = (REPO_ROOT / "config" / "policies.toml").read_text(encoding="utf-8")
    rates = '[reference_rates]\n"2016-01-01" = "-0.50"\n"2016-07-01" = "-0.50"\n'
    start = text.index("[reference_rates]")
    end = text.index("\n[", start + 1)
    path = tmp_path / "policies.toml"
    path.write_text(text[:start] + rates + text[end:], encoding="utf-8")
    assert load_policies(path).reference_rates == {
        date(2016, 1, 1): Decimal("-0.50"),
        date(2016, 7, 1): Decimal("-0.50"),
    }
    path.write_text(text.replace('"2025-07-01" = "2.00"', '"2025-06-30" = "2.00"'))
    with pytest.raises(PolicyConfigError, match=r"policies\.toml: reference_rates\.2025-06-30: "):
        load_policies(path)


# --- wiring: what invoice.issued gives the journey ------------------------------------------


class _CapturingClient:
    """Stands in for the Temporal client: keeps what would have started."""

    def __init__(self) -> None:
        self.started: list[JourneyInput] = []

    async def start_workflow(self, _run: Any, journey: JourneyInput, **_kw: Any) -> None:
        self.started.append(journey)


def _seed(url: str, customer_id: str, history: list[PastInvoice]) -> None:
    with session_scope(url) as s:
        for n, p in enumerate(history):
            s.add(
                InvoiceRow(
                    id=f"{customer_id}-h{n}",
                    number=f"H{n}",
                    customer_id=customer_id,
                    currency=p.currency,
                    amount_due=p.amount,
                    issued_at=p.issued_at,
                    due_date=p.due_date,
                    status=p.status,
                    balance=Decimal("0"),
                    closed_at=datetime.combine(p.paid_on, time(12), tzinfo=UTC)
                    if p.paid_on
                    else None,
                )
            )


async def _start(settings: Settings, event: dict[str, Any]) -> JourneyInput:
    client = _CapturingClient()
    await apply_event(cast(Client, client), settings, POLICIES, parse_event(event))
    [journey] = client.started
    return journey


async def test_invoice_issued_gives_the_journey_approval_rates_and_a_reason_with_figures(
    settings: Settings,
) -> None:
    today = date.today()
    # Late once two years ago (standard), then 4 x 30 000 SEK a year: high value.
    big = [
        _billed(today - timedelta(days=700), "30000.00", status="handed_over"),
        *(_billed(today - timedelta(days=45 + 90 * i), "30000.00") for i in range(4)),
    ]
    _seed(settings.store_url, "cus_big", big)
    small = [_billed(today - timedelta(days=400), "1000.00", status="handed_over")]
    _seed(settings.store_url, "cus_small", small)

    journey = await _start(
        settings, issued(customer_id="cus_big", customer_since="2019-05-01", issued_at=today)
    )
    assert journey.segment == "standard"
    assert journey.handover_requires_approval
    assert "1 late payment in 5 invoices" in journey.segment_reason
    assert "(high value: 50 000 SEK or more)" in journey.segment_reason
    assert journey.reference_rates == dict(EXAMPLE_REFERENCE_RATES)

    journey = await _start(
        settings, issued(customer_id="cus_small", customer_since="2019-05-01", issued_at=today)
    )
    assert journey.segment == "standard"
    assert not journey.handover_requires_approval
    assert journey.segment_reason.endswith("lifetime value 2 500 SEK")

    journey = await _start(settings, issued(issued_at=today))  # since 2020, no history
    assert (journey.segment, journey.handover_requires_approval) == ("loyal", True)
