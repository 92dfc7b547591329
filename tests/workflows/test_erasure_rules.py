"""The pure part of erasure: which values are personal, how a stored payload is erased, and
how an event sent again after an erasure is still recognised as the same one."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from domain.erasure import (
    ERASED,
    PersonalDataErasure,
    erase_payload,
    erase_text,
    erased_customer,
    same_event_content,
)
from infra.erasure import phone_forms
from tests.factories import SPEC_EXAMPLE, customer, journey_input
from workflows.erasure import erase_journey
from workflows.ledger import Ledger

EVENT = json.dumps(SPEC_EXAMPLE, separators=(",", ":"), ensure_ascii=False)


def test_a_stored_event_loses_the_customer_record_and_keeps_the_invoice() -> None:
    erased, found = erase_payload(EVENT, "cus_berit")
    data = json.loads(erased)["data"]
    assert data["customer"]["name"] == ERASED
    assert (data["customer"]["email"], data["customer"]["phone"]) == (None, None)
    assert data["customer"]["locale"] == "sv" and data["invoice"] == SPEC_EXAMPLE["data"]["invoice"]
    assert set(found) == {"Berit Andersson", "berit@example.se", "+46701234567"}
    assert erase_payload(EVENT, "cus_someone_else") == (EVENT, [])
    assert erase_payload("not json", "cus_berit") == ("not json", [])


def test_an_event_sent_again_after_erasure_is_the_same_event() -> None:
    stored, _ = erase_payload(EVENT, "cus_berit")
    assert same_event_content(stored, EVENT)
    other = json.loads(EVENT)
    other["data"]["invoice"]["amount_due"] = "999.00"
    assert not same_event_content(stored, json.dumps(other, separators=(",", ":")))
    assert not same_event_content(EVENT, json.dumps(other, separators=(",", ":")))


def test_free_text_loses_every_value_and_every_form_of_the_number() -> None:
    forms = phone_forms("+46701234567")
    assert {"+46701234567", "46701234567", "070-123 45 67", "0701234567"} <= set(forms)
    text = "Berit Andersson ringde från 070-123 45 67, svar till berit@example.se"
    erased = erase_text(text, ["Berit Andersson", "berit@example.se", *forms])
    assert erased == f"{ERASED} ringde från {ERASED}, svar till {ERASED}"


def test_the_journey_forgets_the_customer_and_closes_as_erased() -> None:
    inp = journey_input("inv_forget", postal_address=("Storgatan 1", "111 22 Stockholm"))
    ledger = Ledger(due_date=inp.invoice.due_date, amount_due=inp.invoice.amount_due)
    ledger.customer = customer(email="berit.ek@example.org")
    ledger.note(datetime(2026, 12, 1, tzinfo=UTC), "action", "note: Berit Andersson called")
    ledger.open_tasks.append("call back +46701234567")
    now = datetime(2026, 12, 3, tzinfo=UTC)
    after = erase_journey(inp, ledger, PersonalDataErasure(event_id="e1", requested_at=now), now)
    assert after.customer == erased_customer(inp.customer) and after.customer.locale == "sv"
    assert ledger.customer is not None and ledger.customer.email is None
    assert ledger.closed == "erased" and ledger.balance == inp.invoice.amount_due
    text = " ".join([h.detail for h in ledger.history] + ledger.open_tasks)
    for secret in ("Berit", "berit", "+46701234567", "Storgatan"):
        assert secret not in text
    assert ledger.history[-1].kind == "erasure"


def test_free_text_loses_a_value_in_any_letter_case() -> None:
    assert erase_text("från Berit@Example.SE", ["berit@example.se"]) == f"från {ERASED}"
