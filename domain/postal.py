"""Postal days: when a posted letter counts as arrived.

Swedish law counts a reminder sent by post as delivered; in practice the post carries a
letter on weekdays that are not public holidays, so a journey gives a letter a number of
those days before anything else happens. Pure: the holidays come in as data (the journey's
input holds them, computed by the starter, so a replay sees the same calendar)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta


def is_postal_day(day: date, holidays: Collection[date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_postal_days(posted: date, days: int, holidays: Collection[date]) -> date:
    """The day a letter posted on `posted` is counted as arrived: `days` postal days later
    (a letter posted on a Friday with 2 postal days arrives on Tuesday)."""
    if days < 0:
        raise ValueError("postal days must not be negative")
    day, left = posted, days
    while left > 0:
        day += timedelta(days=1)
        if is_postal_day(day, holidays):
            left -= 1
    return day
