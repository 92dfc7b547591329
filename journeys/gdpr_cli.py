"""`journeys gdpr erase CUSTOMER_ID [--yes]`: erase a customer's personal data on request.

What it erases and keeps is `starter/gdpr.py` (the order) and `infra/erasure.py` (the
tables); this module asks for confirmation and prints the counts, never the data.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from domain.tenants import DEFAULT_TENANT
from journeys.command import TENANT_HELP, UserError, command, err, out, tenant_settings

gdpr_app = typer.Typer(help="Personal data: erase a customer's on request.", no_args_is_help=True)


@gdpr_app.callback()
def _gdpr() -> None:
    """Personal data: erase a customer's on request."""
    # A callback keeps `erase` a subcommand: Typer would otherwise collapse a one-command app.


@gdpr_app.command("erase")
@command
def erase(
    customer_id: Annotated[str, typer.Argument(help="The billing system's customer id.")],
    yes: Annotated[bool, typer.Option("--yes", help="Erase without asking first.")] = False,
    tenant: Annotated[str, typer.Option("--tenant", help=TENANT_HELP)] = DEFAULT_TENANT,
) -> int:
    """Erase the customer's name, email, phone and postal address in the store and in their
    running journeys (which close as `erased`: no further contact, no handover); invoices,
    amounts and outcomes stay. Running it again is harmless."""
    from infra.migrations import init_db
    from infra.temporal import connect
    from starter.gdpr import ErasureReport, UnknownCustomer, erase_customer_data

    settings = tenant_settings(tenant)
    if not yes and not typer.confirm(
        f"Erase the personal data of customer {customer_id}? This cannot be undone.",
        err=True,
    ):
        err.print("nothing erased", markup=False)
        return 1
    init_db(settings.store_url)

    async def run() -> ErasureReport:
        client = await connect(settings)
        return await erase_customer_data(settings, client, customer_id)

    try:
        report = asyncio.run(run())
    except UnknownCustomer as e:
        raise UserError(str(e)) from None
    rows = ", ".join(f"{table} {n}" for table, n in report.rows_changed.items() if n)
    told, still_open = len(report.journeys_told), len(report.journeys_open)
    closed = f", {still_open} not closed yet" if still_open else " and closed as erased"
    out.print(
        f"customer {customer_id} erased: {told} running journey(s) told{closed}; "
        f"rows changed: {rows or 'none (already erased)'}",
        markup=False,
    )
    if report.journeys_open:
        err.print(
            "error: these journeys have not closed yet (is a worker on this version "
            f"running?): {', '.join(report.journeys_open)}; run the command again once they have",
            markup=False,
        )
        return 1
    return 0
