"""The journey's own state: the ledger its handlers change, the holds that keep it quiet, and
which rules this run follows. Carried across continue-as-new as plain JSON."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import TypeAdapter

from domain.models import Customer, JourneyInput
from domain.state import HistoryEntry, Phase
from domain.values import Channel

# --- which rules this run follows --------------------------------------------------------------

LAW_CLOCK_PATCH = "law-clock-rules"
"""One patch for the four law-and-clock fixes of one release (issue 15): one marker in each
new history instead of four, and one deprecation later; `Revisions` keeps them apart."""


@dataclass
class Revisions:
    """Which behaviour changes this run follows, decided once per run by `workflow.patched`
    (`from_patches`), so that histories of older code replay as they ran.
    The defaults are today's rules: pure callers and new journeys get them."""

    unknown_zone: bool = True
    """A customer of unknown zone stays unknown up to the window check (before: Stockholm)."""
    calendar_shifts: bool = True
    """Pauses move steps by whole days in the customer's calendar (before: by hours)."""
    lawful_plan_fee: bool = True
    """The payment-plan fee goes through `lawful_fee` (before: only agreement and vulnerable)."""
    windowed_contacts: bool = True
    """Fallbacks and installment reminders wait for a contact slot too, and the
    jurisdiction's hours apply even without opening hours (before: they went at once)."""

    @classmethod
    def from_patches(cls, patched: Callable[[str], bool]) -> Revisions:
        new = patched(LAW_CLOCK_PATCH)
        return cls(
            unknown_zone=new, calendar_shifts=new, lawful_plan_fee=new, windowed_contacts=new
        )


# --- the journey's own state -----------------------------------------------------------------


@dataclass
class Holds:
    """What keeps the journey from contacting the customer right now."""

    paused: bool = False
    paused_until: date | None = None
    promise_date: date | None = None
    dispute_open: bool = False
    plan: Literal["requested", "active"] | None = None


@dataclass
class Ledger:
    """The mutable state of one journey, owned by the workflow and changed by its handlers."""

    due_date: date
    amount_due: Decimal
    paid: Decimal = Decimal("0")
    credited: Decimal = Decimal("0")
    fees: Decimal = Decimal("0")
    next_index: int = 0
    steps_sent: int = 0
    delay: timedelta = timedelta(0)
    """How far pauses pushed the remaining steps back, in hours (runs before
    `Revisions.calendar_shifts`; kept so that their journeys go on as planned)."""
    delay_days: int = 0
    """How many calendar days pauses pushed the remaining steps back: a step keeps its local
    send hour across a daylight-saving change."""
    final_notice_at: datetime | None = None
    handover_not_before: datetime | None = None
    holds: Holds = field(default_factory=Holds)
    closed: Phase | None = None
    resolved_at_step: int | None = None
    applied_events: set[str] = field(default_factory=set)
    history: list[HistoryEntry] = field(default_factory=list)
    consent: dict[Channel, bool] = field(default_factory=dict)
    """Consent changes since the journey started; the input's snapshot holds the rest."""
    bad_channels: set[Channel] = field(default_factory=set)
    """Channels whose address is known bad (hard bounce, invalid or opted-out number)."""
    tried: dict[int, set[Channel]] = field(default_factory=dict)
    """Per step, the channels already used, so a fallback never repeats one."""
    fallbacks: list[tuple[int, datetime]] = field(default_factory=list)
    """Steps to deliver again on another channel, and since when."""
    handover_approval: Literal["required", "approved", "blocked"] | None = None
    open_tasks: list[str] = field(default_factory=list)
    plan: list[tuple[date, Decimal]] = field(default_factory=list)
    """An approved payment plan's installments (due date, amount)."""
    plan_next: int = 0
    plan_reminded: int = -1
    vulnerable: bool = False
    """An agent marked the customer vulnerable during the journey (see `customer`)."""
    call_attempts: list[datetime] = field(default_factory=list)
    """When calls were placed: the US pack allows at most 7 in 7 days."""
    last_conversation: datetime | None = None
    """When the customer last spoke with customer service (no US call within 7 days)."""
    fee_kinds: list[str] = field(default_factory=list)
    """Kinds of fee already charged (a reminder fee is charged once per invoice)."""
    plan_paid_before: Decimal = Decimal("0")
    """Payments and credits before the plan began: installments count what came after."""
    revisions: Revisions = field(default_factory=Revisions)
    """Set by the workflow when its run starts; see `Revisions`."""
    customer: Customer | None = None
    """The customer's latest record (`customer.updated` during the journey); None: the
    input's snapshot still holds. See `customer`."""
    next_segment: str | None = None
    """The segment the customer's record now gives, when it differs from the journey's own:
    recorded, and applied to their next invoice, never to this journey."""
    letter_posted_at: datetime | None = None
    """When the last paper letter was posted: the next contact waits for the post."""
    routed: set[Channel] = field(default_factory=set)
    """Channels the input named local whose worker now has a provider for them: delivered
    through their rate-limited task queue from then on (see `activity_calls.deliver`)."""

    @property
    def balance(self) -> Decimal:
        return max(Decimal("0"), self.amount_due + self.fees - self.paid - self.credited)

    def note(self, at: datetime, kind: str, detail: str, **about: Any) -> None:
        """One line of the journey's history, as ops and the customer page read it."""
        self.history.append(HistoryEntry(at=at, kind=kind, detail=detail, **about))

    def close(self, phase: Phase) -> None:
        """The journey ends as `phase`, resolved at the steps sent so far; the first close
        stands (a payment after a credit closed it does not make it paid)."""
        if self.closed is None:
            self.closed = phase
            self.resolved_at_step = self.steps_sent


_LEDGER = TypeAdapter(Ledger)


def dump_ledger(ledger: Ledger) -> dict[str, Any]:
    """The ledger as JSON-ready data, carried into the next run on continue-as-new."""
    data: dict[str, Any] = _LEDGER.dump_python(ledger, mode="json")
    return data


def load_ledger(data: dict[str, Any]) -> Ledger:
    return _LEDGER.validate_python(data)


def note_step(
    ledger: Ledger, at: datetime, index: int, channel: Channel | None, detail: str, outcome: str
) -> None:
    """One line of a step's story (sent, fell back, failed, became a task) in the history."""
    ledger.history.append(
        HistoryEntry(
            at=at, kind="step", detail=detail, step_index=index, channel=channel, outcome=outcome
        )
    )


def hold_phase(holds: Holds) -> Phase | None:
    """The hold that explains the journey's state, strongest first."""
    if holds.dispute_open:
        return "disputed"
    if holds.plan == "requested":
        return "plan_requested"
    if holds.plan == "active":
        return "plan_active"
    if holds.paused:
        return "paused"
    if holds.promise_date is not None:
        return "promised"
    return None


def customer(inp: JourneyInput, ledger: Ledger) -> Customer:
    """The customer as the journey knows them now: the start snapshot, or the latest record
    the billing system sent since, plus what agents said."""
    known = ledger.customer or inp.customer
    if ledger.vulnerable and not known.vulnerable:
        return known.model_copy(update={"vulnerable": True})
    return known
