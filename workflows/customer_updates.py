"""What a journey does with the customer's new record (`customer.updated`, issue 13).

A journey runs for weeks while the customer moves, changes number or language, or withdraws
consent; it must not keep reminding the old address. The new record replaces the start
snapshot from the next step on (`workflows.ledger.customer` answers it everywhere), with
three rules:

- consent: the record's consent for a channel counts only where the billing system changed
  it; a STOP or unsubscribe the customer sent us (`ledger.consent`) is not undone by a record
  that merely repeats what the billing system always said;
- a changed email address or phone number is a new address: it is no longer "known bad";
- the segment (and so the policy and its fees) stays: a different one is recorded and
  applies to the customer's next invoice.

History entries name the fields that changed, never their values (no personal data).
"""

from __future__ import annotations

from datetime import datetime

from domain.messages import CustomerChanged
from domain.models import Customer, JourneyInput
from domain.state import HistoryEntry
from domain.values import Channel
from workflows.ledger import Ledger

CUSTOMER_UPDATES_PATCH = "customer-updates"
"""Journeys hear `customer_updated` since this patch; a history in which the signal reached
older code (which had no handler and ignored it) replays as it ran."""

CHANNELS: tuple[Channel, ...] = ("email", "sms", "call")
FIELDS = ("name", "email", "phone", "locale", "timezone", "fee_agreed", "is_business", "vulnerable")


def changed_fields(before: Customer, after: Customer) -> list[str]:
    names = [f for f in FIELDS if getattr(before, f) != getattr(after, f)]
    names += [
        f"{ch} consent"
        for ch in CHANNELS
        if getattr(before.consent, ch) != getattr(after.consent, ch)
    ]
    return names


def apply_customer_update(
    inp: JourneyInput, ledger: Ledger, update: CustomerChanged, now: datetime
) -> None:
    before = ledger.customer or inp.customer
    after = update.customer.model_copy(update={"id": inp.customer.id})
    changed = changed_fields(before, after)
    for ch in CHANNELS:
        if getattr(before.consent, ch) != getattr(after.consent, ch):
            ledger.consent[ch] = getattr(after.consent, ch)
    if before.email != after.email:
        ledger.bad_channels.discard("email")
    if before.phone != after.phone:
        ledger.bad_channels -= {"sms", "call"}
    ledger.customer = after
    if changed:
        what = ", ".join(changed)
        ledger.history.append(
            HistoryEntry(
                at=now,
                kind="customer",
                detail=f"customer record updated ({what}); applies from the next step",
            )
        )
    _note_segment(inp, ledger, update, now)


def _note_segment(
    inp: JourneyInput, ledger: Ledger, update: CustomerChanged, now: datetime
) -> None:
    segment = update.segment
    if segment is None or segment == (ledger.next_segment or inp.segment):
        return
    ledger.next_segment = None if segment == inp.segment else segment
    why = f" ({update.segment_reason})" if update.segment_reason else ""
    ledger.history.append(
        HistoryEntry(
            at=now,
            kind="segment",
            detail=f"the customer's record now gives segment {segment}{why}; this journey "
            f"stays {inp.segment}, the next invoice follows the record",
        )
    )
