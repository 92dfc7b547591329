"""A customer's word on a channel, wherever it comes from: one mechanism for Twilio's STOP and
START (SMS) and SendGrid's unsubscribe, spam report and resubscribe (email).

The customer rows first (the next invoice's journey starts from them), then every open
invoice's journey gets `consent_changed`, which it applies once by its event id; the journey
falls back from a channel without consent as it does for any other reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from temporalio.client import Client

from domain.messages import ConsentChange
from domain.values import Channel
from infra.settings import Settings
from infra.store import CustomerRow, session_scope
from starter.routing import Target, open_targets_for_customers, signal_journey
from workflows.journey import InvoiceJourney

CONSENT_COLUMNS: dict[Channel, str] = {
    "email": "consent_email",
    "sms": "consent_sms",
    "call": "consent_call",
}


def set_consent(url: str, customer_ids: Sequence[str], channel: Channel, granted: bool) -> None:
    with session_scope(url) as s:
        for customer_id in customer_ids:
            row = s.get(CustomerRow, customer_id)
            if row is None:
                continue
            setattr(row, CONSENT_COLUMNS[channel], granted)
            row.updated_at = datetime.now(UTC)
            s.add(row)


async def change_consent(
    settings: Settings,
    client: Client,
    customer_ids: Sequence[str],
    change: ConsentChange,
) -> list[Target]:
    """Record the change on the customers and tell their running journeys; the journeys told.
    Both are the tenant's whose settings these are (a webhook passes its tenant's)."""
    url = settings.store_url
    ids = list(customer_ids)
    await asyncio.to_thread(set_consent, url, ids, change.channel, change.granted)
    targets = await asyncio.to_thread(open_targets_for_customers, url, ids)
    for t in targets:
        await signal_journey(
            client, t.invoice_id, InvoiceJourney.consent_changed, change, settings.tenant
        )
    return targets
