"""The law a journey runs under, as data (a policy pack per jurisdiction) plus pure rules.

Why a pack rather than constants sprinkled through the workflow: a company operating in one
country should be able to read, in one place, every limit the product enforces for it and the
statute each one comes from; and a policy that breaks one of them must be refused when the
configuration loads, not discovered on a customer's invoice.

Nothing here is legal advice. The values are the product's reading of the cited rules (SPEC
"Rules of the domain a serious product respects"); each message names its source so a person
can check it. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Literal, NamedTuple, get_args

from domain.models import Customer, Policy, Step
from domain.values import Channel, FeeKind, Locale

FEE_KINDS: tuple[FeeKind, ...] = get_args(FeeKind)

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


# --- policy validation (at configuration load) -----------------------------------------------


def step_fee_kind(step: Step) -> FeeKind:
    """What a step's fee is for (`Step.fee_kind`: a reminder fee unless the policy says it is
    a collection letter)."""
    return step.fee_kind


def _money(amount: Decimal, currency: str | None) -> str:
    return f"{amount:.2f} {currency}" if currency else f"{amount:.2f}"


def validate_policy(
    policy: Policy, pack: JurisdictionPack, segment: str | None = None
) -> list[str]:
    """Every way `policy` breaks `pack`, as `segments.<name>.<field>: problem (law)` lines.

    Empty when lawful. Called when the policy file loads so that an unlawful policy is refused
    before any journey runs on it; runtime checks (`lawful_fee`, `call_allowed`) stay as a
    second line of defence for what only a customer's data can decide.
    """
    where = f"segments.{segment or policy.segment}"
    problems: list[str] = []
    cur = pack.currency
    first_fee_step: dict[FeeKind, int] = {}
    for i, step in enumerate(policy.steps):
        at = f"{where}.steps[{i}]"
        if step.fee is None or step.fee <= 0:
            continue
        kind = step_fee_kind(step)
        rule = pack.fee_rule(kind)
        if rule is None:
            problems.append(f"{at}: {pack.code} allows no {kind.replace('_', ' ')} fee")
            continue
        if rule.cap is not None and step.fee > rule.cap:
            problems.append(
                f"{at}: {rule.label} {_money(step.fee, cur)} exceeds the {pack.code} cap of "
                f"{_money(rule.cap, cur)} ({rule.law})"
            )
        if rule.written_only and step.channel == "call":
            problems.append(
                f"{at}: a {rule.label} may only be charged for a written contact, not a call "
                f"({rule.law})"
            )
        if step.offset_days <= 0:
            problems.append(
                f"{at}: a {rule.label} on day {step.offset_days}, before the invoice is overdue; "
                f"a fee is only owed for contacts after the due date ({rule.law})"
            )
        if rule.once_per_invoice:
            if kind in first_fee_step:
                problems.append(
                    f"{at}: a second {rule.label} (steps[{first_fee_step[kind]}] already charges "
                    f"one); {pack.code} allows one per invoice ({rule.law})"
                )
            else:
                first_fee_step[kind] = i
        if kind == "collection_letter" and pack.collection_letter_min_days is not None:
            if i + 1 < len(policy.steps):
                gap: int | None = policy.steps[i + 1].offset_days - step.offset_days
            else:
                gap = policy.handover_after_days
            if gap is not None and gap < pack.collection_letter_min_days:
                problems.append(
                    f"{at}: an inkassokrav must give at least {pack.collection_letter_min_days} "
                    f"days to pay, but the journey moves on after {gap} "
                    f"({SE_COLLECTION_PRACTICE})"
                )
    plan_rule = pack.fee_rule("payment_plan")
    plan_fee = policy.plan_fee
    if plan_fee is not None and plan_fee > 0:
        if plan_rule is None:
            problems.append(f"{where}.plan_fee: {pack.code} allows no payment-plan fee")
        elif plan_rule.cap is not None and plan_fee > plan_rule.cap:
            problems.append(
                f"{where}.plan_fee: {plan_rule.label} {_money(plan_fee, cur)} exceeds the "
                f"{pack.code} cap of {_money(plan_rule.cap, cur)} ({plan_rule.law})"
            )
    if pack.contact_hours is not None:
        opens, closes = pack.contact_hours
        send = time(policy.send_hour)
        if not opens <= send < closes:
            problems.append(
                f"{where}.send_hour: {policy.send_hour:02d}:00 is outside the {pack.code} contact "
                f"hours {opens:%H:%M}-{closes:%H:%M} in the customer's local time "
                f"({US_HOURS_LAW})"
            )
    if pack.call_limit is not None:
        problems += _too_many_planned_calls(policy, pack.call_limit, where)
    return problems


def _too_many_planned_calls(policy: Policy, limit: CallLimit, where: str) -> list[str]:
    """A policy that plans more calls in a week than the law allows would be throttled anyway;
    refuse it so that what the company configured is what happens."""
    calls = [(i, s.offset_days) for i, s in enumerate(policy.steps) if s.channel == "call"]
    span = limit.period.days
    for n, (i, day) in enumerate(calls):
        within = [j for j, d in calls[: n + 1] if day - d < span]
        if len(within) > limit.max_attempts:
            return [
                f"{where}.steps[{i}]: {len(within)} call steps within {span} days exceed the "
                f"limit of {limit.max_attempts} call attempts in {span} days ({limit.law})"
            ]
    return []


# --- fees at run time ------------------------------------------------------------------------


class FeeDecision(NamedTuple):
    """The fee actually charged for one step, why, and under which kind to record it (add
    `kind` to the invoice's charged kinds when `amount > 0`)."""

    amount: Decimal
    reason: str
    kind: FeeKind | None


_ZERO = Decimal("0.00")


def lawful_fee(
    step_fee: Decimal | None,
    customer: Customer,
    fees_charged_so_far: Collection[str],
    pack: JurisdictionPack,
    *,
    kind: FeeKind = "reminder",
    currency: str | None = None,
    channel: Channel | None = None,
) -> FeeDecision:
    """The fee a step may actually charge this customer on this invoice.

    `step_fee` is what the policy asks for; `fees_charged_so_far` the kinds already charged on
    this invoice (e.g. `["reminder"]`); `currency` the invoice's, when known. Between
    businesses (where the pack has a flat compensation) a reminder or collection-letter fee
    becomes the compensation, charged once per invoice, statutory, so no prior agreement is
    needed; but only where the policy asked for a fee at all, since charging is the company's
    choice. Amounts above a cap are reduced to the cap, not refused: load-time validation
    already refuses such policies, and at run time charging less is always lawful.
    """
    if step_fee is None or step_fee <= 0:
        return FeeDecision(_ZERO, "no fee on this step", None)
    if customer.vulnerable and pack.no_fees_when_vulnerable:
        return FeeDecision(_ZERO, "no fees for a customer marked vulnerable", None)
    if pack.currency is not None and currency is not None and currency != pack.currency:
        return FeeDecision(
            _ZERO,
            f"{pack.code} fee limits are in {pack.currency}; no fee on a {currency} invoice",
            None,
        )
    charged = set(fees_charged_so_far)
    cur = pack.currency
    if (
        customer.is_business
        and pack.business_compensation is not None
        and kind in ("reminder", "collection_letter")
    ):
        if "late_compensation" in charged:
            return FeeDecision(
                _ZERO, f"late-payment compensation already charged ({SE_COMPENSATION_LAW})", None
            )
        if charged & {"reminder", "collection_letter"}:
            return FeeDecision(
                _ZERO,
                "reminder or collection fees already charged; no compensation on top "
                f"({SE_COMPENSATION_LAW})",
                None,
            )
        return FeeDecision(
            pack.business_compensation,
            f"flat {_money(pack.business_compensation, cur)} late-payment compensation "
            f"(förseningsersättning) between businesses, instead of reminder and collection "
            f"fees ({SE_COMPENSATION_LAW})",
            "late_compensation",
        )
    rule = pack.fee_rule(kind)
    if rule is None:
        return FeeDecision(_ZERO, f"{pack.code} allows no {kind.replace('_', ' ')} fee", None)
    if rule.needs_agreement and not customer.fee_agreed:
        return FeeDecision(
            _ZERO,
            f"no {rule.label}: not agreed no later than when the debt arose ({rule.law})",
            None,
        )
    if rule.written_only and channel == "call":
        return FeeDecision(_ZERO, f"no {rule.label} for a call ({rule.law})", None)
    if rule.once_per_invoice and kind in charged:
        return FeeDecision(
            _ZERO, f"a {rule.label} was already charged on this invoice ({rule.law})", None
        )
    if rule.cap is not None and step_fee > rule.cap:
        return FeeDecision(
            rule.cap, f"{rule.label} capped at {_money(rule.cap, cur)} ({rule.law})", kind
        )
    return FeeDecision(step_fee, f"{rule.label} {_money(step_fee, cur)}", kind)


# --- calls -----------------------------------------------------------------------------------


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
    tokens = [t.upper() for t in re.split(r"[^\wåäöÅÄÖ]+", text) if t]
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


def collection_letter_pay_by(sent_on: date, pack: JurisdictionPack) -> date | None:
    """The earliest pay-by date an inkassokrav sent on `sent_on` may state (None: no rule)."""
    if pack.collection_letter_min_days is None:
        return None
    return sent_on + timedelta(days=pack.collection_letter_min_days)


# --- handover --------------------------------------------------------------------------------


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
