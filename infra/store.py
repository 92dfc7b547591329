"""The application store (sqlmodel): SQLite by default, any SQLAlchemy URL by setting.

The store is the product's memory outside Temporal: what the billing system told us, which
contacts went out (the idempotency ledger), the outbox of the embedded default, and handovers.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import Column, Numeric, Text, UniqueConstraint, event
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, create_engine

from domain.models import Customer, Invoice, workflow_id_for
from domain.payloads import DeliveryRequest, HandoverRequest


def utcnow() -> datetime:
    return datetime.now(UTC)


def _money() -> Any:
    return Field(default=Decimal("0"), sa_column=Column(Numeric(18, 2), nullable=False))


class CustomerRow(SQLModel, table=True):
    __tablename__ = "customers"

    id: str = Field(primary_key=True)
    name: str
    email: str | None = None
    phone: str | None = None
    locale: str = "sv"
    timezone: str = "Europe/Stockholm"
    customer_since: date | None = None
    consent_email: bool = True
    consent_sms: bool = False
    consent_call: bool = False
    fee_agreed: bool = False
    is_business: bool = False
    vulnerable: bool = False
    churned_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)

    @classmethod
    def from_customer(cls, customer: Customer) -> CustomerRow:
        return cls(id=customer.id, **_customer_values(customer))

    def update_from(self, customer: Customer) -> None:
        """The billing system's latest word on the customer; churn is kept."""
        for key, value in _customer_values(customer).items():
            setattr(self, key, value)
        self.updated_at = utcnow()


def _customer_values(c: Customer) -> dict[str, Any]:
    return {
        "name": c.name,
        "email": c.email,
        "phone": c.phone,
        "locale": c.locale,
        "timezone": c.timezone or "",  # "" is an unknown zone (the column is NOT NULL)
        "customer_since": c.customer_since,
        "consent_email": c.consent.email,
        "consent_sms": c.consent.sms,
        "consent_call": c.consent.call,
        "fee_agreed": c.fee_agreed,
        "is_business": c.is_business,
        "vulnerable": c.vulnerable,
    }


class InvoiceRow(SQLModel, table=True):
    __tablename__ = "invoices"

    id: str = Field(primary_key=True)
    number: str
    customer_id: str = Field(index=True)
    currency: str
    amount_due: Decimal = _money()
    issued_at: date
    due_date: date
    ocr: str | None = None
    payment_url: str | None = None
    status: str = Field(default="open", index=True)
    """open, or the phase the journey closed in (paid, credited, voided, cancelled, handed_over)."""
    segment: str | None = None
    segment_reason: str | None = None
    workflow_id: str | None = None
    balance: Decimal = _money()
    fees: Decimal = _money()
    steps_sent: int = 0
    resolved_at_step: int | None = None
    closed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)

    @classmethod
    def from_invoice(
        cls, invoice: Invoice, *, segment: str | None, segment_reason: str | None
    ) -> InvoiceRow:
        """A newly issued invoice: open, its whole amount still due, its journey's id known."""
        return cls(
            id=invoice.id,
            number=invoice.number,
            customer_id=invoice.customer_id,
            currency=invoice.currency,
            amount_due=invoice.amount_due,
            issued_at=invoice.issued_at,
            due_date=invoice.due_date,
            ocr=invoice.ocr,
            payment_url=invoice.payment_url,
            segment=segment,
            segment_reason=segment_reason,
            workflow_id=workflow_id_for(invoice.id),
            balance=invoice.amount_due,
        )


class JourneyEventRow(SQLModel, table=True):
    """Every billing event we accepted, keyed by its id: the idempotency record of ingest."""

    __tablename__ = "journey_events"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True, index=True)
    invoice_id: str = Field(index=True)
    type: str
    occurred_at: datetime
    received_at: datetime = Field(default_factory=utcnow)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="applied", index=True)
    """applied, or pending (its invoice is not known yet)."""
    result: str | None = Field(default=None, sa_column=Column(Text))


class ContactAttemptRow(SQLModel, table=True):
    """The delivery ledger: one row per invoice and step, written around each send."""

    __tablename__ = "contact_attempts"
    __table_args__ = (UniqueConstraint("invoice_id", "step_key"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: str = Field(index=True)
    step_key: str
    channel: str
    template: str
    status: str = "sending"
    """sending, sent, failed, uncertain."""
    provider: str | None = None
    provider_id: str | None = None
    error: str | None = None
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @classmethod
    def from_request(
        cls, request: DeliveryRequest, provider: str, status: str, provider_id: str | None = None
    ) -> ContactAttemptRow:
        """A step's row as its first attempt writes it: "sending" before a provider is
        called, or "sent" where delivery commits in the same transaction (the outbox)."""
        return cls(
            invoice_id=request.invoice_id,
            step_key=request.step_key,
            channel=request.channel,
            template=request.template,
            status=status,
            provider=provider,
            provider_id=provider_id,
            attempts=1,
        )


class OutboxMessageRow(SQLModel, table=True):
    """Where email, SMS and calls go in the embedded default: stored, never lost."""

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("invoice_id", "step_key"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: str = Field(index=True)
    step_key: str
    channel: str
    to_address: str
    subject: str | None = None
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)

    @classmethod
    def from_request(
        cls, request: DeliveryRequest, subject: str | None, body: str
    ) -> OutboxMessageRow:
        """The rendered message of one step, as the dev inbox shows it."""
        return cls(
            invoice_id=request.invoice_id,
            step_key=request.step_key,
            channel=request.channel,
            to_address=request.to,
            subject=subject,
            body=body,
        )


LETTER_PDF_MARKER = "\n\n-- PDF (base64) --\n"
"""In an outbox letter's body, between the letter's text and its PDF: the outbox keeps the
very document the post would have carried, without a column of its own."""


def letter_body(text: str, pdf: bytes) -> str:
    return text + LETTER_PDF_MARKER + base64.b64encode(pdf).decode("ascii")


def split_letter(body: str) -> tuple[str, bytes | None]:
    """An outbox body's text, and its letter's PDF (None for email, SMS and calls)."""
    text, marker, encoded = body.partition(LETTER_PDF_MARKER)
    return (text, base64.b64decode(encoded)) if marker else (body, None)


class HandoverRow(SQLModel, table=True):
    __tablename__ = "handovers"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: str = Field(unique=True, index=True)
    customer_id: str
    currency: str
    balance: Decimal = _money()
    fees: Decimal = _money()
    evidence: str = Field(sa_column=Column(Text, nullable=False))
    delivered_to: str
    reference: str
    created_at: datetime = Field(default_factory=utcnow)

    @classmethod
    def from_request(
        cls, request: HandoverRequest, *, evidence: str, delivered_to: str, reference: str
    ) -> HandoverRow:
        return cls(
            invoice_id=request.invoice_id,
            customer_id=request.customer_id,
            currency=request.currency,
            balance=request.balance,
            fees=request.fees,
            evidence=evidence,
            delivered_to=delivered_to,
            reference=reference,
        )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets the API and the worker write while the other reads; busy_timeout waits for locks."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
    return engine


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# --- inbound surface: API keys, dead letters, webhook de-duplication ---------------------------
# (appended by the inbound-surface work: starter/auth.py, starter/deadletters.py, webhooks)


class ApiKeyRow(SQLModel, table=True):
    """An API key for the HTTP API. Only its SHA-256 is kept; `prefix` is shown in listings."""

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    name: str
    role: str = Field(index=True)
    """agent, billing or read-only (starter/auth.py)."""
    prefix: str = Field(index=True)
    key_hash: str = Field(unique=True, index=True)
    tenant: str | None = Field(default=None, index=True)
    """The one tenant the key may see and act for; None: every tenant (domain.tenants)."""
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class DeadLetterRow(SQLModel, table=True):
    """Something that came in and could not be applied (a refused billing event, a webhook that
    matches no journey), kept with its reason so that a person can act on it."""

    __tablename__ = "dead_letters"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(index=True)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = Field(default_factory=utcnow, index=True)


class WebhookEventRow(SQLModel, table=True):
    """A provider event we have handled, by the provider's own id: the de-duplication record of
    the webhooks (Twilio MessageSid, SendGrid sg_event_id, Stripe event id)."""

    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    provider: str
    event_id: str
    received_at: datetime = Field(default_factory=utcnow)
    outcome: str = Field(sa_column=Column(Text, nullable=False))
    """What handling it did (and, for Twilio, the TwiML answered, to answer a retry the same)."""


# --- journey outcomes, for measuring the experience (appended: activities/outcome.py writes,
# infra/report_store.py reads, domain/reporting.py aggregates) ----------------------------------


class JourneyOutcomeRow(SQLModel, table=True):
    """How one finished journey went, one row per invoice, rewritten by each close (a journey
    reopened by a reversed payment closes again): the facts the report aggregates, fixed at
    close so that a later policy or price change does not rewrite the past."""

    __tablename__ = "journey_outcomes"

    invoice_id: str = Field(primary_key=True)
    workflow_id: str
    customer_id: str = Field(index=True)
    segment: str = Field(index=True)
    policy_name: str = Field(index=True)
    """The policy the journey ran under: the segment's policy in the policy file."""
    policy_version: str | None = None
    """A digest of that policy as the worker had it loaded at close (policies carry no
    version of their own), so that two versions of a policy can be told apart."""
    outcome: str = Field(index=True)
    """paid, credited, voided, cancelled or handed_over."""
    steps_sent: int = 0
    resolved_at_step: int | None = None
    """How many steps had gone out when the journey was resolved (0: before any reminder)."""
    resolved_channel: str | None = None
    """The channel of the last step sent before the resolution, if any step went out."""
    currency: str
    amount_due: Decimal = _money()
    due_date: date
    paid_on: date | None = None
    days_to_pay: int | None = None
    """Days from the due date to the payment (negative: paid early); paid journeys only."""
    contacts_email: int = 0
    contacts_sms: int = 0
    contacts_call: int = 0
    fees_charged: Decimal = _money()
    fees_waived: Decimal = _money()
    interest_accrued: Decimal = _money()
    """Statutory late-payment interest on the amount due from the due date to the close."""
    interest_waived: Decimal = _money()
    """Of that, what was not claimed: all of it unless the claim went to collection."""
    lifetime_value: Decimal = _money()
    """The customer's lifetime value in `currency` at close: what a churn would lose."""
    closed_at: datetime = Field(index=True)
    recorded_at: datetime = Field(default_factory=utcnow)
