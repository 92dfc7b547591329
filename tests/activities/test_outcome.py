"""record_outcome: the invoice row learns how its journey ended."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from structlog.testing import capture_logs
from temporalio.testing import ActivityEnvironment

from activities.outcome import OutcomeActivities
from domain.state import JourneyOutcome
from infra.settings import Settings
from infra.store import InvoiceRow, session_scope
from tests.factories import invoice_row, journey_outcome

CLOSED_AT = datetime(2026, 12, 20, 9, 30, tzinfo=UTC)


def outcome(**overrides: object) -> JourneyOutcome:
    return journey_outcome(**{"closed_at": CLOSED_AT, **overrides})


def add_invoice(settings: Settings) -> None:
    with session_scope(settings.store_url) as session:
        session.add(invoice_row(issued=date(2026, 11, 2), due_date=date(2026, 11, 30)))


def invoice(settings: Settings) -> InvoiceRow | None:
    with session_scope(settings.store_url) as session:
        return session.get(InvoiceRow, "inv_1001")


async def test_outcome_updates_the_invoice_idempotently(settings: Settings) -> None:
    add_invoice(settings)
    record = OutcomeActivities(settings).record_outcome
    await ActivityEnvironment().run(record, outcome())
    await ActivityEnvironment().run(record, outcome())

    row = invoice(settings)
    assert row is not None
    assert (row.status, row.balance, row.fees) == ("paid", Decimal("0.00"), Decimal("60.00"))
    assert (row.steps_sent, row.resolved_at_step) == (2, 1)
    assert row.closed_at is not None
    assert row.closed_at.replace(tzinfo=UTC) == CLOSED_AT
    assert row.workflow_id == "invoice-inv_1001"


async def test_a_later_outcome_replaces_an_earlier_one(settings: Settings) -> None:
    add_invoice(settings)
    record = OutcomeActivities(settings).record_outcome
    await ActivityEnvironment().run(record, outcome())
    await ActivityEnvironment().run(
        record, outcome(phase="handed_over", balance="1310.00", resolved_at_step=None)
    )
    row = invoice(settings)
    assert row is not None
    assert (row.status, row.balance, row.resolved_at_step) == (
        "handed_over",
        Decimal("1310.00"),
        None,
    )


async def test_missing_invoice_is_a_warning_not_a_failure(settings: Settings) -> None:
    with capture_logs() as logs:
        await ActivityEnvironment().run(OutcomeActivities(settings).record_outcome, outcome())
    assert invoice(settings) is None
    assert any(entry["log_level"] == "warning" for entry in logs)
