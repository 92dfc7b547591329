"""Twilio webhooks over real HTTP: signature, SMS keywords, IVR keypresses, delivery status."""

from __future__ import annotations

from datetime import date, timedelta
from typing import get_args

import pytest
from sqlmodel import select

from infra.store import CustomerRow, DeadLetterRow, session_scope
from starter.webhooks_twilio_sms import (
    ABOUT_INVOICES,
    ANY_TIME,
    SmsKind,
    parse_promise_date,
    parse_sms,
)
from tests.webhooks.conftest import (
    PHONE,
    Inbound,
    Journey,
    eventually,
    new_id,
    seed_attempt,
    settle,
    start_journey,
    state_of,
    today_in,
    twilio_signature,
)

SMS = "/v1/webhooks/twilio/sms"
VOICE = "/v1/webhooks/twilio/voice"
STATUS = "/v1/webhooks/twilio/status"


def sms(body: str, sender: str = PHONE, sid: str | None = None) -> dict[str, str]:
    return {
        "MessageSid": sid or new_id("SM"),
        "AccountSid": "AC00000000000000000000000000000000",
        "From": sender,
        "To": "+46766860000",
        "Body": body,
    }


def sms_consent(inbound: Inbound, customer_id: str) -> bool:
    with session_scope(inbound.settings.store_url) as s:
        row = s.get(CustomerRow, customer_id)
        assert row is not None
        return row.consent_sms


def dead_letters(inbound: Inbound) -> list[DeadLetterRow]:
    with session_scope(inbound.settings.store_url) as s:
        return list(s.exec(select(DeadLetterRow)).all())


# --- reading SMS (pure) ----------------------------------------------------------------------

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("STOP", "stop"),
        ("stopp", "stop"),
        (" Avsluta. ", "stop"),
        ("UNSUBSCRIBE", "stop"),
        ("quit!", "stop"),
        ("END of month I pay", "other"),  # an opt-out word only counts as the whole message
        ("start", "start"),
        ("UNSTOP", "start"),
        ("Yes", "start"),
        ("BETALT", "paid"),
        ("paid yesterday", "paid"),
        ("RING mig", "call"),
        ("call me please", "call"),
        ("Hej, fakturan är fel", "other"),
        ("", "other"),
        ("LOVAR", "bad_promise"),
        ("LOVAR imorgon", "bad_promise"),
    ],
)
def test_sms_keywords(body: str, kind: str) -> None:
    assert parse_sms(body, TODAY).kind == kind


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-05", date(2026, 12, 5)),
        ("5/12", date(2026, 12, 5)),
        ("05/12/2026", date(2026, 12, 5)),
        ("5.12.26", date(2026, 12, 5)),
        ("3/1", date(2027, 1, 3)),  # without a year: the next 3 January
        ("25/11", date(2026, 11, 25)),  # today itself
        ("31/2", None),
        ("2026-13-01", None),
        ("tomorrow", None),
    ],
)
def test_promise_dates(text: str, expected: date | None) -> None:
    assert parse_promise_date(text, TODAY) == expected


def test_promise_keyword_in_both_languages() -> None:
    assert parse_sms("LOVAR 2026-12-05", TODAY).promise_date == date(2026, 12, 5)
    assert parse_sms("promise 5/12.", TODAY).promise_date == date(2026, 12, 5)


def test_every_sms_kind_has_exactly_one_handler() -> None:
    assert not ANY_TIME.keys() & ABOUT_INVOICES.keys()
    assert ANY_TIME.keys() | ABOUT_INVOICES.keys() == set(get_args(SmsKind))


# --- signatures ------------------------------------------------------------------------------


async def test_unsigned_or_forged_requests_are_refused_and_change_nothing(
    inbound: Inbound,
) -> None:
    journey = await start_journey(inbound)
    params = sms("STOP")
    missing = await inbound.twilio(SMS, params, signature=None)
    forged = await inbound.twilio(SMS, params, signature="bm90LWEtc2lnbmF0dXJl")
    tampered = await inbound.twilio(
        SMS, {**params, "Body": "START"}, signature=twilio_signature(SMS, params)
    )
    assert (missing.status_code, forged.status_code, tampered.status_code) == (403, 403, 403)
    assert "X-Twilio-Signature" in missing.json()["detail"]
    await settle()
    state = await state_of(journey)
    assert "sms" not in state.channels_unavailable
    assert sms_consent(inbound, journey.customer_id) is True


# --- inbound SMS -----------------------------------------------------------------------------


async def test_stop_withdraws_sms_consent_and_start_gives_it_back(inbound: Inbound) -> None:
    journey = await start_journey(inbound)
    params = sms("Stopp")
    response = await inbound.twilio(SMS, params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    assert "<Response><Message>Du får inte längre sms" in response.text

    state = await eventually(journey, lambda s: "sms" in s.channels_unavailable)
    assert "sms" in state.channels_unavailable
    assert sms_consent(inbound, journey.customer_id) is False

    # Twilio retrying the same message: same answer, applied once.
    again = await inbound.twilio(SMS, params)
    assert again.text == response.text
    await settle()
    state = await state_of(journey)
    assert sum(1 for h in state.history if h.kind == "consent") == 1

    started = await inbound.twilio(SMS, sms("START"))
    assert "Svara STOPP" in started.text
    state = await eventually(journey, lambda s: "sms" not in s.channels_unavailable)
    assert "sms" not in state.channels_unavailable
    assert sms_consent(inbound, journey.customer_id) is True


async def test_a_promise_by_sms_pauses_the_journey(inbound: Inbound) -> None:
    journey = await start_journey(inbound)
    promise = today_in() + timedelta(days=10)
    response = await inbound.twilio(SMS, sms(f"LOVAR {promise.isoformat()}"))
    assert response.status_code == 200, response.text
    assert f"senast {promise.isoformat()}" in response.text
    assert f"faktura {journey.number}" in response.text
    state = await state_of(journey)  # an update: applied before the answer
    assert state.phase == "promised"
    assert state.promise_date == promise


async def test_a_refused_promise_is_explained_in_the_customers_language(
    inbound: Inbound,
) -> None:
    journey = await start_journey(inbound, locale="en")
    response = await inbound.twilio(SMS, sms("PROMISE 2020-01-01"))
    assert response.status_code == 200, response.text
    assert "We could not record the promise" in response.text
    assert "is in the past" in response.text  # the journey validator's own words
    assert (await state_of(journey)).phase == "scheduled"

    too_vague = await inbound.twilio(SMS, sms("PROMISE soon"))
    assert "Please write the date like this: PROMISE" in too_vague.text


async def test_call_me_paid_and_free_text(inbound: Inbound) -> None:
    journey = await start_journey(inbound)
    call = await inbound.twilio(SMS, sms("RING mig efter 17"))
    assert "ringer upp dig" in call.text
    paid = await inbound.twilio(SMS, sms("BETALT igår"))
    assert "kontrollerar betalningen" in paid.text
    other = await inbound.twilio(SMS, sms("Fakturan gäller inte mig"))
    assert "Tack för ditt meddelande" in other.text

    state = await eventually(journey, lambda s: len(s.open_tasks) >= 2)
    assert state.phase == "paused"  # a contact request pauses the journey
    assert any("customer says paid" in t for t in state.open_tasks)
    assert any("Fakturan gäller inte mig" in t for t in state.open_tasks)
    assert state.paid == 0  # "paid" by SMS is not a payment


async def test_sms_from_an_unknown_number_is_a_dead_letter(inbound: Inbound) -> None:
    response = await inbound.twilio(SMS, sms("Hej", sender="+46709999999"))
    assert response.status_code == 200
    assert response.text.endswith("<Response />")
    [letter] = dead_letters(inbound)
    assert letter.source == "twilio-sms"
    assert "no customer" in letter.reason
    assert "+46709999999" in letter.payload


# --- IVR ---------------------------------------------------------------------------------------


def keypress(call_sid: str, digits: str | None) -> dict[str, str]:
    params = {"CallSid": call_sid, "From": "+46766860000", "To": PHONE, "CallStatus": "in-progress"}
    if digits is not None:
        params["Digits"] = digits
    return params


async def _called(inbound: Inbound) -> tuple[Journey, str]:
    journey = await start_journey(inbound)
    call_sid = new_id("CA")
    seed_attempt(inbound.settings, journey.invoice_id, "step-2-call", "call", "twilio", call_sid)
    return journey, call_sid


async def test_pressing_1_promises_payment_within_a_week(inbound: Inbound) -> None:
    journey, call_sid = await _called(inbound)
    response = await inbound.twilio(VOICE, keypress(call_sid, "1"))
    assert response.status_code == 200, response.text
    promise = today_in() + timedelta(days=7)
    assert f"senast den {promise.isoformat()}" in response.text
    assert '<Say language="sv-SE">' in response.text
    assert "<Hangup />" in response.text
    state = await state_of(journey)
    assert state.phase == "promised"
    assert state.promise_date == promise


async def test_pressing_2_connects_or_leaves_a_task(inbound: Inbound) -> None:
    journey, call_sid = await _called(inbound)
    response = await inbound.twilio(VOICE, keypress(call_sid, "2"))
    assert "<Dial" not in response.text
    assert "ringa upp dig" in response.text
    assert "Kundservice har öppet mån till fre 08:00 till 20:00." in response.text  # policy file
    state = await eventually(journey, lambda s: bool(s.open_tasks))
    assert any("pressed 2" in t for t in state.open_tasks)

    inbound.settings.customer_service_phone = "+46812345678"
    journey, call_sid = await _called(inbound)
    dialled = await inbound.twilio(VOICE, keypress(call_sid, "2"))
    assert "<Dial" in dialled.text and "+46812345678</Dial>" in dialled.text
    assert "stage=transfer" in dialled.text
    missed = await inbound.twilio(
        VOICE + "?stage=transfer", {**keypress(call_sid, None), "DialCallStatus": "no-answer"}
    )
    assert missed.status_code == 200, missed.text
    state = await eventually(journey, lambda s: bool(s.open_tasks))
    assert any("missed IVR transfer" in t for t in state.open_tasks)


async def test_a_completed_transfer_is_a_conversation_and_a_repeat_answers_the_same(
    inbound: Inbound,
) -> None:
    inbound.settings.customer_service_phone = "+46812345678"
    journey, call_sid = await _called(inbound)
    ended = {**keypress(call_sid, None), "DialCallStatus": "completed"}
    response = await inbound.twilio(VOICE + "?stage=transfer", ended)
    assert response.status_code == 200, response.text
    assert "<Hangup />" in response.text and "<Say" not in response.text
    again = await inbound.twilio(VOICE + "?stage=transfer", ended)
    assert again.text == response.text
    await eventually(journey, lambda s: any(h.kind == "conversation" for h in s.history))
    await settle()
    state = await state_of(journey)
    assert sum(1 for h in state.history if h.kind == "conversation") == 1
    assert not state.open_tasks


async def test_another_key_repeats_the_menu_once(inbound: Inbound) -> None:
    journey, call_sid = await _called(inbound)
    first = await inbound.twilio(VOICE, keypress(call_sid, "9"))
    assert "<Gather" in first.text and "Tryck 1" in first.text
    assert "stage=retry" in first.text
    second = await inbound.twilio(VOICE + "?stage=retry", keypress(call_sid, "9"))
    assert "<Gather" not in second.text and "<Hangup />" in second.text
    assert (await state_of(journey)).phase == "scheduled"


# --- delivery status -------------------------------------------------------------------------


async def test_an_undelivered_sms_falls_back_to_email(inbound: Inbound) -> None:
    journey = await start_journey(inbound)
    sid = new_id("SM")
    seed_attempt(inbound.settings, journey.invoice_id, "step-1-sms", "sms", "twilio", sid)
    params = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30005"}
    response = await inbound.twilio(STATUS, params)
    assert response.status_code == 204, response.text
    again = await inbound.twilio(STATUS, params)
    assert again.status_code == 204

    state = await eventually(journey, lambda s: any(h.kind == "delivery_failed" for h in s.history))
    [failed] = [h for h in state.history if h.kind == "delivery_failed"]
    assert failed.channel == "sms" and failed.step_index == 1
    assert "undelivered (error 30005)" in failed.detail
    assert "trying another channel" in failed.detail
    assert "sms" in state.channels_unavailable  # 30005: the number does not exist


async def test_a_temporary_sms_failure_falls_back_without_marking_the_number(
    inbound: Inbound,
) -> None:
    journey = await start_journey(inbound)
    sid = new_id("SM")
    seed_attempt(inbound.settings, journey.invoice_id, "step-1-sms", "sms", "twilio", sid)
    await inbound.twilio(
        STATUS, {"MessageSid": sid, "MessageStatus": "failed", "ErrorCode": "30007"}
    )
    state = await eventually(journey, lambda s: any(h.kind == "delivery_failed" for h in s.history))
    assert any("trying another channel" in h.detail for h in state.history)
    assert "sms" not in state.channels_unavailable


async def test_delivered_and_unknown_statuses(inbound: Inbound) -> None:
    journey = await start_journey(inbound)
    sid = new_id("SM")
    seed_attempt(inbound.settings, journey.invoice_id, "step-1-sms", "sms", "twilio", sid)
    ok = await inbound.twilio(STATUS, {"MessageSid": sid, "MessageStatus": "delivered"})
    assert ok.status_code == 204
    unknown = await inbound.twilio(STATUS, {"MessageSid": "SMnope", "MessageStatus": "failed"})
    assert unknown.status_code == 204
    await settle()
    assert not any(h.kind == "delivery_failed" for h in (await state_of(journey)).history)
    [letter] = dead_letters(inbound)
    assert letter.source == "twilio-status"


async def test_an_unanswered_call_falls_back_without_marking_the_number(inbound: Inbound) -> None:
    journey, call_sid = await _called(inbound)
    params = {"CallSid": call_sid, "CallStatus": "no-answer"}
    assert (await inbound.twilio(STATUS, params)).status_code == 204
    assert (await inbound.twilio(STATUS, params)).status_code == 204  # Twilio retrying
    await eventually(journey, lambda s: any(h.kind == "delivery_failed" for h in s.history))
    await settle()
    state = await state_of(journey)
    [failed] = [h for h in state.history if h.kind == "delivery_failed"]
    assert failed.channel == "call" and "Twilio call no-answer" in failed.detail
    assert "call" not in state.channels_unavailable
