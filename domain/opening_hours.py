"""Customer service's opening hours, as the policy file writes them and the windows read them."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal, TypeVar

from pydantic import (
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from domain.values import (
    Model,
    TimeZoneName,
)

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""In `date.weekday()` order, so `WEEKDAYS[day.weekday()]` names a date's weekday."""
_Day = TypeVar("_Day", Weekday, date)
"""A key of `weekly` (a weekday) or of `exceptions` (a date)."""
_HHMM_RE = re.compile(r"^(\d{2}):(\d{2})$")


def _clock_minutes(text: str) -> int:
    match = _HHMM_RE.match(text.strip())
    if match is None:
        raise ValueError(f"'{text}' is not a time like 08:00")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ValueError(f"'{text}' is not a time between 00:00 and 24:00")
    return hours * 60 + minutes


class OpeningInterval(Model):
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


class OpeningHours(Model):
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

    @field_validator("weekly", "exceptions")
    @classmethod
    def _no_overlaps(
        cls, value: dict[_Day, tuple[OpeningInterval, ...]]
    ) -> dict[_Day, tuple[OpeningInterval, ...]]:
        """Weekly hours and exceptions alike: each day's intervals sorted, none overlapping."""
        return {day: _sorted_intervals(ivs, day) for day, ivs in value.items()}

    def intervals_on(self, day: date) -> tuple[OpeningInterval, ...]:
        """The date's hours before holidays are considered (those are the caller's data)."""
        if day in self.exceptions:
            return self.exceptions[day]
        return self.weekly.get(WEEKDAYS[day.weekday()], ())

    @property
    def ever_open(self) -> bool:
        return any(self.weekly.values()) or any(self.exceptions.values())
