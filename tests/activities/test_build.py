"""build_activities: the names the workflow calls, and the provider chosen per channel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from temporalio import activity

from activities.build import build_activities, build_senders
from activities.contracts import (
    CHANNEL_ACTIVITIES,
    ConfigContract,
    HandoverContract,
    OutcomeContract,
)
from activities.letter_sender import LetterProviderSender
from activities.outbox import OutboxSender
from activities.sendgrid_sender import SendGridSender
from activities.twilio_sender import TwilioCallSender, TwilioSmsSender
from infra.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
NAMES = [
    "send_email",
    "send_sms",
    "place_call",
    "send_letter",
    "hand_over",
    "record_outcome",
    "load_journey_config",
]


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
    assert isinstance(senders["letter"], OutboxSender)  # no print-and-post provider set
    assert names(both) == NAMES
    posting = both.model_copy(
        update={"letter_provider_url": "http://127.0.0.1:9", "letter_provider_key": "k"}
    )
    assert isinstance(build_senders(posting)["letter"], LetterProviderSender)

    only_email = build_senders(sendgrid_settings)
    assert isinstance(only_email["email"], SendGridSender)
    assert isinstance(only_email["sms"], OutboxSender)


def test_the_worker_registers_the_definitions_the_journey_invokes(
    settings: Settings, sendgrid_settings: Settings
) -> None:
    """The journey names its activities by reference to `activities.contracts`; what the
    worker registers must be those very definitions, whichever senders are chosen."""
    invoked = {
        *CHANNEL_ACTIVITIES.values(),
        HandoverContract.hand_over,
        OutcomeContract.record_outcome,
        ConfigContract.load_journey_config,
    }
    for configured in (settings, sendgrid_settings):
        registered = {getattr(fn, "__func__", None) for fn in build_activities(configured)}
        assert registered == invoked


def test_importing_the_journey_loads_no_provider_or_store() -> None:
    """Workflow code imports the contracts; the package around them must not drag the
    providers' SDKs or the store into every process that only starts journeys."""
    code = (
        "import sys, workflows.journey\n"
        "heavy = ('twilio', 'sendgrid', 'sqlmodel', 'jinja2', 'httpx', 'activities.delivery')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == ""
