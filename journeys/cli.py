"""The `journeys` command (SPEC, "Commands").

Every command ends through `infra.process.leave`, which flushes and calls `os._exit`, so
that the known abort of a process that used a Temporal client in interpreter shutdown
(temporalio/sdk-python#300) never turns a successful import or status call into a failure
for scripts that check the exit status.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ParamSpec

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from domain.models import AGENT_ACTIONS, JourneyState
from domain.policies import PolicyConfigError, format_validation_error
from infra.logging import configure_logging, get_logger
from infra.process import leave
from infra.settings import Settings

app = typer.Typer(
    name="journeys",
    help="Reminder Journeys: one durable journey per unpaid invoice.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
events_app = typer.Typer(help="Billing events.", no_args_is_help=True)
app.add_typer(events_app, name="events")


def _mount_operations() -> None:
    """Commands that live beside their subject (schema, replay check, API keys, dead letters)
    are mounted here so that `journeys` is the one command a person needs to know."""
    from journeys.admin_cli import dead_letters_app, keys_app
    from journeys.ops_cli import db_app, replay, worker_health

    app.add_typer(db_app, name="db")
    app.command("replay")(replay)
    app.command("worker-health")(worker_health)
    app.add_typer(keys_app, name="keys")
    app.add_typer(dead_letters_app, name="dead-letters")


out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
log = get_logger("journeys.cli")

P = ParamSpec("P")

IMPORT_CONCURRENCY = 8
"""Invoices imported at once by `events import`; one invoice's events stay in file order."""


class UserError(Exception):
    """A problem the user can fix; printed as one line, no traceback."""


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as e:
        raise UserError(f"bad configuration: {format_validation_error(e)}") from None


def command(fn: Callable[P, int | None]) -> Callable[P, None]:
    """Run a command body, turn known failures into one-line messages, and leave via `leave`."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        status = 1
        try:
            _configure_logging()
            status = fn(*args, **kwargs) or 0
        except typer.Exit as e:
            status = e.exit_code
        except KeyboardInterrupt:
            status = 130
        except (UserError, PolicyConfigError) as e:
            err.print(f"error: {e}", markup=False)
        except Exception as e:
            if _is_connect_error(e):
                err.print(
                    f"error: cannot reach Temporal ({e}); is `journeys dev` or the Temporal "
                    "server running, and is TEMPORAL_ADDRESS right?",
                    markup=False,
                )
            else:
                err.print_exception()
        leave(status)

    return run


def _is_connect_error(e: Exception) -> bool:
    return isinstance(e, RuntimeError) and "Failed client connect" in str(e)


@app.callback()
def main() -> None:
    """Reminder Journeys: one durable journey per unpaid invoice."""


def _configure_logging() -> None:
    """Once a command really runs (not for --help, not for a mounted sub-app): JSON with
    LOG_FORMAT=json. Process-wide, which is why it is not done on import or in the callback."""
    try:
        settings = Settings()
    except ValidationError:
        return  # the command itself reports bad configuration
    configure_logging(settings.log_format, settings.log_level)


# --- long-running processes ------------------------------------------------------------------


@app.command()
@command
def dev(
    demo: Annotated[
        bool, typer.Option("--demo", help="Load sample invoices on a compressed clock.")
    ] = False,
    seconds_per_day: Annotated[
        int,
        typer.Option(min=1, max=86400, help="With --demo: real seconds per journey day."),
    ] = 10,
) -> int:
    """Embedded stack: Temporal dev server with UI, worker and HTTP API in one process tree."""
    from journeys.devstack import DemoOptions, StackError, run_stack

    settings = _settings()
    try:
        return asyncio.run(
            run_stack(
                settings,
                temporal_server=True,
                worker=True,
                api=True,
                demo=DemoOptions(seconds_per_day) if demo else None,
            )
        )
    except StackError as e:
        raise UserError(str(e)) from None


@app.command()
@command
def worker() -> int:
    """The worker alone, against TEMPORAL_ADDRESS."""
    from journeys.devstack import run_stack

    return asyncio.run(run_stack(_settings(), temporal_server=False, worker=True, api=False))


@app.command()
@command
def api() -> int:
    """The HTTP API alone, on API_HOST:API_PORT, against TEMPORAL_ADDRESS."""
    from journeys.devstack import StackError, run_stack

    try:
        return asyncio.run(run_stack(_settings(), temporal_server=False, worker=False, api=True))
    except StackError as e:
        raise UserError(str(e)) from None


# --- events ----------------------------------------------------------------------------------


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
    from starter.ingest import Ingest, invoice_owners, ordering_key

    policies = load_policies(settings.policy_file)
    init_db(settings.store_url)
    client = await connect(settings)
    ingest = Ingest(client, settings, policies)
    groups: dict[str, list[_Line]] = defaultdict(list)
    owners = invoice_owners([line.event for line in lines])
    for line in lines:
        groups[ordering_key(line.event, owners)].append(line)
    statuses: Counter[str] = Counter()
    problems: list[tuple[int, str]] = []
    limit = asyncio.Semaphore(concurrency)

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

    async def run_group(group: list[_Line]) -> None:
        async with limit:
            for line in group:
                try:
                    [outcome] = await ingest([line.event])
                except Exception as e:  # reported per line; the other lines go on
                    problems.append((line.number, f"line {line.number}: {_describe(e)}"))
                    continue
                finally:
                    progress.advance(task)
                statuses[outcome.status] += 1

    with progress:
        await asyncio.gather(*(run_group(g) for g in groups.values()))
    return statuses, [text for _, text in sorted(problems)]


def _describe(e: Exception) -> str:
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
) -> int:
    """Import billing events. Good lines are applied (idempotent: re-importing is safe); each
    bad line is reported with its number and field, and the exit status is then 1."""
    lines, problems = read_event_lines(file)
    statuses: Counter[str] = Counter()
    if lines and not check:
        statuses, failed = asyncio.run(_import(_settings(), lines, concurrency))
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


# --- one journey -----------------------------------------------------------------------------


async def _with_client(fn: Callable[[Any], Any]) -> Any:
    from infra.temporal import connect

    client = await connect(_settings())
    return await fn(client)


def _journey_errors() -> tuple[type[Exception], ...]:
    from starter.actions import JourneyClosed, JourneyNotFound, NoWorker, RequestRefused

    return (JourneyClosed, JourneyNotFound, NoWorker, RequestRefused)


def print_state(state: JourneyState, console: Console) -> None:
    money = f"{state.currency}"
    console.print(f"Invoice {state.invoice_id}  (workflow {state.workflow_id})", markup=False)
    rows = [
        ("phase", state.phase),
        ("segment", state.segment),
        ("amount due", f"{state.amount_due} {money}"),
        ("paid", f"{state.paid} {money}"),
        ("credited", f"{state.credited} {money}"),
        ("fees", f"{state.fees} {money}"),
        ("balance", f"{state.balance} {money}"),
        ("due date", state.due_date.isoformat()),
    ]
    if state.next_step is not None:
        s = state.next_step
        final = ", final notice" if s.final_notice else ""
        rows.append(
            (
                "next step",
                f"#{s.index + 1} {s.channel} '{s.template}' at {s.at:%Y-%m-%d %H:%M:%S} UTC{final}",
            )
        )
    if state.handover_at is not None:
        rows.append(("handover", f"{state.handover_at:%Y-%m-%d %H:%M:%S} UTC"))
    if state.paused_until is not None:
        rows.append(("paused until", state.paused_until.isoformat()))
    if state.promise_date is not None:
        rows.append(("promised by", state.promise_date.isoformat()))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        console.print(f"  {key:<{width}}  {value}", markup=False)
    if state.history:
        table = Table(title="history", title_justify="left", show_edge=False, pad_edge=False)
        for column in ("when (UTC)", "what", "detail"):
            table.add_column(column)
        for h in state.history:
            table.add_row(f"{h.at:%Y-%m-%d %H:%M:%S}", h.kind, h.detail)
        console.print(table)


@app.command()
@command
def status(
    invoice_id: Annotated[str, typer.Argument(help="The invoice's id, e.g. inv_1001.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the state as JSON.")] = False,
) -> int:
    """The journey's state, as its `state` query returns it."""
    from starter.actions import get_state

    try:
        state: JourneyState = asyncio.run(_with_client(lambda c: get_state(c, invoice_id)))
    except _journey_errors() as e:
        raise UserError(str(e)) from None
    if as_json:
        out.print_json(state.model_dump_json(), highlight=False)
    else:
        print_state(state, out)
    return 0


class DisputeOutcome(StrEnum):
    resume = "resume"
    cancel = "cancel"


def _known_action(value: str) -> str:
    if value not in AGENT_ACTIONS:
        raise typer.BadParameter(f"{value!r} is not one of: {', '.join(AGENT_ACTIONS)}")
    return value


_OPTION_FOR_FIELD = {
    field: "--" + field.replace("_", "-")
    for field in (
        "agent",
        "until",
        "due_date",
        "promise_date",
        "outcome",
        "note",
        "installments",
        "interval_days",
        "first_due",
    )
}


def _option_words(message: str, action: str) -> str:
    """`due_date: Field required` -> `--due-date: Field required` (the user typed options)."""
    parts = []
    for part in message.split("; "):
        field, sep, problem = part.partition(": ")
        if field in _OPTION_FOR_FIELD:
            if problem.startswith("Extra inputs are not permitted"):
                problem = f"not used by the {action} action"
            part = f"{_OPTION_FOR_FIELD[field]}{sep}{problem}"
        parts.append(part)
    return "; ".join(parts)


@app.command()
@command
def agent(
    action: Annotated[
        str,
        typer.Argument(
            help=f"What to do: {', '.join(AGENT_ACTIONS)}.",
            callback=_known_action,
            metavar="ACTION",
        ),
    ],
    invoice_id: Annotated[str, typer.Argument(help="The invoice's id.")],
    agent: Annotated[str, typer.Option("--agent", help="Who is acting (recorded).")],
    until: Annotated[str | None, typer.Option(help="pause: until this date.")] = None,
    due_date: Annotated[str | None, typer.Option(help="extend: the new due date.")] = None,
    promise_date: Annotated[
        str | None, typer.Option(help="set-promise: the promised date.")
    ] = None,
    outcome: Annotated[
        DisputeOutcome | None, typer.Option(help="resolve-dispute: resume or cancel.")
    ] = None,
    installments: Annotated[
        int | None, typer.Option(help="approve-plan: number of installments.")
    ] = None,
    interval_days: Annotated[
        int | None, typer.Option(help="approve-plan: days between installments.")
    ] = None,
    first_due: Annotated[
        str | None, typer.Option(help="approve-plan: date of the first installment.")
    ] = None,
    note: Annotated[str | None, typer.Option(help="A note for the history.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the new state as JSON.")] = False,
) -> int:
    """An agent action on a running journey; prints the journey's new state.

    Options a given action does not take are refused by name (e.g. `--until` with extend)."""
    from starter.actions import ActionRejected, agent_action, parse_action

    raw: dict[str, Any] = {"action": action, "agent": agent}
    for key, value in (
        ("until", until),
        ("due_date", due_date),
        ("promise_date", promise_date),
        ("outcome", outcome.value if outcome else None),
        ("installments", installments),
        ("interval_days", interval_days),
        ("first_due", first_due),
        ("note", note),
    ):
        if value is not None:
            raw[key] = value
    try:
        parsed = parse_action(raw)
    except ActionRejected as e:
        raise UserError(_option_words(str(e), action)) from None
    try:
        state: JourneyState = asyncio.run(
            _with_client(lambda c: agent_action(c, invoice_id, parsed))
        )
    except _journey_errors() as e:
        raise UserError(str(e)) from None
    if as_json:
        out.print_json(state.model_dump_json(), highlight=False)
    else:
        print_state(state, out)
    return 0


_mount_operations()
