"""The product's data: invoices, customers, policies and a journey's input.

Everything that crosses a boundary (HTTP, Temporal payloads, the store) is a pydantic model,
so validation and its error messages live in exactly one place: the value types in
`domain.values`, opening hours in `domain.opening_hours`, what flows into a journey in
`domain.messages`, what it reports in `domain.state` and asks of activities in
`domain.payloads`. Pure (no I/O): journeys decode their input with it in the worker.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any, Self, TypeVar, cast

import phonenumbers
from pydantic import (
    BaseModel,
    Field,
    ModelWrapValidatorHandler,
    field_validator,
    model_validator,
)

from domain.opening_hours import OpeningHours
from domain.state import JourneyState as JourneyState  # noqa: F401
from domain.tenants import DEFAULT_TENANT, TenantId
from domain.tenants import workflow_id_for as workflow_id_for  # noqa: F401  (its old home)

# JourneyState lives in domain.state; tests/workflows/test_replay.py, which never changes so
# that it proves old histories replay, imports it from here.
from domain.values import (
    Channel,
    Currency,
    Locale,
    Model,
    Money,
    PositiveMoney,
    StepFeeKind,
    TimeZoneName,
    UtcDatetime,
)

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")


_FIELD_SETS: dict[frozenset[str], set[str]] = {}


def shared_fields_set(names: set[str]) -> set[str]:
    """The one set of these field names that instances share (see `Compact`)."""
    return _FIELD_SETS.setdefault(frozenset(names), set(names))


class Compact(Model):
    """A model a worker holds once per cached journey (its input, invoice and customer).

    Pydantic gives every instance its own set of the field names it was given, 728 bytes for
    a dozen fields; instances with the same names share one here. Safe because the models
    are frozen: nothing changes the set in place (`model_copy` copies it first)."""

    @model_validator(mode="after")
    def _share_fields_set(self) -> Self:
        object.__setattr__(
            self, "__pydantic_fields_set__", shared_fields_set(self.__pydantic_fields_set__)
        )
        return self


class Consent(Compact):
    email: bool = True
    sms: bool = False
    call: bool = False


class Customer(Compact):
    """The customer snapshot a journey is started with."""

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    email: str | None = None
    phone: str | None = None
    locale: Locale = "sv"
    timezone: TimeZoneName | None = None
    """The customer's IANA zone; None when unknown (a Stripe customer in a country with
    several zones). Never guessed: an unknown zone is contacted only at times that suit every
    zone the jurisdiction says they could be in (`domain.jurisdiction`), and planned in the
    company's own zone."""
    customer_since: date | None = None
    consent: Consent = Consent()
    postal_address: tuple[str, ...] = Field(default=(), max_length=6)
    """The lines of the customer's postal address (street, postcode and town, country), for
    a paper reminder; empty: no letter can reach them."""
    fee_agreed: bool = False
    is_business: bool = False
    vulnerable: bool = False

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL_RE.match(value):
            raise ValueError("is not an email address")
        return value

    @field_validator("postal_address")
    @classmethod
    def _postal_address(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        lines = tuple(line.strip() for line in value)
        if any(not line or len(line) > 80 for line in lines):
            raise ValueError("every address line must hold 1 to 80 characters")
        return lines

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


class Invoice(Compact):
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


class Step(Model):
    """One scheduled contact, relative to the invoice's due date."""

    offset_days: int = Field(ge=-30, le=365)
    channel: Channel
    template: str = Field(min_length=1, pattern=r"^[a-z0-9_]+$")
    fee: Money | None = None
    fee_kind: StepFeeKind = "reminder"
    """What the step's fee is for: a `reminder` fee (påminnelseavgift) or a
    `collection_letter` fee (inkassokrav); the jurisdiction pack caps each kind on its own."""
    final_notice: bool = False


class Policy(Model):
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
    postal_days_after_letter: int = Field(default=2, ge=0, le=10)
    """Postal days (weekdays that are not public holidays) a posted letter is given to arrive
    before the journey's next contact or its handover waiting time starts counting."""
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


class JourneyClock(Model):
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


class ConfigRef(Compact):
    """Which stored configuration a journey runs (`domain.journey_config`): its policy's name
    and the digest of the configuration's content, which is its version."""

    name: str = Field(min_length=1)
    """The policy's name (the segment it is for in the policy file)."""
    digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    """SHA-256 of the configuration's canonical JSON."""

    @property
    def version(self) -> str:
        """The digest's first 12 characters: how people and the Web UI name the version."""
        return self.digest[:12]


class JourneyStart(Compact):
    """What a journey is started with: `JourneyInput` (its configuration by value) or
    `JourneyByRef` (by reference), and what both carry themselves.

    Decoding `JourneyStart` gives the form the payload is (only the by-value form has a
    policy; unknown fields are refused, so neither passes for the other). One class and not
    a union, because the SDK builds the journey's input validator once per cached journey:
    for this class it is the class's own (0.1 kB), for a union of the two a new one of about
    75 kB (measured: README "Performance")."""

    invoice: Invoice
    customer: Customer
    segment: str
    segment_reason: str = ""
    clock: JourneyClock = JourneyClock()
    handover_requires_approval: bool = False
    """Loyal and high-value customers: handover waits for an agent instead of happening."""
    jurisdiction: str = "SE"
    """The policy pack whose rules apply (domain.jurisdiction)."""
    service_phone: str | None = None
    """Customer service's number, printed in every message."""
    carried: dict[str, Any] | None = None
    """The ledger of the previous run when the journey continued as new (see planning)."""
    history_limit: int = Field(default=10_000, ge=100)
    """Continue as new past this many history events (or when Temporal suggests it)."""
    tenant: TenantId = DEFAULT_TENANT
    """The creditor company whose journey this is (domain.tenants); journeys started before
    tenants existed have none in their input and are the default tenant's."""
    local_channels: tuple[Channel, ...] = ()
    """Channels the starter's configuration delivered to the outbox: the journey asks for a
    local activity on them, until a worker with a provider for one answers `rerouted` (then
    that channel uses its rate-limited task queue). The others go through their queue.
    Journeys started without it (all of them before it existed) use the task queues."""

    @field_validator("clock")
    @classmethod
    def _share_clock(cls, value: Any) -> Any:
        return _shared(value)

    @model_validator(mode="wrap")
    @classmethod
    def _either_form(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        if cls is not JourneyStart or isinstance(data, JourneyStart):
            return handler(data)
        form = JourneyInput if isinstance(data, dict) and "policy" in data else JourneyByRef
        return cast(Self, form.model_validate(data))


class JourneyInput(JourneyStart):
    """Everything a journey needs, fixed at start: it never reads the store itself. What the
    planning reads; a journey started by reference (`JourneyByRef`) is resolved to one."""

    policy: Policy
    holidays: tuple[date, ...] = ()
    """Public holidays in the journey's horizon, computed by the starter (replay-stable)."""
    opening_hours: OpeningHours | None = None
    """Customer service's hours: contacts wait for them. None: contact at the planned time."""
    reference_rates: dict[date, Decimal] = {}
    """The central bank's reference rate per half-year (percent), for late-payment interest;
    empty: no interest is shown. Configuration, fixed at start so replays never change."""
    config: ConfigRef | None = None
    """The stored configuration the four fields above were read from; None: they came by
    value in the input (every journey started before references existed)."""

    @field_validator("policy", "holidays", "opening_hours", "reference_rates")
    @classmethod
    def _share_configuration(cls, value: Any) -> Any:
        return _shared(value)

    def by_reference(self) -> JourneyByRef:
        """The input to start the journey with when its configuration is stored under
        `config`: the same journey, a third of the bytes."""
        assert self.config is not None, "store the configuration first"
        values = {name: getattr(self, name) for name in JourneyStart.model_fields}
        return JourneyByRef(**values, config=self.config)


class JourneyByRef(JourneyStart):
    """A journey's input with its configuration by reference: the journey reads it from the
    store at its start (`workflows.journey_config`)."""

    config: ConfigRef

    @field_validator("config")
    @classmethod
    def _share_reference(cls, value: ConfigRef) -> ConfigRef:
        return _shared(value)  # a thousand journeys of one version hold one reference
