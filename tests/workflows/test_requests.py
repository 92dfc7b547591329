"""What the journey hands its activities, built from its input and ledger alone."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from domain.models import Step
from domain.state import HistoryEntry
from tests.factories import journey_input
from workflows.ledger import Ledger
from workflows.requests import address, delivery_request, handover_request, journey_outcome

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def ledger_for(balance: str = "1250.00") -> Ledger:
    inp = journey_input()
    return Ledger(due_date=inp.invoice.due_date, amount_due=Decimal(balance))


def test_a_contact_goes_to_the_channel_s_address_and_counts_its_own_fee() -> None:
    inp = journey_input()
    ledger = ledger_for()
    step = Step(offset_days=3, channel="sms", template="reminder_1")
    req = delivery_request(
        inp, ledger, step, "step-1-sms", workflow_id="invoice-x", now=NOW, fee_now=Decimal("60")
    )
    assert req.to == inp.customer.phone == address(inp, "sms")
    assert address(inp, "email") == inp.customer.email
    assert (req.step_key, req.channel, req.workflow_id) == ("step-1-sms", "sms", "invoice-x")
    assert (req.balance, req.fees, req.fee_this_step) == (
        ledger.balance + 60,
        ledger.fees + 60,
        Decimal("60"),
    )


def test_the_claim_carries_the_journey_s_history_and_the_outcome_its_close() -> None:
    inp = journey_input()
    ledger = ledger_for()
    ledger.history.append(HistoryEntry(at=NOW, kind="step", detail="step 1 sent"))
    claim = handover_request(inp, ledger, "invoice-x")
    assert claim.history == tuple(ledger.history)
    assert (claim.invoice_id, claim.balance) == (inp.invoice.id, ledger.balance)

    ledger.closed = "paid"
    outcome = journey_outcome(inp, ledger, "invoice-x", NOW)
    assert (outcome.phase, outcome.closed_at, outcome.workflow_id) == ("paid", NOW, "invoice-x")
