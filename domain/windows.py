"""Contact windows: the earliest instant a planned contact may actually go out.

A reminder is only useful if the customer who reacts to it can reach a person (SPEC "Contact
only when someone can answer"), and in some jurisdictions contact at night is unlawful. So a
planned step moves forward to the first instant at which:

- customer service is open (its `OpeningHours`, in its own time zone) and stays open for at
  least `min_open` more, so that "press 2 for customer service" after a call reaches someone;
- the date is not a public holiday, neither in customer service's zone nor in the customer's
  (a customer is not disturbed on a holiday even if staff happen to work);
- where the jurisdiction limits the time of day (US: 08:00-21:00, Reg F § 1006.6(b)(1)), the
  customer's local time is inside that window; when the customer's zone is unknown, it must
  be inside the window in every zone they could be in (`US_TIME_ZONES`: New York, Chicago,
  Denver, Phoenix, Los Angeles, Anchorage, Honolulu; see `domain.jurisdiction` for why
  these seven and how to add the territories).

Pure and deterministic: no I/O, no clock, no `holidays` package (holiday dates arrive as data
computed by the starter, so a journey replays identically after a package upgrade). Its
answers depend on the tz database like `planning.day_instant` does.

Only for the real clock. On the demo's compressed clock a "day" lasts seconds and opening
hours mean nothing, so the caller applies windows only when `not clock.compressed`.

Every window is a set of half-open UTC spans `[start, end)`. Local wall-clock intervals are
converted exactly, including days where the zone changes its UTC offset (a wall time in a
spring-forward gap never occurs; one in the autumn fold occurs twice, and both count).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from domain.jurisdiction import US_TIME_ZONES, US_TIME_ZONES_WITH_TERRITORIES
from domain.opening_hours import OpeningHours

__all__ = [
    "CALL_MIN_OPEN",
    "SEARCH_HORIZON",
    "US_TIME_ZONES",
    "US_TIME_ZONES_WITH_TERRITORIES",
    "NoContactSlotError",
    "Span",
    "contact_spans",
    "is_open",
    "next_contact_slot",
]

CALL_MIN_OPEN = timedelta(minutes=30)
"""How long customer service must stay open after a call goes out."""
SEARCH_HORIZON = timedelta(days=366)
"""How far ahead a slot is searched before the hours are declared to have none."""
MAX_MIN_OPEN = timedelta(days=1)

_CHUNK = timedelta(days=7)
_EPSILON = timedelta(microseconds=1)
_DAY = timedelta(days=1)
_ZONE_REACH = timedelta(hours=15)
"""More than any UTC offset (-12:00 ... +14:00): bounds the UTC instants of one local date."""

Span = tuple[datetime, datetime]
"""Half-open `[start, end)` in UTC."""


class NoContactSlotError(ValueError):
    """The hours (with holidays and the jurisdiction's limits) never allow this contact."""


# --- time zone arithmetic --------------------------------------------------------------------


def _offset_at(zone: ZoneInfo, at: datetime) -> timedelta:
    offset = at.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


@lru_cache(maxsize=8192)
def _offset_pieces(zone_name: str, day: date) -> tuple[tuple[datetime, datetime, timedelta], ...]:
    """UTC pieces covering every instant whose wall date in the zone is `day`, each with the
    constant UTC offset in force during it (several pieces only on a transition day).

    Offsets are sampled hourly and transitions located to the second by bisection, which
    assumes no two transitions within an hour: true of every zone in use.
    """
    zone = ZoneInfo(zone_name)
    lo = datetime.combine(day, time(0), tzinfo=UTC) - _ZONE_REACH
    hi = datetime.combine(day + _DAY, time(0), tzinfo=UTC) + _ZONE_REACH
    pieces: list[tuple[datetime, datetime, timedelta]] = []
    start, offset = lo, _offset_at(zone, lo)
    probe = lo
    while probe < hi:
        nxt = min(probe + timedelta(hours=1), hi)
        nxt_offset = _offset_at(zone, nxt)
        if nxt_offset != offset:
            before, after = probe, nxt  # offset(before) == offset, offset(after) != offset
            while after - before > timedelta(seconds=1):
                mid = before + (after - before) / 2
                if _offset_at(zone, mid) == offset:
                    before = mid
                else:
                    after = mid
            pieces.append((start, after, offset))
            start, offset = after, nxt_offset
        probe = nxt
    pieces.append((start, hi, offset))
    return tuple(pieces)


def _wall_spans(zone_name: str, day: date, opens: timedelta, closes: timedelta) -> list[Span]:
    """Every UTC instant at which the zone's wall clock shows `day` between `opens` (inclusive)
    and `closes` (exclusive), both measured from local midnight."""
    midnight = datetime.combine(day, time(0), tzinfo=UTC)
    wall_start, wall_end = midnight + opens, midnight + closes
    spans: list[Span] = []
    for piece_start, piece_end, offset in _offset_pieces(zone_name, day):
        a = max(wall_start - offset, piece_start)
        b = min(wall_end - offset, piece_end)
        if a < b:
            spans.append((a, b))
    return spans


def _local_days(zone_name: str, start: datetime, end: datetime) -> list[date]:
    """Local dates touching `[start, end]`, with a day's margin each side."""
    zone = ZoneInfo(zone_name)
    first = start.astimezone(zone).date() - _DAY
    last = end.astimezone(zone).date() + _DAY
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# --- span algebra ----------------------------------------------------------------------------


def _union(spans: Iterable[Span]) -> list[Span]:
    merged: list[Span] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            if b > merged[-1][1]:
                merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def _intersect(left: Sequence[Span], right: Sequence[Span]) -> list[Span]:
    out: list[Span] = []
    i = j = 0
    while i < len(left) and j < len(right):
        a = max(left[i][0], right[j][0])
        b = min(left[i][1], right[j][1])
        if a < b:
            out.append((a, b))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return out


def _staying_open(spans: Sequence[Span], min_open: timedelta) -> list[Span]:
    """Instants from which the span lasts at least `min_open` more: `t + min_open <= end`.

    Closing time itself is excluded for `min_open == 0` (closed at 20:00 means not open at
    20:00), while a 30-minute call at 19:30 with closing at 20:00 is fine.
    """
    if min_open <= timedelta(0):
        return list(spans)
    out: list[Span] = []
    for a, b in spans:
        end = b - min_open + _EPSILON
        if a < end:
            out.append((a, end))
    return out


# --- the window itself -----------------------------------------------------------------------


def _minutes(value: time) -> timedelta:
    return timedelta(hours=value.hour, minutes=value.minute, seconds=value.second)


def _customer_zones(
    customer_tz: str | None,
    jurisdiction_hours: tuple[time, time] | None,
    unknown_tz_zones: Sequence[str],
) -> tuple[str, ...]:
    if customer_tz is not None:
        return (customer_tz,)
    if jurisdiction_hours is not None:
        return tuple(unknown_tz_zones)
    return ()


def _service_spans(
    hours: OpeningHours, holidays: Collection[date], start: datetime, end: datetime
) -> list[Span]:
    spans: list[Span] = []
    for day in _local_days(hours.timezone, start, end):
        if day in holidays:
            continue
        for iv in hours.intervals_on(day):
            spans += _wall_spans(
                hours.timezone, day, timedelta(minutes=iv.start), timedelta(minutes=iv.end)
            )
    return _union(spans)


def _customer_spans(
    zone_name: str,
    holidays: Collection[date],
    jurisdiction_hours: tuple[time, time] | None,
    start: datetime,
    end: datetime,
) -> list[Span]:
    opens, closes = (
        (_minutes(jurisdiction_hours[0]), _minutes(jurisdiction_hours[1]))
        if jurisdiction_hours is not None
        else (timedelta(0), _DAY)
    )
    spans: list[Span] = []
    for day in _local_days(zone_name, start, end):
        if day not in holidays:
            spans += _wall_spans(zone_name, day, opens, closes)
    return _union(spans)


def contact_spans(
    start: datetime,
    end: datetime,
    hours: OpeningHours,
    customer_tz: str | None,
    holidays: Collection[date],
    *,
    min_open: timedelta = timedelta(0),
    jurisdiction_hours: tuple[time, time] | None = None,
    unknown_tz_zones: Sequence[str] = US_TIME_ZONES,
) -> list[Span]:
    """The instants in `[start, end)` at which a contact may go out, as sorted UTC spans.

    Public for showing "we will call between ..." and for tests; `next_contact_slot` is the
    one the workflow needs.
    """
    start, end = _utc(start, "start"), _utc(end, "end")
    _check_args(min_open, jurisdiction_hours)
    if end <= start:
        return []
    # Service spans are built past `end + min_open` so that staying-open is judged on whole
    # spans, not ones cut off at the edge of the range.
    allowed = _staying_open(_service_spans(hours, holidays, start, end + min_open), min_open)
    for zone_name in _customer_zones(customer_tz, jurisdiction_hours, unknown_tz_zones):
        allowed = _intersect(
            allowed, _customer_spans(zone_name, holidays, jurisdiction_hours, start, end)
        )
    return _intersect(allowed, [(start, end)])


def next_contact_slot(
    planned: datetime,
    hours: OpeningHours,
    customer_tz: str | None,
    holidays: Collection[date],
    *,
    min_open: timedelta = timedelta(0),
    jurisdiction_hours: tuple[time, time] | None = None,
    unknown_tz_zones: Sequence[str] = US_TIME_ZONES,
    horizon: timedelta = SEARCH_HORIZON,
) -> datetime:
    """The earliest instant at or after `planned` (UTC) at which the contact may go out.

    `customer_tz=None` means the customer's zone is unknown: under `jurisdiction_hours` the
    slot must then suit every zone in `unknown_tz_zones`; without a jurisdiction limit only
    customer service's hours and holidays apply. `jurisdiction_hours` is half-open: (08:00,
    21:00) allows 20:59:59 but not 21:00, erring on the side of the consumer.

    Raises `NoContactSlotError` when nothing opens within `horizon`, so a misconfiguration
    fails loudly instead of parking a journey forever.
    """
    planned = _utc(planned, "planned")
    _check_args(min_open, jurisdiction_hours)
    if not hours.ever_open:
        raise NoContactSlotError("customer service opening hours have no open interval at all")
    chunk_start = planned
    limit = planned + horizon
    while chunk_start < limit:
        chunk_end = min(chunk_start + _CHUNK, limit)
        spans = contact_spans(
            chunk_start,
            chunk_end,
            hours,
            customer_tz,
            holidays,
            min_open=min_open,
            jurisdiction_hours=jurisdiction_hours,
            unknown_tz_zones=unknown_tz_zones,
        )
        if spans:
            return spans[0][0]
        chunk_start = chunk_end
    conditions = [f"customer service open ({hours.timezone})"]
    if min_open > timedelta(0):
        conditions[0] += f" for {int(min_open.total_seconds() // 60)} more minutes"
    conditions.append("not a public holiday")
    if jurisdiction_hours is not None:
        zones = customer_tz or f"every one of {', '.join(unknown_tz_zones)}"
        conditions.append(
            f"{jurisdiction_hours[0]:%H:%M}-{jurisdiction_hours[1]:%H:%M} local time in {zones}"
        )
    raise NoContactSlotError(
        f"no contact slot within {horizon.days} days after {planned.isoformat()}: "
        f"no instant is {' and '.join(conditions)}; check the opening hours"
    )


def is_open(
    at: datetime,
    hours: OpeningHours,
    customer_tz: str | None,
    holidays: Collection[date],
    *,
    min_open: timedelta = timedelta(0),
    jurisdiction_hours: tuple[time, time] | None = None,
    unknown_tz_zones: Sequence[str] = US_TIME_ZONES,
) -> bool:
    """Whether a contact may go out at exactly `at` (same rules as `next_contact_slot`)."""
    at = _utc(at, "at")
    spans = contact_spans(
        at,
        at + _EPSILON,
        hours,
        customer_tz,
        holidays,
        min_open=min_open,
        jurisdiction_hours=jurisdiction_hours,
        unknown_tz_zones=unknown_tz_zones,
    )
    return bool(spans)


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _check_args(min_open: timedelta, jurisdiction_hours: tuple[time, time] | None) -> None:
    if not timedelta(0) <= min_open <= MAX_MIN_OPEN:
        raise ValueError(f"min_open must be between 0 and {MAX_MIN_OPEN}, got {min_open}")
    if jurisdiction_hours is not None and not jurisdiction_hours[0] < jurisdiction_hours[1]:
        raise ValueError(
            f"jurisdiction_hours must open before they close, got "
            f"{jurisdiction_hours[0]:%H:%M}-{jurisdiction_hours[1]:%H:%M}"
        )
