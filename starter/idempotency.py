"""Replayed agent actions are harmless: `Idempotency-Key` on `POST /v1/invoices/{id}/actions`.

An agent tool that times out and retries must not extend a due date twice or waive a fee that
was already waived and then re-added. With an `Idempotency-Key` header the first answer is kept
(in the webhook de-duplication table, under provider `agent-action`, keyed by invoice and key)
and a replay gets that same answer without touching the journey. The key also becomes the
Temporal update id, so two copies racing each other are de-duplicated by Temporal itself (an
update id is applied once per workflow run) before either has stored its answer.

A key reused with a different action is a client bug and is refused (422), naming the header.
Refusals are not kept: they changed nothing, and asking again may rightly succeed later.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from domain.messages import AgentAction
from domain.state import JourneyState
from infra.settings import Settings
from starter.routing import remember, seen

PROVIDER = "agent-action"
MAX_KEY_LENGTH = 200


class KeyRejected(ValueError):
    """The header is malformed or reused for another request; the message names it."""


def check_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key:
        raise KeyRejected("Idempotency-Key: empty")
    if len(key) > MAX_KEY_LENGTH:
        raise KeyRejected(f"Idempotency-Key: longer than {MAX_KEY_LENGTH} characters")
    if not key.isprintable() or not key.isascii():
        raise KeyRejected("Idempotency-Key: only printable ASCII characters")
    return key


def record_id(invoice_id: str, key: str) -> str:
    return f"{invoice_id}\n{key}"


def update_id(invoice_id: str, key: str) -> str:
    """The Temporal update id: stable for one key on one invoice, short whatever the key."""
    digest = hashlib.sha256(record_id(invoice_id, key).encode()).hexdigest()[:32]
    return f"agent-action-{digest}"


def fingerprint(action: AgentAction) -> str:
    canonical = json.dumps(action.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def replayed(
    settings: Settings, invoice_id: str, key: str, action: AgentAction
) -> JourneyState | None:
    """The stored answer to this key, or None if the key is new."""
    row = await seen(settings, PROVIDER, record_id(invoice_id, key))
    if row is None:
        return None
    stored: dict[str, Any] = json.loads(row.outcome)
    if stored.get("request") != fingerprint(action):
        raise KeyRejected("Idempotency-Key: already used for a different action on this invoice")
    return JourneyState.model_validate(stored["answer"])


async def keep(
    settings: Settings, invoice_id: str, key: str, action: AgentAction, state: JourneyState
) -> None:
    outcome = json.dumps({"request": fingerprint(action), "answer": state.model_dump(mode="json")})
    await remember(settings, PROVIDER, record_id(invoice_id, key), outcome)
