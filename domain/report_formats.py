"""The experience report as JSON-ready records, CSV text and table cells: one set of column
names and one way of writing each figure, shared by `journeys report` and the HTTP API.

In JSON, counts are integers, shares, means and medians are numbers, and money is a decimal
string (as everywhere in the API); a figure with nothing to divide by is null. In CSV and the
table, null is empty and lifetime value lost is written per currency ("25000.00 SEK").
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from domain.reporting import Report, ReportRow

COLUMNS: tuple[str, ...] = (
    "segment",
    "step",
    "reached",
    "resolved",
    "share_resolved",
    "median_days_to_pay",
    "csat_mean",
    "csat_count",
    "leaked",
    "ltv_lost",
    "handovers",
    "handover_rate",
    "contacts",
    "contacts_per_resolved",
    "provider_cost",
    "cost_per_resolved",
)
MONEY = frozenset({"provider_cost", "cost_per_resolved"})


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def row_record(row: ReportRow) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name in COLUMNS:
        value = getattr(row, name)
        if name == "ltv_lost":
            record[name] = {currency: f"{amount:.2f}" for currency, amount in value.items()}
        elif name in MONEY:
            record[name] = None if value is None else f"{value:.2f}"
        elif isinstance(value, Decimal):
            record[name] = _number(value)
        else:
            record[name] = value
    return record


def report_json(report: Report) -> dict[str, Any]:
    f = report.filter
    return {
        "as_of": report.as_of.isoformat(),
        "journeys": report.journeys,
        "filter": {
            "period_from": f.period_from.isoformat() if f.period_from else None,
            "period_to": f.period_to.isoformat() if f.period_to else None,
            "segment": f.segment,
            "policy": f.policy,
        },
        "costs": {
            "currency": report.costs.currency,
            "per_email": f"{report.costs.per_email}",
            "per_sms": f"{report.costs.per_sms}",
            "per_call_minute": f"{report.costs.per_call_minute}",
            "call_minutes": f"{report.costs.call_minutes}",
        },
        "leakage": {
            "window_days": report.leakage.window_days,
            "silence_days": report.leakage.silence_days,
        },
        "rows": [row_record(r) for r in report.rows],
    }


def cell(row: ReportRow, name: str) -> str:
    """One figure as text: empty for null, money with two decimals."""
    value = getattr(row, name)
    if name == "ltv_lost":
        return "; ".join(f"{amount:.2f} {currency}" for currency, amount in value.items())
    if value is None:
        return ""
    if name in MONEY:
        return f"{value:.2f}"
    return str(value)


def report_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in report.rows:
        writer.writerow([cell(row, name) for name in COLUMNS])
    return out.getvalue()
