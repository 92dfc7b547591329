"""The pure report: every figure of a known portfolio against hand-computed values, in its
JSON and CSV forms; leakage rules and filters."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta

from domain.report_formats import COLUMNS, report_csv, report_json
from domain.reporting import LeakageRule, ReportFilter, build_report, leaked_journeys
from tests.reporting.portfolio import (
    AS_OF,
    CLOSED,
    COSTS,
    EXPECTED_CSV,
    FACTS,
    LEAKAGE,
    _fact,
    as_json_value,
    expected_rows,
)


def test_csv_is_the_hand_computed_report() -> None:
    report = build_report(FACTS, ReportFilter(), COSTS, LEAKAGE, AS_OF)
    assert report_csv(report) == EXPECTED_CSV
    assert report.journeys == 6


def test_json_has_every_hand_computed_figure() -> None:
    report = build_report(FACTS, ReportFilter(), COSTS, LEAKAGE, AS_OF)
    document = json.loads(json.dumps(report_json(report)))
    expected = expected_rows()
    assert len(document["rows"]) == len(expected)
    for got, want in zip(document["rows"], expected, strict=True):
        assert list(got) == list(COLUMNS)
        for column in COLUMNS:
            assert got[column] == as_json_value(column, want[column]), (
                got["segment"],
                got["step"],
                column,
            )
    assert document["costs"] == {
        "currency": "SEK",
        "per_email": "0.01",
        "per_sms": "0.60",
        "per_call_minute": "0.90",
        "call_minutes": "2",
    }
    assert document["leakage"] == {"window_days": 90, "silence_days": None}
    assert document["journeys"] == 6


def test_filters_by_segment_policy_and_period() -> None:
    loyal = build_report(FACTS, ReportFilter(segment="loyal"), COSTS, LEAKAGE, AS_OF)
    lines = report_csv(loyal).splitlines()
    # "all" now means all of loyal: the same figures as loyal's own rows.
    assert [line.split(",", 1)[1] for line in lines[1:5]] == [
        line.split(",", 1)[1] for line in lines[5:9]
    ]
    assert lines[1] == "all,all,3,2,0.6667,3.0,4.00,1,0,,0,0.0000,3,1.50,0.62,0.31"
    assert build_report(FACTS, ReportFilter(policy="standard"), COSTS, LEAKAGE, AS_OF).journeys == 3
    day = CLOSED.date()
    inside = ReportFilter(period_from=day, period_to=day)
    assert build_report(FACTS, inside, COSTS, LEAKAGE, AS_OF).journeys == 6
    before = ReportFilter(period_to=day - timedelta(days=1))
    empty = build_report(FACTS, before, COSTS, LEAKAGE, AS_OF)
    assert empty.journeys == 0
    assert report_csv(empty).splitlines()[1] == "all,all,0,0,,,,0,0,,0,,0,,0.00,"
    after = ReportFilter(period_from=day + timedelta(days=1))
    assert build_report(FACTS, after, COSTS, LEAKAGE, AS_OF).journeys == 0


def test_churn_counts_against_the_latest_journey_before_it_within_the_window() -> None:
    first = _fact("X1", "standard", "paid", 1, 1, 3, (1, 0, 0), churn_after_days=60)
    second = replace(first, invoice_id="inv_X2", closed_at=CLOSED + timedelta(days=30))
    # churned 60 days after the first close = 30 days after the second: the second one
    assert leaked_journeys([first, second], LeakageRule(window_days=90), AS_OF) == {"inv_X2"}
    # exactly at the window's end still counts; a day later does not
    assert leaked_journeys([first], LeakageRule(window_days=60), AS_OF) == {"inv_X1"}
    assert leaked_journeys([first], LeakageRule(window_days=59), AS_OF) == set()


def test_a_customer_silent_for_the_silence_period_is_lost() -> None:
    quiet = replace(_fact("Q", "new", "paid", 1, 1, 2, (1, 0, 0)), next_invoice_on=None)
    back = _fact("R", "new", "paid", 1, 1, 2, (1, 0, 0))  # next invoice 22 days later
    rule = LeakageRule(window_days=90, silence_days=30)
    assert leaked_journeys([quiet, back], rule, AS_OF) == {"inv_Q"}
    # before the silence period is over nobody is counted yet
    assert leaked_journeys([quiet], rule, CLOSED + timedelta(days=29)) == set()
    # without the rule, silence is not churn
    assert leaked_journeys([quiet], LeakageRule(window_days=90), AS_OF) == set()


def test_a_filter_does_not_move_leakage_to_another_journey() -> None:
    """Leakage is decided over every journey, then the period is applied."""
    report = build_report(FACTS, ReportFilter(segment="standard"), COSTS, LEAKAGE, AS_OF)
    assert report.rows[0].leaked == 1
    assert {c: str(a) for c, a in report.rows[0].ltv_lost.items()} == {"SEK": "25000.00"}


def test_a_filter_describes_its_limits_for_the_title() -> None:
    assert ReportFilter().describe() == ""
    limits = ReportFilter(period_from=date(2026, 1, 1), segment="loyal", policy="gentle")
    assert limits.describe() == "closed from 2026-01-01, segment loyal, policy gentle"
