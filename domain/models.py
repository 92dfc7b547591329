"""The product's data: invoices, customers, policies, and the messages a journey exchanges.

Everything that crosses a boundary (HTTP, Temporal payloads, the store) is one of these
pydantic models, so validation and its error messages live in exactly one place. The module
is pure (no I/O): journeys decode their input and messages with it in the worker.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from babel.numbers import list_currencies
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

_AMOUNT_RE = re.compile(r"^-?\d{1,15}(\.\d{1,2})?$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")
_CURRENCIES = frozenset(list_currencies())


def _parse_amount(value: object) -> Decimal:
    """Amounts travel as decimal strings in the currency's major unit (SPEC)."""
    if isinstance(value, Decimal):
        return value
    if not isinstance(value, str) or not _AMOUNT_RE.match(value):
        raise ValueError('must be a decimal string with at most two decimals, like "1250.00"')
    return Decimal(value)


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value


_AS_STRING = PlainSerializer(lambda v: f"{v:.2f}", return_type=str)
Money = Annotated[
    Decimal, BeforeValidator(_parse_amount), AfterValidator(_non_negative), _AS_STRING
]
"""A non-negative amount; in JSON always a decimal string, never a float."""
PositiveMoney = Annotated[
    Decimal, BeforeValidator(_parse_amount), AfterValidator(_positive), _AS_STRING
]


def _currency(value: str) -> str:
    if value not in _CURRENCIES:
        raise ValueError(f"'{value}' is not an ISO 4217 currency code")
    return value


Currency = Annotated[str, AfterValidator(_currency)]


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{value}' is not an IANA time zone such as 'Europe/Stockholm'") from None
    return value


TimeZoneName = Annotated[str, AfterValidator(_timezone)]
UtcDatetime = Annotated[datetime, PlainSerializer(lambda v: v.isoformat(), return_type=str)]

Channel = Literal["email", "sms", "call"]
CHANNELS: tuple[Channel, ...] = ("email", "sms", "call")
Locale = Literal["sv", "en"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Consent(_Model):
    email: bool = True
    sms: bool = False
    call: bool = False


class Customer(_Model):
    """The customer snapshot a journey is started with."""

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    email: str | None = None
    phone: str | None = None
    locale: Locale = "sv"
    timezone: TimeZoneName = "Europe/Stockholm"
    customer_since: date | None = None
    consent: Consent = Consent()
    fee_agreed: bool = False
    is_business: bool = False
    vulnerable: bool = False

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL_RE.match(value):
            raise ValueError("is not an email address")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        # Only the E.164 shape here: the full check loads phonenumbers' region metadata
        # lazily, which a workflow must not do while decoding its input (it failed inside
        # the SDK's sandbox, and it is I/O). Ingest checks the number for real with
        # `valid_phone` before a journey ever starts.
        if value is not None and not _E164_RE.match(value):
            raise ValueError("must be an E.164 phone number like +46701234567")
        return value


def valid_phone(value: str) -> str:
    """The full check (a number that exists in its numbering plan), for the ingest boundary."""
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise ValueError("must be an E.164 phone number like +46701234567") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class Invoice(_Model):
    id: str = Field(min_length=1)
    number: str = Field(min_length=1)
    customer_id: str = Field(min_length=1)
    currency: Currency
    amount_due: PositiveMoney
    issued_at: date
    due_date: date
    ocr: str | None = None
    payment_url: str | None = None

    @model_validator(mode="after")
    def _dates(self) -> Invoice:
        if self.due_date < self.issued_at:
            raise ValueError("due_date must not be before issued_at")
        return self


# --- policy ----------------------------------------------------------------------------------


class Step(_Model):
    """One scheduled contact, relative to the invoice's due date."""

    offset_days: int = Field(ge=-30, le=365)
    channel: Channel
    template: str = Field(min_length=1, pattern=r"^[a-z0-9_]+$")
    fee: Money | None = None
    final_notice: bool = False


class Policy(_Model):
    """The steps of a journey for one segment, plus when handover may follow."""

    segment: str
    steps: tuple[Step, ...] = Field(min_length=1)
    handover_after_days: int | None = Field(default=None, ge=1, le=365)
    """Days after the final notice before handover; None means never hand over automatically."""
    send_hour: int = Field(default=10, ge=0, le=23)
    """Local hour of the customer's day at which a step's contact is planned."""
    resume_grace_days: int = Field(default=1, ge=0, le=30)
    """After a pause ends, how long before the next overdue step may go out."""
    plan_fee: Money | None = None
    """Charged once when an agent approves a payment plan (where fees are agreed)."""
    installment_reminder_days: int = Field(default=3, ge=0, le=14)
    installment_grace_days: int = Field(default=3, ge=0, le=14)
    """How late an installment may be before the plan counts as broken."""
    plan_max_months: int = Field(default=6, ge=0, le=60)
    """A payment plan the customer asks for over at most this many monthly installments is
    approved at once (customer page); a longer one waits for an agent. 0: always an agent."""

    @model_validator(mode="after")
    def _order(self) -> Policy:
        offsets = [s.offset_days for s in self.steps]
        if offsets != sorted(offsets):
            raise ValueError("steps must be ordered by offset_days")
        finals = [i for i, s in enumerate(self.steps) if s.final_notice]
        if finals and finals != [len(self.steps) - 1]:
            raise ValueError("only the last step may be the final notice")
        if self.handover_after_days is not None and not finals:
            raise ValueError("handover_after_days needs a final_notice step")
        return self


class JourneyClock(_Model):
    """How journey days map to real time.

    Production uses real days (`seconds_per_day=86400`, no origin). The demo compresses a day
    to seconds: day N after `origin_date` happens `N * seconds_per_day` after `origin`.
    """

    seconds_per_day: int = Field(default=86400, ge=1, le=86400)
    origin: UtcDatetime | None = None
    origin_date: date | None = None

    @property
    def compressed(self) -> bool:
        return self.origin is not None


_T = TypeVar("_T")
_SHARED: dict[tuple[type, str], Any] = {}
_SHARED_MAX = 1024


def _shared(value: _T) -> _T:
    """The one equal copy of a piece of configuration seen before, or this one.

    Thousands of journeys sit in a worker's cache, each with the same policy, opening hours,
    holidays and reference rates decoded from its input. They are frozen values, so every
    journey can hold the same object (15 kB less per cached journey, measured with bench/).
    The table is bounded; clearing it only costs some sharing.
    """
    key: tuple[type, str]
    if isinstance(value, BaseModel):
        key = (type(value), value.model_dump_json())
    elif isinstance(value, dict):
        key = (dict, repr(sorted(value.items())))
    else:
        key = (type(value), repr(value))
    found = _SHARED.get(key)
    if found is not None:
        return found  # type: ignore[no-any-return]
    if len(_SHARED) >= _SHARED_MAX:
        _SHARED.clear()
    _SHARED[key] = value
    return value


class JourneyInput(_Model):
    """Everything a journey needs, fixed at start: it never reads the store itself."""

    invoice: Invoice
    customer: Customer
    segment: str
    segment_reason: str = ""
    policy: Policy
    clock: JourneyClock = JourneyClock()
    holidays: tuple[date, ...] = ()
    """Public holidays in the journey's horizon, computed by the starter (replay-stable)."""
    handover_requires_approval: bool = False
    """Loyal and high-value customers: handover waits for an agent instead of happening."""
    jurisdiction: str = "SE"
    """The policy pack whose rules apply (domain.jurisdiction)."""
    opening_hours: OpeningHours | None = None
    """Customer service's hours: contacts wait for them. None: contact at the planned time."""
    service_phone: str | None = None
    """Customer service's number, printed in every message."""
    reference_rates: dict[date, Decimal] = {}
    """The central bank's reference rate per half-year (percent), for late-payment interest;
    empty: no interest is shown. Configuration, fixed at start so replays never change."""
    carried: dict[str, Any] | None = None
    """The ledger of the previous run when the journey continued as new (see planning)."""
    history_limit: int = Field(default=10_000, ge=100)
    """Continue as new past this many history events (or when Temporal suggests it)."""
    local_channels: tuple[Channel, ...] = ()
    """Channels delivered by a local activity (no provider rate to keep: the outbox); the
    others go through their rate-limited task queue. Journeys started without it (all of
    them before it existed) use the task queues."""

    @field_validator("policy", "clock", "holidays", "opening_hours", "reference_rates")
    @classmethod
    def _share_configuration(cls, value: Any) -> Any:
        return _shared(value)


def workflow_id_for(invoice_id: str) -> str:
    return f"invoice-{invoice_id}"


# --- messages into a journey -----------------------------------------------------------------


class PaymentReceived(_Model):
    event_id: str
    amount: PositiveMoney
    paid_at: date


class PaymentReversed(_Model):
    """A payment came back (chargeback, bounced direct debit): the amount is owed again."""

    event_id: str
    amount: PositiveMoney
    reversed_at: date


class InvoiceCredited(_Model):
    event_id: str
    amount: PositiveMoney


class InvoiceVoided(_Model):
    event_id: str


class CustomerResponse(_Model):
    """Something the customer told us, on any channel."""

    kind: Literal["promise", "dispute", "plan_request", "contact_request"]
    channel: Literal["web", "email", "sms", "call", "agent"] = "web"
    promise_date: date | None = None
    message: str | None = Field(default=None, max_length=2000)
    plan_months: int | None = Field(default=None, ge=2, le=60)
    """A plan_request over this many monthly installments (the customer page asks for it);
    within the policy's `plan_max_months` it is approved at once, beyond it an agent decides."""
    call_at: UtcDatetime | None = None
    """A contact_request for a call at this instant (customer page): an agent task with it."""

    @model_validator(mode="after")
    def _promise(self) -> CustomerResponse:
        if self.kind == "promise" and self.promise_date is None:
            raise ValueError("a promise needs promise_date")
        if self.plan_months is not None and self.kind != "plan_request":
            raise ValueError("plan_months belongs to a plan_request")
        if self.call_at is not None and self.kind != "contact_request":
            raise ValueError("call_at belongs to a contact_request")
        if self.call_at is not None and self.call_at.utcoffset() is None:
            raise ValueError("call_at must carry a time zone")
        return self


class _Action(_Model):
    agent: str = Field(min_length=1, max_length=100)
    note: str | None = Field(default=None, max_length=2000)


class PauseAction(_Action):
    action: Literal["pause"] = "pause"
    until: date | None = None


class ResumeAction(_Action):
    action: Literal["resume"] = "resume"


class ExtendAction(_Action):
    action: Literal["extend"] = "extend"
    due_date: date


class SetPromiseAction(_Action):
    action: Literal["set-promise"] = "set-promise"
    promise_date: date


class ResolveDisputeAction(_Action):
    action: Literal["resolve-dispute"] = "resolve-dispute"
    outcome: Literal["resume", "cancel"] = "resume"
    """`resume`: the claim stands and the journey goes on; `cancel`: the customer was right."""


class ApprovePlanAction(_Action):
    action: Literal["approve-plan"] = "approve-plan"
    installments: int = Field(default=3, ge=2, le=36)
    interval_days: int = Field(default=30, ge=7, le=92)
    first_due: date | None = None
    """Defaults to one interval from today."""


class RejectPlanAction(_Action):
    action: Literal["reject-plan"] = "reject-plan"


class CancelAction(_Action):
    action: Literal["cancel"] = "cancel"


class WaiveFeeAction(_Action):
    action: Literal["waive-fee"] = "waive-fee"


class ApproveHandoverAction(_Action):
    action: Literal["approve-handover"] = "approve-handover"


class BlockHandoverAction(_Action):
    action: Literal["block-handover"] = "block-handover"


class MarkVulnerableAction(_Action):
    """Customer service learned the customer is in a vulnerable situation (illness,
    bereavement, debt counselling): from now on no automated calls and no fees."""

    action: Literal["mark-vulnerable"] = "mark-vulnerable"


class AddNoteAction(_Action):
    action: Literal["add-note"] = "add-note"
    note: str = Field(min_length=1, max_length=2000)


AgentAction = Annotated[
    PauseAction
    | ResumeAction
    | ExtendAction
    | SetPromiseAction
    | ResolveDisputeAction
    | ApprovePlanAction
    | RejectPlanAction
    | CancelAction
    | WaiveFeeAction
    | ApproveHandoverAction
    | BlockHandoverAction
    | MarkVulnerableAction
    | AddNoteAction,
    Field(discriminator="action"),
]
AGENT_ACTIONS: tuple[str, ...] = (
    "pause",
    "resume",
    "extend",
    "set-promise",
    "resolve-dispute",
    "approve-plan",
    "reject-plan",
    "cancel",
    "waive-fee",
    "approve-handover",
    "block-handover",
    "mark-vulnerable",
    "add-note",
)


class AgentRequest(_Model):
    """Wrapper so the action travels as one self-describing payload."""

    action: AgentAction


class ConsentChange(_Model):
    """The customer gave or withdrew consent for a channel (STOP/START, the customer page)."""

    event_id: str
    channel: Channel
    granted: bool
    source: str = Field(min_length=1, max_length=100)


class DeliveryFailure(_Model):
    """A provider told us later that a contact did not arrive (bounce, undelivered SMS).

    `permanent` marks the address as known bad, so later steps skip that channel too."""

    event_id: str
    step_key: str
    channel: Channel
    reason: str = Field(max_length=500)
    permanent: bool = True


class ConversationHeld(_Model):
    """The customer spoke with customer service (an answered transfer from a reminder call).
    Under the US pack no call may follow within 7 days (Reg F § 1006.14(b)(2))."""

    event_id: str
    at: UtcDatetime
    source: str = Field(min_length=1, max_length=100)


class AgentTask(_Model):
    """Something a person must look at (an emailed reply, a missed IVR transfer)."""

    event_id: str
    source: str = Field(min_length=1, max_length=100)
    summary: str = Field(min_length=1, max_length=2000)


# --- what a journey reports ------------------------------------------------------------------

Phase = Literal[
    "scheduled",  # waiting for the next step
    "paused",  # an agent paused it
    "promised",  # the customer promised to pay by a date
    "disputed",  # the customer disputes the claim; nothing happens until an agent resolves it
    "plan_requested",  # the customer asked for a payment plan; waiting for an agent
    "plan_active",  # an agent approved a payment plan; no reminders while it runs
    "awaiting_handover",  # final notice sent; waiting out its period
    "awaiting_handover_approval",  # handover is due but this customer's needs an agent's yes
    "handover_blocked",  # an agent said no to handover; only a person moves it on
    "awaiting_agent",  # nothing automatic left to do
    "paid",
    "credited",
    "voided",
    "cancelled",
    "handed_over",
]
CLOSED_PHASES: frozenset[str] = frozenset(
    {"paid", "credited", "voided", "cancelled", "handed_over"}
)


class HistoryEntry(_Model):
    at: UtcDatetime
    kind: str
    """step, payment, credit, void, response, action, handover, thank_you."""
    detail: str
    step_index: int | None = None
    channel: Channel | None = None
    outcome: str | None = None
    actor: str | None = None


class NextStep(_Model):
    index: int
    channel: Channel
    template: str
    at: UtcDatetime
    final_notice: bool = False


class JourneyState(_Model):
    invoice_id: str
    workflow_id: str
    phase: Phase
    segment: str
    currency: str
    amount_due: Money
    paid: Money
    credited: Money
    fees: Money
    balance: Money
    """What the customer still owes: amount due plus fees, less payments and credits."""
    interest: Money = Decimal("0")
    """Late-payment interest accrued on the unpaid amount since the due date."""
    due_date: date
    next_step: NextStep | None
    handover_at: UtcDatetime | None = None
    paused_until: date | None = None
    promise_date: date | None = None
    handover_approval: Literal["required", "approved", "blocked"] | None = None
    open_tasks: tuple[str, ...] = ()
    """Agent tasks not yet handled, newest last."""
    channels_unavailable: tuple[Channel, ...] = ()
    history: tuple[HistoryEntry, ...] = ()


# --- activity payloads -----------------------------------------------------------------------


class DeliveryRequest(_Model):
    """One contact to deliver. `step_key` is unique per invoice: the idempotency key."""

    invoice_id: str
    workflow_id: str
    step_key: str
    channel: Channel
    template: str
    locale: Locale
    customer_id: str
    customer_name: str
    to: str
    invoice_number: str
    currency: str
    amount_due: Money
    balance: Money
    fees: Money
    fee_this_step: Money = Decimal("0")
    due_date: date
    ocr: str | None = None
    payment_url: str | None = None
    final_notice: bool = False
    service_phone: str | None = None
    service_hours: OpeningHours | None = None
    interest: Money = Decimal("0")
    """Late-payment interest accrued so far, shown beside the balance (not part of it)."""
    jurisdiction: str = "SE"
    """Whose rules the message follows (e.g. the US pack's opt-out line)."""


class DeliveryResult(_Model):
    status: Literal["sent", "already_sent", "uncertain"]
    provider: Literal["sendgrid", "twilio", "outbox"]
    provider_id: str | None = None


class HandoverRequest(_Model):
    invoice_id: str
    workflow_id: str
    customer_id: str
    currency: str
    amount_due: Money
    balance: Money
    fees: Money
    history: tuple[HistoryEntry, ...]


class HandoverResult(_Model):
    reference: str
    delivered_to: str


class JourneyOutcome(_Model):
    """Recorded in the store when a journey closes, for reporting."""

    invoice_id: str
    workflow_id: str
    phase: Phase
    balance: Money
    fees: Money
    steps_sent: int
    resolved_at_step: int | None
    closed_at: UtcDatetime


# --- contact windows (appended for domain/windows.py; owned by the domain-rules work) ------

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""In `date.weekday()` order, so `WEEKDAYS[day.weekday()]` names a date's weekday."""
_HHMM_RE = re.compile(r"^(\d{2}):(\d{2})$")


def _clock_minutes(text: str) -> int:
    match = _HHMM_RE.match(text.strip())
    if match is None:
        raise ValueError(f"'{text}' is not a time like 08:00")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ValueError(f"'{text}' is not a time between 00:00 and 24:00")
    return hours * 60 + minutes


class OpeningInterval(_Model):
    """One stretch of opening within a local day, written "08:00-20:00".

    Kept as minutes after local midnight rather than `time` because a day may run until 24:00,
    which `time` cannot express; an interval never crosses midnight (split it over two days),
    so each one belongs to exactly one date, which is what holidays and exceptions key on.
    """

    start: int = Field(ge=0, le=1439)
    end: int = Field(ge=1, le=1440)

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, data: object) -> object:
        if isinstance(data, str):
            opens, sep, closes = data.partition("-")
            if not sep:
                raise ValueError(f"'{data}' is not an interval like 08:00-20:00")
            return {"start": _clock_minutes(opens), "end": _clock_minutes(closes)}
        return data

    @model_validator(mode="after")
    def _ordered(self) -> OpeningInterval:
        if self.end <= self.start:
            raise ValueError(
                f"{self} closes before it opens; split an interval that crosses midnight"
            )
        return self

    def __str__(self) -> str:
        return (
            f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"
        )


def _sorted_intervals(
    intervals: tuple[OpeningInterval, ...], label: object
) -> tuple[OpeningInterval, ...]:
    ordered = tuple(sorted(intervals, key=lambda iv: iv.start))
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after.start < before.end:
            raise ValueError(f"{label}: intervals {before} and {after} overlap")
    return ordered


DayHours = Annotated[
    tuple[OpeningInterval, ...],
    PlainSerializer(lambda v: [str(iv) for iv in v], return_type=list[str]),
]
"""A day's intervals; in TOML and JSON a list of "HH:MM-HH:MM" strings (empty: closed)."""


def _weekdays_8_to_20() -> dict[Weekday, tuple[OpeningInterval, ...]]:
    return {day: (OpeningInterval(start=8 * 60, end=20 * 60),) for day in WEEKDAYS[:5]}


class OpeningHours(_Model):
    """When customer service answers, in its own time zone.

    Contacts follow these hours so that a customer who reacts reaches a person (SPEC "Contact
    only when someone can answer"). A weekday missing from `weekly` is closed. An entry in
    `exceptions` replaces that date's weekly hours; an empty list closes the date. Public
    holidays are not listed here: they arrive as data with the journey and always close.
    """

    timezone: TimeZoneName = "Europe/Stockholm"
    weekly: dict[Weekday, DayHours] = Field(default_factory=_weekdays_8_to_20)
    """Default Monday to Friday 08:00-20:00: a placeholder until the company sets its own."""
    exceptions: dict[date, DayHours] = Field(default_factory=dict)

    @field_validator("weekly")
    @classmethod
    def _weekly(
        cls, value: dict[Weekday, tuple[OpeningInterval, ...]]
    ) -> dict[Weekday, tuple[OpeningInterval, ...]]:
        return {day: _sorted_intervals(ivs, day) for day, ivs in value.items()}

    @field_validator("exceptions")
    @classmethod
    def _exceptions(
        cls, value: dict[date, tuple[OpeningInterval, ...]]
    ) -> dict[date, tuple[OpeningInterval, ...]]:
        return {day: _sorted_intervals(ivs, day) for day, ivs in value.items()}

    def intervals_on(self, day: date) -> tuple[OpeningInterval, ...]:
        """The date's hours before holidays are considered (those are the caller's data)."""
        if day in self.exceptions:
            return self.exceptions[day]
        return self.weekly.get(WEEKDAYS[day.weekday()], ())

    @property
    def ever_open(self) -> bool:
        return any(self.weekly.values()) or any(self.exceptions.values())


# JourneyInput and DeliveryRequest name OpeningHours before it is defined. Build them now:
# a model left incomplete is built again by every pydantic converter that meets it, and the
# worker has one converter per cached journey (about 48 kB each, measured with bench/).
JourneyInput.model_rebuild()
DeliveryRequest.model_rebuild()
