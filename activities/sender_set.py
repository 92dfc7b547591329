"""The senders of one tenant's deliveries, one per channel: its provider (SendGrid, Twilio,
print-and-post) where its settings configure one, else the outbox of its own store.

Every sender is built from the tenant's settings (`infra.tenants.tenant_settings`), so it
holds that tenant's credentials, sending addresses and store: a tenant's message can only go
out under its own name and be recorded in its own ledger. The delivery activities build a
tenant's set the first time it sends (`activities.tenancy.PerTenant`).
"""

from __future__ import annotations

from activities.letter_sender import LetterProviderSender
from activities.outbox import OutboxSender
from activities.senders import Sender
from activities.sendgrid_sender import SendGridSender
from activities.twilio_sender import TwilioCallSender, TwilioSmsSender, make_client
from domain.values import Channel
from infra.settings import Settings


def build_senders(settings: Settings) -> dict[Channel, Sender]:
    """Per channel, its provider when configured, else the outbox: each a `Sender`, which
    the delivery activities use alike."""
    email: Sender
    sms: Sender
    call: Sender
    if settings.sendgrid_enabled:
        email = SendGridSender(settings)
    else:
        email = OutboxSender(settings.store_url, "email")
    if settings.twilio_enabled:
        client = make_client(settings)
        sms = TwilioSmsSender(settings, client)
        call = TwilioCallSender(settings, client)
    else:
        sms = OutboxSender(settings.store_url, "sms")
        call = OutboxSender(settings.store_url, "call")
    letter: Sender = (
        LetterProviderSender(settings)
        if settings.letter_provider_enabled
        else OutboxSender(settings.store_url, "letter")
    )
    return {"email": email, "sms": sms, "call": call, "letter": letter}
