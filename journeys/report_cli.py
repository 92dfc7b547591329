"""`journeys report`: the experience report (domain/reporting.py) in the terminal, as JSON or
CSV, or as one self-contained HTML page. Mounted by journeys/cli.py; only reads the store."""

from __future__ import annotations

import json
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from domain.report_formats import COLUMNS, cell, report_csv, report_json
from domain.reporting import Report, ReportFilter
from domain.tenants import DEFAULT_TENANT
from journeys.command import TENANT_HELP, UserError, command, err, out, tenant_settings

HEADERS: dict[str, str] = {
    "segment": "segment",
    "step": "step",
    "reached": "reached",
    "resolved": "resolved",
    "share_resolved": "share resolved",
    "median_days_to_pay": "median days to pay",
    "csat_mean": "CSAT",
    "csat_count": "ratings",
    "leaked": "leaked",
    "ltv_lost": "LTV lost",
    "handovers": "handovers",
    "handover_rate": "handover rate",
    "contacts": "contacts",
    "contacts_per_resolved": "contacts / resolved",
    "provider_cost": "provider cost",
    "cost_per_resolved": "cost / resolved",
}
TABLE_WIDTH = 220
"""Sixteen columns do not fit 80 characters; the table is printed this wide at least."""


class ReportFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


def report_table(report: Report) -> Table:
    scope = report.filter.describe()
    table = Table(
        *(HEADERS[c] for c in COLUMNS),
        title=f"Journeys report: {report.journeys} finished journeys"
        + (f" ({scope})" if scope else ""),
        caption=f"step k: after k reminders; costs in {report.costs.currency}; "
        f"leakage window {report.leakage.window_days} days",
    )
    for row in report.rows:
        table.add_row(*(cell(row, c) or "-" for c in COLUMNS))
    return table


@command
def report(
    output_format: Annotated[
        ReportFormat, typer.Option("--format", help="table (default), json or csv.")
    ] = ReportFormat.table,
    period_from: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Journeys closed on or after this date."),
    ] = None,
    period_to: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Journeys closed on or before this date."),
    ] = None,
    segment: Annotated[str | None, typer.Option(help="Only this segment.")] = None,
    policy: Annotated[str | None, typer.Option(help="Only journeys under this policy.")] = None,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            dir_okay=False,
            help="Also write the report with its charts to this one self-contained HTML file.",
        ),
    ] = None,
    tenant: Annotated[str, typer.Option("--tenant", help=TENANT_HELP)] = DEFAULT_TENANT,
) -> int:
    """How finished journeys went, per segment and per step: resolution, days to pay, CSAT,
    customers lost, handovers, contacts and provider cost per resolved invoice."""
    from infra.migrations import init_db
    from infra.report_store import journey_report

    if period_from and period_to and period_from > period_to:
        raise UserError(
            f"--period-from {period_from:%Y-%m-%d} is after --period-to {period_to:%Y-%m-%d}"
        )
    settings = tenant_settings(tenant)
    init_db(settings.store_url)
    result = journey_report(
        settings, ReportFilter(_day(period_from), _day(period_to), segment, policy)
    )
    if html is not None:
        from journeys.report_html import write_html

        if not html.parent.is_dir():
            raise UserError(f"--html {html}: folder {html.parent} does not exist")
        write_html(result, html)
        err.print(f"report with charts written to {html}", markup=False)
    if output_format is ReportFormat.json:
        out.print(json.dumps(report_json(result), indent=2), markup=False)
    elif output_format is ReportFormat.csv:
        out.file.write(report_csv(result))
        out.file.flush()
    else:
        Console(width=max(out.width, TABLE_WIDTH), highlight=False).print(report_table(result))
    return 0
