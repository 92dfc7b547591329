"""Provider webhooks with hostile payloads, signed (so that they reach the handlers) and
unsigned (refused 403 before anything is read into the store): never a 5xx, every refusal
names the problem, a refusal changes nothing."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import FUZZ, Fuzz, Sent, check_answer, store_snapshot
from tests.fuzz.strategies import JSON, hostile
from tests.webhooks.conftest import EMAIL, PHONE
from tests.webhooks.conftest import INBOUND as INBOUND_URL
from tests.webhooks.payloads import stripe_event, stripe_invoice

# Fuzzing does not depend on which store runs under it: once, in the SQLite pass.
pytestmark = pytest.mark.store_independent

TEXT = st.text(max_size=40) | st.sampled_from(
    ["", "1", "2", "9", "STOP", "START", "BETALT", "PAID", "LÖFTE 2027-01-05", "RING", "*"]
)


def form(base: dict[str, str], keys: list[str]) -> st.SearchStrategy[dict[str, str]]:
    """`base` with some fields dropped, some replaced, some added."""
    return st.tuples(
        st.sets(st.sampled_from(sorted(base))),
        st.dictionaries(st.sampled_from(keys) | st.text(max_size=12), TEXT, max_size=5),
    ).map(lambda t: {**{k: v for k, v in base.items() if k not in t[0]}, **t[1]})


SMS = {
    "MessageSid": "SMfuzzinbound",
    "AccountSid": "ACfuzz",
    "From": PHONE,
    "To": "+46700000000",
    "Body": "PAID",
}
STATUSES = ["queued", "sent", "delivered", "undelivered", "failed", "busy", "no-answer", "x"]


@FUZZ
@given(params=form(SMS, ["Body", "From", "SmsSid", "NumMedia"]), sid=st.integers(0, 5))
def test_twilio_sms(fuzz: Fuzz, sent: Sent, params: dict[str, str], sid: int) -> None:
    params = {**params, "MessageSid": f"{params.get('MessageSid', 'SM')}{sid}"}
    before = store_snapshot(fuzz.settings.store_url)
    check_answer(fuzz.twilio("/v1/webhooks/twilio/sms", params), before, fuzz.settings.store_url)


@FUZZ
@given(
    data=st.data(),
    stage=st.sampled_from(["", "menu", "retry", "transfer", "??", "menu&stage=retry"]),
)
def test_twilio_voice(fuzz: Fuzz, sent: Sent, data: st.DataObject, stage: str) -> None:
    base = {"CallSid": sent.call_sid, "Digits": "1", "From": PHONE, "CallStatus": "in-progress"}
    params = data.draw(form(base, ["Digits", "DialCallStatus", "CallSid"]))
    path = "/v1/webhooks/twilio/voice" + (f"?stage={stage}" if stage else "")
    before = store_snapshot(fuzz.settings.store_url)
    check_answer(fuzz.twilio(path, params), before, fuzz.settings.store_url)


@FUZZ
@given(data=st.data(), status=st.sampled_from(STATUSES), call=st.booleans())
def test_twilio_status(
    fuzz: Fuzz, sent: Sent, data: st.DataObject, status: str, call: bool
) -> None:
    if call:
        base = {"CallSid": sent.call_sid, "CallStatus": status}
    else:
        base = {"MessageSid": sent.sms_sid, "MessageStatus": status, "ErrorCode": "30003"}
    params = data.draw(form(base, ["ErrorCode", "SmsStatus", "SmsSid", "CallStatus"]))
    before = store_snapshot(fuzz.settings.store_url)
    check_answer(fuzz.twilio("/v1/webhooks/twilio/status", params), before, fuzz.settings.store_url)


def _sendgrid_event(kind: str, message_id: str) -> dict[str, Any]:
    return {
        "email": EMAIL,
        "timestamp": 1_795_000_000,
        "event": kind,
        "sg_event_id": f"sgev_fuzz_{kind}",
        "sg_message_id": f"{message_id}.filter0001.16648.5515E0B88.0",
    }


SENDGRID_EVENTS = [
    [_sendgrid_event("bounce", "fuzzmessageid0001")],
    [_sendgrid_event("dropped", "nothing"), _sendgrid_event("delivered", "fuzzmessageid0001")],
    [{**_sendgrid_event("bounce", "x"), "invoice_id": "inv_nowhere", "step_key": "s3"}],
]


@FUZZ
@given(body=hostile(*SENDGRID_EVENTS) | st.text(max_size=50))
def test_sendgrid_events(fuzz: Fuzz, sent: Sent, body: Any) -> None:
    payload = body if isinstance(body, str) else json.dumps(body)
    before = store_snapshot(fuzz.settings.store_url)
    check_answer(fuzz.sendgrid_events(payload), before, fuzz.settings.store_url)


INBOUND = {
    "from": f"Berit <{EMAIL}>",
    "to": "billing@example.com",
    "subject": "Re: Faktura",
    "text": "Jag betalar på fredag",
    "envelope": json.dumps({"from": EMAIL, "to": ["billing@example.com"]}),
    "headers": "Message-Id: <x@y>",
}


@FUZZ
@given(params=form(INBOUND, ["charsets", "html", "envelope", "headers"]), multipart=st.booleans())
def test_sendgrid_inbound(fuzz: Fuzz, sent: Sent, params: dict[str, str], multipart: bool) -> None:
    before = store_snapshot(fuzz.settings.store_url)
    path = INBOUND_URL
    if multipart:
        answer = fuzz.http.post(path, files={k: (None, v) for k, v in params.items()})
    else:
        answer = fuzz.http.post(path, data=params)
    check_answer(answer, before, fuzz.settings.store_url)


def _stripe(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return stripe_event(kind, obj, f"evt_fuzz_{kind}")


STRIPE_INVOICE = stripe_invoice(
    "in_fuzz",
    number="FUZZ-0001",
    customer="cus_stripe_fuzz",
    created=1_795_000_000,
    due_date=1_797_600_000,
)
STRIPE_EVENTS = [
    _stripe("invoice.finalized", STRIPE_INVOICE),
    _stripe("invoice.paid", {**STRIPE_INVOICE, "amount_paid": 125000, "status": "paid"}),
    _stripe("invoice.voided", STRIPE_INVOICE),
    _stripe("customer.updated", {"id": "cus_stripe_fuzz", "object": "customer", "email": EMAIL}),
]


@FUZZ
@given(body=hostile(*STRIPE_EVENTS) | st.text(max_size=50))
def test_stripe(fuzz: Fuzz, body: Any) -> None:
    payload = body if isinstance(body, str) else json.dumps(body)
    before = store_snapshot(fuzz.settings.store_url)
    check_answer(fuzz.stripe(payload), before, fuzz.settings.store_url)


UNSIGNED = [
    "/v1/webhooks/twilio/sms",
    "/v1/webhooks/twilio/voice",
    "/v1/webhooks/twilio/status",
    "/v1/webhooks/sendgrid/events",
    "/v1/webhooks/stripe",
]


@FUZZ
@given(path=st.sampled_from(UNSIGNED), body=JSON, signature=st.none() | st.text(max_size=40))
def test_unsigned_or_forged_is_refused_and_changes_nothing(
    fuzz: Fuzz, path: str, body: Any, signature: str | None
) -> None:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        ascii_sig = "".join(c for c in signature if c.isascii() and c.isprintable()).strip() or "x"
        for name in ("X-Twilio-Signature", "Stripe-Signature"):
            headers[name] = ascii_sig
        headers["X-Twilio-Email-Event-Webhook-Signature"] = ascii_sig
        headers["X-Twilio-Email-Event-Webhook-Timestamp"] = str(int(time.time()))
    before = store_snapshot(fuzz.settings.store_url)
    answer = fuzz.http.post(path, content=json.dumps(body), headers=headers)
    check_answer(answer, before, fuzz.settings.store_url)
    assert answer.status_code in (403, 415), answer.text
