"""`journeys links show|revoke INVOICE_ID`: the customer-page link of an invoice, for customer
service to send again, or to withdraw (e.g. it reached the wrong person).

Store only (no Temporal), so these commands exit normally.
"""

from __future__ import annotations

from typing import Annotated

import typer

from domain.tenants import DEFAULT_TENANT
from infra import customer_links
from infra.settings import Settings
from infra.store import InvoiceRow, session_scope
from journeys.admin_cli import TenantOption, _tenant_settings
from journeys.command import err, out

links_app = typer.Typer(
    help="Customer-page links (/pay/...): show one to send again, or revoke it.",
    no_args_is_help=True,
)

InvoiceArg = Annotated[str, typer.Argument(help="The billing system's invoice id.")]


def _known(settings: Settings, invoice_id: str) -> None:
    with session_scope(settings.store_url) as s:
        if s.get(InvoiceRow, invoice_id) is None:
            err.print(f"error: no invoice {invoice_id!r} in the store", markup=False)
            raise typer.Exit(1)


@links_app.command("show")
def show(invoice_id: InvoiceArg, tenant: TenantOption = DEFAULT_TENANT) -> None:
    """Print the invoice's page link (the one every message carries) and whether it works."""
    settings = _tenant_settings(tenant)
    _known(settings, invoice_id)
    url = customer_links.page_url(settings, invoice_id)
    lid = customer_links.link_id(customer_links.page_secret(settings), invoice_id, settings.tenant)
    row = customer_links.find_link(settings, lid)
    status = "revoked" if row is not None and row.revoked_at is not None else "active"
    out.print(f"{url}  ({status})", markup=False)


@links_app.command("revoke")
def revoke(invoice_id: InvoiceArg, tenant: TenantOption = DEFAULT_TENANT) -> None:
    """Withdraw the invoice's page link: it answers 410 from now on."""
    settings = _tenant_settings(tenant)
    _known(settings, invoice_id)
    customer_links.revoke(settings, invoice_id)
    out.print(f"revoked the customer-page link of {invoice_id}", markup=False)
