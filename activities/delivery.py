"""The contact activities: send_email, send_sms, place_call, send_letter.

Each runs the same sequence: check the request, render it (pure, may fail loudly), and hand
it to the sender chosen for its channel (`activities.senders`: SendGrid, Twilio or the
outbox), which delivers it at most once with its ledger entry.

The activities are `async` so they run on the worker's event loop without a thread-pool
executor; the blocking work (SQL, the provider SDKs) runs in `asyncio.to_thread`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from jinja2 import TemplateError
from structlog.contextvars import bound_contextvars
from temporalio import activity

from activities.contracts import DeliveryContract
from activities.errors import INVALID_REQUEST, TEMPLATE_ERROR, permanent
from activities.letters import with_pdf
from activities.outbox import OutboxSender
from activities.rendering import RenderedMessage, render, template_dirs
from activities.sender_set import build_senders
from activities.senders import Sender
from activities.tenancy import PerTenant, settings_of
from domain.payloads import DeliveryRequest, DeliveryResult
from domain.tenants import DEFAULT_TENANT
from domain.values import Channel
from infra import customer_links
from infra.settings import Settings


class DeliveryActivities(DeliveryContract):
    """send_email, send_sms and place_call (`DeliveryContract`), constructed once per worker
    with the default tenant's sender for each channel; another tenant's are built from its
    settings (`senders_for`) when its first request comes (`activities.tenancy`)."""

    def __init__(
        self,
        settings: Settings,
        *,
        email: Sender,
        sms: Sender,
        call: Sender,
        letter: Sender | None = None,
        senders_for: Callable[[Settings], Mapping[Channel, Sender]] = build_senders,
    ) -> None:
        self._settings = settings
        default: dict[Channel, Sender] = {
            "email": email,
            "sms": sms,
            "call": call,
            "letter": letter or OutboxSender(settings.store_url, "letter"),
        }
        self._senders: PerTenant[Mapping[Channel, Sender]] = PerTenant(
            senders_for, fixed={DEFAULT_TENANT: default}
        )

    async def contact(self, channel: Channel, request: DeliveryRequest) -> DeliveryResult:
        local = activity.in_activity() and activity.info().is_local
        with bound_contextvars(
            invoice_id=request.invoice_id, workflow_id=request.workflow_id, tenant=request.tenant
        ):
            return await asyncio.to_thread(self._contact, channel, request, local)

    def _contact(self, channel: Channel, request: DeliveryRequest, local: bool) -> DeliveryResult:
        settings = settings_of(self._settings, request.tenant)
        sender = self._senders.get(settings)[channel]
        if local and sender.provider != "outbox":
            # The journey chose the outbox's local path from an older configuration; this
            # worker has a provider now, whose rate only the channel's queue keeps. Nothing
            # is sent or claimed: the journey sends through the queue (activity_calls.deliver).
            return DeliveryResult(status="rerouted", provider=sender.provider)
        return self.deliver(channel, request, settings)

    def deliver(
        self, channel: Channel, request: DeliveryRequest, settings: Settings | None = None
    ) -> DeliveryResult:
        """Check, render and deliver one step as the request's tenant (blocking; runs in a
        thread)."""
        if settings is None:
            settings = settings_of(self._settings, request.tenant)
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
        sender = self._senders.get(settings)[channel]
        return sender.deliver(request, self._render(settings, request))

    def _render(self, settings: Settings, request: DeliveryRequest) -> RenderedMessage:
        """In the tenant's words: its templates (the shipped ones where it has none), its
        customer page, its address and bankgiro on a letter."""
        try:
            page = customer_links.page_url_or_none(settings, request.invoice_id)
            message = render(template_dirs(settings), request, page)
            if request.channel == "letter":
                return with_pdf(settings, request, message, page)
            return message
        except (TemplateError, ValueError) as err:
            # Retrying cannot fix a template; fail the step and let the journey go on.
            raise permanent(
                f"invoice {request.invoice_id} step {request.step_key}: cannot render "
                f"{request.locale}/{request.template}.{request.channel}: {err}",
                type=TEMPLATE_ERROR,
            ) from None
