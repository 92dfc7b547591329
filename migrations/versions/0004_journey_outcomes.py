"""Journey outcomes: one row per finished journey, for the experience report.

Revision ID: 0004
Revises: 0003_customer_page
Create Date: 2026-12-03

A new table, nothing existing changes: safe to apply while the previous release still runs
(it never reads it). Journeys that closed before this revision have no row; the report
counts only journeys that closed after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003_customer_page"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXED = ("closed_at", "customer_id", "outcome", "policy_name", "segment")


def _money(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.Numeric(precision=18, scale=2), nullable=False)


def _count(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.Integer(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "journey_outcomes",
        sa.Column("invoice_id", sa.String(), nullable=False),
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("segment", sa.String(), nullable=False),
        sa.Column("policy_name", sa.String(), nullable=False),
        sa.Column("policy_version", sa.String(), nullable=True),
        sa.Column("outcome", sa.String(), nullable=False),
        _count("steps_sent"),
        sa.Column("resolved_at_step", sa.Integer(), nullable=True),
        sa.Column("resolved_channel", sa.String(), nullable=True),
        sa.Column("currency", sa.String(), nullable=False),
        _money("amount_due"),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.Column("days_to_pay", sa.Integer(), nullable=True),
        _count("contacts_email"),
        _count("contacts_sms"),
        _count("contacts_call"),
        _money("fees_charged"),
        _money("fees_waived"),
        _money("interest_accrued"),
        _money("interest_waived"),
        _money("lifetime_value"),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("invoice_id"),
    )
    for column in _INDEXED:
        op.create_index(f"ix_journey_outcomes_{column}", "journey_outcomes", [column], unique=False)


def downgrade() -> None:
    for column in _INDEXED:
        op.drop_index(f"ix_journey_outcomes_{column}", table_name="journey_outcomes")
    op.drop_table("journey_outcomes")
