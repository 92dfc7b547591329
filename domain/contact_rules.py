"""The jurisdiction's rules for contacting a customer: how often a call may be placed,
which channels need consent, opt-out keywords and lines, and the last guard before handover."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Literal

from domain.jurisdiction import PACKS, JurisdictionPack
from domain.values import Channel, Locale


def call_allowed(
    previous_call_attempts: Sequence[datetime],
    last_conversation: datetime | None,
    now: datetime,
    pack: JurisdictionPack,
) -> tuple[bool, datetime | None]:
    """Whether a call attempt about this debt may be placed at `now`, and if not, the earliest
    instant it may (None when allowed).

    `previous_call_attempts` is every attempt already placed for this debt, answered or not
    (a conversation is an attempt too); `last_conversation` when someone last actually spoke
    with the customer. Attempts after `now` (clock skew) count as if in the window.
    """
    limit = pack.call_limit
    if limit is None:
        return True, None
    earliest = now
    if last_conversation is not None:
        earliest = max(earliest, last_conversation + limit.quiet)
    recent = sorted((a for a in previous_call_attempts if a > now - limit.window), reverse=True)
    if len(recent) >= limit.max_attempts:
        # The window must lose the max_attempts-th most recent attempt before a new one fits.
        earliest = max(earliest, recent[limit.max_attempts - 1] + limit.window)
    if earliest <= now:
        return True, None
    return False, earliest


# --- channels, opt-out -----------------------------------------------------------------------


def channel_refusal(channel: Channel, consent_given: bool, pack: JurisdictionPack) -> str | None:
    """Why the law forbids `channel` here, or None. The product's own consent rules may be
    stricter; this is only the jurisdiction's floor."""
    if channel in pack.consent_required and not consent_given:
        return f"{pack.code} allows {channel} only with the customer's consent"
    return None


KeywordKind = Literal["opt_out", "opt_in", "help"]
_NOISE = re.compile(r"[\s\-_.,;:!?'\"()]+")


def _normalise(text: str) -> str:
    return _NOISE.sub("", text).upper()


def _words(pack: JurisdictionPack | None, which: str) -> frozenset[str]:
    if pack is not None:
        words: frozenset[str] = getattr(pack, which)
        return words
    return frozenset().union(*(getattr(p, which) for p in PACKS.values()))


def classify_keyword(text: str, pack: JurisdictionPack | None = None) -> KeywordKind | None:
    """A reply that is exactly one keyword (case, spaces and punctuation ignored, so "Stop.",
    "opt out" and "STOP ALL" count), like carriers and Twilio treat them. Anything longer is
    a message for a person, not a keyword: see `mentions_opt_out`."""
    word = _normalise(text)
    if word in _words(pack, "opt_out_words"):
        return "opt_out"
    if word in _words(pack, "opt_in_words"):
        return "opt_in"
    if word in _words(pack, "help_words"):
        return "help"
    return None


def is_opt_out(text: str, pack: JurisdictionPack | None = None) -> bool:
    """Revokes consent for the channel at once. Without a pack, any pack's words count: a
    missed opt-out is unlawful, an extra one only costs a channel."""
    return classify_keyword(text, pack) == "opt_out"


def is_opt_in(text: str, pack: JurisdictionPack | None = None) -> bool:
    return classify_keyword(text, pack) == "opt_in"


def mentions_opt_out(text: str, pack: JurisdictionPack | None = None) -> bool:
    """An opt-out word inside a longer message ("please stop texting me"). The FCC treats such
    replies as a revocation by reasonable means, but "I'll pay at the end of the month" is not
    one: route these to an agent (or stop the channel, to be safe) instead of guessing."""
    words = _words(pack, "opt_out_words")
    tokens = [t.upper() for t in re.split(r"[\W_]+", text) if t]  # "opt_out" is two words
    joined = {a + b for a, b in zip(tokens, tokens[1:], strict=False)}  # "OPT OUT", "STOP ALL"
    return any(t in words for t in tokens) or bool(joined & words)


_OPT_OUT_LINES: Mapping[tuple[Channel, Locale], str] = {
    ("sms", "en"): "Reply STOP to stop text messages about this invoice.",
    ("sms", "sv"): "Svara STOPP för att inte få fler sms om den här fakturan.",
    ("email", "en"): "To stop emails about this invoice, reply STOP or use the link below.",
    (
        "email",
        "sv",
    ): "Vill du inte få fler mejl om fakturan? Svara STOPP eller använd länken nedan.",
}


def opt_out_line(channel: Channel, locale: Locale, pack: JurisdictionPack) -> str | None:
    """The line every email or SMS must carry where the pack requires one (None otherwise), so
    the customer always has a simple way out (Reg F § 1006.6(e), TCPA)."""
    if channel not in pack.opt_out_line_required:
        return None
    return _OPT_OUT_LINES.get((channel, locale))


def handover_refusal(
    *,
    disputed: bool,
    final_notice_at: datetime | None,
    now: datetime,
    waiting: timedelta,
) -> str | None:
    """The last guard before the claim leaves the company: why it must not go now, or None.

    The workflow's holds already keep disputed journeys from reaching handover; this repeats
    the check at the moment of the activity because a handover cannot be undone.
    """
    if disputed:
        return "the claim is disputed; a disputed claim does not go to collection"
    if final_notice_at is None:
        return "no final notice has been sent"
    if now < final_notice_at + waiting:
        return (
            f"the final notice's waiting time runs until {(final_notice_at + waiting).isoformat()}"
        )
    return None
