"""Contact windows: a planned contact only ever moves to an instant a person can answer.

The property tests check `next_contact_slot` and `is_open` against an independent oracle that
reads wall clocks with `astimezone` instead of building UTC spans, so the two implementations
must agree on DST days, half-hour zones and holidays.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.jurisdiction import US
from domain.opening_hours import WEEKDAYS, OpeningHours
from domain.windows import (
    CALL_MIN_OPEN,
    US_TIME_ZONES,
    NoContactSlotError,
    is_open,
    next_contact_slot,
)
from tests.domain.strategies import (
    US_HOURS,
    US_SERVICE_ZONES,
    ZONES,
    always_open,
    holidays_near,
    instants,
    opening_hours,
)

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# --- the oracle ------------------------------------------------------------------------------


def service_open_at(at: datetime, hours: OpeningHours, holidays: frozenset[date]) -> bool:
    local = at.astimezone(ZoneInfo(hours.timezone))
    if local.date() in holidays:
        return False
    minute = local.hour * 60 + local.minute
    return any(iv.start <= minute < iv.end for iv in hours.intervals_on(local.date()))


def service_open_for(
    at: datetime, hours: OpeningHours, holidays: frozenset[date], min_open: timedelta
) -> bool:
    """Open at `at` and at every minute boundary up to (not including) `at + min_open`:
    interval edges fall on whole minutes in every zone in use, so that is exact."""
    points = [at]
    if min_open > timedelta(0):
        first = at.replace(second=0, microsecond=0) + timedelta(minutes=1)
        points += [first + timedelta(minutes=i) for i in range(int(min_open.total_seconds() // 60))]
        points = [p for p in points if p < at + min_open]
        points.append(at + min_open - timedelta(microseconds=1))
    return all(service_open_at(p, hours, holidays) for p in points)


def customer_zones(customer_tz: str | None, limit: tuple[time, time] | None) -> tuple[str, ...]:
    if customer_tz is not None:
        return (customer_tz,)
    return US_TIME_ZONES if limit is not None else ()


def customer_ok(
    at: datetime,
    customer_tz: str | None,
    holidays: frozenset[date],
    limit: tuple[time, time] | None,
) -> bool:
    for zone in customer_zones(customer_tz, limit):
        local = at.astimezone(ZoneInfo(zone))
        if local.date() in holidays:
            return False
        if limit is not None and not limit[0] <= local.time() < limit[1]:
            return False
    return True


def allowed(
    at: datetime,
    hours: OpeningHours,
    customer_tz: str | None,
    holidays: frozenset[date],
    min_open: timedelta,
    limit: tuple[time, time] | None,
) -> bool:
    return customer_ok(at, customer_tz, holidays, limit) and service_open_for(
        at, hours, holidays, min_open
    )


# --- properties ------------------------------------------------------------------------------


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[
    datetime, OpeningHours, str | None, frozenset[date], timedelta, tuple[time, time] | None
]:
    planned = draw(instants())
    near = planned.date()
    us = draw(st.booleans())
    hours = draw(opening_hours(zones=US_SERVICE_ZONES if us else ZONES, near=near))
    customer_tz = draw(st.one_of(st.none(), st.sampled_from(ZONES)))
    min_open = draw(st.sampled_from([timedelta(0), CALL_MIN_OPEN]))
    return (
        planned,
        hours,
        customer_tz,
        draw(holidays_near(near)),
        min_open,
        (US_HOURS if us else None),
    )


@PROPERTY
@given(scenarios(), st.floats(min_value=0, max_value=1))
def test_slot_is_open_allowed_and_earliest(
    scenario: tuple[
        datetime, OpeningHours, str | None, frozenset[date], timedelta, tuple[time, time] | None
    ],
    fraction: float,
) -> None:
    planned, hours, customer_tz, holidays, min_open, limit = scenario
    try:
        slot = next_contact_slot(
            planned, hours, customer_tz, holidays, min_open=min_open, jurisdiction_hours=limit
        )
    except NoContactSlotError:
        # Only believable if a scan of the first fortnight finds nothing either.
        for quarter in range(14 * 96):
            at = planned + timedelta(minutes=15 * quarter)
            assert not allowed(at, hours, customer_tz, holidays, min_open, limit), at
        return
    assert slot.tzinfo is UTC
    assert slot >= planned
    # Open, not on a holiday, and (calls) open for 30 more minutes.
    assert service_open_for(slot, hours, holidays, min_open)
    # Inside the jurisdiction's hours in the customer's zone, or in every US zone if unknown.
    assert customer_ok(slot, customer_tz, holidays, limit)
    assert is_open(slot, hours, customer_tz, holidays, min_open=min_open, jurisdiction_hours=limit)
    # Earliest: nothing just before it, nor at a random point between planned and slot.
    if slot > planned:
        just_before = slot - timedelta(microseconds=1)
        assert not allowed(just_before, hours, customer_tz, holidays, min_open, limit)
        between = planned + (slot - planned) * fraction
        if between < slot:
            assert not allowed(between, hours, customer_tz, holidays, min_open, limit)


@PROPERTY
@given(scenarios())
def test_is_open_agrees_with_the_wall_clock(
    scenario: tuple[
        datetime, OpeningHours, str | None, frozenset[date], timedelta, tuple[time, time] | None
    ],
) -> None:
    at, hours, customer_tz, holidays, min_open, limit = scenario
    assert is_open(
        at, hours, customer_tz, holidays, min_open=min_open, jurisdiction_hours=limit
    ) == allowed(at, hours, customer_tz, holidays, min_open, limit)


@PROPERTY
@given(instants(), st.sampled_from(US_SERVICE_ZONES), st.sampled_from([None, *ZONES]))
def test_us_slots_stay_inside_8_to_21_local(
    planned: datetime, service_zone: str, customer_tz: str | None
) -> None:
    """Even with customer service open around the clock, US contact waits for 08:00-21:00."""
    always = always_open(service_zone)
    slot = next_contact_slot(
        planned, always, customer_tz, frozenset(), jurisdiction_hours=US.contact_hours
    )
    for zone in customer_zones(customer_tz, US_HOURS):
        local = slot.astimezone(ZoneInfo(zone)).time()
        assert time(8) <= local < time(21), (zone, local)


def transition_days(zone: str, year: int) -> list[date]:
    """Local dates on which the zone changes its UTC offset."""
    tz = ZoneInfo(zone)
    days = [date(year, 1, 1) + timedelta(days=n) for n in range(366)]
    return [
        d
        for d in days
        if datetime.combine(d, time(0), tzinfo=tz).utcoffset()
        != datetime.combine(d + timedelta(days=1), time(0), tzinfo=tz).utcoffset()
    ]


DST_NIGHTS = [
    (zone, day)
    for zone in (
        "Europe/Stockholm",
        "America/New_York",
        "America/St_Johns",
        "Australia/Lord_Howe",
        "Pacific/Chatham",
    )
    for day in transition_days(zone, 2026)
]


@st.composite
def dst_nights(draw: st.DrawFn) -> tuple[datetime, OpeningHours]:
    """An instant in the small hours of a DST change, and hours whose edges sit right there,
    where wall times are skipped or repeated."""
    zone, day = draw(st.sampled_from(DST_NIGHTS))
    start = draw(st.integers(0, 16)) * 15
    end = start + draw(st.integers(2, 8)) * 15
    hours = OpeningHours.model_validate(
        {
            "timezone": zone,
            "weekly": {
                d: [f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"]
                for d in WEEKDAYS
            },
        }
    )
    midnight = datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)
    at = midnight + timedelta(
        minutes=draw(st.integers(0, 6 * 60)), seconds=draw(st.integers(0, 59))
    )
    return at, hours


@PROPERTY
@given(dst_nights(), st.sampled_from([timedelta(0), CALL_MIN_OPEN]))
def test_dst_nights_agree_with_the_wall_clock(
    night: tuple[datetime, OpeningHours], min_open: timedelta
) -> None:
    at, hours = night
    none: frozenset[date] = frozenset()
    assert is_open(at, hours, None, none, min_open=min_open) == allowed(
        at, hours, None, none, min_open, None
    )
    slot = next_contact_slot(at, hours, None, none, min_open=min_open, horizon=timedelta(days=3))
    assert service_open_for(slot, hours, none, min_open)
    if slot > at:
        assert not allowed(slot - timedelta(microseconds=1), hours, None, none, min_open, None)
