"""The fault run's verdict catches what it claims to: a duplicate contact, a missed step, a
missing or extra handover, a contact after payment, a lost journey, an event not recorded."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bench.faultcheck import THANK_YOU, Customer, check
from infra.policy_file import load_policies
from infra.settings import Settings
from infra.store import HandoverRow, JourneyEventRow, session_scope
from tests.fakes import FakeAgency, FakeSendGrid, FakeTwilio

PHONES = {"inv-a": "+46700000001", "inv-b": "+46700000002"}


def _mail(invoice_id: str, step_key: str) -> dict[str, Any]:
    return {"msg_id": "x", "custom_args": {"invoice_id": invoice_id, "step_key": step_key}}


def _full_path(invoice_id: str, sendgrid: FakeSendGrid, twilio: FakeTwilio) -> None:
    sendgrid.accepted += [_mail(invoice_id, "step-0-email"), _mail(invoice_id, "step-3-email")]
    twilio.created["Messages"].append({"to": PHONES[invoice_id]})
    twilio.created["Calls"].append({"to": PHONES[invoice_id]})


def _store(settings: Settings, handed: list[str], events: list[str]) -> None:
    with session_scope(settings.store_url) as s:
        for invoice_id in handed:
            s.add(
                HandoverRow(
                    invoice_id=invoice_id,
                    customer_id="c",
                    currency="SEK",
                    balance=Decimal("1"),
                    fees=Decimal("0"),
                    evidence="{}",
                    delivered_to="agency",
                    reference="r",
                )
            )
        for event_id in events:
            s.add(
                JourneyEventRow(
                    event_id=event_id,
                    invoice_id="inv-a",
                    type="invoice.issued",
                    occurred_at=datetime.now(UTC),
                    payload="{}",
                )
            )


def _run(settings: Settings, customers: list[Customer], **fakes: Any) -> Any:
    return check(
        customers,
        {c.invoice_id: "COMPLETED" for c in customers},
        ["evt-1", "evt-2"],
        load_policies(settings.policy_file),
        "standard",
        fakes["sendgrid"],
        fakes["twilio"],
        fakes["agency"],
        settings.store_url,
    )


def test_a_clean_run_is_clean_and_every_fault_is_caught(settings: Settings) -> None:
    sendgrid, twilio, agency = FakeSendGrid().start(), FakeTwilio().start(), FakeAgency().start()
    try:
        customers = [
            Customer("inv-a", "a@example.se", PHONES["inv-a"], paid=False),
            Customer("inv-b", "b@example.se", PHONES["inv-b"], paid=True),
        ]
        _full_path("inv-a", sendgrid, twilio)
        sendgrid.accepted += [_mail("inv-b", "step-0-email"), _mail("inv-b", THANK_YOU)]
        agency.cases["handover-inv-a"] = "AG-1"
        _store(settings, ["inv-a"], ["evt-1", "evt-2"])
        fakes = {"sendgrid": sendgrid, "twilio": twilio, "agency": agency}
        clean = _run(settings, customers, **fakes)
        assert clean.clean, clean.problems
        assert (clean.steps_prescribed, clean.steps_delivered, clean.contacts) == (6, 6, 6)

        twilio.created["Messages"].append({"to": PHONES["inv-a"]})  # a second SMS
        twilio.created["Calls"].clear()  # the call never placed
        twilio.created["Messages"].append({"to": PHONES["inv-b"]})  # SMS after payment
        agency.cases["handover-inv-b"] = "AG-2"  # a paid invoice handed over
        dirty = _run(settings, customers, **fakes)
        assert not dirty.clean
        assert (dirty.duplicates, dirty.steps_missed) == (1, 1)
        assert (dirty.contacts_after_payment, dirty.handover_duplicates) == (1, 1)

        lost = check(
            customers,
            {"inv-a": "TERMINATED"},
            ["evt-1", "evt-3"],
            load_policies(settings.policy_file),
            "standard",
            sendgrid,
            twilio,
            agency,
            settings.store_url,
        )
        assert (lost.journeys_lost, lost.events_not_once) == (2, 1)
    finally:
        for fake in (sendgrid, twilio, agency):
            fake.stop()


def test_a_request_fails_at_most_so_often_and_a_spent_failure_is_no_late_answer() -> None:
    from tests.fakes.server import Faults

    faults = Faults(fail_rate=1.0, slow_rate=0.0, max_failures_per_request=2)
    assert [faults.roll(b"same")[0] for _ in range(4)] == ["fail", "fail", "ok", "ok"]
    assert faults.roll(b"other")[0] == "fail"
    assert faults.slowed == 0
