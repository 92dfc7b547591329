"""Customer satisfaction: the rating a customer gives the reminder experience on the page.

One rating per journey (keyed by workflow id, so a journey reopened after a reversed payment
keeps its one rating); a second rating replaces the first. Each is stored with the step the
journey was at, so that satisfaction can be measured per segment and step (SPEC).
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from domain.state import JourneyState
from infra.store import session_scope, utcnow
from infra.store_page import CsatRatingRow

COMMENT_MAX = 2000


def last_step(state: JourneyState) -> int | None:
    """The index of the last policy step that went out, or None if none did."""
    steps = [h.step_index for h in state.history if h.kind == "step" and h.step_index is not None]
    return max(steps) if steps else None


def record_rating(
    store_url: str, state: JourneyState, rating: int, comment: str | None
) -> CsatRatingRow:
    if not 1 <= rating <= 5:
        raise ValueError(f"rating must be 1 to 5, got {rating}")
    comment = (comment or "").strip()[:COMMENT_MAX] or None
    try:
        return _upsert(store_url, state, rating, comment)
    except IntegrityError:  # a second first rating won the race: replace it instead
        return _upsert(store_url, state, rating, comment)


def _upsert(store_url: str, state: JourneyState, rating: int, comment: str | None) -> CsatRatingRow:
    with session_scope(store_url) as s:
        row = s.exec(
            select(CsatRatingRow).where(CsatRatingRow.workflow_id == state.workflow_id)
        ).first()
        if row is None:
            row = CsatRatingRow(
                workflow_id=state.workflow_id,
                invoice_id=state.invoice_id,
                rating=rating,
                phase=state.phase,
            )
        row.rating, row.comment = rating, comment
        row.phase, row.step_index = state.phase, last_step(state)
        row.updated_at = utcnow()
        s.add(row)
    return row


def rating_for(store_url: str, workflow_id: str) -> CsatRatingRow | None:
    with session_scope(store_url) as s:
        return s.exec(select(CsatRatingRow).where(CsatRatingRow.workflow_id == workflow_id)).first()
