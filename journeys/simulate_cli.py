"""`journeys simulate`: the same synthetic portfolio through two policy files, the report for
each and the difference, so a gentler (or firmer) policy can be tried before it goes live.
The customers are `domain.simulation` (seeded); the journeys are the real ones, on a private
Temporal dev server with time skipping and a private store per policy
(`journeys.simulation_run`)."""

from __future__ import annotations

import asyncio
import json
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from domain.report_formats import report_json
from domain.reporting import Report
from domain.simulation import BehaviourError, change, difference, parse_behaviour, portfolio
from infra.logging import configure_logging
from journeys.command import UserError, command, err, load_settings, out
from journeys.report_cli import TABLE_WIDTH, report_table

if TYPE_CHECKING:
    from journeys.simulation_run import PolicyRun


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


def _answers(run: PolicyRun) -> str:
    said = ", ".join(f"{k} {v}" for k, v in run.answers.items()) or "none"
    if run.refused:
        said += f"; refused by the journey {run.refused}"
    if run.lost:
        said += f"; lost to errors {run.lost} (see the log)"
    return said


def _run_json(run: PolicyRun) -> dict[str, Any]:
    return {
        "journeys_ended": run.finished,
        "waiting_for_a_person": run.waiting,
        "customer_answers": run.answers,
        "answers_refused": run.refused,
        "answers_lost": run.lost,
        "seconds": round(run.seconds, 1),
    }


@command
def simulate_command(
    policy_a: Annotated[
        Path, typer.Argument(help="The policy file now (e.g. config/policies.toml).")
    ],
    policy_b: Annotated[Path, typer.Argument(help="The policy file to try.")],
    behaviour: Annotated[
        Path, typer.Option(help="The behaviour model (TOML), e.g. config/behaviour.toml.")
    ],
    invoices: Annotated[int, typer.Option(min=1, max=100_000, help="Portfolio size.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same run.")] = 1,
    output_format: Annotated[
        SimulateFormat, typer.Option("--format", help="table (default) or json.")
    ] = SimulateFormat.table,
) -> int:
    """Run one synthetic portfolio through two policy files and compare the reports."""
    from infra.policy_file import load_policies
    from journeys.simulation_run import simulate_policies

    settings = load_settings()
    # A thousand journeys log every step; the simulation's own summary is what counts here.
    configure_logging(settings.log_format, "WARNING")
    try:
        mix = parse_behaviour(behaviour.read_text(encoding="utf-8"), str(behaviour))
    except FileNotFoundError:
        raise UserError(f"{behaviour}: behaviour file not found") from None
    except BehaviourError as e:
        raise UserError(str(e)) from None
    files = [load_policies(path) for path in (policy_a, policy_b)]
    for path, policies in zip((policy_a, policy_b), files, strict=True):
        missing = sorted(set(mix.segments) - set(policies.segments))
        if missing:
            raise UserError(f"{path}: no policy for the behaviour file's segments {missing}")
    started = time.monotonic()
    runs = asyncio.run(
        simulate_policies(
            settings, list(zip(("a", "b"), files, strict=True)), mix, portfolio(mix, invoices), seed
        )
    )
    reports = [run.report for run in runs]
    a, b = reports
    names = (policy_a.name, policy_b.name)
    if names[0] == names[1]:
        names = (str(policy_a), str(policy_b))
    if output_format is SimulateFormat.json:
        document = {
            "invoices": invoices,
            "seed": seed,
            "a": {"policy_file": str(policy_a), **_run_json(runs[0]), **report_json(a)},
            "b": {"policy_file": str(policy_b), **_run_json(runs[1]), **report_json(b)},
            "difference": _difference_json(a, b),
        }
        out.print(json.dumps(document, indent=2), markup=False)
    else:
        wide = Console(width=max(out.width, TABLE_WIDTH), highlight=False)
        for name, report in zip(names, (a, b), strict=True):
            wide.print(f"[bold]{name}[/bold]")
            wide.print(report_table(report))
        wide.print(difference_table(names[0], names[1], a, b))
    for name, run in zip(names, runs, strict=True):
        waiting = f", {run.waiting} waiting for a person" if run.waiting else ""
        err.print(
            f"{name}: {run.finished} journeys ended{waiting} in {run.seconds:.1f} s; "
            f"customers: {_answers(run)}",
            markup=False,
        )
    err.print(
        f"{invoices} invoices through 2 policies in {time.monotonic() - started:.2f} s",
        markup=False,
    )
    return 0
