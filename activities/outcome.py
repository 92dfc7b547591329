"""Recording how a journey ended, for reporting (resolved at which step, at what cost)."""

from __future__ import annotations

import asyncio

from structlog.contextvars import bound_contextvars

from activities.contracts import OutcomeContract
from domain.models import JourneyOutcome
from infra.logging import get_logger
from infra.settings import Settings
from infra.store import InvoiceRow, session_scope

log = get_logger(__name__)


class OutcomeActivities(OutcomeContract):
    """record_outcome (`OutcomeContract`)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def record(self, outcome: JourneyOutcome) -> None:
        """Idempotent: writing the same outcome twice leaves the same row."""
        with bound_contextvars(invoice_id=outcome.invoice_id, workflow_id=outcome.workflow_id):
            await asyncio.to_thread(self._record, outcome)

    def _record(self, outcome: JourneyOutcome) -> None:
        with session_scope(self._settings.store_url) as session:
            row = session.get(InvoiceRow, outcome.invoice_id, with_for_update=True)
            if row is None:
                # The journey is over either way; failing here would only retry forever.
                log.warning("invoice not in the store; outcome not recorded", phase=outcome.phase)
                return
            row.status = outcome.phase
            row.balance = outcome.balance
            row.fees = outcome.fees
            row.steps_sent = outcome.steps_sent
            row.resolved_at_step = outcome.resolved_at_step
            row.closed_at = outcome.closed_at
            if row.workflow_id is None:
                row.workflow_id = outcome.workflow_id
            session.add(row)
        log.info(
            "journey outcome recorded",
            phase=outcome.phase,
            steps_sent=outcome.steps_sent,
            resolved_at_step=outcome.resolved_at_step,
        )
