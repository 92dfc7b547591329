"""A rating by SMS: a customer who answers the thank-you text with a digit 1-5 rates the
journey that thanked them, through the same `csat.record_rating` the customer page uses.

Which journey: the customer's most recent one whose thank-you went out by SMS, within the
days a customer-page link keeps working after its journey ended (`CUSTOMER_PAGE_LINK_DAYS`),
so that a digit sent months later is not taken as a rating of something long forgotten.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

from sqlmodel import col, select
from temporalio.client import Client

from infra.settings import Settings
from infra.store import ContactAttemptRow, InvoiceRow, session_scope, utcnow
from starter import csat
from starter.actions import get_state

THANK_YOU_STEP = "thank-you"
"""The step key of a paid journey's thank-you (`workflows.journey.InvoiceJourney._thank`)."""


def thanked_by_sms(url: str, customer_ids: Sequence[str], within_days: int) -> str | None:
    """The invoice of these customers' latest thank-you SMS in the window, or None."""
    if not customer_ids:
        return None
    since = utcnow() - timedelta(days=within_days)
    with session_scope(url) as s:
        row = s.exec(
            select(ContactAttemptRow)
            .join(InvoiceRow, col(InvoiceRow.id) == col(ContactAttemptRow.invoice_id))
            .where(
                col(InvoiceRow.customer_id).in_(list(customer_ids)),
                ContactAttemptRow.step_key == THANK_YOU_STEP,
                ContactAttemptRow.channel == "sms",
                ContactAttemptRow.status == "sent",
                col(ContactAttemptRow.created_at) >= since,
            )
            .order_by(col(ContactAttemptRow.created_at).desc(), col(ContactAttemptRow.id).desc())
        ).first()
        return row.invoice_id if row else None


async def rate_by_sms(
    settings: Settings, client: Client, customer_ids: Sequence[str], rating: int
) -> str | None:
    """Store the rating for the journey the customer was thanked for by SMS; its invoice id,
    or None when no such thank-you is found (the digit is then no rating)."""
    url = settings.store_url
    days = settings.customer_page_link_days
    invoice_id = await asyncio.to_thread(thanked_by_sms, url, customer_ids, days)
    if invoice_id is None:
        return None
    state = await get_state(client, invoice_id, settings.tenant)
    await asyncio.to_thread(csat.record_rating, url, state, rating, None)
    return invoice_id
