"""The worker's activities, built with their dependencies (the money-transfer sample's
style), so that tests can inject fakes: `build_activities` is what `worker.py` registers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from activities.delivery import DeliveryActivities
from activities.handover import HandoverActivities
from activities.journey_config import ConfigActivities
from activities.letter_sender import LetterProviderSender
from activities.outbox import OutboxSender
from activities.outcome import OutcomeActivities
from activities.senders import Sender
from activities.sendgrid_sender import SendGridSender
from activities.twilio_sender import TwilioCallSender, TwilioSmsSender, make_client
from infra.settings import Settings


def build_senders(settings: Settings) -> dict[str, Sender]:
    """Per channel, its provider (SendGrid, Twilio, print-and-post) when configured, else the
    outbox: each a `Sender`, which the delivery activities use alike."""
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


def build_activities(settings: Settings) -> list[Callable[..., Any]]:
    senders = build_senders(settings)
    delivery = DeliveryActivities(
        settings,
        email=senders["email"],
        sms=senders["sms"],
        call=senders["call"],
        letter=senders["letter"],
    )
    handover = HandoverActivities(settings)
    outcome = OutcomeActivities(settings)
    return [
        delivery.send_email,
        delivery.send_sms,
        delivery.place_call,
        delivery.send_letter,
        handover.hand_over,
        outcome.record_outcome,
        ConfigActivities(settings).load_journey_config,
    ]
