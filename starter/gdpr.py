"""`journeys gdpr erase CUSTOMER_ID`: a customer's personal data erased on request, in the
store and in their running journeys, with the accounting record kept.

The order matters. The running journeys hear it first (`erase_personal_data`), and the
erasure waits for them to close: a journey in the middle of delivering a step could
otherwise write a message to the outbox after the store was cleaned. Then the store
(infra/erasure.py), in one transaction. A journey that does not close in time (no worker,
or a worker on code from before the signal) is named: the store is erased anyway, and the
command can be run again once the journey has closed (a second run is harmless).

Logged as "customer erased" with the customer id and counts, never the data.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import structlog
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from domain.erasure import PersonalDataErasure
from domain.models import workflow_id_for
from infra import customer_links
from infra.erasure import customer_known, erase_customer
from infra.settings import Settings
from starter.event_store import open_invoices_of
from starter.routing import signal_journey
from workflows.journey import InvoiceJourney

log = structlog.get_logger("journeys.gdpr")

CLOSE_TIMEOUT_SECONDS = 30.0
"""How long the command waits for a told journey to close before it erases the store."""


class UnknownCustomer(LookupError):
    """Neither the customer nor any invoice of theirs is in the store."""


@dataclass
class ErasureReport:
    customer_id: str
    rows_changed: dict[str, int]
    journeys_told: list[str] = field(default_factory=list)
    """Invoices whose running journey got the signal."""
    journeys_open: list[str] = field(default_factory=list)
    """Of those, the journeys that had not closed when the store was erased."""


async def erase_customer_data(
    settings: Settings,
    client: Client,
    customer_id: str,
    *,
    close_timeout: float = CLOSE_TIMEOUT_SECONDS,
) -> ErasureReport:
    """Tell the customer's running journeys, wait for them to close, erase the store: the
    tenant's (`settings` are the tenant's), whose journeys carry its id."""
    url = settings.store_url
    if not await asyncio.to_thread(customer_known, url, customer_id):
        raise UnknownCustomer(
            f"no customer {customer_id!r} in the store (nor any invoice of theirs)"
        )
    now = datetime.now(UTC)
    erasure = PersonalDataErasure(
        event_id=f"gdpr-erase-{customer_id}-{now:%Y%m%dT%H%M%S%f}", requested_at=now
    )
    told: list[str] = []
    for invoice_id in await asyncio.to_thread(open_invoices_of, url, customer_id):
        outcome = await signal_journey(
            client, invoice_id, InvoiceJourney.erase_personal_data, erasure, settings.tenant
        )
        if outcome == "applied":
            told.append(invoice_id)
    still_open = [
        invoice_id
        for invoice_id, closed in zip(
            told,
            await asyncio.gather(
                *(_closes(client, i, settings.tenant, close_timeout) for i in told)
            ),
            strict=True,
        )
        if not closed
    ]
    secret = customer_links.page_secret(settings)
    counts = await asyncio.to_thread(
        erase_customer,
        url,
        customer_id,
        now,
        partial(customer_links.link_id, secret, tenant=settings.tenant),
    )
    log.info(
        "customer erased",
        customer_id=customer_id,
        tenant=settings.tenant,
        journeys_told=len(told),
        journeys_still_open=len(still_open),
        rows_changed=sum(counts.values()),
        **{f"rows_{table}": n for table, n in counts.items() if n},
    )
    return ErasureReport(customer_id, counts, told, still_open)


async def _closes(client: Client, invoice_id: str, tenant: str, timeout: float) -> bool:
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(
        workflow_id_for(invoice_id, tenant)
    )
    try:
        await asyncio.wait_for(handle.result(), timeout=timeout)
    except TimeoutError:
        return False
    except WorkflowFailureError:  # terminated or failed: closed all the same
        return True
    return True
