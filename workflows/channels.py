"""Which channel reaches the customer now, and where a step goes when its own cannot."""

from __future__ import annotations

from datetime import datetime

from domain.contact_rules import call_allowed
from domain.jurisdiction import pack_for
from domain.models import JourneyInput
from domain.values import Channel
from workflows.ledger import Ledger, customer

FALLBACK_ORDER: dict[Channel, tuple[Channel, ...]] = {
    "email": ("email", "sms"),
    "sms": ("sms", "email"),
    "call": ("call", "sms", "email"),
    "letter": ("letter", "email", "sms"),
}
"""Where a step goes when its own channel cannot be used: never from a message up to a call."""
WRITTEN_CHANNELS: tuple[Channel, ...] = ("email", "sms")
"""A thank-you or an installment reminder goes on the first of these the customer accepts."""


def channel_unavailable(
    inp: JourneyInput, ledger: Ledger, channel: Channel, now: datetime | None = None
) -> str | None:
    """Why `channel` cannot reach this customer now, or None if it can."""
    c = customer(inp, ledger)
    if channel == "letter":
        # A letter needs no consent, only somewhere to post it.
        if not c.postal_address:
            return "no postal address"
        return "letter address known bad" if channel in ledger.bad_channels else None
    if not ledger.consent.get(channel, getattr(c.consent, channel)):
        return f"no consent for {channel}"
    if (c.email if channel == "email" else c.phone) is None:
        return "no email address" if channel == "email" else "no phone number"
    if channel in ledger.bad_channels:
        return f"{channel} address known bad"
    if channel == "call" and c.vulnerable:
        return "no automated calls to a vulnerable customer"
    if channel == "call" and now is not None:
        allowed, earliest = call_allowed(
            ledger.call_attempts, ledger.last_conversation, now, pack_for(inp.jurisdiction)
        )
        if not allowed:
            return f"call limit reached until {earliest:%Y-%m-%d %H:%M} UTC"
    return None


def pick_channel(
    inp: JourneyInput,
    ledger: Ledger,
    index: int,
    now: datetime | None = None,
    *,
    letter: bool = False,
) -> tuple[Channel | None, list[str]]:
    """The first usable channel for step `index`, and why each channel before it was not.

    `letter`: when no electronic channel is left, a paper letter (journeys since
    `LETTER_PATCH`; the journey asks only when it would make a difference)."""
    preferred = inp.policy.steps[index].channel
    order = FALLBACK_ORDER[preferred]
    if letter and "letter" not in order:
        order = (*order, "letter")
    reasons: list[str] = []
    for channel in order:
        if channel in ledger.tried.get(index, set()):
            continue
        why = channel_unavailable(inp, ledger, channel, now)
        if why is None:
            return channel, reasons
        reasons.append(why)
    return None, reasons


LETTER_PATCH = "letter-fallback"
"""Journeys since this patch post a letter when no email or SMS reaches the customer (before:
an agent task). Asked only at that moment, so other histories carry no marker."""


def letter_would_help(inp: JourneyInput, ledger: Ledger, index: int) -> bool:
    """Whether the letter fallback could deliver step `index`: an address, not yet tried."""
    untried = "letter" not in ledger.tried.get(index, set())
    return untried and channel_unavailable(inp, ledger, "letter") is None


def unavailable_channels(inp: JourneyInput, ledger: Ledger) -> tuple[Channel, ...]:
    channels: tuple[Channel, ...] = ("email", "sms", "call")
    return tuple(c for c in channels if channel_unavailable(inp, ledger, c))


def first_open_channel(inp: JourneyInput, ledger: Ledger) -> Channel | None:
    for channel in WRITTEN_CHANNELS:
        if not channel_unavailable(inp, ledger, channel):
            return channel
    return None
