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
}
"""Where a step goes when its own channel cannot be used: never from a message up to a call."""
WRITTEN_CHANNELS: tuple[Channel, ...] = ("email", "sms")
"""A thank-you or an installment reminder goes on the first of these the customer accepts."""


def channel_unavailable(
    inp: JourneyInput, ledger: Ledger, channel: Channel, now: datetime | None = None
) -> str | None:
    """Why `channel` cannot reach this customer now, or None if it can."""
    c = customer(inp, ledger)
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
    inp: JourneyInput, ledger: Ledger, index: int, now: datetime | None = None
) -> tuple[Channel | None, list[str]]:
    """The first usable channel for step `index`, and why each channel before it was not."""
    preferred = inp.policy.steps[index].channel
    reasons: list[str] = []
    for channel in FALLBACK_ORDER[preferred]:
        if channel in ledger.tried.get(index, set()):
            continue
        why = channel_unavailable(inp, ledger, channel, now)
        if why is None:
            return channel, reasons
        reasons.append(why)
    return None, reasons


def unavailable_channels(inp: JourneyInput, ledger: Ledger) -> tuple[Channel, ...]:
    channels: tuple[Channel, ...] = ("email", "sms", "call")
    return tuple(c for c in channels if channel_unavailable(inp, ledger, c))


def first_open_channel(inp: JourneyInput, ledger: Ledger) -> Channel | None:
    for channel in WRITTEN_CHANNELS:
        if not channel_unavailable(inp, ledger, channel):
            return channel
    return None
