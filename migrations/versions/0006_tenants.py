"""Tenants: the registry of creditor companies, and API keys scoped to one of them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

A new table and a nullable column, nothing existing changes: safe to apply while the
previous release still runs. Every existing key gets no tenant (it sees every tenant, as it
saw everything before); every existing row is the default tenant's, because the default
tenant's rows stay where they are (infra/tenants.py). The table is made in every store the
migrations run on; only the control store's (DATABASE_URL) is read.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("profile", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("tenant", sa.String(), nullable=True))
        batch.create_index("ix_api_keys_tenant", ["tenant"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_index("ix_api_keys_tenant")
        batch.drop_column("tenant")
    op.drop_table("tenants")
