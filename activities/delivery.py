"""The three contact activities: send_email, send_sms, place_call.

Each runs the same sequence: render (pure, may fail loudly), claim the step in the ledger
(committed before anyone is contacted), deliver, record. The senders only talk to their
provider; every at-most-once decision lives here and in `activities.ledger`.

The activities are `async` so they run on the worker's event loop without a thread-pool
executor; the blocking work (SQL, the provider SDKs) runs in `asyncio.to_thread`.
"""

from __future__ import annotations

import asyncio
from typing import Literal, Protocol, cast

from jinja2 import TemplateError
from structlog.contextvars import bound_contextvars
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import ledger
from activities.errors import (
    INVALID_REQUEST,
    TEMPLATE_ERROR,
    DeliveryOutcomeUnknown,
    permanent,
)
from activities.outbox import OutboxSender
from activities.rendering import RenderedMessage, render
from domain.models import Channel, DeliveryRequest, DeliveryResult
from infra import customer_links
from infra.logging import get_logger
from infra.settings import Settings

log = get_logger(__name__)

ProviderName = Literal["sendgrid", "twilio", "outbox"]


class Sender(Protocol):
    """A remote provider: delivers one rendered message and returns the provider's id.

    Raises `ApplicationError` when the provider definitely did not deliver, and
    `DeliveryOutcomeUnknown` when it might have.
    """

    @property
    def provider(self) -> ProviderName: ...

    def send(self, request: DeliveryRequest, message: RenderedMessage) -> str: ...


ChannelSender = Sender | OutboxSender


class DeliveryActivities:
    """Constructed once per worker with the sender chosen for each channel."""

    def __init__(
        self,
        settings: Settings,
        *,
        email: ChannelSender,
        sms: ChannelSender,
        call: ChannelSender,
    ) -> None:
        self._settings = settings
        self._senders: dict[Channel, ChannelSender] = {"email": email, "sms": sms, "call": call}

    @activity.defn(name="send_email")
    async def send_email(self, request: DeliveryRequest) -> DeliveryResult:
        return await self._run("email", request)

    @activity.defn(name="send_sms")
    async def send_sms(self, request: DeliveryRequest) -> DeliveryResult:
        return await self._run("sms", request)

    @activity.defn(name="place_call")
    async def place_call(self, request: DeliveryRequest) -> DeliveryResult:
        return await self._run("call", request)

    async def _run(self, channel: Channel, request: DeliveryRequest) -> DeliveryResult:
        with bound_contextvars(invoice_id=request.invoice_id, workflow_id=request.workflow_id):
            return await asyncio.to_thread(self.deliver, channel, request)

    def deliver(self, channel: Channel, request: DeliveryRequest) -> DeliveryResult:
        """The whole at-most-once sequence for one step (blocking; runs in a thread)."""
        sender = self._senders[channel]
        provider: ProviderName = sender.provider
        step = {"step_key": request.step_key, "channel": channel, "template": request.template}
        if request.channel != channel:
            raise permanent(
                f"invoice {request.invoice_id} step {request.step_key}: a {request.channel} "
                f"request was sent to the {channel} activity",
                type=INVALID_REQUEST,
            )
        if not request.to.strip():
            raise permanent(
                f"invoice {request.invoice_id} step {request.step_key}: no recipient",
                type=INVALID_REQUEST,
            )
        message = self._render(request)

        if isinstance(sender, OutboxSender) and (first := sender.deliver_first(request, message)):
            log.info("step delivered to outbox", provider_id=first, **step)
            return DeliveryResult(status="sent", provider=provider, provider_id=first)

        store_url = self._settings.store_url
        claim = ledger.claim(
            store_url,
            request,
            provider,
            resend_if_sending=isinstance(sender, OutboxSender),
        )
        if claim.decision == "already_sent":
            log.info("step already sent; not contacting again", provider=claim.provider, **step)
            return DeliveryResult(
                status="already_sent",
                provider=_known_provider(claim.provider, provider),
                provider_id=claim.provider_id,
            )
        if claim.decision == "uncertain":
            log.warning(
                "step may already have been delivered by an earlier attempt; not resending",
                provider=claim.provider,
                **step,
            )
            return DeliveryResult(
                status="uncertain",
                provider=_known_provider(claim.provider, provider),
                provider_id=claim.provider_id,
            )

        if isinstance(sender, OutboxSender):
            provider_id, stored = sender.deliver(request, message)
            log.info("step delivered to outbox", provider_id=provider_id, **step)
            status: Literal["sent", "already_sent"] = "sent" if stored else "already_sent"
            return DeliveryResult(status=status, provider=provider, provider_id=provider_id)

        try:
            provider_id = sender.send(request, message)
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

    def _render(self, request: DeliveryRequest) -> RenderedMessage:
        try:
            page = customer_links.page_url_or_none(self._settings, request.invoice_id)
            return render(self._settings.templates_dir, request, page)
        except (TemplateError, ValueError) as err:
            # Retrying cannot fix a template; fail the step and let the journey go on.
            raise permanent(
                f"invoice {request.invoice_id} step {request.step_key}: cannot render "
                f"{request.locale}/{request.template}.{request.channel}: {err}",
                type=TEMPLATE_ERROR,
            ) from None


def _known_provider(stored: str | None, current: ProviderName) -> ProviderName:
    if stored in ("sendgrid", "twilio", "outbox"):
        return cast(ProviderName, stored)
    return current
