"""Parsing billing events: every type is accepted, and every refusal names field and problem.

No server: this is the contract a billing system's developer reads error messages against.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from starter.event_schema import (
    CustomerChurned,
    CustomerUpdated,
    EventRejected,
    InvoiceCreditedEvent,
    InvoiceIssued,
    InvoicePaymentReceived,
    InvoiceVoidedEvent,
    parse_event,
    parse_events,
)
from tests.factories import SPEC_EXAMPLE
from tests.starter.conftest import customer, issued, payment


def test_the_spec_example_is_accepted() -> None:
    event = parse_event(SPEC_EXAMPLE)
    assert isinstance(event, InvoiceIssued)
    assert event.invoice_id == "inv_1001"
    assert event.customer_id == "cus_berit"
    assert str(event.data.invoice.amount_due) == "1250.00"


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (payment("inv_1"), InvoicePaymentReceived),
        (
            {
                "id": "e2",
                "type": "invoice.credited",
                "occurred_at": "2026-11-02T09:00:00+01:00",
                "data": {"invoice_id": "inv_1", "amount": "100.00"},
            },
            InvoiceCreditedEvent,
        ),
        (
            {
                "id": "e3",
                "type": "invoice.voided",
                "occurred_at": "2026-11-02T09:00:00Z",
                "data": {"invoice_id": "inv_1"},
            },
            InvoiceVoidedEvent,
        ),
        (
            {
                "id": "e4",
                "type": "customer.updated",
                "occurred_at": "2026-11-02T09:00:00Z",
                "data": {"customer": customer("cus_1")},
            },
            CustomerUpdated,
        ),
        (
            {
                "id": "e5",
                "type": "customer.churned",
                "occurred_at": "2026-11-02T09:00:00Z",
                "data": {"customer_id": "cus_1", "churned_at": "2026-11-01T12:00:00Z"},
            },
            CustomerChurned,
        ),
    ],
)
def test_every_event_type_is_accepted(raw: dict[str, Any], kind: type) -> None:
    assert isinstance(parse_event(raw), kind)


def test_paid_at_may_be_a_timestamp_and_churned_at_a_date() -> None:
    raw = payment("inv_1")
    raw["data"]["paid_at"] = "2026-11-20T23:30:00+01:00"
    event = parse_event(raw)
    assert isinstance(event, InvoicePaymentReceived)
    assert event.data.paid_at.isoformat() == "2026-11-20"
    churn = parse_event(
        {
            "id": "e",
            "type": "customer.churned",
            "occurred_at": "2026-11-02T09:00:00Z",
            "data": {"customer_id": "c", "churned_at": "2026-11-01"},
        }
    )
    assert isinstance(churn, CustomerChurned)
    assert churn.data.churned_at.isoformat() == "2026-11-01T00:00:00+00:00"


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def change(event: dict[str, Any]) -> None:
        node = event
        for p in parents:
            node = node[p]
        node[last] = value

    return change


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def change(event: dict[str, Any]) -> None:
        node = event
        for p in parents:
            node = node[p]
        del node[last]

    return change


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_drop("data.invoice.number"), "data.invoice.number: Field required"),
        (_drop("id"), "id: Field required"),
        (_set("data.invoice.amount_due", "-5.00"), "data.invoice.amount_due: must be greater"),
        (_set("data.invoice.amount_due", 1250.0), "data.invoice.amount_due: must be a decimal"),
        (_set("data.invoice.amount_due", "12.345"), "data.invoice.amount_due: must be a decimal"),
        (_set("data.invoice.currency", "KRONOR"), "data.invoice.currency: 'KRONOR' is not an ISO"),
        (_set("data.invoice.due_date", "30/11/2026"), "data.invoice.due_date: "),
        (_set("data.invoice.issued_at", "2026-02-30"), "data.invoice.issued_at: "),
        (_set("occurred_at", "2026-11-02T09:00:00"), "occurred_at: Input should have timezone"),
        (_set("data.customer.consent.sms", "maybe"), "data.customer.consent.sms: "),
        (_set("data.customer.email", "berit-at-example"), "data.customer.email: is not an email"),
        (_set("data.customer.timezone", "Mars/Olympus"), "data.customer.timezone: "),
        (_set("data.customer.phone", "070-123 45 67"), "data.customer.phone: must be an E.164"),
        (_set("data.customer.phone", "+46000000000"), "data.customer.phone: is not a valid"),
        (_set("data.customer.id", "cus_other"), "data: invoice.customer_id 'cus_berit' does not"),
        (_set("data.invoice.colour", "red"), "data.invoice.colour: Extra inputs are not permitted"),
        (_set("data", "nope"), "data: "),
        (_set("type", "invoice.paid"), 'type: unknown event type "invoice.paid"'),
        (_set("type", 7), "type: unknown event type 7"),
        (_drop("type"), "type: Field required"),
    ],
)
def test_a_bad_event_is_refused_naming_the_field(
    change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    event = copy.deepcopy(SPEC_EXAMPLE)
    change(event)
    with pytest.raises(EventRejected) as refused:
        parse_event(event)
    assert str(refused.value).startswith(expected), str(refused.value)


def test_a_payment_with_a_float_or_zero_amount_is_refused() -> None:
    for amount, problem in ((10.5, "must be a decimal string"), ("0.00", "greater than zero")):
        raw = payment("inv_1")
        raw["data"]["amount"] = amount
        with pytest.raises(EventRejected, match=f"^data.amount: .*{problem}"):
            parse_event(raw)


def test_an_event_must_be_an_object() -> None:
    with pytest.raises(EventRejected, match=r"^\(root\): an event must be a JSON object"):
        parse_event(["not", "an", "event"])
    with pytest.raises(EventRejected, match=r"the array holds no events"):
        parse_events([])


def test_a_batch_reports_every_bad_element_by_index() -> None:
    good = issued()
    bad_amount = payment("inv_1", amount="-1")
    with pytest.raises(EventRejected) as refused:
        parse_events([good, bad_amount, 5])
    message = str(refused.value)
    assert "[1].data.amount: must be greater than zero" in message
    assert "[2]: an event must be a JSON object, not a number" in message


def test_a_batch_may_repeat_an_event_but_not_change_it() -> None:
    event = issued()
    assert len(parse_events([event, copy.deepcopy(event)])) == 2
    changed = copy.deepcopy(event)
    changed["data"]["invoice"]["amount_due"] = "99.00"
    with pytest.raises(EventRejected, match=r"\[1\]\.id: event id .* appears twice"):
        parse_events([event, changed])
