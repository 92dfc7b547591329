"""Baseline: the store as journeys/store.py defined it when migrations began.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Customers and invoices as the billing system sent them, every accepted billing event (the
idempotency record of ingest), the delivery ledger, the embedded default's outbox, and
handovers to collection. Types are plain SQLAlchemy: what sqlmodel maps `str` (AutoString)
and `datetime` (UTCDateTime, timezone-aware) to, so this file never depends on sqlmodel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _money(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.Numeric(precision=18, scale=2), nullable=False)


def _when(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("phone", sa.String(), nullable=True),
        sa.Column("locale", sa.String(), nullable=False),
        sa.Column("timezone", sa.String(), nullable=False),
        sa.Column("customer_since", sa.Date(), nullable=True),
        sa.Column("consent_email", sa.Boolean(), nullable=False),
        sa.Column("consent_sms", sa.Boolean(), nullable=False),
        sa.Column("consent_call", sa.Boolean(), nullable=False),
        sa.Column("fee_agreed", sa.Boolean(), nullable=False),
        sa.Column("is_business", sa.Boolean(), nullable=False),
        sa.Column("vulnerable", sa.Boolean(), nullable=False),
        _when("churned_at", nullable=True),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("id"),
    )

    op.create_table(
        "invoices",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("number", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        _money("amount_due"),
        sa.Column("issued_at", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("ocr", sa.String(), nullable=True),
        sa.Column("payment_url", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("segment", sa.String(), nullable=True),
        sa.Column("segment_reason", sa.String(), nullable=True),
        sa.Column("workflow_id", sa.String(), nullable=True),
        _money("balance"),
        _money("fees"),
        sa.Column("steps_sent", sa.Integer(), nullable=False),
        sa.Column("resolved_at_step", sa.Integer(), nullable=True),
        _when("closed_at", nullable=True),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_invoices_customer_id", "invoices", ["customer_id"], unique=False)
    op.create_index("ix_invoices_status", "invoices", ["status"], unique=False)

    op.create_table(
        "journey_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("invoice_id", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        _when("occurred_at"),
        _when("received_at"),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_journey_events_event_id", "journey_events", ["event_id"], unique=True)
    op.create_index("ix_journey_events_invoice_id", "journey_events", ["invoice_id"], unique=False)
    op.create_index("ix_journey_events_status", "journey_events", ["status"], unique=False)

    op.create_table(
        "contact_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.String(), nullable=False),
        sa.Column("step_key", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("template", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("provider", sa.String(), nullable=True),
        sa.Column("provider_id", sa.String(), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("invoice_id", "step_key"),
    )
    op.create_index(
        "ix_contact_attempts_invoice_id", "contact_attempts", ["invoice_id"], unique=False
    )

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.String(), nullable=False),
        sa.Column("step_key", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("to_address", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("invoice_id", "step_key"),
    )
    op.create_index("ix_outbox_invoice_id", "outbox", ["invoice_id"], unique=False)

    op.create_table(
        "handovers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        _money("balance"),
        _money("fees"),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("delivered_to", sa.String(), nullable=False),
        sa.Column("reference", sa.String(), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_handovers_invoice_id", "handovers", ["invoice_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_handovers_invoice_id", table_name="handovers")
    op.drop_table("handovers")
    op.drop_index("ix_outbox_invoice_id", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_contact_attempts_invoice_id", table_name="contact_attempts")
    op.drop_table("contact_attempts")
    op.drop_index("ix_journey_events_status", table_name="journey_events")
    op.drop_index("ix_journey_events_invoice_id", table_name="journey_events")
    op.drop_index("ix_journey_events_event_id", table_name="journey_events")
    op.drop_table("journey_events")
    op.drop_index("ix_invoices_status", table_name="invoices")
    op.drop_index("ix_invoices_customer_id", table_name="invoices")
    op.drop_table("invoices")
    op.drop_table("customers")
