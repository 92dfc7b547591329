"""Contact windows by example: holidays, calls near closing time, dated exceptions, unknown US
zones, DST days, and opening hours that are refused; the property tests are in test_windows."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays as holidays_pkg
import pytest

from domain import windows
from domain.jurisdiction import US
from domain.models import JourneyClock
from domain.opening_hours import OpeningHours
from domain.windows import (
    CALL_MIN_OPEN,
    NoContactSlotError,
    is_open,
    next_contact_slot,
)
from tests.domain.strategies import (
    US_HOURS,
    always_open,
)
from workflows.journey_time import day_instant

SE_HOURS = OpeningHours()  # Monday to Friday 08:00-20:00, Europe/Stockholm
STOCKHOLM = ZoneInfo("Europe/Stockholm")


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

    def spans_from_saturday_noon(saturday: datetime) -> list[tuple[datetime, datetime]]:
        return windows.contact_spans(saturday, saturday + timedelta(days=1), hours, None, set())

    fall_back = spans_from_saturday_noon(datetime(2026, 10, 24, 12, tzinfo=UTC))
    # 02:15-02:45 happens twice when clocks go back, and both count.
    assert [(a.time(), b.time()) for a, b in fall_back] == [
        (time(0, 15), time(0, 45)),
        (time(1, 15), time(1, 45)),
    ]
    spring = spans_from_saturday_noon(datetime(2026, 3, 28, 12, tzinfo=UTC))
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


def test_overlapping_hours_on_an_exception_date_are_refused_too() -> None:
    with pytest.raises(ValueError, match="2026-12-24: intervals"):
        OpeningHours.model_validate({"exceptions": {"2026-12-24": ["08:00-12:00", "11:00-13:00"]}})


def test_us_zone_list_is_the_jurisdictions() -> None:
    assert US.unknown_tz_zones == windows.US_TIME_ZONES
    for zone in windows.US_TIME_ZONES_WITH_TERRITORIES:
        ZoneInfo(zone)
