"""Journey time: days and hours in the customer's calendar, and the contact windows.

Every shift of a planned contact is calendar arithmetic in the customer's zone (an unknown
zone counts in the company's), then the contact-window check of `domain.windows`, which keeps
to the jurisdiction's hours in every zone the customer could be in.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.jurisdiction import pack_for
from domain.models import JourneyClock, JourneyInput
from domain.opening_hours import WEEKDAYS, OpeningHours, OpeningInterval
from domain.values import Channel
from domain.windows import CALL_MIN_OPEN, NoContactSlotError, next_contact_slot
from workflows.ledger import Ledger, customer

# --- journey time ----------------------------------------------------------------------------


def journey_days(n: float, clock: JourneyClock) -> timedelta:
    """Length of `n` journey days: real days, or seconds each on the demo's compressed clock."""
    return timedelta(seconds=n * clock.seconds_per_day)


def day_instant(day: date, hour: float, clock: JourneyClock, tz_name: str) -> datetime:
    """The UTC instant of `hour` o'clock on journey day `day` in the customer's time zone."""
    if clock.origin is not None and clock.origin_date is not None:
        offset = (day - clock.origin_date).days + hour / 24
        return clock.origin + journey_days(offset, clock)
    whole = int(hour)
    minutes = round((hour - whole) * 60)
    local = datetime.combine(day, time(whole, minutes), tzinfo=ZoneInfo(tz_name))
    return local.astimezone(UTC)


def journey_today(now: datetime, clock: JourneyClock, tz_name: str) -> date:
    """The customer's calendar date at `now` (on the demo clock, the compressed date)."""
    if clock.origin is not None and clock.origin_date is not None:
        elapsed = (now - clock.origin).total_seconds() / clock.seconds_per_day
        return clock.origin_date + timedelta(days=int(elapsed // 1))
    return now.astimezone(ZoneInfo(tz_name)).date()


# --- the customer's time zone ----------------------------------------------------------------

LEGACY_ZONE = "Europe/Stockholm"
"""What an unknown zone used to be taken for (runs before `Revisions.unknown_zone`)."""


def company_zone(inp: JourneyInput) -> str:
    """Customer service's zone, or the jurisdiction's home zone when it has set no hours."""
    if inp.opening_hours is not None:
        return inp.opening_hours.timezone
    return pack_for(inp.jurisdiction).home_zone


def known_zone(inp: JourneyInput, ledger: Ledger) -> str | None:
    """The customer's zone as the contact windows see it: None when unknown."""
    zone = customer(inp, ledger).timezone
    if zone is None and not ledger.revisions.unknown_zone:
        return LEGACY_ZONE
    return zone


def calendar_zone(inp: JourneyInput, ledger: Ledger) -> str:
    """The zone the customer's days are counted in (send hour, today, pause ends). An unknown
    zone is counted in the company's: the windows still keep every contact lawful."""
    return known_zone(inp, ledger) or company_zone(inp)


def contact_zones(inp: JourneyInput, ledger: Ledger) -> tuple[str, ...]:
    """Whose wall clock a contact must suit: the customer's zone; when it is unknown, every
    zone the jurisdiction says they could be in (US) or else the company's own (SE)."""
    zone = known_zone(inp, ledger)
    if zone is not None:
        return (zone,)
    pack = pack_for(inp.jurisdiction)
    if pack.contact_hours is not None:
        return pack.unknown_tz_zones
    return (company_zone(inp),)


def customer_today(inp: JourneyInput, ledger: Ledger, now: datetime) -> date:
    """The customer's calendar date at `now`."""
    return journey_today(now, inp.clock, calendar_zone(inp, ledger))


_ALWAYS_OPEN = OpeningHours(
    timezone="UTC", weekly={day: (OpeningInterval(start=0, end=1440),) for day in WEEKDAYS}
)


def contact_slot(
    inp: JourneyInput, ledger: Ledger, planned: datetime, channel: Channel
) -> datetime:
    """The first instant at or after `planned` at which a contact may go out: customer service
    open (a call with 30 minutes left), no holiday, and the jurisdiction's hours in every zone
    of `contact_zones`."""
    # The demo's compressed clock has no hours of the day to respect.
    if inp.clock.compressed:
        return planned
    pack = pack_for(inp.jurisdiction)
    hours = inp.opening_hours
    if hours is None:
        if not ledger.revisions.windowed_contacts or pack.contact_hours is None:
            return planned
        hours = _ALWAYS_OPEN
    zone = known_zone(inp, ledger)
    min_open = CALL_MIN_OPEN if channel == "call" else timedelta(0)
    try:
        return next_contact_slot(
            planned,
            hours,
            zone,
            frozenset(inp.holidays),
            min_open=min_open,
            jurisdiction_hours=pack.contact_hours,
            unknown_tz_zones=pack.unknown_tz_zones or (company_zone(inp),),
        )
    except NoContactSlotError:
        pass
    # Hours that never allow this contact: the law still does. Without a law on hours, or on a
    # run before the windows applied everywhere, keep the plan rather than fail the workflow
    # task forever.
    if ledger.revisions.windowed_contacts and pack.contact_hours is not None:
        try:
            return next_contact_slot(
                planned,
                _ALWAYS_OPEN,
                zone,
                frozenset(inp.holidays),
                jurisdiction_hours=pack.contact_hours,
                unknown_tz_zones=pack.unknown_tz_zones,
            )
        except NoContactSlotError:
            pass
    return planned
