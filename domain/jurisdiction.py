"""The law a journey runs under, as data: a policy pack per jurisdiction.

The rules that read a pack live beside it: `domain.fees` (every fee at run time),
`domain.policy_check` (a policy against its pack, at load), `domain.contact_rules` (calls,
consent, opt-out, handover) and `domain.windows` (the hours of the day).

Why a pack rather than constants sprinkled through the workflow: a company operating in one
country should be able to read, in one place, every limit the product enforces for it and the
statute each one comes from; and a policy that breaks one of them must be refused when the
configuration loads, not discovered on a customer's invoice.

Nothing here is legal advice. The values are the product's reading of the cited rules (SPEC
"Rules of the domain a serious product respects"); each message names its source so a person
can check it. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time, timedelta
from decimal import Decimal

from domain.values import Channel, FeeKind

SE_FEES_LAW = "Lag 1981:739"
SE_COMPENSATION_LAW = "Lag 1981:739 4 a §"
SE_COLLECTION_PRACTICE = "god inkassosed, Inkassolagen 1974:182"
US_HOURS_LAW = "Reg F § 1006.6(b)(1)"
US_CALLS_LAW = "Reg F § 1006.14(b)(2)"
US_FEES_LAW = "FDCPA § 808(1)"

US_TIME_ZONES: tuple[str, ...] = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
)
"""Where a US consumer of unknown zone might be: every UTC offset of the 50 states (Eastern,
Central, Mountain with and without DST, Pacific, Alaska, Hawaii). The states' other zones
(America/Detroit, America/Boise, America/Adak, ...) share one of these offsets or have a
08:00-21:00 window that these already contain. Territories (America/Puerto_Rico, Pacific/Guam,
Pacific/Pago_Pago, ...) are not included: use `US_TIME_ZONES_WITH_TERRITORIES` where such
customers exist; it narrows the common window to about 18:00-21:00 Eastern."""

US_TIME_ZONES_WITH_TERRITORIES: tuple[str, ...] = (
    *US_TIME_ZONES,
    "America/Puerto_Rico",
    "Pacific/Guam",
    "Pacific/Pago_Pago",
)


@dataclass(frozen=True)
class FeeRule:
    """When and how much of one kind of fee may be charged."""

    kind: FeeKind
    label: str
    cap: Decimal | None
    """Highest amount, in the pack's currency; None: no statutory cap."""
    needs_agreement: bool
    """Only where the customer agreed to it no later than when the debt arose."""
    once_per_invoice: bool
    written_only: bool
    """Only for a written contact (a call is not a "skriftlig betalningspåminnelse")."""
    law: str


@dataclass(frozen=True)
class CallLimit:
    """Call-frequency limits per debt.

    Counted on rolling windows of `period + margin` rather than calendar days: the law counts
    "seven consecutive days" in the consumer's calendar, and a rolling window a little longer
    than seven days contains every such calendar week in every zone, including the 25-hour
    day when DST ends, without needing the consumer's zone here.
    """

    max_attempts: int = 7
    period: timedelta = timedelta(days=7)
    quiet_after_conversation: timedelta = timedelta(days=7)
    margin: timedelta = timedelta(hours=1)
    law: str = US_CALLS_LAW

    @property
    def window(self) -> timedelta:
        return self.period + self.margin

    @property
    def quiet(self) -> timedelta:
        return self.quiet_after_conversation + self.margin


@dataclass(frozen=True)
class JurisdictionPack:
    code: str
    name: str
    home_zone: str
    """Where the company is assumed to be when it has set no opening hours: the zone a
    customer of unknown zone is planned in (with `unknown_tz_zones` still checked)."""
    currency: str | None
    """The currency fee caps are stated in; fees on invoices in another currency are refused
    rather than converted, since the product cannot know which rate a court would accept."""
    fee_rules: tuple[FeeRule, ...]
    business_compensation: Decimal | None = None
    """Flat late-payment compensation between businesses, instead of reminder and collection
    fees; None where the jurisdiction has none."""
    no_fees_when_vulnerable: bool = True
    """Company rule in every pack: a customer marked vulnerable is never charged fees."""
    collection_letter_min_days: int | None = None
    """Days to pay an inkassokrav must give at least."""
    contact_hours: tuple[time, time] | None = None
    """Customer-local time-of-day window for any contact, half-open."""
    unknown_tz_zones: tuple[str, ...] = ()
    """Where a customer of unknown zone might be (every one must be inside `contact_hours`)."""
    call_limit: CallLimit | None = None
    consent_required: frozenset[Channel] = frozenset()
    """Channels the law allows only with the customer's consent."""
    opt_out_words: frozenset[str] = frozenset()
    opt_in_words: frozenset[str] = frozenset()
    help_words: frozenset[str] = frozenset()
    opt_out_line_required: frozenset[Channel] = frozenset()
    """Channels whose every message must tell the customer how to opt out."""

    def fee_rule(self, kind: FeeKind) -> FeeRule | None:
        return next((r for r in self.fee_rules if r.kind == kind), None)


# --- the packs -------------------------------------------------------------------------------

_TWILIO_OPT_OUT = frozenset(
    {"STOP", "QUIT", "CANCEL", "UNSUBSCRIBE", "END", "STOPALL", "REVOKE", "OPTOUT"}
)
"""Twilio's default opt-out keywords (CTIA's list plus REVOKE and OPTOUT, after the FCC's
2025 revocation rule); "OPT OUT", "opt-out" and "stop all" normalise to these."""
_TWILIO_OPT_IN = frozenset({"START", "UNSTOP", "YES"})
_HELP = frozenset({"HELP", "INFO"})

SE = JurisdictionPack(
    code="SE",
    name="Sweden",
    home_zone="Europe/Stockholm",
    currency="SEK",
    fee_rules=(
        FeeRule(
            kind="reminder",
            label="reminder fee",  # påminnelseavgift
            cap=Decimal("60.00"),
            needs_agreement=True,  # 2 §: agreed no later than when the debt arose
            once_per_invoice=True,
            written_only=True,  # 2 §: "skriftlig betalningspåminnelse"
            law=SE_FEES_LAW,
        ),
        FeeRule(
            kind="collection_letter",
            label="collection letter fee",  # inkassokrav
            cap=Decimal("180.00"),
            needs_agreement=False,  # 3 § 1: statutory, for a letter per 5 § inkassolagen
            once_per_invoice=True,
            written_only=True,
            law=SE_FEES_LAW,
        ),
        FeeRule(
            kind="payment_plan",
            label="payment-plan fee",  # amorteringsplan
            cap=Decimal("170.00"),
            needs_agreement=False,  # 3 § 2: statutory, for a written plan made with the debtor
            once_per_invoice=True,
            written_only=True,
            law=SE_FEES_LAW,
        ),
    ),
    business_compensation=Decimal("450.00"),
    collection_letter_min_days=8,
    opt_out_words=_TWILIO_OPT_OUT | {"STOPP", "AVSLUTA"},
    opt_in_words=_TWILIO_OPT_IN | {"JA"},
    help_words=_HELP | {"HJÄLP"},
)
"""Sweden, the default. Caps from Lag (1981:739) om ersättning för inkassokostnader 4 §;
förseningsersättning from its 4 a § (added by SFS 2013:56); eight days to pay an inkassokrav is
the supervisory authority's reading of god inkassosed."""

US = JurisdictionPack(
    code="US",
    name="United States (federal: FDCPA / Regulation F, TCPA)",
    home_zone="America/New_York",
    currency="USD",
    fee_rules=(
        FeeRule(
            kind="reminder",
            label="late fee",
            cap=None,
            needs_agreement=True,  # FDCPA § 808(1): only if the agreement or law allows it
            once_per_invoice=True,  # product choice, not a federal rule
            written_only=False,
            law=US_FEES_LAW,
        ),
        FeeRule(
            kind="payment_plan",
            label="payment-plan fee",
            cap=None,
            needs_agreement=True,
            once_per_invoice=True,
            written_only=False,
            law=US_FEES_LAW,
        ),
    ),
    contact_hours=(time(8, 0), time(21, 0)),
    unknown_tz_zones=US_TIME_ZONES,
    call_limit=CallLimit(),
    consent_required=frozenset({"sms", "call"}),
    opt_out_words=_TWILIO_OPT_OUT,
    opt_in_words=_TWILIO_OPT_IN,
    help_words=_HELP,
    opt_out_line_required=frozenset({"email", "sms"}),
)
"""Federal rules only; stricter state rules (e.g. hours or call caps) need their own pack."""

PACKS: Mapping[str, JurisdictionPack] = {"SE": SE, "US": US}


class UnknownJurisdictionError(ValueError):
    pass


def pack_for(code: str) -> JurisdictionPack:
    """The pack for a policy file's `jurisdiction`; unknown codes are refused, never defaulted,
    because running Swedish rules on US customers (or the reverse) would be silently unlawful."""
    try:
        return PACKS[code]
    except KeyError:
        known = ", ".join(sorted(PACKS))
        raise UnknownJurisdictionError(
            f"jurisdiction '{code}' has no policy pack (known: {known})"
        ) from None
