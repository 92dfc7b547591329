"""The portfolio of tests/reporting/portfolio.py written into the store, as the outcome
activity, ingest (churn, next invoices) and the customer page (ratings) would leave it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from infra.store import CustomerRow, InvoiceRow, JourneyOutcomeRow, session_scope
from infra.store_page import CsatRatingRow
from tests.reporting.portfolio import FACTS, NEXT_INVOICE


def seed_outcomes(url: str) -> None:
    with session_scope(url) as s:
        for f in FACTS:
            s.add(CustomerRow(id=f.customer_id, name=f.customer_id, churned_at=f.churned_at))
            s.add(
                InvoiceRow(
                    id=f"{f.invoice_id}_next",
                    number="next",
                    customer_id=f.customer_id,
                    currency="SEK",
                    amount_due=Decimal("100.00"),
                    issued_at=NEXT_INVOICE,
                    due_date=NEXT_INVOICE,
                )
            )
            s.add(
                JourneyOutcomeRow(
                    invoice_id=f.invoice_id,
                    workflow_id=f"invoice-{f.invoice_id}",
                    customer_id=f.customer_id,
                    segment=f.segment,
                    policy_name=f.policy_name,
                    outcome=f.outcome,
                    steps_sent=f.steps_sent,
                    resolved_at_step=f.resolved_at_step,
                    currency=f.currency,
                    amount_due=Decimal("1000.00"),
                    due_date=f.closed_at.date(),
                    days_to_pay=f.days_to_pay,
                    contacts_email=f.contacts.get("email", 0),
                    contacts_sms=f.contacts.get("sms", 0),
                    contacts_call=f.contacts.get("call", 0),
                    lifetime_value=f.lifetime_value,
                    closed_at=f.closed_at,
                )
            )


def seed_ratings(url: str) -> None:
    """The portfolio's ratings, as the customer page stores them."""
    at = datetime(2026, 7, 1, tzinfo=UTC)
    with session_scope(url) as s:
        for f in FACTS:
            if f.rating is not None:
                s.add(
                    CsatRatingRow(
                        workflow_id=f"invoice-{f.invoice_id}",
                        invoice_id=f.invoice_id,
                        rating=f.rating,
                        phase="paid",
                        created_at=at,
                        updated_at=at,
                    )
                )
