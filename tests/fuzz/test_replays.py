"""Replays are harmless: an agent action repeated with the same Idempotency-Key (one after the
other, and two racing) is applied once and answered the same; a webhook delivered twice has
the effect of one."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest

from tests.fuzz.conftest import Fuzz, Sent, store_snapshot
from tests.webhooks.conftest import PHONE, stripe_signature

# Fuzzing does not depend on which store runs under it: once, in the SQLite pass.
pytestmark = pytest.mark.store_independent


def _actions(state: dict[str, Any], note: str) -> int:
    return sum(1 for h in state["history"] if h["kind"] == "action" and note in h["detail"])


def _post(
    fuzz: Fuzz, invoice_id: str, body: dict[str, Any], key: str | bytes | None
) -> httpx.Response:
    raw = key.encode() if isinstance(key, str) else key
    headers = {b"Idempotency-Key": raw} if raw is not None else {}
    return fuzz.http.post(f"/v1/invoices/{invoice_id}/actions", json=body, headers=headers)


def _state(fuzz: Fuzz, invoice_id: str) -> dict[str, Any]:
    answer = fuzz.http.get(f"/v1/invoices/{invoice_id}/journey")
    assert answer.status_code == 200, answer.text
    state: dict[str, Any] = answer.json()
    return state


def test_a_replayed_action_is_applied_once_and_answered_the_same(fuzz: Fuzz) -> None:
    invoice_id = fuzz.start_journey()
    body = {"action": "add-note", "agent": "ada", "note": "replay-note-1"}
    first = _post(fuzz, invoice_id, body, "key-1")
    assert first.status_code == 200, first.text
    for _ in range(3):
        again = _post(fuzz, invoice_id, body, "key-1")
        assert again.status_code == 200
        assert again.json() == first.json()
    assert _actions(_state(fuzz, invoice_id), "replay-note-1") == 1
    # Without a key, a repeat is a new action; with another key too.
    assert _post(fuzz, invoice_id, body, None).status_code == 200
    assert _post(fuzz, invoice_id, body, "key-2").status_code == 200
    assert _actions(_state(fuzz, invoice_id), "replay-note-1") == 3


def test_racing_replays_are_applied_once(fuzz: Fuzz) -> None:
    invoice_id = fuzz.start_journey()
    body = {"action": "add-note", "agent": "ada", "note": "race-note"}
    answers: list[httpx.Response] = []

    def post() -> None:
        with httpx.Client(base_url=str(fuzz.http.base_url), headers=fuzz.http.headers) as h:
            answers.append(
                h.post(
                    f"/v1/invoices/{invoice_id}/actions",
                    json=body,
                    headers={"Idempotency-Key": "race"},
                )
            )

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [a.status_code for a in answers] == [200] * 4
    assert _actions(_state(fuzz, invoice_id), "race-note") == 1


def test_a_key_reused_for_another_action_is_refused_by_name(fuzz: Fuzz) -> None:
    invoice_id = fuzz.start_journey()
    note = {"action": "add-note", "agent": "ada", "note": "first"}
    assert _post(fuzz, invoice_id, note, "k").status_code == 200
    before = store_snapshot(fuzz.settings.store_url)
    other = _post(fuzz, invoice_id, {**note, "note": "second"}, "k")
    assert other.status_code == 422
    assert other.json()["detail"].startswith("Idempotency-Key: already used")
    assert store_snapshot(fuzz.settings.store_url) == before
    for bad, problem in (("", "empty"), ("x" * 201, "longer than 200"), ("ключ".encode(), "ASCII")):
        answer = _post(fuzz, invoice_id, note, bad)
        assert answer.status_code == 422
        assert answer.json()["detail"].startswith("Idempotency-Key:")
        assert problem in answer.json()["detail"]


def test_replayed_webhooks_change_nothing_the_second_time(fuzz: Fuzz, sent: Sent) -> None:
    sms = {"MessageSid": "SMreplay1", "From": PHONE, "To": "+46700000000", "Body": "RING"}
    status = {"MessageSid": sent.sms_sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    stripe_event = json.dumps(
        {
            "id": "evt_replay_1",
            "object": "event",
            "type": "customer.updated",
            "created": 1_795_000_000,
            "data": {"object": {"id": "cus_replay", "object": "customer"}},
        }
    )
    sendgrid = json.dumps(
        [
            {
                "event": "bounce",
                "email": "berit@example.se",
                "timestamp": 1_795_000_000,
                "sg_event_id": "sgev_replay_1",
                "sg_message_id": f"{sent.message_id}.filter0001",
            }
        ]
    )
    deliveries: list[Any] = [
        lambda: fuzz.twilio("/v1/webhooks/twilio/sms", sms),
        lambda: fuzz.twilio("/v1/webhooks/twilio/status", status),
        lambda: fuzz.http.post(
            "/v1/webhooks/stripe",
            content=stripe_event,
            headers={"Stripe-Signature": stripe_signature(stripe_event)},
        ),
        lambda: fuzz.sendgrid_events(sendgrid),
    ]
    for deliver in deliveries:
        first = deliver()
        assert first.status_code < 300, first.text
        time.sleep(0.5)  # the journey applies the first delivery's signal
        after_first = store_snapshot(fuzz.settings.store_url)
        state_first = _state(fuzz, sent.invoice_id)
        again = deliver()
        assert again.status_code == first.status_code
        assert store_snapshot(fuzz.settings.store_url) == after_first
        assert _state(fuzz, sent.invoice_id)["history"] == state_first["history"]
