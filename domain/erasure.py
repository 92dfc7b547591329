"""Erasing a customer's personal data (`journeys gdpr erase`): what is personal, and what
stands in its place.

The customer's name, email address, phone number and postal address are personal data; the
accounting record (invoice ids, amounts, currencies, dates, statuses, outcomes) is not, and
is kept: the company must still account for what was invoiced and paid. Erasure replaces
personal values by `ERASED` (or nothing, where a field may be empty) rather than deleting
rows, so that every figure and every reference between rows stays as it was.

Pure: the store (infra/erasure.py) and the journey (workflows/erasure.py) both apply it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from domain.models import Customer
from domain.values import Model, UtcDatetime

ERASED = "erased"
"""What stands where personal data was: a reader sees that something was erased, not what."""

PERSONAL_FIELDS = ("name", "email", "phone", "postal_address")
"""The fields of a customer record that are personal data."""


class PersonalDataErasure(Model):
    """The `erase_personal_data` signal: the customer's data was erased on request. It names
    no data: the journey erases what it holds itself."""

    event_id: str
    requested_at: UtcDatetime


def erased_customer(customer: Customer) -> Customer:
    """The customer record without personal data; what drives a journey (locale, zone,
    consent, business flag) stays, so that a replay of the decisions made so far holds."""
    return customer.model_copy(
        update={"name": ERASED, "email": None, "phone": None, "postal_address": ()}
    )


def erase_text(text: str, values: Iterable[str]) -> str:
    """`text` with every occurrence of each personal value replaced by `ERASED`, in any
    letter case (an address typed as `Berit@Example.se` is the same address), longest first
    so that a phone number is not half replaced through a shorter form of it."""
    for value in sorted({v for v in values if v and len(v) >= 3}, key=len, reverse=True):
        text = re.sub(re.escape(value), ERASED, text, flags=re.IGNORECASE)
    return text


def personal_values(customer: dict[str, Any] | Customer) -> list[str]:
    """The personal values of one customer record (a model, or one as JSON data)."""
    data = customer.model_dump(mode="json") if isinstance(customer, Customer) else customer
    values = [data.get("name"), data.get("email"), data.get("phone")]
    values += list(data.get("postal_address") or ())
    return [v for v in values if isinstance(v, str) and v and v != ERASED]


def erase_customer_json(data: Any, customer_id: str) -> tuple[Any, list[str]]:
    """JSON data (a stored billing event) with the personal fields of every record of the
    customer erased, wherever it sits (`data.customer` of `invoice.issued` and
    `customer.updated`); and the values it held, to erase from free text elsewhere."""
    found: list[str] = []

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        if node.get("id") == customer_id and "name" in node:
            found.extend(personal_values(node))
            return {**node, **_erased_fields(node)}
        return {key: walk(value) for key, value in node.items()}

    return walk(data), found


def _erased_fields(node: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": ERASED}
    for key in ("email", "phone"):
        if key in node:
            fields[key] = None
    if "postal_address" in node:
        fields["postal_address"] = []
    return fields


def erase_payload(payload: str, customer_id: str) -> tuple[str, list[str]]:
    """A stored JSON payload with the customer's records erased (`erase_customer_json`),
    written compactly; a payload that is not JSON is returned as it is."""
    try:
        data = json.loads(payload)
    except ValueError:
        return payload, []
    erased, found = erase_customer_json(data, customer_id)
    if not found:
        return payload, []
    return json.dumps(erased, separators=(",", ":"), ensure_ascii=False), found


def same_event_content(stored: str, incoming: str) -> bool:
    """Whether a billing event sent again is the one stored under its id: the same text, or,
    when the stored customer record was erased since, the same once erased too. A replay
    after an erasure is then answered as the first delivery was, and is not refused as a
    reused id."""
    if stored == incoming:
        return True
    if f'"name":"{ERASED}"' not in stored:
        return False
    try:
        customer_id = json.loads(incoming)["data"]["customer"]["id"]
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(customer_id, str) and erase_payload(incoming, customer_id)[0] == stored
