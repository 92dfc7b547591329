"""`journeys status` and `journeys agent`: one journey, read or acted on by a person.

Both go through the same query and validated update as the HTTP API (starter.actions), so a
refusal reads the same wherever it comes from; options an action does not take are refused
by their option name, not by the field name the update uses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from domain.messages import AGENT_ACTIONS
from domain.state import JourneyState
from domain.tenants import DEFAULT_TENANT
from infra.settings import Settings
from journeys.command import TENANT_HELP, UserError, command, out, tenant_settings


async def _with_client(settings: Settings, fn: Callable[[Any], Any]) -> Any:
    from infra.temporal import connect

    client = await connect(settings)
    return await fn(client)


TenantOption = Annotated[str, typer.Option("--tenant", help=TENANT_HELP)]


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


@command
def status(
    invoice_id: Annotated[str, typer.Argument(help="The invoice's id, e.g. inv_1001.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the state as JSON.")] = False,
    tenant: TenantOption = DEFAULT_TENANT,
) -> int:
    """The journey's state, as its `state` query returns it."""
    from starter.actions import get_state

    settings = tenant_settings(tenant)
    try:
        state: JourneyState = asyncio.run(
            _with_client(settings, lambda c: get_state(c, invoice_id, settings.tenant))
        )
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


def _option_words(message: str, action: str) -> str:
    """`due_date: Field required` -> `--due-date: Field required` (the user typed options).

    Every field of an agent action is the option of the same name in kebab case, so the
    option names are read off the action models and a new field needs no entry here."""
    from starter.actions import ACTIONS

    fields = {name for model in ACTIONS.models.values() for name in model.model_fields}
    parts = []
    for part in message.split("; "):
        field, sep, problem = part.partition(": ")
        if field in fields - {ACTIONS.tag}:
            if problem.startswith("Extra inputs are not permitted"):
                problem = f"not used by the {action} action"
            part = "--" + field.replace("_", "-") + sep + problem
        parts.append(part)
    return "; ".join(parts)


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
    tenant: TenantOption = DEFAULT_TENANT,
) -> int:
    """An agent action on a running journey; prints the journey's new state.

    Options a given action does not take are refused by name (e.g. `--until` with extend)."""
    from starter.actions import ActionRejected, agent_action, parse_action

    options: dict[str, object] = {
        "until": until,
        "due_date": due_date,
        "promise_date": promise_date,
        "outcome": outcome.value if outcome else None,
        "installments": installments,
        "interval_days": interval_days,
        "first_due": first_due,
        "note": note,
    }
    raw: dict[str, object] = {"action": action, "agent": agent}
    raw |= {field: value for field, value in options.items() if value is not None}
    try:
        parsed = parse_action(raw)
    except ActionRejected as e:
        raise UserError(_option_words(str(e), action)) from None
    settings = tenant_settings(tenant)
    try:
        state: JourneyState = asyncio.run(
            _with_client(
                settings, lambda c: agent_action(c, invoice_id, parsed, tenant=settings.tenant)
            )
        )
    except _journey_errors() as e:
        raise UserError(str(e)) from None
    if as_json:
        out.print_json(state.model_dump_json(), highlight=False)
    else:
        print_state(state, out)
    return 0
