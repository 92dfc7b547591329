"""The embedded default's sender: messages are stored for the dev inbox instead of sent.

Because the outbox is our own database, delivery and its ledger entry commit in one
transaction. That makes outbox delivery exactly-once, not merely at-most-once: a crash either
leaves no trace (and the retry delivers) or leaves both the message and its "sent" mark.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from activities import ledger
from activities.rendering import RenderedMessage
from activities.senders import ProviderName, settled, step_fields
from domain.payloads import DeliveryRequest, DeliveryResult
from domain.values import Channel
from infra.logging import get_logger
from infra.store import ContactAttemptRow, OutboxMessageRow, letter_body, session_scope

log = get_logger(__name__)

PROVIDER: Final = "outbox"


def outbox_id(row: OutboxMessageRow) -> str:
    return f"outbox-{row.id}"


class OutboxSender:
    provider: Final[ProviderName] = PROVIDER

    def __init__(self, store_url: str, channel: Channel) -> None:
        self._store_url = store_url
        self.channel = channel

    def deliver(self, request: DeliveryRequest, message: RenderedMessage) -> DeliveryResult:
        """Store the message and its "sent" mark together. A step left "sending" by an
        earlier outbox attempt proves nothing was stored, so it is claimed again."""
        if (first := self._deliver_first(request, message)) is not None:
            return self._delivered(request, first, stored=True)
        claim = ledger.claim(self._store_url, request, self.provider, resend_if_sending=True)
        if (answer := settled(claim, self.provider, request)) is not None:
            return answer
        provider_id, stored = self._deliver_claimed(request, message)
        return self._delivered(request, provider_id, stored=stored)

    def existing(self, invoice_id: str, step_key: str) -> OutboxMessageRow | None:
        with session_scope(self._store_url) as session:
            statement = select(OutboxMessageRow).where(
                OutboxMessageRow.invoice_id == invoice_id, OutboxMessageRow.step_key == step_key
            )
            return session.exec(statement).first()

    def _delivered(
        self, request: DeliveryRequest, provider_id: str, *, stored: bool
    ) -> DeliveryResult:
        log.info("step delivered to outbox", provider_id=provider_id, **step_fields(request))
        status = "sent" if stored else "already_sent"
        return DeliveryResult(status=status, provider=self.provider, provider_id=provider_id)

    def _deliver_first(self, request: DeliveryRequest, message: RenderedMessage) -> str | None:
        """The common case in one transaction: the step's ledger row, already "sent", and
        its message. Returns the outbox id, or None when the step has a ledger row already
        (a retry, or an overlapping attempt): the caller then goes through the claim."""
        try:
            with session_scope(self._store_url) as session:
                provider_id = self._store(session, request, message)
                session.add(
                    ContactAttemptRow.from_request(request, self.provider, "sent", provider_id)
                )
            return provider_id
        except IntegrityError:
            return None

    def _store(self, session: Session, request: DeliveryRequest, message: RenderedMessage) -> str:
        """Add the message to the caller's transaction; its outbox id."""
        body = message.body
        if message.document is not None:
            body = letter_body(body, message.document)
        row = OutboxMessageRow.from_request(request, message.subject, body)
        session.add(row)
        session.flush()
        return outbox_id(row)

    def _deliver_claimed(
        self, request: DeliveryRequest, message: RenderedMessage
    ) -> tuple[str, bool]:
        """Store the message and mark the step sent, atomically.

        Returns the outbox id and whether this call stored it (False: an overlapping attempt
        stored it first, and the unique (invoice_id, step_key) kept it to one copy).
        """
        try:
            with session_scope(self._store_url) as session:
                provider_id = self._store(session, request, message)
                ledger.mark_sent_in(
                    session, request.invoice_id, request.step_key, self.provider, provider_id
                )
            return provider_id, True
        except IntegrityError:
            stored = self.existing(request.invoice_id, request.step_key)
            if stored is None:  # pragma: no cover - the conflict was on this very row
                raise
            return outbox_id(stored), False
