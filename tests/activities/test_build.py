"""build_activities: the names the workflow calls, and the provider chosen per channel."""

from __future__ import annotations

from temporalio import activity

from activities.build import build_activities, build_senders
from activities.outbox import OutboxSender
from activities.sendgrid_sender import SendGridSender
from activities.twilio_sender import TwilioCallSender, TwilioSmsSender
from infra.settings import Settings

NAMES = ["send_email", "send_sms", "place_call", "hand_over", "record_outcome"]


def names(settings: Settings) -> list[str | None]:
    result = []
    for fn in build_activities(settings):
        defn = activity._Definition.from_callable(fn)
        result.append(defn.name if defn else None)
    return result


def test_activity_names(settings: Settings) -> None:
    assert names(settings) == NAMES


def test_embedded_default_uses_the_outbox(settings: Settings) -> None:
    senders = build_senders(settings)
    assert all(isinstance(s, OutboxSender) for s in senders.values())


def test_credentials_choose_the_real_providers(
    sendgrid_settings: Settings, twilio_settings: Settings
) -> None:
    both = twilio_settings.model_copy(
        update={"sendgrid_api_key": sendgrid_settings.sendgrid_api_key}
    )
    senders = build_senders(both)
    assert isinstance(senders["email"], SendGridSender)
    assert isinstance(senders["sms"], TwilioSmsSender)
    assert isinstance(senders["call"], TwilioCallSender)
    assert names(both) == NAMES

    only_email = build_senders(sendgrid_settings)
    assert isinstance(only_email["email"], SendGridSender)
    assert isinstance(only_email["sms"], OutboxSender)
