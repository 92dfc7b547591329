"""What the providers post, as the tests build it: SendGrid's events, Stripe's invoices and
events. One builder each, shared by the route tests and the fuzz tests, so that a field the
provider adds is added once."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tests.webhooks.conftest import EMAIL, new_id

CREATED = 1_795_000_000  # 2026-11-18 (UTC)


def sendgrid_event(kind: str, **fields: Any) -> dict[str, Any]:
    """One entry of a SendGrid Event Webhook batch, about `EMAIL`, sent now."""
    return {
        "email": EMAIL,
        "timestamp": int(time.time()),
        "event": kind,
        "sg_event_id": new_id("sgev"),
        **fields,
    }


def unix(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp())


def stripe_invoice(invoice_id: str = "in_1", **overrides: Any) -> dict[str, Any]:
    """A finalized Stripe invoice of SEK 1,250 issued today, due in 30 days, not yet paid."""
    issued = date.today()
    invoice: dict[str, Any] = {
        "id": invoice_id,
        "object": "invoice",
        "number": "ABCD-0001",
        "customer": "cus_stripe_1",
        "customer_email": EMAIL,
        "customer_name": "Berit Andersson",
        "customer_phone": "070-123 45 67",
        "customer_address": {"country": "SE"},
        "currency": "sek",
        "amount_due": 125000,
        "amount_paid": 0,
        "created": unix(issued),
        "due_date": unix(issued + timedelta(days=30)),
        "collection_method": "send_invoice",
        "hosted_invoice_url": "https://invoice.stripe.com/i/acct_1/test",
        "metadata": {"ocr": "10014"},
        "status_transitions": {"paid_at": None},
    }
    invoice.update(overrides)
    return invoice


def stripe_event(kind: str, obj: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or new_id("evt"),
        "object": "event",
        "type": kind,
        "created": CREATED,
        "api_version": "2025-10-29",
        "data": {"object": obj},
        "livemode": False,
    }
