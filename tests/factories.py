"""Sample invoices, customers and journey inputs for tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.models import Customer, Invoice, JourneyClock, JourneyInput, Policy, Step
from domain.state import JourneyOutcome
from domain.tenants import workflow_id_for
from infra.policy_file import load_policies
from infra.settings import REPO_ROOT, Settings
from infra.store import InvoiceRow
from workflows.requests import JourneyIds, journey_ids

POLICIES = load_policies(REPO_ROOT / "config" / "policies.toml")


def standard_policy(*extra: Step) -> Policy:
    """The shipped standard policy without its fee (tests about channels and clocks, not
    fees), with `extra` steps put in date order."""
    shipped = POLICIES.segments["standard"]
    steps = [s.model_copy(update={"fee": None}) for s in shipped.steps] + list(extra)
    return shipped.model_copy(update={"steps": tuple(sorted(steps, key=lambda s: s.offset_days))})


# The SPEC's example event, verbatim. Its customer, Berit, is every sample's customer: in events
# (tests/starter/conftest.py) and as the model.
SPEC_EXAMPLE: dict[str, Any] = {
    "id": "evt_0001",
    "type": "invoice.issued",
    "occurred_at": "2026-11-02T09:00:00Z",
    "data": {
        "invoice": {
            "id": "inv_1001",
            "number": "1001",
            "customer_id": "cus_berit",
            "currency": "SEK",
            "amount_due": "1250.00",
            "issued_at": "2026-11-02",
            "due_date": "2026-11-30",
            "ocr": "10014",
            "payment_url": "https://billing.example/pay/inv_1001",
        },
        "customer": {
            "id": "cus_berit",
            "name": "Berit Andersson",
            "email": "berit@example.se",
            "phone": "+46701234567",
            "locale": "sv",
            "timezone": "Europe/Stockholm",
            "customer_since": "2020-03-01",
            "consent": {"email": True, "sms": True, "call": True},
            "fee_agreed": True,
            "is_business": False,
        },
    },
}


def customer(**overrides: Any) -> Customer:
    return Customer.model_validate({**SPEC_EXAMPLE["data"]["customer"], **overrides})


def invoice(invoice_id: str = "inv_1001", issued: date | None = None, **overrides: Any) -> Invoice:
    issued = issued or date.today()
    fields: dict[str, Any] = {
        "id": invoice_id,
        "number": invoice_id.removeprefix("inv_"),
        "customer_id": "cus_berit",
        "currency": "SEK",
        "amount_due": Decimal("1250.00"),
        "issued_at": issued,
        "due_date": issued + timedelta(days=14),
        "ocr": "10014",
        "payment_url": f"https://billing.example/pay/{invoice_id}",
    }
    fields.update(overrides)
    return Invoice(**fields)


def journey_input(
    invoice_id: str = "inv_1001",
    segment: str = "standard",
    policy: Policy | None = None,
    clock: JourneyClock | None = None,
    issued: date | None = None,
    **customer_overrides: Any,
) -> JourneyInput:
    return JourneyInput(
        invoice=invoice(invoice_id, issued),
        customer=customer(**customer_overrides),
        segment=segment,
        segment_reason="test",
        policy=policy or POLICIES.segments[segment],
        clock=clock or JourneyClock(),
    )


SAMPLE_IDS: JourneyIds = journey_ids(journey_input(), workflow_id_for("inv_1001"))
"""How the journey hands out payloads about the sample invoice (the default tenant's): the
ids every sample payload starts from."""


def invoice_row(
    invoice_id: str = "inv_1001",
    issued: date | None = None,
    *,
    status: str = "open",
    segment: str | None = None,
    **overrides: Any,
) -> InvoiceRow:
    """A stored invoice as ingest writes it (`InvoiceRow.from_invoice`), then in `status`."""
    row = InvoiceRow.from_invoice(
        invoice(invoice_id, issued, **overrides), segment=segment, segment_reason=None
    )
    row.status = status
    return row


def journey_outcome(**overrides: Any) -> JourneyOutcome:
    """How the sample journey ended: paid after two steps."""
    fields: dict[str, Any] = {
        **SAMPLE_IDS,
        "phase": "paid",
        "balance": "0.00",
        "fees": "60.00",
        "steps_sent": 2,
        "resolved_at_step": 1,
        "closed_at": datetime(2026, 12, 20, 9, 30, tzinfo=UTC),
    }
    fields.update(overrides)
    return JourneyOutcome.model_validate(fields)


def with_live_providers(settings: Settings) -> Settings:
    """The settings as if SendGrid and Twilio accounts were configured (nothing calls them):
    what switches the dev inbox off and puts provider rates on the channels."""
    return settings.model_copy(
        update={
            "sendgrid_api_key": "SG.x",
            "twilio_account_sid": "AC1",
            "twilio_auth_token": "t",
            "twilio_from_number": "+46700000000",
        }
    )
