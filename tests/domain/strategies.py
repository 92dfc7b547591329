"""Hypothesis strategies shared by the domain property tests: opening hours in awkward zones,
holidays, instants near DST changes, customers and policies."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from domain.models import Consent, Customer, Policy, Step
from domain.opening_hours import WEEKDAYS, OpeningHours, OpeningInterval

ZONES = (
    "Europe/Stockholm",
    "Europe/London",
    "America/New_York",
    "America/Chicago",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/St_Johns",  # -03:30 with DST
    "Asia/Kolkata",  # +05:30
    "Australia/Lord_Howe",  # 30-minute DST shift
    "Pacific/Chatham",  # +12:45 / +13:45
    "Asia/Tokyo",
    "UTC",
)
US_HOURS = (time(8), time(21))
"""The US contact hours (FDCPA): 08:00-21:00 in the customer's zone."""


def always_open(zone: str) -> OpeningHours:
    """Service open around the clock, so only the customer's side of a window is tested."""
    return OpeningHours.model_validate(
        {"timezone": zone, "weekly": {day: ["00:00-24:00"] for day in WEEKDAYS}}
    )


US_SERVICE_ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")

# Instants just around DST changes, where wall-clock arithmetic usually breaks.
DST_DATES = (
    datetime(2026, 3, 8, tzinfo=UTC),  # US spring forward
    datetime(2026, 3, 29, tzinfo=UTC),  # EU spring forward
    datetime(2026, 4, 5, tzinfo=UTC),  # Lord Howe / Chatham autumn
    datetime(2026, 9, 27, tzinfo=UTC),  # Chatham spring
    datetime(2026, 10, 4, tzinfo=UTC),  # Lord Howe spring
    datetime(2026, 10, 25, tzinfo=UTC),  # EU fall back
    datetime(2026, 11, 1, tzinfo=UTC),  # US fall back
)


@st.composite
def instants(draw: st.DrawFn) -> datetime:
    """Anywhere in 2024-2028, half the time within two days of a DST change."""
    if draw(st.booleans()):
        base = draw(st.sampled_from(DST_DATES))
        seconds = draw(st.integers(min_value=-2 * 86400, max_value=2 * 86400))
        return base + timedelta(seconds=seconds)
    return draw(
        st.datetimes(
            min_value=datetime(2024, 1, 1),
            max_value=datetime(2028, 12, 31),
            timezones=st.just(UTC),
        )
    )


@st.composite
def day_hours(draw: st.DrawFn, min_length: int = 1) -> tuple[OpeningInterval, ...]:
    """Zero to two non-overlapping intervals, each at least `min_length` minutes."""
    count = draw(st.integers(min_value=0, max_value=2))
    points = sorted(
        draw(
            st.lists(
                st.integers(min_value=0, max_value=1440 // 5).map(lambda m: m * 5),
                min_size=2 * count,
                max_size=2 * count,
                unique=True,
            )
        )
    )
    pairs = [(points[i], points[i + 1]) for i in range(0, len(points), 2)]
    return tuple(
        OpeningInterval(start=a, end=b) for a, b in pairs if b - a >= min_length and a < 1440
    )


@st.composite
def opening_hours(
    draw: st.DrawFn, zones: tuple[str, ...] = ZONES, near: date | None = None
) -> OpeningHours:
    weekly = {day: draw(day_hours(min_length=15)) for day in WEEKDAYS}
    if not any(weekly.values()):
        weekly["mon"] = (OpeningInterval(start=9 * 60, end=17 * 60),)
    exceptions = {}
    if near is not None:
        for offset in draw(st.lists(st.integers(-3, 20), max_size=3, unique=True)):
            exceptions[near + timedelta(days=offset)] = draw(day_hours(min_length=15))
    return OpeningHours(timezone=draw(st.sampled_from(zones)), weekly=weekly, exceptions=exceptions)


def holidays_near(near: date) -> st.SearchStrategy[frozenset[date]]:
    return st.frozensets(
        st.integers(min_value=-2, max_value=30).map(lambda n: near + timedelta(days=n)),
        max_size=6,
    )


def customers() -> st.SearchStrategy[Customer]:
    return st.builds(
        Customer,
        id=st.just("cus_1"),
        name=st.just("Kund"),
        timezone=ZONE_OR_UNKNOWN,
        consent=st.builds(Consent, email=st.booleans(), sms=st.booleans(), call=st.booleans()),
        fee_agreed=st.booleans(),
        is_business=st.booleans(),
        vulnerable=st.booleans(),
    )


FEES = st.one_of(
    st.none(),
    st.decimals(min_value=Decimal("0"), max_value=Decimal("500"), places=2),
    st.sampled_from([Decimal("60.00"), Decimal("60.01"), Decimal("75.00"), Decimal("180.00")]),
)


@st.composite
def policies(draw: st.DrawFn, fee_kinds: bool = False) -> Policy:
    """Any policy, lawful or not (run-time rules must hold even for one the load check would
    refuse). `fee_kinds`: steps' fees may also be collection-letter fees."""
    offsets = sorted(draw(st.lists(st.integers(-5, 60), min_size=1, max_size=8)))
    kinds = ("reminder", "collection_letter") if fee_kinds else ("reminder",)
    steps = [
        Step(
            offset_days=offset,
            channel=draw(st.sampled_from(("email", "sms", "call"))),
            template="reminder",
            fee=draw(FEES),
            fee_kind=draw(st.sampled_from(kinds)),
        )
        for offset in offsets
    ]
    return Policy(
        segment=draw(st.sampled_from(("loyal", "standard", "new", "habitual-late"))),
        steps=tuple(steps),
        send_hour=draw(st.integers(0, 23)),
        plan_fee=draw(FEES),
        resume_grace_days=draw(st.integers(0, 5)),
    )


ZONE_OR_UNKNOWN = st.one_of(st.none(), st.sampled_from(ZONES))
"""A customer's zone, or None: unknown."""
