"""Journey configurations by digest: the versioned store journeys read their policy from.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

A new table, nothing existing changes: safe to apply while the previous release still runs
(it never reads it). It must be applied before a starter of this release starts journeys by
reference (they read their configuration from it); journeys started before keep carrying
their configuration by value and never read it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "journey_configs",
        sa.Column("digest", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest"),
    )
    op.create_index("ix_journey_configs_name", "journey_configs", ["name"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_journey_configs_name", table_name="journey_configs")
    op.drop_table("journey_configs")
