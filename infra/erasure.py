"""Erasing one customer's personal data from the store (`journeys gdpr erase`).

Every table that can hold the customer's name, email address, phone number or postal
address, and what erasure does to it (rows are kept, with `ERASED` or nothing in place of
the data, so that the accounting record and every reference between rows stay):

- customers: name `erased`, email and phone emptied;
- journey_events: the customer record in `invoice.issued` and `customer.updated` payloads
  (name, email, phone, postal address) erased;
- outbox: the address and the message (a letter's PDF holds the name and postal address)
  replaced by `erased`; the subject keeps its words with the values erased;
- handovers: the debtor's contact details in the evidence erased;
- dead_letters, webhook_events: raw payloads from providers (a sender's address, an SMS
  number, a refused event's customer record): the customer's values erased where they are;
- contact_attempts: a provider's error text that names the address: the values erased;
- csat_ratings: the customer's free-text comment emptied (the rating stays);
- customer_page_links: revoked (the page shows the invoice to whoever holds the link).

Kept: invoices (ids, amounts, currencies, dates, statuses), journey_outcomes, the figures of
handovers and contact attempts. The erasure itself is recorded as a `customer.erased` row in
journey_events: when, and how many rows changed per table, never what they held.

Idempotent: a second run finds nothing left to change and records that it changed nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import phonenumbers
from sqlalchemy import and_, false, or_
from sqlmodel import Session, col, select

from domain.erasure import ERASED, erase_payload, erase_text, personal_values
from infra.store import (
    ContactAttemptRow,
    CustomerRow,
    DeadLetterRow,
    HandoverRow,
    InvoiceRow,
    JourneyEventRow,
    OutboxMessageRow,
    WebhookEventRow,
    session_scope,
)
from infra.store_page import CsatRatingRow, CustomerPageLinkRow

ERASURE_EVENT = "customer.erased"
"""The journey_events type of the record an erasure leaves (no billing system sends it)."""


def customer_known(url: str, customer_id: str) -> bool:
    """Whether the store has the customer, or any invoice of theirs."""
    with session_scope(url) as s:
        if s.get(CustomerRow, customer_id) is not None:
            return True
        return (
            s.exec(select(InvoiceRow.id).where(InvoiceRow.customer_id == customer_id)).first()
            is not None
        )


def phone_forms(phone: str) -> list[str]:
    """A number as people and providers write it: E.164, without its `+`, international and
    national (spaced and bare), so that free text is erased whichever form it holds."""
    forms = [phone, phone.lstrip("+")]
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return forms
    for style in (
        phonenumbers.PhoneNumberFormat.INTERNATIONAL,
        phonenumbers.PhoneNumberFormat.NATIONAL,
    ):
        text = phonenumbers.format_number(parsed, style)
        forms += [text, "".join(ch for ch in text if ch.isdigit() or ch == "+")]
    return forms


def erase_customer(
    url: str, customer_id: str, now: datetime, link_of: Callable[[str], str] | None = None
) -> dict[str, int]:
    """Erase the customer's personal data in every table, in one transaction, and record the
    erasure; how many rows changed per table. `link_of` gives an invoice's customer-page link
    id (infra/customer_links.py), to revoke the customer's links."""
    changed: Counter[str] = Counter()
    with session_scope(url) as s:
        invoice_ids = list(
            s.exec(select(InvoiceRow.id).where(InvoiceRow.customer_id == customer_id)).all()
        )
        values = _erase_events(s, customer_id, invoice_ids, changed)
        row = s.get(CustomerRow, customer_id)
        if row is not None:
            values += personal_values({"name": row.name, "email": row.email, "phone": row.phone})
            if (row.name, row.email, row.phone) != (ERASED, None, None):
                row.name, row.email, row.phone, row.updated_at = ERASED, None, None, now
                s.add(row)
                changed["customers"] += 1
        values += [form for v in list(values) if v.startswith("+") for form in phone_forms(v)]
        _erase_messages(s, invoice_ids, values, changed)
        _erase_raw(s, customer_id, values, changed)
        _erase_page(s, invoice_ids, link_of, now, changed)
        counts = {table: changed[table] for table in TABLES}
        s.add(_record(customer_id, now, counts))
    return counts


TABLES = (
    "customers",
    "journey_events",
    "outbox",
    "contact_attempts",
    "handovers",
    "dead_letters",
    "webhook_events",
    "csat_ratings",
    "customer_page_links",
)


def _erase_events(
    s: Session, customer_id: str, invoice_ids: list[str], changed: Counter[str]
) -> list[str]:
    """The customer's billing events (their invoices', and their own `customer.*` ones),
    erased; the values they held."""
    mine = col(JourneyEventRow.invoice_id).in_(invoice_ids) if invoice_ids else false()
    own = and_(
        col(JourneyEventRow.invoice_id) == "",
        col(JourneyEventRow.payload).contains(json.dumps(customer_id), autoescape=True),
    )
    values: list[str] = []
    for row in s.exec(select(JourneyEventRow).where(or_(mine, own))).all():
        payload, found = erase_payload(row.payload, customer_id)
        values += found
        if payload != row.payload:
            row.payload = payload
            s.add(row)
            changed["journey_events"] += 1
    return values


def _erase_messages(
    s: Session, invoice_ids: list[str], values: list[str], changed: Counter[str]
) -> None:
    if not invoice_ids:
        return
    for msg in s.exec(
        select(OutboxMessageRow).where(col(OutboxMessageRow.invoice_id).in_(invoice_ids))
    ):
        subject = erase_text(msg.subject, values) if msg.subject is not None else None
        if (msg.to_address, msg.body, msg.subject) != (ERASED, ERASED, subject):
            msg.to_address, msg.body, msg.subject = ERASED, ERASED, subject
            s.add(msg)
            changed["outbox"] += 1
    for attempt in s.exec(
        select(ContactAttemptRow).where(col(ContactAttemptRow.invoice_id).in_(invoice_ids))
    ):
        if attempt.error and (error := erase_text(attempt.error, values)) != attempt.error:
            attempt.error = error
            s.add(attempt)
            changed["contact_attempts"] += 1
    for handover in s.exec(select(HandoverRow).where(col(HandoverRow.invoice_id).in_(invoice_ids))):
        evidence = erase_text(_erase_debtor(handover.evidence), values)
        if evidence != handover.evidence:
            handover.evidence = evidence
            s.add(handover)
            changed["handovers"] += 1


def _erase_debtor(evidence: str) -> str:
    try:
        data: Any = json.loads(evidence)
    except ValueError:
        return evidence
    debtor = data.get("debtor") if isinstance(data, dict) else None
    if not isinstance(debtor, dict):
        return evidence
    debtor.update({"name": ERASED, "email": None, "phone": None})
    return json.dumps(data, ensure_ascii=False)


def _erase_raw(s: Session, customer_id: str, values: list[str], changed: Counter[str]) -> None:
    """Raw payloads from providers that name the customer (found by the values themselves,
    or by the customer id in a refused billing event)."""
    needles = sorted(set(values)) + [json.dumps(customer_id)]
    dead = or_(*(col(DeadLetterRow.payload).contains(n, autoescape=True) for n in needles))
    for letter in s.exec(select(DeadLetterRow).where(dead)):
        payload = erase_text(erase_payload(letter.payload, customer_id)[0], values)
        reason = erase_text(letter.reason, values)
        if (payload, reason) != (letter.payload, letter.reason):
            letter.payload, letter.reason = payload, reason
            s.add(letter)
            changed["dead_letters"] += 1
    if not values:
        return
    hooks = or_(*(col(WebhookEventRow.outcome).contains(v, autoescape=True) for v in set(values)))
    for hook in s.exec(select(WebhookEventRow).where(hooks)):  # LIKE may ignore case
        if (outcome := erase_text(hook.outcome, values)) != hook.outcome:
            hook.outcome = outcome
            s.add(hook)
            changed["webhook_events"] += 1


def _erase_page(
    s: Session,
    invoice_ids: list[str],
    link_of: Callable[[str], str] | None,
    now: datetime,
    changed: Counter[str],
) -> None:
    if not invoice_ids:
        return
    ratings = select(CsatRatingRow).where(col(CsatRatingRow.invoice_id).in_(invoice_ids))
    for rating in s.exec(ratings):
        if rating.comment is not None:
            rating.comment, rating.updated_at = None, now
            s.add(rating)
            changed["csat_ratings"] += 1
    if link_of is None:
        return
    for invoice_id in invoice_ids:  # a link row is made on the page's first visit: make it
        link = s.get(CustomerPageLinkRow, link_of(invoice_id))
        if link is None:
            link = CustomerPageLinkRow(link_id=link_of(invoice_id), invoice_id=invoice_id)
        elif link.revoked_at is not None:
            continue
        link.revoked_at = now
        s.add(link)
        changed["customer_page_links"] += 1


def _record(customer_id: str, now: datetime, counts: dict[str, int]) -> JourneyEventRow:
    """The erasure's own record: when, and how many rows per table; no personal data."""
    body = {"customer_id": customer_id, "erased_at": now.isoformat(), "rows_changed": counts}
    return JourneyEventRow(
        event_id=f"gdpr-erase-{customer_id}-{now:%Y%m%dT%H%M%S%f}",
        invoice_id="",
        type=ERASURE_EVENT,
        occurred_at=now,
        received_at=now,
        payload=json.dumps(body, separators=(",", ":")),
        status="applied",
        result=json.dumps({"status": "erased", "detail": "personal data erased on request"}),
    )
