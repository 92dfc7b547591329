"""The ways a message leaves: SendGrid, Twilio and the outbox, all behind one `Sender`.

Every sender delivers a rendered step at most once, with its ledger entry
(`activities.ledger`). How it keeps that promise depends on where the message goes:

- a remote provider (`ProviderSender`: SendGrid, Twilio) cannot share our transaction, so the
  step is claimed ("sending") and committed before the provider is called, and a step left
  "sending" is never blindly sent again: the provider's own record (its `lookup`) says whether
  it got there, and only a provider that cannot be asked leaves it "uncertain";
- the outbox (`activities.outbox.OutboxSender`) is our own database, so the message and its
  "sent" mark commit together: exactly once.

The activity (`activities.delivery`) neither knows nor asks which one it holds.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol, cast

from temporalio.exceptions import ApplicationError

from activities import ledger
from activities.errors import DeliveryOutcomeUnknown, lookup_after_lost_answer
from activities.rendering import RenderedMessage
from domain.payloads import DeliveryRequest, DeliveryResult
from infra.logging import get_logger

log = get_logger(__name__)

ProviderName = Literal["sendgrid", "twilio", "post", "outbox"]


class Sender(Protocol):
    """One way out for a channel's messages."""

    @property
    def provider(self) -> ProviderName: ...

    def deliver(self, request: DeliveryRequest, message: RenderedMessage) -> DeliveryResult:
        """Deliver the step unless the ledger says it went out (or may have) already."""
        ...


def step_fields(request: DeliveryRequest) -> dict[str, str]:
    """What the logs say about a step: never the recipient."""
    return {
        "step_key": request.step_key,
        "channel": request.channel,
        "template": request.template,
    }


def settled(
    claim: ledger.Claim, current: ProviderName, request: DeliveryRequest
) -> DeliveryResult | None:
    """The answer for a step the ledger will not let anyone send (again), or None to send."""
    provider = _known_provider(claim.provider, current)
    if claim.decision == "already_sent":
        log.info(
            "step already sent; not contacting again",
            provider=claim.provider,
            **step_fields(request),
        )
        return DeliveryResult(
            status="already_sent", provider=provider, provider_id=claim.provider_id
        )
    if claim.decision == "uncertain":
        log.warning(
            "step may already have been delivered by an earlier attempt; not resending",
            provider=claim.provider,
            **step_fields(request),
        )
        return DeliveryResult(status="uncertain", provider=provider, provider_id=claim.provider_id)
    return None


class ProviderSender(ABC):
    """A remote provider (SendGrid, Twilio). A subclass only talks to its provider (`send`);
    the at-most-once sequence around it is this class's."""

    def __init__(self, store_url: str, timeout_seconds: float) -> None:
        self.store_url = store_url
        # How old an interrupted attempt must be before "the provider has nothing" is
        # believed: longer than one provider call and the retry of its lost answer.
        self.settle = timedelta(seconds=2 * timeout_seconds + 5)

    @property
    @abstractmethod
    def provider(self) -> ProviderName: ...

    @abstractmethod
    def send(self, request: DeliveryRequest, message: RenderedMessage) -> str:
        """Deliver one rendered message; the provider's id for it.

        Raises `ApplicationError` when the provider definitely did not deliver, and
        `DeliveryOutcomeUnknown` when it might have."""

    def deliver(self, request: DeliveryRequest, message: RenderedMessage) -> DeliveryResult:
        """Claim, send, record: a step is committed as "sending" before anyone is contacted."""
        provider, store_url, step = self.provider, self.store_url, step_fields(request)
        claim = ledger.claim(
            store_url,
            request,
            provider,
            reconcile=self._reconciler(request, message),
            settle=self.settle,
        )
        if (answer := settled(claim, provider, request)) is not None:
            return answer
        try:
            provider_id = self.send(request, message)
        except ApplicationError as err:
            ledger.mark_failed(store_url, request.invoice_id, request.step_key, str(err))
            log.warning(
                "provider refused step",
                provider=provider,
                error_type=err.type,
                retryable=not err.non_retryable,
                error=str(err),
                attempt=claim.attempts,
                **step,
            )
            raise
        except DeliveryOutcomeUnknown as err:
            ledger.mark_uncertain(store_url, request.invoice_id, request.step_key, str(err))
            log.warning("delivery outcome unknown; not resending", error=str(err), **step)
            return DeliveryResult(status="uncertain", provider=provider)
        ledger.mark_sent(store_url, request.invoice_id, request.step_key, provider, provider_id)
        log.info("step sent", provider=provider, provider_id=provider_id, **step)
        return DeliveryResult(status="sent", provider=provider, provider_id=provider_id or None)

    def _reconciler(
        self, request: DeliveryRequest, message: RenderedMessage
    ) -> ledger.Reconcile | None:
        """The provider's own record of this step (its `lookup`, if it has one), for a step an
        earlier attempt left unsettled."""
        lookup = getattr(self, "lookup", None)
        if lookup is None:
            return None
        return functools.partial(lookup, request, message)


def _known_provider(stored: str | None, current: ProviderName) -> ProviderName:
    if stored in ("sendgrid", "twilio", "post", "outbox"):
        return cast(ProviderName, stored)
    return current


class LookupProviderSender(ProviderSender):
    """A provider whose own record can be asked (SendGrid, Twilio): when a send's answer is
    lost, that record (`lookup`) says whether it got there before anybody calls it uncertain."""

    @abstractmethod
    def lookup(
        self, request: DeliveryRequest, message: RenderedMessage, since: datetime
    ) -> str | None:
        """The provider's id for this step's message if it has one sent since `since`."""

    @abstractmethod
    def _send(self, request: DeliveryRequest, message: RenderedMessage) -> str:
        """One call to the provider; raises `DeliveryOutcomeUnknown` when no answer came."""

    def send(self, request: DeliveryRequest, message: RenderedMessage) -> str:
        started = datetime.now(UTC)
        try:
            return self._send(request, message)
        except DeliveryOutcomeUnknown:
            found = lookup_after_lost_answer(self.lookup, request, message, started)
            if found:
                return found
            raise
