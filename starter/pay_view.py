"""What the customer page shows: one invoice's figures, its journey's state in plain words,
the forms that fit the state, and the page's HTML (templates/pages/, autoescaped).

Figures come from the journey's `state` query (fees, interest, what is left, an extended due
date) and fall back to the invoice as the billing system sent it when no worker answers, so
that the customer always sees how to pay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from activities.rendering import BABEL_LOCALES, format_hours, format_money
from domain.opening_hours import OpeningHours
from domain.state import CLOSED_PHASES, JourneyState
from domain.tenants import DEFAULT_TENANT
from domain.windows import is_open
from infra.settings import Settings
from infra.store import CustomerRow, InvoiceRow
from infra.store_page import CsatRatingRow
from starter.pay_text import TEXT, Lang
from workflows.planning import MAX_PROMISE_DAYS
from workflows.rules import MAX_CALL_AHEAD_DAYS

PLAN_MONTHS_OFFERED = tuple(range(2, 13))
CALL_SLOT_DAYS = 7
CALL_SLOT_MINUTES = 60


@dataclass(frozen=True)
class Notice:
    kind: str  # "ok" or "error"
    text: str


@dataclass
class PageData:
    token: str
    lang: Lang
    invoice: InvoiceRow
    customer: CustomerRow | None
    state: JourneyState | None
    rating: CsatRatingRow | None = None
    notice: Notice | None = None
    form: dict[str, str] = field(default_factory=dict)
    settings: Settings | None = None
    """The link's tenant's settings (None: the page's own, the default tenant's)."""

    @property
    def tenant(self) -> str:
        return self.settings.tenant if self.settings is not None else DEFAULT_TENANT

    @property
    def timezone(self) -> str:
        return self.customer.timezone if self.customer else "Europe/Stockholm"

    @property
    def phase(self) -> str:
        if self.state is not None:
            return self.state.phase
        return self.invoice.status if self.invoice.status != "open" else "scheduled"

    @property
    def closed(self) -> bool:
        return self.phase in CLOSED_PHASES


@lru_cache(maxsize=4)
def _environment(pages_dir: str) -> Environment:
    return Environment(
        loader=FileSystemLoader(pages_dir),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_page(settings: Settings, name: str, **context: Any) -> str:
    env = _environment(str(Path(settings.templates_dir) / "pages"))
    return env.get_template(name).render(**context)


def long_date(day: date, lang: Lang) -> str:
    return format_date(day, format="long", locale=BABEL_LOCALES[lang])


def call_slots(
    hours: OpeningHours, tz_name: str, lang: Lang, now: datetime
) -> list[tuple[str, str]]:
    """Hourly times in the next days when customer service is open for a call, as
    (UTC ISO value, the customer's local label). Holidays are left to the journey's validator,
    which knows them and refuses in plain words."""
    zone = ZoneInfo(tz_name)
    start = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    horizon = min(CALL_SLOT_DAYS, MAX_CALL_AHEAD_DAYS)
    slots: list[tuple[str, str]] = []
    at = start
    while at < now + timedelta(days=horizon):
        if is_open(at, hours, None, (), min_open=timedelta(minutes=30)):
            label = format_datetime(
                at.astimezone(zone), "EEEE d MMMM HH:mm", locale=BABEL_LOCALES[lang]
            )
            slots.append((at.astimezone(UTC).isoformat(), label))
        at += timedelta(minutes=CALL_SLOT_MINUTES)
    return slots


def phase_text(data: PageData) -> str:
    t = TEXT[data.lang]
    state, phase = data.state, data.phase
    if phase == "promised" and state and state.promise_date:
        return t["phase_promised"].format(date=long_date(state.promise_date, data.lang))
    if phase == "paused":
        if state and state.paused_until:
            return t["phase_paused"].format(date=long_date(state.paused_until, data.lang))
        return t["phase_paused_open"]
    key = f"phase_{phase}"
    return t[key] if key in t else t["phase_open"]


def figures(data: PageData) -> dict[str, Any]:
    """The invoice's money, formatted for the customer, and which lines to show."""
    inv, state, lang = data.invoice, data.state, data.lang

    def money(amount: Decimal) -> str:
        return format_money(amount, inv.currency, lang)

    amount_due = state.amount_due if state else inv.amount_due
    fees = state.fees if state else inv.fees
    balance = state.balance if state else inv.balance
    interest = state.interest if state else Decimal("0")
    settled = (state.paid + state.credited) if state else Decimal("0")
    due = state.due_date if state else inv.due_date
    return {
        "amount_due": money(amount_due),
        "fees": money(fees) if fees > 0 else None,
        "interest": money(interest) if interest > 0 else None,
        "settled": money(settled) if settled > 0 else None,
        "balance": money(max(balance, Decimal("0"))),
        "due_date": long_date(due, lang),
    }


def page_context(
    data: PageData,
    settings: Settings,
    hours: OpeningHours,
    plan_limit: int,
    csrf: str,
    now: datetime,
    today: date,
) -> dict[str, Any]:
    """Everything templates/pages/pay.html.j2 uses. `plan_limit` is the invoice's policy's
    `plan_max_months` (the journey's input has it; its state does not); `today` is the
    journey's date, which runs ahead of the calendar on the demo's compressed clock."""
    t = TEXT[data.lang]
    return {
        "t": t,
        "lang": data.lang,
        "other_lang": "en" if data.lang == "sv" else "sv",
        "token": data.token,
        "csrf": csrf,
        "invoice": data.invoice,
        "payment_url": _web_url(data.invoice.payment_url),
        "money": figures(data),
        "phase": data.phase,
        "phase_text": phase_text(data),
        "closed": data.closed,
        "state_missing": data.state is None,
        "notice": data.notice,
        "form": data.form,
        "rating": data.rating,
        "bankgiro": settings.bankgiro,
        "plusgiro": settings.plusgiro,
        "service_phone": settings.customer_service_phone,
        "service_hours": settings.customer_service_hours or format_hours(hours, data.lang),
        "promise_min": today.isoformat(),
        "promise_max": (today + timedelta(days=MAX_PROMISE_DAYS)).isoformat(),
        "promise_days": MAX_PROMISE_DAYS,
        "plan_limit": plan_limit,
        "plan_months": [(n, t["months"].format(n=n)) for n in PLAN_MONTHS_OFFERED],
        "call_slots": call_slots(hours, data.timezone, data.lang, now),
        "timezone": data.timezone,
        "can_plan": data.phase not in ("plan_requested", "plan_active"),
    }


def _web_url(url: str | None) -> str | None:
    """The billing system's payment link, if it is a web address (never `javascript:`)."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None
