"""Ratings: one per journey with the step it was at; a second replaces the first, also when
two first ratings arrive at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlmodel import select

from domain.state import HistoryEntry, JourneyState
from infra.store import session_scope
from infra.store_page import CsatRatingRow
from starter.csat import rating_for, record_rating

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def state(*steps: int) -> JourneyState:
    zero = Decimal("0")
    return JourneyState(
        invoice_id="inv_1",
        workflow_id="invoice-inv_1",
        phase="paid",
        segment="standard",
        currency="SEK",
        amount_due=Decimal("100"),
        paid=Decimal("100"),
        credited=zero,
        fees=zero,
        balance=zero,
        due_date=date(2026, 11, 1),
        next_step=None,
        history=tuple(HistoryEntry(at=AT, kind="step", detail="sent", step_index=i) for i in steps),
    )


def test_a_second_rating_replaces_the_first_with_the_step(store_url: str) -> None:
    record_rating(store_url, state(0), 2, "  ")
    record_rating(store_url, state(0, 1), 5, "Bra!")
    row = rating_for(store_url, "invoice-inv_1")
    assert row is not None
    assert (row.rating, row.comment, row.step_index, row.phase) == (5, "Bra!", 1, "paid")
    with pytest.raises(ValueError, match="rating must be 1 to 5"):
        record_rating(store_url, state(), 0, None)


def test_first_ratings_at_once_leave_one_row(store_url: str) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: record_rating(store_url, state(), 1 + n % 5, None), range(16)))
    with session_scope(store_url) as s:
        assert len(s.exec(select(CsatRatingRow)).all()) == 1
