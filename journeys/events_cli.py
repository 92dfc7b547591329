"""`journeys events import`: billing events from a JSON Lines file, one event a line.

Good lines are applied through the same ingest as `POST /v1/events`; every bad line is named
by its number and field, so a billing export can be fixed and imported again (it is
idempotent by event id).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from domain.tenants import DEFAULT_TENANT
from infra.settings import Settings
from journeys.command import TENANT_HELP, UserError, command, err, out, tenant_settings

events_app = typer.Typer(help="Billing events.", no_args_is_help=True)

IMPORT_CONCURRENCY = 8
"""Invoices with several events in a chunk applied at once (each invoice's in file order);
new invoices alone in a chunk are started many at a time (`starter/issue_batch.py`)."""
IMPORT_CHUNK = 500
"""Lines applied as one batch, as `POST /v1/events` applies an array of 500."""


@dataclass
class _Line:
    number: int
    event: Any


def read_event_lines(path: Path) -> tuple[list[_Line], list[str]]:
    """Parse a JSON Lines file: the good lines and one `line N: field: problem` per bad one."""
    from starter.event_schema import EventRejected, parse_event

    good: list[_Line] = []
    problems: list[str] = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read {path}: {e}") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"line {number}: not valid JSON ({e.msg} at column {e.colno})")
            continue
        try:
            good.append(_Line(number, parse_event(raw)))
        except EventRejected as e:
            problems.append(f"line {number}: {e}")
    return good, problems


async def _import(
    settings: Settings, lines: list[_Line], concurrency: int
) -> tuple[Counter[str], list[str]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from infra.migrations import init_db
    from infra.policy_file import load_policies
    from infra.temporal import connect
    from starter.ingest import Ingest

    policies = load_policies(settings.policy_file)  # the tenant's own, if it has one
    init_db(settings.store_url)
    client = await connect(settings)
    ingest = Ingest(client, settings, policies)
    statuses: Counter[str] = Counter()
    problems: list[tuple[int, str]] = []

    # On stderr, and only drawn on a terminal: piped output stays the summary alone.
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    task = progress.add_task("importing", total=len(lines))
    with progress:
        # Chunks in file order, one after another: an invoice's events keep the file's order
        # across chunks, and within a chunk the ingest keeps it (its ordering groups).
        for first in range(0, len(lines), IMPORT_CHUNK):
            chunk = lines[first : first + IMPORT_CHUNK]
            results = await ingest.settle([line.event for line in chunk], concurrency)
            for line, result in zip(chunk, results, strict=True):
                if isinstance(result, BaseException):
                    problems.append((line.number, f"line {line.number}: {_describe(result)}"))
                else:
                    statuses[result.status] += 1
            progress.advance(task, len(chunk))
    return statuses, [text for _, text in sorted(problems)]


def _describe(e: BaseException) -> str:
    from temporalio.service import RPCError

    if isinstance(e, RPCError):
        return f"Temporal refused or did not answer: {e}"
    return str(e) or type(e).__name__


@events_app.command("import")
@command
def import_events(
    file: Annotated[Path, typer.Argument(help="JSON Lines: one billing event per line.")],
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="Invoices imported at the same time.")
    ] = IMPORT_CONCURRENCY,
    check: Annotated[
        bool, typer.Option("--check", help="Only validate the file; apply nothing.")
    ] = False,
    tenant: Annotated[str, typer.Option("--tenant", help=TENANT_HELP)] = DEFAULT_TENANT,
) -> int:
    """Import billing events. Good lines are applied (idempotent: re-importing is safe); each
    bad line is reported with its number and field, and the exit status is then 1."""
    lines, problems = read_event_lines(file)
    statuses: Counter[str] = Counter()
    if lines and not check:
        statuses, failed = asyncio.run(_import(tenant_settings(tenant), lines, concurrency))
        problems += failed
    for problem in sorted(problems, key=_line_number):
        err.print(problem, markup=False)
    applied = sum(statuses.values())
    summary = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
    if check:
        out.print(f"{file}: {len(lines)} valid, {len(problems)} invalid", markup=False)
    else:
        out.print(
            f"{file}: {applied} applied"
            + (f" ({summary})" if summary else "")
            + f", {len(problems)} failed",
            markup=False,
        )
    return 1 if problems else 0


def _line_number(problem: str) -> int:
    head = problem.split(":", 1)[0].removeprefix("line ")
    return int(head) if head.isdigit() else 0
