"""Contact windows: a planned contact only ever moves to an instant a person can answer.

The property tests check `next_contact_slot` and `is_open` against an independent oracle that
reads wall clocks with `astimezone` instead of building UTC spans, so the two implementations
must agree on DST days, half-hour zones and holidays.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays as holidays_pkg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain import windows
from domain.jurisdiction import US
from domain.models import JourneyClock
from domain.opening_hours import WEEKDAYS, OpeningHours
from domain.windows import (
    CALL_MIN_OPEN,
    US_TIME_ZONES,
    NoContactSlotError,
    is_open,
    next_contact_slot,
)
from tests.domain.strategies import US_SERVICE_ZONES, ZONES, holidays_near, instants, opening_hours
from workflows.journey_time import day_instant

US_HOURS = (time(8), time(21))
SE_HOURS = OpeningHours()  # Monday to Friday 08:00-20:00, Europe/Stockholm
STOCKHOLM = ZoneInfo("Europe/Stockholm")
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


def always_open(zone: str) -> OpeningHours:
    return OpeningHours.model_validate(
        {"timezone": zone, "weekly": {day: ["00:00-24:00"] for day in WEEKDAYS}}
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


# --- examples --------------------------------------------------------------------------------


def se_holidays(*years: int) -> frozenset[date]:
    """As the starter computes them: public and de facto holidays (Midsummer Eve, ...)."""
    return frozenset(
        holidays_pkg.country_holidays("SE", years=years, categories=("public", "de_facto"))
    )


def test_midsummer_eve_moves_a_step_to_the_next_open_day() -> None:
    holidays = se_holidays(2027)
    assert date(2027, 6, 25) in holidays  # Midsommarafton, a Friday
    planned = day_instant(date(2027, 6, 25), 10, JourneyClock(), "Europe/Stockholm")
    slot = next_contact_slot(planned, SE_HOURS, "Europe/Stockholm", holidays)
    assert slot.astimezone(STOCKHOLM) == datetime(2027, 6, 28, 8, 0, tzinfo=STOCKHOLM)


def test_without_the_holiday_the_step_keeps_its_time() -> None:
    planned = day_instant(date(2027, 6, 25), 10, JourneyClock(), "Europe/Stockholm")
    assert next_contact_slot(planned, SE_HOURS, "Europe/Stockholm", frozenset()) == planned


def test_a_call_needs_thirty_minutes_of_opening_left() -> None:
    friday = date(2026, 11, 6)
    at_1930 = datetime.combine(friday, time(19, 30), tzinfo=STOCKHOLM)
    at_1945 = datetime.combine(friday, time(19, 45), tzinfo=STOCKHOLM)
    none: frozenset[date] = frozenset()
    assert next_contact_slot(at_1930, SE_HOURS, None, none, min_open=CALL_MIN_OPEN) == at_1930
    slot = next_contact_slot(at_1945, SE_HOURS, None, none, min_open=CALL_MIN_OPEN)
    assert slot.astimezone(STOCKHOLM) == datetime(2026, 11, 9, 8, 0, tzinfo=STOCKHOLM)
    # An email may still go at 19:45; nothing at closing time itself.
    assert is_open(at_1945, SE_HOURS, None, none)
    at_2000 = datetime.combine(friday, time(20, 0), tzinfo=STOCKHOLM)
    assert not is_open(at_2000, SE_HOURS, None, none)


def test_a_dated_exception_changes_one_day_only() -> None:
    hours = OpeningHours.model_validate(
        {"exceptions": {"2026-12-23": ["10:00-14:00"], "2026-12-22": []}}
    )
    planned = datetime(2026, 12, 22, 7, 0, tzinfo=UTC)  # Tuesday 08:00 in Stockholm, closed
    slot = next_contact_slot(planned, hours, "Europe/Stockholm", frozenset())
    assert slot.astimezone(STOCKHOLM) == datetime(2026, 12, 23, 10, 0, tzinfo=STOCKHOLM)


def test_unknown_us_zone_waits_until_it_is_8_in_honolulu() -> None:
    hours = OpeningHours(timezone="America/New_York")
    new_york = ZoneInfo("America/New_York")
    winter = datetime(2026, 11, 2, 8, 0, tzinfo=new_york)  # Monday, EST
    summer = datetime(2026, 7, 6, 8, 0, tzinfo=new_york)  # Monday, EDT
    for planned, expected_hour in ((winter, 13), (summer, 14)):
        slot = next_contact_slot(planned, hours, None, frozenset(), jurisdiction_hours=US_HOURS)
        assert slot.astimezone(new_york).hour == expected_hour
        assert slot.astimezone(ZoneInfo("Pacific/Honolulu")).time() == time(8)
    # A known zone needs no such wait.
    slot = next_contact_slot(
        winter, hours, "America/New_York", frozenset(), jurisdiction_hours=US_HOURS
    )
    assert slot == winter


def test_us_holiday_in_the_customers_zone_also_closes() -> None:
    """Customer service in New York, customer in Honolulu: 1 a.m. on 5 July in New York is
    still the 4th in Honolulu."""
    always = always_open("America/New_York")
    july_4 = frozenset({date(2026, 7, 4)})
    planned = datetime(2026, 7, 5, 1, 0, tzinfo=ZoneInfo("America/New_York"))
    slot = next_contact_slot(
        planned, always, "Pacific/Honolulu", july_4, jurisdiction_hours=US_HOURS
    )
    assert slot.astimezone(ZoneInfo("Pacific/Honolulu")) == datetime(
        2026, 7, 5, 8, 0, tzinfo=ZoneInfo("Pacific/Honolulu")
    )


def test_dst_days_count_wall_clock_hours() -> None:
    hours = OpeningHours.model_validate({"weekly": {"sun": ["02:15-02:45"]}})
    fall_back = windows.contact_spans(
        datetime(2026, 10, 24, 12, tzinfo=UTC),
        datetime(2026, 10, 25, 12, tzinfo=UTC),
        hours,
        None,
        frozenset(),
    )
    # 02:15-02:45 happens twice when clocks go back, and both count.
    assert [(a.time(), b.time()) for a, b in fall_back] == [
        (time(0, 15), time(0, 45)),
        (time(1, 15), time(1, 45)),
    ]
    spring = windows.contact_spans(
        datetime(2026, 3, 28, 12, tzinfo=UTC),
        datetime(2026, 3, 29, 12, tzinfo=UTC),
        hours,
        None,
        frozenset(),
    )
    assert spring == []  # 02:15 never happens when clocks go forward


def test_hours_without_any_opening_fail_fast() -> None:
    closed = OpeningHours(weekly={})
    with pytest.raises(NoContactSlotError, match="no open interval"):
        next_contact_slot(datetime(2026, 1, 1, tzinfo=UTC), closed, None, frozenset())


def test_hours_that_never_meet_us_contact_hours_fail_with_a_clear_error() -> None:
    night = OpeningHours.model_validate({"timezone": "UTC", "weekly": {"mon": ["03:00-04:00"]}})
    with pytest.raises(NoContactSlotError, match="08:00-21:00 local time"):
        next_contact_slot(
            datetime(2026, 1, 1, tzinfo=UTC),
            night,
            None,
            frozenset(),
            jurisdiction_hours=US_HOURS,
            horizon=timedelta(days=30),
        )


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_contact_slot(datetime(2026, 1, 1), SE_HOURS, None, frozenset())
    with pytest.raises(ValueError, match="min_open"):
        next_contact_slot(
            datetime(2026, 1, 1, tzinfo=UTC), SE_HOURS, None, frozenset(), min_open=timedelta(-1)
        )
    with pytest.raises(ValueError, match="open before they close"):
        is_open(
            datetime(2026, 1, 1, tzinfo=UTC),
            SE_HOURS,
            None,
            frozenset(),
            jurisdiction_hours=(time(21), time(8)),
        )


# --- the model -------------------------------------------------------------------------------


def test_opening_hours_read_and_write_hh_mm() -> None:
    hours = OpeningHours.model_validate(
        {
            "timezone": "Europe/Stockholm",
            "weekly": {"mon": ["12:00-20:00", "08:00-11:30"], "sat": ["10:00-24:00"]},
            "exceptions": {"2026-12-24": []},
        }
    )
    assert [str(iv) for iv in hours.weekly["mon"]] == ["08:00-11:30", "12:00-20:00"]
    dumped = hours.model_dump(mode="json")
    assert dumped["weekly"]["sat"] == ["10:00-24:00"]
    assert dumped["exceptions"] == {"2026-12-24": []}
    assert OpeningHours.model_validate_json(hours.model_dump_json()) == hours
    assert hours.intervals_on(date(2026, 12, 24)) == ()
    assert hours.intervals_on(date(2026, 12, 28)) == hours.weekly["mon"]


@pytest.mark.parametrize(
    ("weekly", "message"),
    [
        ({"mon": ["08:00-12:00", "11:00-13:00"]}, "overlap"),
        ({"mon": ["20:00-02:00"]}, "crosses midnight"),
        ({"mon": ["8-12"]}, "not a time"),
        ({"mon": ["08:00-24:30"]}, "between 00:00 and 24:00"),
        ({"funday": ["08:00-12:00"]}, "funday"),
    ],
)
def test_bad_opening_hours_are_refused(weekly: dict[str, list[str]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OpeningHours.model_validate({"weekly": weekly})


def test_us_zone_list_is_the_jurisdictions() -> None:
    assert US.unknown_tz_zones == windows.US_TIME_ZONES
    for zone in windows.US_TIME_ZONES_WITH_TERRITORIES:
        ZoneInfo(zone)
