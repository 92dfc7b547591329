"""Holidays and journey clocks, fixed when a journey starts so that it replays identically."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import holidays

from domain.models import Invoice, JourneyClock, Policy

ClockFactory = Callable[[Invoice], JourneyClock]
"""Chooses the journey clock per invoice; the demo compresses days, production uses none."""


def journey_horizon(invoice: Invoice, policy: Policy) -> date:
    """The last day a journey could still act: the final step plus its handover wait."""
    days = policy.steps[-1].offset_days + (policy.handover_after_days or 0)
    return invoice.due_date + timedelta(days=max(days, 0))


def public_holidays(country: str, invoice: Invoice, policy: Policy) -> tuple[date, ...]:
    """Days customer service is closed, from the issue year through at least the next year.

    Computed here rather than in the workflow so the journey replays identically even when the
    `holidays` package is upgraded. De facto holidays (Christmas Eve, Midsummer Eve, ...) are
    included where the package knows them: customer service is closed then too.
    """
    first = invoice.issued_at.year
    last = max(first + 1, journey_horizon(invoice, policy).year)
    return _holiday_table(country, first, last)


@functools.lru_cache(maxsize=64)
def _holiday_table(country: str, first: int, last: int) -> tuple[date, ...]:
    """Building a country's calendar takes about 5 ms; a batch of invoices shares a few."""
    cls = holidays.country_holidays(country, years=first)
    supported = getattr(type(cls), "supported_categories", ("public",))
    categories = tuple(c for c in ("public", "de_facto") if c in supported)
    days = holidays.country_holidays(country, years=range(first, last + 1), categories=categories)
    return tuple(sorted(days.keys()))


def compressed_clock(seconds_per_day: int, now: datetime | None = None) -> ClockFactory:
    """Day 0 of each journey (its issue date) starts now; every later day `seconds_per_day` on."""
    origin = now or datetime.now(UTC)

    def factory(invoice: Invoice) -> JourneyClock:
        return JourneyClock(
            seconds_per_day=seconds_per_day, origin=origin, origin_date=invoice.issued_at
        )

    return factory


def day_at(clock: JourneyClock, day: date, hour: float = 0) -> datetime:
    """The real instant a journey date starts on the clock (for scheduling demo events)."""
    if clock.origin is None or clock.origin_date is None:
        return datetime.combine(day, time(0), tzinfo=UTC) + timedelta(hours=hour)
    offset = (day - clock.origin_date).days + hour / 24
    return clock.origin + timedelta(seconds=offset * clock.seconds_per_day)
