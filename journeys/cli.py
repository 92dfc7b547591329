"""The `journeys` command (SPEC, "Commands"): the top floor of the house.

Each group of commands lives beside its idea (events_cli, journey_cli, ops_cli, admin_cli,
report_cli, simulate_cli); this module mounts them under one name and runs the long-lived
processes. How every command reports errors and exits is `journeys.command`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from infra.process import run_abandoning_threads
from journeys.command import UserError, command, load_settings
from journeys.events_cli import events_app
from journeys.journey_cli import agent, status
from journeys.program import program

app = program("journeys", "Reminder Journeys: one durable journey per unpaid invoice.")
app.add_typer(events_app, name="events")
app.command()(status)
app.command()(agent)


def _mount_operations() -> None:
    """Commands that live beside their subject (schema, replay check, API keys, dead letters,
    tenants) are mounted here so that `journeys` is the one command a person needs to know."""
    from journeys.admin_cli import dead_letters_app, keys_app
    from journeys.db_cli import db_app
    from journeys.gdpr_cli import gdpr_app
    from journeys.links_cli import links_app
    from journeys.ops_cli import replay, worker_health
    from journeys.report_cli import report
    from journeys.simulate_cli import simulate_command
    from journeys.tenants_cli import tenants_app

    app.add_typer(db_app, name="db")
    app.command("replay")(replay)
    app.command("worker-health")(worker_health)
    app.add_typer(keys_app, name="keys")
    app.add_typer(dead_letters_app, name="dead-letters")
    app.command("report")(report)
    app.command("simulate")(simulate_command)
    app.add_typer(links_app, name="links")
    app.add_typer(gdpr_app, name="gdpr")
    app.add_typer(tenants_app, name="tenants")


@app.callback()
def main() -> None:
    """Reminder Journeys: one durable journey per unpaid invoice."""


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

    settings = load_settings()
    try:
        return run_abandoning_threads(
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

    return run_abandoning_threads(
        run_stack(load_settings(), temporal_server=False, worker=True, api=False)
    )


@app.command()
@command
def api() -> int:
    """The HTTP API alone, on API_HOST:API_PORT, against TEMPORAL_ADDRESS."""
    from journeys.devstack import StackError, run_stack

    try:
        return run_abandoning_threads(
            run_stack(load_settings(), temporal_server=False, worker=False, api=True)
        )
    except StackError as e:
        raise UserError(str(e)) from None


_mount_operations()
