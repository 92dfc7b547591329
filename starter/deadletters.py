"""Dead letters: what came in and could not be applied, kept with the reason.

A billing event that was refused, a Stripe event that maps to nothing valid, an SMS from a
number we do not know, an email reply that matches no invoice, a delivery report for a message
we never sent: each becomes a `DeadLetterRow` (source, payload as received, reason), listed by
`journeys dead-letters list [--source ...]` and `GET /v1/dead-letters`. Nothing is ever lost
silently; nothing is retried from here either (a person decides).

Sources in use: `billing-event`, `stripe`, `twilio-sms`, `twilio-voice`, `twilio-status`,
`sendgrid-events`, `sendgrid-inbound`.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlmodel import col, select

from infra.logging import get_logger
from infra.settings import Settings
from infra.store import DeadLetterRow, session_scope
from starter.auth import require_role
from starter.tenancy import TENANT_RESPONSES, TenantDep

log = get_logger("starter.deadletters")

PAYLOAD_MAX_CHARS = 200_000
REASON_MAX_CHARS = 4_000


def _text(payload: object) -> str:
    if isinstance(payload, bytes):
        text = payload.decode("utf-8", "replace")
    elif isinstance(payload, str):
        text = payload
    else:
        text = json.dumps(payload, ensure_ascii=False, default=str, sort_keys=True)
    return text[:PAYLOAD_MAX_CHARS]


def record(settings: Settings, source: str, payload: object, reason: str) -> int:
    """Keep something that could not be applied; returns the dead letter's id.

    `payload` is kept as received: text or bytes as they are, anything else as JSON."""
    row = DeadLetterRow(source=source, payload=_text(payload), reason=reason[:REASON_MAX_CHARS])
    with session_scope(settings.store_url) as s:
        s.add(row)
        s.flush()
        s.refresh(row)
    assert row.id is not None
    log.warning("dead letter recorded", source=source, reason=reason[:300], dead_letter=row.id)
    return row.id


async def record_async(settings: Settings, source: str, payload: object, reason: str) -> int:
    return await asyncio.to_thread(record, settings, source, payload, reason)


def list_dead_letters(
    settings: Settings, *, source: str | None = None, limit: int = 100
) -> list[DeadLetterRow]:
    """Newest first."""
    with session_scope(settings.store_url) as s:
        statement = select(DeadLetterRow)
        if source:
            statement = statement.where(DeadLetterRow.source == source)
        statement = statement.order_by(
            col(DeadLetterRow.received_at).desc(), col(DeadLetterRow.id).desc()
        ).limit(limit)
        return list(s.exec(statement).all())


class DeadLetter(BaseModel):
    id: int
    source: str
    reason: str
    payload: str
    received_at: datetime


router = APIRouter(tags=["ops"])


@router.get("/v1/dead-letters", dependencies=[Depends(require_role())], responses=TENANT_RESPONSES)
def get_dead_letters(
    scope: TenantDep,
    source: Annotated[str | None, Query(description="Only this source, e.g. twilio-sms.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeadLetter]:
    """What came in and could not be applied, newest first, in the tenant's store. Any API
    key may read its tenant's."""
    return [
        DeadLetter(
            id=r.id or 0,
            source=r.source,
            reason=r.reason,
            payload=r.payload,
            received_at=r.received_at,
        )
        for r in list_dead_letters(scope, source=source, limit=limit)
    ]
