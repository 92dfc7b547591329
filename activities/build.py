"""The worker's activities, built with their dependencies (the money-transfer sample's
style), so that tests can inject fakes: `build_activities` is what `worker.py` registers.

They are built once, with the worker's settings (the default tenant's); each activity works
as the tenant its request names (`activities.tenancy`), building that tenant's senders the
first time it needs them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from activities.delivery import DeliveryActivities
from activities.handover import HandoverActivities
from activities.journey_config import ConfigActivities
from activities.outcome import OutcomeActivities
from activities.sender_set import build_senders as build_senders
from infra.settings import Settings


def build_activities(settings: Settings) -> list[Callable[..., Any]]:
    senders = build_senders(settings)
    delivery = DeliveryActivities(
        settings,
        email=senders["email"],
        sms=senders["sms"],
        call=senders["call"],
        letter=senders["letter"],
        senders_for=build_senders,
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
