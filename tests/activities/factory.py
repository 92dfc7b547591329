"""Sample payloads for the activity tests."""

from __future__ import annotations

import socket
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from domain.payloads import DeliveryRequest, HandoverRequest
from domain.state import HistoryEntry
from domain.values import Channel
from tests.factories import SAMPLE_IDS

EMAIL = "berit@example.se"
PHONE = "+46701234567"

HTTP_ANSWERS: list[tuple[int, str, bool]] = [
    (400, "DeliveryRejected", True),
    (401, "ProviderAuthFailed", True),
    (403, "ProviderAuthFailed", True),
    (404, "DeliveryRejected", True),
    (408, "ProviderUnavailable", False),
    (413, "DeliveryRejected", True),
    (422, "DeliveryRejected", True),
    (429, "ProviderRateLimited", False),
    (500, "ProviderUnavailable", False),
    (502, "ProviderUnavailable", False),
    (503, "ProviderUnavailable", False),
]
"""A provider's non-2xx HTTP answer: the error's type, and whether it is final. The one rule
(`activities.errors.http_answer_error`) that SendGrid and the letter provider follow."""


def delivery_request(channel: Channel = "email", **overrides: Any) -> DeliveryRequest:
    fields: dict[str, Any] = {
        **SAMPLE_IDS,
        "step_key": f"step-0-{channel}",
        "channel": channel,
        "template": "reminder",
        "locale": "sv",
        "customer_id": "cus_berit",
        "customer_name": "Berit Andersson",
        "to": EMAIL if channel == "email" else PHONE,
        "invoice_number": "1001",
        "currency": "SEK",
        "amount_due": Decimal("1250.00"),
        "balance": Decimal("1250.00"),
        "fees": Decimal("0"),
        "fee_this_step": Decimal("0"),
        "due_date": date(2026, 11, 30),
        "ocr": "10014",
        "payment_url": "https://billing.example/pay/inv_1001",
    }
    fields.update(overrides)
    return DeliveryRequest(**fields)


def handover_request(**overrides: Any) -> HandoverRequest:
    fields: dict[str, Any] = {
        **SAMPLE_IDS,
        "customer_id": "cus_berit",
        "currency": "SEK",
        "amount_due": Decimal("1250.00"),
        "balance": Decimal("1310.00"),
        "fees": Decimal("60.00"),
        "history": (
            HistoryEntry(
                at=datetime(2026, 12, 3, 10, tzinfo=UTC),
                kind="step",
                detail="step 1 (email reminder): sent via outbox",
                step_index=0,
                channel="email",
                outcome="sent",
            ),
        ),
    }
    fields.update(overrides)
    return HandoverRequest(**fields)


def closed_port_url() -> str:
    """A loopback URL nobody listens on: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
