"""Handing the claim over to the collection agency: the last activity of a journey.

The agency gets the claim together with its evidence: the journey's history and every contact
attempt from the ledger, so it can see that the customer was reminded properly. A handover
happens once per invoice: the `handovers` row is unique per invoice, and the agency is sent an
`Idempotency-Key` so that a retry after a lost answer is recognised on its side too.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from structlog.contextvars import bound_contextvars

from activities.contracts import HandoverContract
from activities.errors import PROVIDER_UNAVAILABLE, permanent, retryable, scrub
from activities.ledger import attempts_for
from activities.tenancy import settings_of
from domain.payloads import HandoverRequest, HandoverResult
from infra.logging import get_logger
from infra.settings import Settings
from infra.store import (
    ContactAttemptRow,
    CustomerRow,
    HandoverRow,
    InvoiceRow,
    OutboxMessageRow,
    session_scope,
)

log = get_logger(__name__)

HANDOVER_REJECTED = "HandoverRejected"
EMBEDDED_DESTINATION = "outbox"
AGENCY_OUTBOX_ADDRESS = "collection-agency"


def idempotency_key(invoice_id: str) -> str:
    return f"handover-{invoice_id}"


def _attempt(row: ContactAttemptRow) -> dict[str, Any]:
    return {
        "step_key": row.step_key,
        "channel": row.channel,
        "template": row.template,
        "status": row.status,
        "provider": row.provider,
        "provider_id": row.provider_id,
        "attempts": row.attempts,
        "error": row.error,
        "first_attempt_at": row.created_at.isoformat(),
        "last_attempt_at": row.updated_at.isoformat(),
    }


def build_evidence(
    request: HandoverRequest,
    attempts: list[ContactAttemptRow],
    invoice: InvoiceRow | None = None,
    debtor: CustomerRow | None = None,
) -> dict[str, Any]:
    """The claim as the agency needs it. Contact details of the debtor are included on
    purpose (the agency must reach them); this document is sent and stored, never logged."""
    evidence: dict[str, Any] = {
        "invoice_id": request.invoice_id,
        "workflow_id": request.workflow_id,
        "customer_id": request.customer_id,
        "currency": request.currency,
        "amount_due": format(request.amount_due, "f"),
        "balance": format(request.balance, "f"),
        "fees": format(request.fees, "f"),
        "history": [entry.model_dump(mode="json") for entry in request.history],
        "contact_attempts": [_attempt(a) for a in attempts],
    }
    if invoice is not None:
        evidence["invoice"] = {
            "number": invoice.number,
            "issued_at": invoice.issued_at.isoformat(),
            "due_date": invoice.due_date.isoformat(),
            "ocr": invoice.ocr,
        }
    if debtor is not None:
        evidence["debtor"] = {
            "name": debtor.name,
            "email": debtor.email,
            "phone": debtor.phone,
            "locale": debtor.locale,
            "is_business": debtor.is_business,
        }
    return evidence


def _existing(session: Session, invoice_id: str) -> HandoverRow | None:
    return session.exec(select(HandoverRow).where(HandoverRow.invoice_id == invoice_id)).first()


def agency_reference(payload: Any, invoice_id: str) -> str:
    """The agency's own case reference if it gave one, else our idempotency key."""
    if isinstance(payload, dict):
        for key in ("reference", "case_id", "id"):
            value = payload.get(key)
            if isinstance(value, str | int) and str(value):
                return str(value)
    return idempotency_key(invoice_id)


class HandoverActivities(HandoverContract):
    """hand_over (`HandoverContract`): to the tenant's agency's API when it has one, else to
    its outbox; recorded in the tenant's store (`activities.tenancy`)."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None):
        self._settings = settings
        self._transport = transport

    async def hand_over_claim(self, request: HandoverRequest) -> HandoverResult:
        with bound_contextvars(
            invoice_id=request.invoice_id, workflow_id=request.workflow_id, tenant=request.tenant
        ):
            settings = await asyncio.to_thread(settings_of, self._settings, request.tenant)
            existing = await asyncio.to_thread(_find, settings, request.invoice_id)
            if existing is not None:
                log.info("claim already handed over", reference=existing.reference)
                return HandoverResult(
                    reference=existing.reference, delivered_to=existing.delivered_to
                )
            evidence = await asyncio.to_thread(_evidence, settings, request)
            if settings.collection_agency_url:
                return await self._post_to_agency(settings, request, evidence)
            return await asyncio.to_thread(_hand_over_embedded, settings, request, evidence)

    async def _post_to_agency(
        self, settings: Settings, request: HandoverRequest, evidence: dict[str, Any]
    ) -> HandoverResult:
        url = settings.collection_agency_url
        assert url is not None
        headers = {"Idempotency-Key": idempotency_key(request.invoice_id)}
        if settings.collection_agency_token:
            headers["Authorization"] = f"Bearer {settings.collection_agency_token}"
        where = f"invoice {request.invoice_id}"
        timeout = httpx.Timeout(settings.provider_timeout_seconds)
        try:
            async with httpx.AsyncClient(timeout=timeout, transport=self._transport) as client:
                response = await client.post(url, json=evidence, headers=headers)
        except httpx.HTTPError as exc:
            # Safe to retry even if the agency got it: the Idempotency-Key makes it one case.
            raise retryable(
                f"collection agency unreachable for {where}: {type(exc).__name__}: "
                f"{scrub(str(exc))}",
                type=PROVIDER_UNAVAILABLE,
            ) from None
        if not response.is_success:
            detail = scrub(response.text[:500])
            message = (
                f"collection agency answered HTTP {response.status_code} for {where}: {detail}"
            )
            if response.status_code >= 500 or response.status_code in (408, 429):
                raise retryable(message, type=PROVIDER_UNAVAILABLE)
            raise permanent(message, type=HANDOVER_REJECTED)
        try:
            payload: Any = response.json()
        except ValueError:
            payload = None
        reference = agency_reference(payload, request.invoice_id)
        evidence_json = json.dumps(evidence, ensure_ascii=False, indent=2)
        row = await asyncio.to_thread(_record, settings, request, evidence_json, url, reference)
        log.info("claim handed over to the collection agency", reference=row.reference)
        return HandoverResult(reference=row.reference, delivered_to=row.delivered_to)


# --- the tenant's store (blocking; the activity runs these in threads) ---------------------


def _find(settings: Settings, invoice_id: str) -> HandoverRow | None:
    with session_scope(settings.store_url) as session:
        return _existing(session, invoice_id)


def _evidence(settings: Settings, request: HandoverRequest) -> dict[str, Any]:
    attempts = attempts_for(settings.store_url, request.invoice_id)
    with session_scope(settings.store_url) as session:
        invoice = session.get(InvoiceRow, request.invoice_id)
        debtor = session.get(CustomerRow, request.customer_id)
        return build_evidence(request, attempts, invoice, debtor)


def _record(
    settings: Settings,
    request: HandoverRequest,
    evidence_json: str,
    delivered_to: str,
    reference: str,
) -> HandoverRow:
    """Insert the handover (plus the dev-inbox copy in the embedded default) once."""
    try:
        with session_scope(settings.store_url) as session:
            row = HandoverRow.from_request(
                request, evidence=evidence_json, delivered_to=delivered_to, reference=reference
            )
            session.add(row)
            if delivered_to == EMBEDDED_DESTINATION:
                session.add(
                    OutboxMessageRow(
                        invoice_id=request.invoice_id,
                        step_key="handover",
                        channel="email",
                        to_address=AGENCY_OUTBOX_ADDRESS,
                        subject=(
                            f"Handover of invoice {request.invoice_id}: "
                            f"{request.balance:.2f} {request.currency}"
                        ),
                        body=evidence_json,
                    )
                )
        return row
    except IntegrityError:
        # An overlapping attempt handed over first; its row is the handover.
        existing = _find(settings, request.invoice_id)
        if existing is None:  # pragma: no cover - the conflict was on this invoice
            raise
        return existing


def _hand_over_embedded(
    settings: Settings, request: HandoverRequest, evidence: dict[str, Any]
) -> HandoverResult:
    evidence_json = json.dumps(evidence, ensure_ascii=False, indent=2)
    row = _record(
        settings, request, evidence_json, EMBEDDED_DESTINATION, idempotency_key(request.invoice_id)
    )
    log.info("claim handed over to the outbox", reference=row.reference)
    return HandoverResult(reference=row.reference, delivered_to=row.delivered_to)
