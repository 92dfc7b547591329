"""The customer page's tables: its links and the customers' ratings of the reminders.

Kept apart from infra/store.py (the journey tables) because only the customer-page work
(infra/customer_links.py, starter/pay_*.py, starter/csat.py) writes them; they are still
registered on SQLModel.metadata, which infra/migrations.py and migrations/env.py import.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from infra.store import utcnow


class CustomerPageLinkRow(SQLModel, table=True):
    """Which invoice a customer-page link opens. The link id is an HMAC of the invoice id under
    the page secret (infra/customer_links.py), so a link names no invoice and no person; this
    row maps it back, and `revoked_at` withdraws a link before it expires."""

    __tablename__ = "customer_page_links"

    link_id: str = Field(primary_key=True)
    invoice_id: str = Field(unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class CsatRatingRow(SQLModel, table=True):
    """A customer's rating (1-5) of the reminder experience: one per journey, a second one
    replaces the first. `step_index` is the journey's last step sent when it was given."""

    __tablename__ = "csat_ratings"

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str = Field(unique=True, index=True)
    invoice_id: str = Field(index=True)
    rating: int
    comment: str | None = Field(default=None, sa_column=Column(Text))
    phase: str
    step_index: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
