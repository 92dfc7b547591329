"""`/dev/inbox`: what the journeys sent, as each customer received it (the embedded default).

Every email, SMS and call script the outbox holds, newest first, filterable by customer and
by invoice, with the links in them clickable, so that `journeys dev --demo` can be followed
from the customer's side, customer page included. It exists only while some channel
delivers to the outbox; with SendGrid and Twilio both configured every route here is 404 (the
letters' PDFs and the old address too: the outbox may still hold what it received before the
providers were configured, names and addresses included). `/dev/outbox`, its old address,
redirects here.

Every tenant's outbox is shown (each tenant's store has its own), filterable by tenant; a
tenant whose own providers are both configured has no outbox to show.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape
from sqlmodel import col, select

from domain.tenants import DEFAULT_TENANT
from infra.settings import Settings
from infra.store import (
    CustomerRow,
    InvoiceRow,
    OutboxMessageRow,
    session_scope,
    split_letter,
)
from starter import auth
from starter.openapi_doc import Problem
from starter.pay_view import render_page
from starter.routing import SettingsDep
from starter.webhook_tenants import every_tenant

PAGE_SIZE = 200
_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)]")

router = APIRouter(tags=["ops"])


def _present(settings: Settings) -> list[Settings]:
    """The tenants whose outbox delivers; 404 unless some channel of some tenant does (the
    embedded default)."""
    tenants = [t for t in every_tenant(settings) if t.outbox_in_use]
    if not tenants:
        raise HTTPException(404, "the dev inbox exists only while the outbox delivers messages")
    return tenants


def every_outbox(
    tenants: list[Settings], customer: str | None, invoice: str | None
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """`messages` of each tenant, newest first across them (at most `PAGE_SIZE`), each
    marked with its tenant; the customer filter's entries name their tenant but the default."""
    found: list[dict[str, Any]] = []
    customers: list[tuple[str, str]] = []
    for settings in tenants:
        items, names = messages(settings, customer, invoice)
        found += [{**item, "tenant": settings.tenant} for item in items]
        suffix = "" if settings.tenant == DEFAULT_TENANT else f", {settings.tenant}"
        customers += [(cid, f"{name} ({cid}{suffix})") for cid, name in names]
    found.sort(key=lambda i: (i["message"].created_at, i["message"].id or 0), reverse=True)
    return found[:PAGE_SIZE], customers


def linkify(text: str) -> Markup:
    """Plain message text as HTML with its links clickable; everything else escaped."""
    out: list[str] = []
    last = 0
    for match in _URL.finditer(text):
        out.append(str(escape(text[last : match.start()])))
        url = escape(match.group(0))
        out.append(f'<a href="{url}">{url}</a>')
        last = match.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


def messages(
    settings: Settings, customer: str | None, invoice: str | None
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The filtered messages, newest first, and every customer seen (id, name) for the filter."""
    with session_scope(settings.store_url) as s:
        query = (
            select(OutboxMessageRow, InvoiceRow, CustomerRow)
            .join(InvoiceRow, col(InvoiceRow.id) == col(OutboxMessageRow.invoice_id), isouter=True)
            .join(CustomerRow, col(CustomerRow.id) == col(InvoiceRow.customer_id), isouter=True)
        )
        if customer:
            query = query.where(col(InvoiceRow.customer_id) == customer)
        if invoice:
            query = query.where(col(OutboxMessageRow.invoice_id) == invoice)
        rows = s.exec(
            query.order_by(
                col(OutboxMessageRow.created_at).desc(), col(OutboxMessageRow.id).desc()
            ).limit(PAGE_SIZE)
        ).all()
        customers = s.exec(
            select(CustomerRow.id, CustomerRow.name)
            .where(col(CustomerRow.id).in_(select(InvoiceRow.customer_id)))
            .order_by(CustomerRow.name)
        ).all()
    found = [
        {
            "message": m,
            "customer_id": inv.customer_id if inv else None,
            "customer_name": cus.name if cus else None,
            "number": inv.number if inv else None,
            "body": linkify(split_letter(m.body)[0]),
            "pdf": split_letter(m.body)[1] is not None,
        }
        for m, inv, cus in rows
    ]
    return found, [(cid, name) for cid, name in customers]


@router.get(
    "/dev/inbox",
    dependencies=[Depends(auth.require_role())],
    response_class=HTMLResponse,
    responses={404: {"model": Problem, "description": "The outbox delivers nothing."}},
)
def dev_inbox(
    settings: SettingsDep,
    customer: Annotated[str | None, Query(max_length=200)] = None,
    invoice: Annotated[str | None, Query(max_length=200)] = None,
    tenant: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    """The dev inbox: messages delivered to the outbox, newest first (at most 200), of every
    tenant or of the one named."""
    tenants = _present(settings)
    shown = [t for t in tenants if not tenant or t.tenant == tenant]
    found, customers = every_outbox(shown, customer or None, invoice or None)
    body = render_page(
        settings,
        "inbox.html.j2",
        items=found,
        customers=customers,
        customer=customer or "",
        invoice=invoice or "",
        tenants=[t.tenant for t in tenants] if len(tenants) > 1 else [],
        tenant=tenant or "",
        page_size=PAGE_SIZE,
    )
    return HTMLResponse(body)


@router.get(
    "/dev/inbox/letters/{message_id}.pdf",
    dependencies=[Depends(auth.require_role())],
    response_class=Response,
    responses={404: {"model": Problem, "description": "No such letter in the outbox."}},
)
def dev_inbox_letter(
    settings: SettingsDep,
    message_id: int,
    tenant: Annotated[str, Query(max_length=40)] = DEFAULT_TENANT,
) -> Response:
    """A letter in the outbox (the tenant's) as the post would have carried it."""
    found = [t for t in _present(settings) if t.tenant == tenant]
    if not found:
        raise HTTPException(404, f"no tenant {tenant!r} with an outbox")
    settings = found[0]
    with session_scope(settings.store_url) as s:
        row = s.get(OutboxMessageRow, message_id)
        pdf = split_letter(row.body)[1] if row is not None else None
    if pdf is None:
        raise HTTPException(404, f"outbox message {message_id} is not a letter")
    return Response(pdf, media_type="application/pdf")


@router.get("/dev/outbox", dependencies=[Depends(auth.require_role())], include_in_schema=False)
def dev_outbox(request: Request, settings: SettingsDep) -> RedirectResponse:
    """The dev inbox's old address, guarded like it: every dev route the same way."""
    _present(settings)
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"/dev/inbox{query}", status_code=308)
