"""Acme's reminder calls over real HTTP (`/v1/webhooks/twilio/voice`): a keypress on a call
placed from acme's Twilio account reaches acme's journey, and pressing 2 answers with acme's
customer service (its phone, its CUSTOMER_SERVICE_HOURS, else its own policy file's opening
hours), never the default tenant's; the default tenant's call with the very same CallSid is
answered as the default tenant's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from domain.state import JourneyState
from infra.settings import Settings
from tests.tenants import policy_file_with
from tests.webhooks.acme import (  # noqa: F401  (acme_fixture: the fixture acme)
    ACME_NUMBER,
    ACME_SID,
    ACME_TWILIO_TOKEN,
    Acme,
    acme_fixture,
    register_acme,
    twins,
)
from tests.webhooks.conftest import (
    Inbound,
    Journey,
    eventually,
    new_id,
    seed_attempt,
    settle,
    state_of,
    today_in,
)
from tests.webhooks.test_twilio import VOICE, keypress

DEFAULT_SERVICE = "+46812345678"
ACME_SERVICE = "+46855500000"


def acme_keypress(call_sid: str, digits: str | None) -> dict[str, str]:
    """A keypress on a call acme placed: from acme's number, in acme's account."""
    return {**keypress(call_sid, digits), "AccountSid": ACME_SID, "From": ACME_NUMBER}


async def press(inbound: Inbound, form: dict[str, str], path: str = VOICE) -> str:
    """Acme's keypress as Twilio posts it, signed with acme's token; the TwiML answered."""
    response = await inbound.twilio(path, form, token=ACME_TWILIO_TOKEN)
    assert response.status_code == 200, response.text
    return response.text


def called(inbound: Inbound, acme: Settings, default: Journey, mine: Journey) -> str:
    """The same CallSid in both tenants' ledgers: only the tenant tells the calls apart."""
    call_sid = new_id("CA")
    for settings, journey in ((inbound.settings, default), (acme, mine)):
        seed_attempt(settings, journey.invoice_id, "step-2-call", "call", "twilio", call_sid)
    return call_sid


def has_task(text: str) -> Callable[[JourneyState], bool]:
    return lambda state: any(text in task for task in state.open_tasks)


async def test_pressing_1_on_acmes_call_promises_on_acmes_journey(
    inbound: Inbound, acme: Acme
) -> None:
    default, mine = await twins(inbound, acme)
    call_sid = called(inbound, acme.settings, default, mine)
    answer = await press(inbound, acme_keypress(call_sid, "1"))
    promise = today_in() + timedelta(days=7)
    assert f"senast den {promise.isoformat()}" in answer and "<Hangup />" in answer
    state = await state_of(mine)
    assert (state.phase, state.promise_date) == ("promised", promise)
    await settle()
    assert (await state_of(default)).phase == "scheduled"


async def test_pressing_2_on_acmes_call_reads_acmes_opening_hours(
    inbound: Inbound, acme: Acme, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Acme has no phone and no CUSTOMER_SERVICE_HOURS: its policy file's hours, read to the
    caller, not the deployment's file's (08:00-20:00), nor the default tenant's phone."""
    inbound.settings.customer_service_phone = DEFAULT_SERVICE
    short = '["09:00-15:00"]'
    hours = policy_file_with(
        inbound.settings.policy_file,
        tmp_path,
        mon=short,
        tue=short,
        wed=short,
        thu=short,
        fri=short,
    )
    settings = register_acme(inbound, monkeypatch, acme.keys, policies=hours)
    default, mine = await twins(inbound, settings)
    call_sid = called(inbound, settings, default, mine)

    answer = await press(inbound, acme_keypress(call_sid, "2"))
    assert "<Dial" not in answer and DEFAULT_SERVICE not in answer
    assert "Kundservice har öppet mån till fre 09:00 till 15:00." in answer
    assert "08:00" not in answer
    assert (await eventually(mine, has_task("pressed 2"))).open_tasks

    # The default tenant's call with the same CallSid: its own phone, its own journey.
    theirs = await inbound.twilio(VOICE, keypress(call_sid, "2"))
    assert f"{DEFAULT_SERVICE}</Dial>" in theirs.text
    await settle()
    assert (await state_of(default)).open_tasks == ()
    assert len((await state_of(mine)).open_tasks) == 1


async def test_acmes_own_phone_and_hours_on_a_missed_transfer(
    inbound: Inbound, acme: Acme, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbound.settings.customer_service_hours = "alla dagar 07-23"  # the default tenant's
    settings = register_acme(
        inbound,
        monkeypatch,
        acme.keys,
        customer_service_phone=ACME_SERVICE,
        customer_service_hours="vardagar 10-14",
    )
    default, mine = await twins(inbound, settings)
    call_sid = called(inbound, settings, default, mine)

    dialled = await press(inbound, acme_keypress(call_sid, "2"))
    assert f"{ACME_SERVICE}</Dial>" in dialled and "stage=transfer" in dialled
    ended = {**acme_keypress(call_sid, None), "DialCallStatus": "no-answer"}
    missed = await press(inbound, ended, VOICE + "?stage=transfer")
    assert "Kundservice har öppet vardagar 10-14." in missed
    assert "07-23" not in missed
    assert (await eventually(mine, has_task("missed IVR transfer"))).open_tasks
    await settle()
    assert (await state_of(default)).open_tasks == ()


async def test_an_unreadable_policy_file_of_acmes_still_answers_without_hours(
    inbound: Inbound, acme: Acme, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    gone = tmp_path / "gone.toml"
    settings = register_acme(inbound, monkeypatch, acme.keys, policies=gone)
    default, mine = await twins(inbound, settings)
    call_sid = called(inbound, settings, default, mine)
    with capture_logs() as logs:
        answer = await press(inbound, acme_keypress(call_sid, "2"))
    assert "Vi har bett kundservice att ringa upp dig." in answer
    assert "Kundservice har öppet" not in answer  # neither acme's hours nor the deployment's
    [logged] = [e for e in logs if e["event"] == "tenant's policy file unreadable"]
    assert logged["tenant"] == "acme" and "gone.toml" in logged["error"]
    assert (await eventually(mine, has_task("pressed 2"))).open_tasks
