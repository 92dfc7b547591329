"""One test per bug the fuzzers found, each with the input that found it."""

from __future__ import annotations

import json

import pytest

from tests.fuzz.conftest import Fuzz, check_answer, store_snapshot

# Fuzzing does not depend on which store runs under it: once, in the SQLite pass.
pytestmark = pytest.mark.store_independent


def test_signed_stripe_json_that_is_not_an_object_is_refused_not_a_crash(fuzz: Fuzz) -> None:
    # stripe.Webhook.construct_event built an event object from `[]` and raised
    # AttributeError ('list' object has no attribute 'get'): a 500.
    for payload in ("[]", "[1, 2]", '"evt_1"', "3"):
        before = store_snapshot(fuzz.settings.store_url)
        answer = fuzz.stripe(payload)
        check_answer(answer, before, fuzz.settings.store_url)
        assert answer.status_code == 400
        assert answer.json() == {"detail": "(root): not a JSON object"}


def test_signed_stripe_body_that_is_not_json_is_refused(fuzz: Fuzz) -> None:
    answer = fuzz.stripe("{not json")
    assert answer.status_code == 400
    assert answer.json() == {"detail": "(root): not valid JSON"}
    answer = fuzz.stripe(json.dumps({"object": "event"}))
    assert answer.json() == {"detail": "id: missing"}


def test_a_number_for_a_date_is_refused_not_read_as_1970(fuzz: Fuzz) -> None:
    # schemathesis sent `"churned_at": 0`; pydantic read it as Unix seconds, 1970-01-01.
    event = {
        "id": "evt_churn_number",
        "type": "customer.churned",
        "occurred_at": "2026-11-20T09:00:00Z",
        "data": {"customer_id": "cus_1", "churned_at": 0},
    }
    before = store_snapshot(fuzz.settings.store_url)
    answer = fuzz.post_json("/v1/events", event)
    check_answer(answer, before, fuzz.settings.store_url)
    assert answer.status_code == 422
    assert answer.json()["detail"] == (
        "data.churned_at: must be an ISO 8601 date or date-time text, not a number"
    )
    answer = fuzz.post_json("/v1/events", {**event, "occurred_at": 1_795_000_000})
    assert answer.json()["detail"].startswith("occurred_at: must be an ISO 8601")


def test_the_documented_422_is_the_one_the_api_sends(fuzz: Fuzz) -> None:
    # schemathesis: FastAPI documented 422 as a list of errors; we answer {"detail": "..."}.
    schema = fuzz.http.get("/openapi.json").json()
    documented = schema["components"]["schemas"]["HTTPValidationError"]
    assert documented["properties"]["detail"]["type"] == "string"
    answer = fuzz.http.get("/v1/dead-letters", params={"limit": 0})
    assert answer.status_code == 422
    assert isinstance(answer.json()["detail"], str)


def test_a_body_that_is_not_utf8_is_a_named_422(fuzz: Fuzz) -> None:
    # schemathesis sent b"\xff" as JSON: FastAPI answered an undocumented 400 "There was an
    # error parsing the body".
    for path in ("/v1/events", "/v1/invoices/inv_x/actions"):
        answer = fuzz.http.post(
            path, content=b"{\xff}", headers={"Content-Type": "application/json"}
        )
        assert answer.status_code == 422
        assert answer.json() == {"detail": "(root): not valid JSON (not UTF-8 text)"}
