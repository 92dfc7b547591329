"""The contact activities: send_email, send_sms, place_call, send_letter.

Each runs the same sequence: check the request, render it (pure, may fail loudly), and hand
it to the sender chosen for its channel (`activities.senders`: SendGrid, Twilio or the
outbox), which delivers it at most once with its ledger entry.

The activities are `async` so they run on the worker's event loop without a thread-pool
executor; the blocking work (SQL, the provider SDKs) runs in `asyncio.to_thread`.
"""

from __future__ import annotations

import asyncio

from jinja2 import TemplateError
from structlog.contextvars import bound_contextvars
from temporalio import activity

from activities.contracts import DeliveryContract
from activities.errors import INVALID_REQUEST, TEMPLATE_ERROR, permanent
from activities.letters import with_pdf
from activities.outbox import OutboxSender
from activities.rendering import RenderedMessage, render
from activities.senders import Sender
from domain.payloads import DeliveryRequest, DeliveryResult
from domain.values import Channel
from infra import customer_links
from infra.settings import Settings


class DeliveryActivities(DeliveryContract):
    """send_email, send_sms and place_call (`DeliveryContract`), constructed once per worker
    with the sender chosen for each channel."""

    def __init__(
        self,
        settings: Settings,
        *,
        email: Sender,
        sms: Sender,
        call: Sender,
        letter: Sender | None = None,
    ) -> None:
        self._settings = settings
        self._senders: dict[Channel, Sender] = {
            "email": email,
            "sms": sms,
            "call": call,
            "letter": letter or OutboxSender(settings.store_url, "letter"),
        }

    async def contact(self, channel: Channel, request: DeliveryRequest) -> DeliveryResult:
        provider = self._senders[channel].provider
        if provider != "outbox" and activity.in_activity() and activity.info().is_local:
            # The journey chose the outbox's local path from an older configuration; this
            # worker has a provider now, whose rate only the channel's queue keeps. Nothing
            # is sent or claimed: the journey sends through the queue (activity_calls.deliver).
            return DeliveryResult(status="rerouted", provider=provider)
        with bound_contextvars(invoice_id=request.invoice_id, workflow_id=request.workflow_id):
            return await asyncio.to_thread(self.deliver, channel, request)

    def deliver(self, channel: Channel, request: DeliveryRequest) -> DeliveryResult:
        """Check, render and deliver one step (blocking; runs in a thread)."""
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
        return self._senders[channel].deliver(request, self._render(request))

    def _render(self, request: DeliveryRequest) -> RenderedMessage:
        try:
            page = customer_links.page_url_or_none(self._settings, request.invoice_id)
            message = render(self._settings.templates_dir, request, page)
            if request.channel == "letter":
                return with_pdf(self._settings, request, message, page)
            return message
        except (TemplateError, ValueError) as err:
            # Retrying cannot fix a template; fail the step and let the journey go on.
            raise permanent(
                f"invoice {request.invoice_id} step {request.step_key}: cannot render "
                f"{request.locale}/{request.template}.{request.channel}: {err}",
                type=TEMPLATE_ERROR,
            ) from None
