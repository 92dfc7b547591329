"""What a running journey does when its customer's personal data is erased (`journeys gdpr
erase`, the `erase_personal_data` signal).

The journey can no longer reach the customer (it holds no address), and it must not pass
the claim on either: a handover sends the debtor's name and contact details to the
collection agency. So it closes at once as `erased`: no further reminder, no thank-you, no
handover. Its ledger (amounts, payments, fees, steps sent) and its outcome row stay: that is
the accounting record. The balance still owed is in that record for finance to decide on.

What it forgets: the customer record it was started with and any update since (name, email
address, phone number, postal address), and those values wherever they appear in its
history and open tasks (an agent's note, a customer's message). Locale, time zone and
consent stay: they are no one's identity, and the decisions already made depend on them.
"""

from __future__ import annotations

from datetime import datetime

from domain.erasure import PersonalDataErasure, erase_text, erased_customer, personal_values
from domain.models import JourneyInput
from workflows.ledger import Ledger

GDPR_ERASE_PATCH = "gdpr-erase"
"""Journeys hear `erase_personal_data` since this patch; a history in which the signal
reached older code (no handler: it was ignored) replays as it ran."""


def erase_journey(
    inp: JourneyInput, ledger: Ledger, erasure: PersonalDataErasure, now: datetime
) -> JourneyInput:
    """Erase the customer's data from the ledger, close the journey as `erased` (a journey
    already closed keeps how it closed), and answer the input without the data: the journey
    keeps that one from now on, so its state, its Web UI details and a continue-as-new carry
    nothing personal."""
    values = personal_values(inp.customer)
    if ledger.customer is not None:
        values += personal_values(ledger.customer)
        ledger.customer = erased_customer(ledger.customer)
    ledger.history = [
        entry.model_copy(update={"detail": erase_text(entry.detail, values)})
        for entry in ledger.history
    ]
    ledger.open_tasks = [erase_text(task, values) for task in ledger.open_tasks]
    ledger.fallbacks.clear()
    ledger.close("erased")
    ledger.note(
        now,
        "erasure",
        f"personal data erased on request ({erasure.requested_at:%Y-%m-%d %H:%M} UTC); "
        f"no further contact and no handover; journey {ledger.closed}",
    )
    return inp.model_copy(update={"customer": erased_customer(inp.customer)})
