"""The contact ledger: the one place that decides whether a step may contact a customer.

Temporal retries activities and may even run a second attempt while a timed-out first one
is still talking to a provider. The ledger turns that into at-most-once delivery: a step is
claimed ("sending") in its own committed transaction before anybody is contacted, and only a
definite provider error ("failed") makes it claimable again. A claim that finds "sending"
means an earlier attempt died between sending and recording; the message may have gone out,
so the step is settled as "uncertain" instead of risking a second contact.

With a provider that can be asked what it has (`reconcile`, see `Reconcile`), such a step is
not left uncertain: the provider's own record decides. Found there, the step is "sent" with the
provider's id and nobody is contacted again; not there, the earlier attempt never reached the
provider and the step is sent now. Only when the provider cannot be asked does the attempt
fail (retryably) and the row stay as it is: never a blind repeat.

Every state change is a compare-and-set UPDATE or a unique-constraint INSERT, so the rules hold
on SQLite and PostgreSQL alike, even with concurrent attempts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from activities.errors import RECONCILING, retryable
from domain.payloads import DeliveryRequest
from infra.store import ContactAttemptRow, session_scope, utcnow

Decision = Literal["send", "already_sent", "uncertain"]

_ERROR_MAX = 2000

Reconcile = Callable[[datetime], "str | None"]
"""Asks the provider whether it holds this step's message, created at or after the given time
(the ledger row's creation, a little earlier for clock skew): its id, or None if it has none.
Raises a retryable error when the provider cannot be asked."""

RECONCILED = "reconciled: the provider had it after an interrupted attempt"
RECONCILE_SKEW = timedelta(minutes=2)


@dataclass(frozen=True)
class Claim:
    decision: Decision
    provider: str | None
    provider_id: str | None = None
    attempts: int = 0


def _row(session: Session, invoice_id: str, step_key: str) -> ContactAttemptRow | None:
    statement = select(ContactAttemptRow).where(
        ContactAttemptRow.invoice_id == invoice_id, ContactAttemptRow.step_key == step_key
    )
    return session.exec(statement).first()


def _compare_and_set(
    session: Session,
    row_id: int | None,
    expected: str,
    values: dict[str, object],
) -> bool:
    result = session.execute(
        update(ContactAttemptRow)
        .where(col(ContactAttemptRow.id) == row_id, col(ContactAttemptRow.status) == expected)
        .values(updated_at=utcnow(), **values)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def claim(
    store_url: str,
    request: DeliveryRequest,
    provider: str,
    *,
    resend_if_sending: bool = False,
    reconcile: Reconcile | None = None,
    settle: timedelta = timedelta(seconds=30),
) -> Claim:
    """Claim a step for sending, or say why it must not be sent again.

    `resend_if_sending` is for the outbox only: its delivery and its ledger update commit in one
    transaction, so a row still "sending" proves nothing was delivered.

    `reconcile` settles a step an earlier attempt left "sending" or "uncertain" from the
    provider's own record (see the module docstring); `settle` is how old that attempt must
    be before "the provider has nothing" is believed (longer than one provider call).
    """
    try:
        with session_scope(store_url) as session:
            session.add(ContactAttemptRow.from_request(request, provider, "sending"))
        return Claim("send", provider, attempts=1)
    except IntegrityError:
        pass  # the step has been claimed before: decide from its state below

    for _ in range(5):  # compare-and-set may lose a race; the re-read then decides
        with session_scope(store_url) as session:
            row = _row(session, request.invoice_id, request.step_key)
            if row is None:  # pragma: no cover - rows are never deleted
                raise RuntimeError("contact attempt vanished while being claimed")
            attempts = row.attempts + 1
            if row.status == "sent":
                return Claim("already_sent", row.provider, row.provider_id, row.attempts)
            if (
                reconcile is not None
                and row.status in ("sending", "uncertain")
                and row.provider == provider
                and not resend_if_sending
            ):
                decided = _reconcile(session, row, provider, reconcile, settle)
                if decided is not None:
                    return decided
                continue
            if row.status == "uncertain":
                return Claim("uncertain", row.provider, row.provider_id, row.attempts)
            if row.status == "failed" or (
                row.status == "sending" and resend_if_sending and row.provider == provider
            ):
                values: dict[str, object] = {
                    "status": "sending",
                    "provider": provider,
                    "attempts": attempts,
                }
                if _compare_and_set(session, row.id, row.status, values):
                    return Claim("send", provider, attempts=attempts)
                continue
            if row.status == "sending":
                values = {
                    "status": "uncertain",
                    "attempts": attempts,
                    "error": "an earlier attempt ended between sending and recording",
                }
                if _compare_and_set(session, row.id, "sending", values):
                    return Claim("uncertain", row.provider, row.provider_id, attempts)
                continue
            raise RuntimeError(f"unknown contact attempt status {row.status!r}")
    raise RuntimeError("could not claim contact attempt: too much contention")


def _reconcile(
    session: Session,
    row: ContactAttemptRow,
    provider: str,
    reconcile: Reconcile,
    settle: timedelta,
) -> Claim | None:
    """The claim for an interrupted step, from the provider's record; None if a concurrent
    attempt changed the row first (the caller re-reads it)."""
    found = reconcile(_aware(row.created_at) - RECONCILE_SKEW)
    attempts = row.attempts + 1
    if found is not None:
        values: dict[str, object] = {
            "status": "sent",
            "provider_id": found,
            "attempts": attempts,
            "error": RECONCILED,
        }
        if _compare_and_set(session, row.id, row.status, values):
            return Claim("already_sent", provider, found, attempts)
        return None
    age = utcnow() - _aware(row.updated_at)
    if age < settle:
        # Too recent for "not at the provider" to be conclusive: its request may still be on
        # its way. Temporal retries the activity later.
        raise retryable(
            f"invoice {row.invoice_id} step {row.step_key}: an attempt "
            f"{age.total_seconds():.0f} s ago may "
            "still reach the provider; asking again later",
            type=RECONCILING,
        )
    values = {"status": "sending", "attempts": attempts, "error": None}
    if _compare_and_set(session, row.id, row.status, values):
        return Claim("send", provider, attempts=attempts)
    return None


def _aware(value: datetime) -> datetime:
    """SQLite hands timestamps back without their zone; the store writes UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def mark_sent_in(
    session: Session, invoice_id: str, step_key: str, provider: str, provider_id: str | None
) -> None:
    """Record success inside the caller's transaction (the outbox commits it with its message).

    Unconditional on purpose: if a concurrent attempt already called this step "uncertain",
    the truth is now known and "sent" wins.
    """
    session.execute(
        update(ContactAttemptRow)
        .where(
            col(ContactAttemptRow.invoice_id) == invoice_id,
            col(ContactAttemptRow.step_key) == step_key,
        )
        .values(
            status="sent",
            provider=provider,
            provider_id=provider_id,
            error=None,
            updated_at=utcnow(),
        )
    )


def mark_sent(
    store_url: str, invoice_id: str, step_key: str, provider: str, provider_id: str | None
) -> None:
    with session_scope(store_url) as session:
        mark_sent_in(session, invoice_id, step_key, provider, provider_id)


def _settle(store_url: str, invoice_id: str, step_key: str, status: str, error: str) -> None:
    with session_scope(store_url) as session:
        session.execute(
            update(ContactAttemptRow)
            .where(
                col(ContactAttemptRow.invoice_id) == invoice_id,
                col(ContactAttemptRow.step_key) == step_key,
                col(ContactAttemptRow.status) == "sending",
            )
            .values(status=status, error=error[:_ERROR_MAX], updated_at=utcnow())
        )


def mark_failed(store_url: str, invoice_id: str, step_key: str, error: str) -> None:
    """A definite provider error: nothing went out, so a later attempt may send."""
    _settle(store_url, invoice_id, step_key, "failed", error)


def mark_uncertain(store_url: str, invoice_id: str, step_key: str, error: str) -> None:
    """The request may have reached the provider: never send this step again."""
    _settle(store_url, invoice_id, step_key, "uncertain", error)


def attempts_for(store_url: str, invoice_id: str) -> list[ContactAttemptRow]:
    with session_scope(store_url) as session:
        statement = (
            select(ContactAttemptRow)
            .where(ContactAttemptRow.invoice_id == invoice_id)
            .order_by(col(ContactAttemptRow.created_at), col(ContactAttemptRow.id))
        )
        return list(session.exec(statement).all())


def get_attempt(store_url: str, invoice_id: str, step_key: str) -> ContactAttemptRow | None:
    with session_scope(store_url) as session:
        return _row(session, invoice_id, step_key)
