"""The portfolio of tests/reporting/portfolio.py written into the store, as the outcome
activity, ingest (churn, next invoices) and the customer page (ratings) would leave it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import inspect, text

from infra.report_store import RATINGS_TABLE
from infra.store import CustomerRow, InvoiceRow, JourneyOutcomeRow, get_engine, session_scope
from tests.reporting.portfolio import FACTS, NEXT_INVOICE

# The customer page's ratings table as the customer-page work defines it (infra/store.py's
# CsatRatingRow there), created by hand so that this branch reads it without owning it.
_RATINGS_DDL = f"""
CREATE TABLE {RATINGS_TABLE} (
    id {{id_type}} PRIMARY KEY,
    workflow_id VARCHAR NOT NULL UNIQUE,
    invoice_id VARCHAR NOT NULL,
    rating INTEGER NOT NULL,
    comment TEXT,
    phase VARCHAR NOT NULL,
    step_index INTEGER,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
)"""


def ratings_ddl(url: str) -> str:
    """The table's DDL with an auto-numbered id on either store, as its migration makes it."""
    return _RATINGS_DDL.format(id_type="SERIAL" if url.startswith("postgresql") else "INTEGER")


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


@contextmanager
def ratings_table(url: str) -> Iterator[None]:
    """The portfolio's ratings in the `csat_ratings` table for the duration of a test. Where
    the table is not part of this branch's schema it is created here and dropped afterwards;
    where it is (once merged with the customer page) only the rows are added and removed."""
    engine = get_engine(url)
    now = datetime(2026, 7, 1, tzinfo=UTC)
    rated = [(f.invoice_id, f.rating) for f in FACTS if f.rating is not None]
    with engine.begin() as conn:
        existed = inspect(conn).has_table(RATINGS_TABLE)
        if not existed:
            conn.execute(text(ratings_ddl(url)))
        for n, (invoice_id, rating) in enumerate(rated, start=1):
            conn.execute(
                text(
                    f"INSERT INTO {RATINGS_TABLE} ({'' if existed else 'id, '}workflow_id, "
                    "invoice_id, rating, phase, created_at, updated_at) VALUES "
                    f"({'' if existed else ':id, '}:wf, :inv, :rating, 'paid', :at, :at)"
                ),
                {
                    "id": n,
                    "wf": f"invoice-{invoice_id}",
                    "inv": invoice_id,
                    "rating": rating,
                    "at": now,
                },
            )
    try:
        yield
    finally:
        with engine.begin() as conn:
            if existed:
                conn.execute(
                    text(f"DELETE FROM {RATINGS_TABLE} WHERE workflow_id LIKE 'invoice-inv_%'")
                )
            else:
                conn.execute(text(f"DROP TABLE IF EXISTS {RATINGS_TABLE}"))
