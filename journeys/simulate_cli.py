"""`journeys simulate`: the same synthetic portfolio through two policy files, the report for
each and the difference, so a gentler (or firmer) policy can be tried before it goes live.
The model is `domain.simulation` (pure, seeded); nothing here touches Temporal or the store."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from domain.report_formats import report_json
from domain.reporting import Report, ReportFilter, build_report
from domain.simulation import START, BehaviourError, change, difference, parse_behaviour, simulate
from journeys.command import UserError, command, err, load_settings, out
from journeys.report_cli import TABLE_WIDTH, report_table


class SimulateFormat(StrEnum):
    table = "table"
    json = "json"


def _text(value: object) -> str:
    return "-" if value is None else str(value)


def difference_table(a_name: str, b_name: str, a: Report, b: Report) -> Table:
    table = Table("segment", "figure", a_name, b_name, f"{b_name} - {a_name}", title="Difference")
    for segment, figure, va, vb in difference(a, b):
        table.add_row(segment, figure, _text(va), _text(vb), _text(change(va, vb)))
    return table


def _difference_json(a: Report, b: Report) -> list[dict[str, Any]]:
    return [
        {
            "segment": segment,
            "figure": figure,
            "a": None if va is None else float(va),
            "b": None if vb is None else float(vb),
            "change": None if va is None or vb is None else float(vb - va),
        }
        for segment, figure, va, vb in difference(a, b)
    ]


@command
def simulate_command(
    policy_a: Annotated[
        Path, typer.Argument(help="The policy file now (e.g. config/policies.toml).")
    ],
    policy_b: Annotated[Path, typer.Argument(help="The policy file to try.")],
    behaviour: Annotated[
        Path, typer.Option(help="The behaviour model (TOML), e.g. config/behaviour.toml.")
    ],
    invoices: Annotated[int, typer.Option(min=1, max=1_000_000, help="Portfolio size.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same run.")] = 1,
    output_format: Annotated[
        SimulateFormat, typer.Option("--format", help="table (default) or json.")
    ] = SimulateFormat.table,
) -> int:
    """Run one synthetic portfolio through two policy files and compare the reports."""
    from infra.policy_file import load_policies
    from infra.report_store import leakage_rule, report_costs

    settings = load_settings()
    try:
        mix = parse_behaviour(behaviour.read_text(encoding="utf-8"), str(behaviour))
    except FileNotFoundError:
        raise UserError(f"{behaviour}: behaviour file not found") from None
    except BehaviourError as e:
        raise UserError(str(e)) from None
    started = time.monotonic()
    reports: list[Report] = []
    for path in (policy_a, policy_b):
        policies = load_policies(path)
        try:
            facts = simulate(policies.segments, mix, invoices, seed, path.name)
        except BehaviourError as e:
            raise UserError(str(e)) from None
        as_of = START + timedelta(days=730)
        reports.append(
            build_report(
                facts, ReportFilter(), report_costs(settings), leakage_rule(settings), as_of
            )
        )
    a, b = reports
    names = (policy_a.name, policy_b.name)
    if names[0] == names[1]:
        names = (str(policy_a), str(policy_b))
    if output_format is SimulateFormat.json:
        document = {
            "invoices": invoices,
            "seed": seed,
            "a": {"policy_file": str(policy_a), **report_json(a)},
            "b": {"policy_file": str(policy_b), **report_json(b)},
            "difference": _difference_json(a, b),
        }
        out.print(json.dumps(document, indent=2), markup=False)
    else:
        wide = Console(width=max(out.width, TABLE_WIDTH), highlight=False)
        for name, report in zip(names, (a, b), strict=True):
            wide.print(f"[bold]{name}[/bold]")
            wide.print(report_table(report))
        wide.print(difference_table(names[0], names[1], a, b))
    err.print(
        f"{invoices} invoices through 2 policies in {time.monotonic() - started:.2f} s",
        markup=False,
    )
    return 0
