"""SendGrid webhooks over real HTTP: the signed Event Webhook and Inbound Parse replies."""

from __future__ import annotations

from typing import Any

import httpx
from sqlmodel import select

from infra.customer_links import page_secret, reply_id
from infra.store import DeadLetterRow, WebhookEventRow, session_scope
from starter.webhooks_sendgrid import (
    failure_kind,
    message_id_candidates,
    reply_ids,
    subject_tokens,
)
from tests.webhooks.conftest import (
    EMAIL,
    INBOUND,
    INBOUND_PATH,
    Inbound,
    eventually,
    new_id,
    seed_attempt,
    settle,
    start_journey,
    state_of,
)
from tests.webhooks.payloads import sendgrid_event

MESSAGE_ID = "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"


def event(kind: str, **fields: Any) -> dict[str, Any]:
    """An event about a message SendGrid accepted (`sg_message_id`), unless `fields` say."""
    return sendgrid_event(kind, **({"sg_message_id": MESSAGE_ID} | fields))


def rows(inbound: Inbound, table: Any) -> list[Any]:
    with session_scope(inbound.settings.store_url) as s:
        return list(s.exec(select(table)).all())


# --- pure ------------------------------------------------------------------------------------


def test_which_events_are_failures() -> None:
    assert failure_kind({"event": "bounce", "type": "bounce"}) == "permanent"
    assert failure_kind({"event": "bounce"}) == "permanent"
    assert failure_kind({"event": "bounce", "type": "blocked"}) == "temporary"
    assert failure_kind({"event": "dropped", "reason": "Bounced Address"}) == "permanent"
    for other in ("processed", "delivered", "deferred", "open", "click", "spamreport"):
        assert failure_kind({"event": other}) is None


def test_message_ids_and_addresses() -> None:
    assert message_id_candidates("abc.filter01.1") == ["abc.filter01.1", "abc.filter01", "abc"]
    assert reply_ids(["reply+abc234@in.example.com", "x@y.se"]) == ["abc234"]
    assert subject_tokens("Re: Påminnelse: faktura 1001 (OCR 10014)") == ["1001", "10014"]


# --- the signed event webhook ----------------------------------------------------------------


async def test_a_bounce_falls_back_once_however_often_it_is_delivered(inbound: Inbound) -> None:
    journey = await start_journey(inbound)
    bounce = event(
        "bounce",
        type="bounce",
        reason="550 5.1.1 The email account does not exist",
        invoice_id=journey.invoice_id,
        step_key="step-0-email",
    )
    response = await inbound.sendgrid_events([bounce, event("delivered")])
    assert response.status_code == 200, response.text
    assert response.json() == {
        "received": 2,
        "applied": 1,
        "duplicates": 0,
        "ignored": 1,
        "dead_letters": 0,
    }
    again = await inbound.sendgrid_events([bounce])
    assert again.json()["duplicates"] == 1

    state = await eventually(journey, lambda s: any(h.kind == "delivery_failed" for h in s.history))
    await settle()
    state = await state_of(journey)
    failures = [h for h in state.history if h.kind == "delivery_failed"]
    assert len(failures) == 1
    assert failures[0].channel == "email" and failures[0].step_index == 0
    assert "does not exist" in failures[0].detail and "trying another channel" in failures[0].detail
    assert "email" in state.channels_unavailable
    assert len(rows(inbound, WebhookEventRow)) == 2


async def test_a_drop_without_custom_args_is_found_through_the_ledger(inbound: Inbound) -> None:
    journey = await start_journey(inbound)
    seed_attempt(
        inbound.settings, journey.invoice_id, "step-0-email", "email", "sendgrid", "14c5d75ce93"
    )
    dropped = event("dropped", reason="Bounced Address")
    dropped["sg_message_id"] = "14c5d75ce93.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0"
    response = await inbound.sendgrid_events([dropped])
    assert response.json()["applied"] == 1
    state = await eventually(journey, lambda s: "email" in s.channels_unavailable)
    assert "email" in state.channels_unavailable


async def test_forged_or_unsigned_events_are_refused_and_change_nothing(
    inbound: Inbound,
) -> None:
    journey = await start_journey(inbound)
    bounce = event("bounce", invoice_id=journey.invoice_id, step_key="step-0-email")
    forged = await inbound.sendgrid_events([bounce], forge=True)
    unsigned = await inbound.sendgrid_events([bounce], sign=False)
    assert (forged.status_code, unsigned.status_code) == (403, 403)
    await settle()
    state = await state_of(journey)
    assert not any(h.kind == "delivery_failed" for h in state.history)
    assert rows(inbound, WebhookEventRow) == []


async def test_a_failure_no_journey_owns_is_a_dead_letter(inbound: Inbound) -> None:
    response = await inbound.sendgrid_events([event("bounce", sg_message_id="unknown.filter")])
    assert response.json()["dead_letters"] == 1
    [letter] = rows(inbound, DeadLetterRow)
    assert letter.source == "sendgrid-events"


# --- inbound parse ---------------------------------------------------------------------------


def reply_form(subject: str, sender: str = f"Berit Andersson <{EMAIL}>", **extra: str) -> Any:
    fields = {
        "from": sender,
        "to": "Kundservice <billing@in.example.com>",
        "subject": subject,
        "text": "Hej! Jag betalade förra veckan, se bifogat kvitto.\n\n> Påminnelse ...",
        "headers": f"Message-ID: <{new_id('msg')}@mail.example.se>\nSubject: {subject}\n",
        **extra,
    }
    return {k: (None, v) for k, v in fields.items()}


async def test_an_email_reply_becomes_an_agent_task(inbound: Inbound) -> None:
    journey = await start_journey(inbound)
    files = reply_form(f"Re: Påminnelse: faktura {journey.number}")
    # multipart/form-data over a real socket, as SendGrid posts it
    response = await inbound.http.post(INBOUND, files=files)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "applied", "invoices": [journey.invoice_id]}
    again = await inbound.http.post(INBOUND, files=files)
    assert again.json()["status"] == "duplicate"

    state = await eventually(journey, lambda s: bool(s.open_tasks))
    [task] = state.open_tasks
    assert task.startswith(f"email reply: Re: Påminnelse: faktura {journey.number}: Hej! Jag")


async def test_replies_are_matched_by_address_or_sender(inbound: Inbound) -> None:
    journey = await start_journey(inbound)
    rid = reply_id(page_secret(inbound.settings), journey.invoice_id)
    by_address = await inbound.http.post(
        INBOUND,
        files=reply_form("Re: hej", sender="someone@else.se", to=f"reply+{rid.upper()}@x.se"),
    )
    assert by_address.json()["invoices"] == [journey.invoice_id]
    raw_id = await inbound.http.post(  # the invoice id itself names nothing
        INBOUND,
        files=reply_form(
            "Re: hej", sender="someone@else.se", to=f"reply+{journey.invoice_id}@x.se"
        ),
    )
    assert raw_id.json()["status"] == "dead_letter"
    by_sender = await inbound.http.post(INBOUND, files=reply_form("Fråga om min räkning"))
    assert by_sender.json()["invoices"] == [journey.invoice_id]


async def test_an_unmatched_reply_is_a_dead_letter(inbound: Inbound) -> None:
    response = await inbound.http.post(
        INBOUND, files=reply_form("Hello", sender="stranger@example.org")
    )
    assert response.json()["status"] == "dead_letter"
    [letter] = rows(inbound, DeadLetterRow)
    assert letter.source == "sendgrid-inbound"
    assert "stranger@example.org" in letter.reason


async def test_inbound_needs_the_token(inbound: Inbound) -> None:
    journey = await start_journey(inbound)
    files = reply_form(f"faktura {journey.number}")
    refused = await inbound.http.post(INBOUND_PATH, files=files)
    wrong = await inbound.http.post(INBOUND_PATH + "?token=nope", files=files)
    assert (refused.status_code, wrong.status_code) == (403, 403)
    assert refused.json() == {"detail": "token: missing or wrong"}
    assert rows(inbound, DeadLetterRow) == []
    accepted = await inbound.http.post(INBOUND, files=files)
    assert accepted.json()["status"] == "applied"


async def test_inbound_without_a_configured_token_refuses_everything(inbound: Inbound) -> None:
    """SendGrid does not sign Inbound Parse: without the token nothing tells it from anyone."""
    journey = await start_journey(inbound)
    token = inbound.settings.sendgrid_inbound_token
    inbound.settings.sendgrid_inbound_token = None
    for path in (INBOUND_PATH, f"{INBOUND_PATH}?token={token}", f"{INBOUND_PATH}?token="):
        refused = await inbound.http.post(path, files=reply_form(f"faktura {journey.number}"))
        assert refused.status_code == 403, (path, refused.text)
        assert "SENDGRID_INBOUND_TOKEN" in refused.json()["detail"]
    assert rows(inbound, DeadLetterRow) == []


async def test_inbound_accepts_urlencoded_too(inbound: Inbound) -> None:
    """Not what SendGrid sends, but a plain form must not be a 500."""
    journey = await start_journey(inbound)
    response = await inbound.http.post(
        INBOUND, data={"from": EMAIL, "subject": f"faktura {journey.number}", "text": "hej"}
    )
    assert response.status_code == 200, response.text
    bad = await inbound.http.post(INBOUND, content=b"{}", headers={"Content-Type": "text/plain"})
    assert bad.status_code == 415
    assert isinstance(bad, httpx.Response)
