"""Customer page: its links and the customers' ratings.

Revision ID: 0003_customer_page
Revises: 0002
Create Date: 2026-12-03

Two new tables, nothing existing changes: safe to apply while the previous release still
runs (it never reads them).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_customer_page"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_page_links",
        sa.Column("link_id", sa.String(), nullable=False),
        sa.Column("invoice_id", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("link_id"),
    )
    op.create_index(
        "ix_customer_page_links_invoice_id", "customer_page_links", ["invoice_id"], unique=True
    )

    op.create_table(
        "csat_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column("invoice_id", sa.String(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("phase", sa.String(), nullable=False),
        sa.Column("step_index", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_csat_ratings_workflow_id", "csat_ratings", ["workflow_id"], unique=True)
    op.create_index("ix_csat_ratings_invoice_id", "csat_ratings", ["invoice_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_csat_ratings_invoice_id", table_name="csat_ratings")
    op.drop_index("ix_csat_ratings_workflow_id", table_name="csat_ratings")
    op.drop_table("csat_ratings")
    op.drop_index("ix_customer_page_links_invoice_id", table_name="customer_page_links")
    op.drop_table("customer_page_links")
