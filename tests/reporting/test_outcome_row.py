"""record_outcome writes one outcome row per finished journey, every figure derived from the
store (ledger, payment events, customer, invoices) and the policy file, checked by hand."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from temporalio.testing import ActivityEnvironment

from activities.outcome import OutcomeActivities
from domain.outcomes import policy_version
from domain.state import JourneyOutcome
from infra.policy_file import load_policies
from infra.settings import Settings
from infra.store import (
    ContactAttemptRow,
    CustomerRow,
    JourneyEventRow,
    JourneyOutcomeRow,
    session_scope,
)
from tests.factories import invoice_row, journey_outcome

CLOSED_AT = datetime(2026, 12, 16, 9, 30, tzinfo=UTC)


def seed(settings: Settings) -> None:
    with session_scope(settings.store_url) as s:
        s.add(
            CustomerRow(
                id="cus_berit",
                name="Berit",
                customer_since=date(2020, 3, 1),
                fee_agreed=True,
            )
        )
        s.add(
            invoice_row(issued=date(2026, 11, 2), due_date=date(2026, 11, 30), segment="standard")
        )
        # Seven earlier invoices of 1 250 SEK in the last 24 months: with this one 10 000 SEK,
        # 5 000 SEK a year, a lifetime value of 25 000 SEK over 5 years.
        for month in range(1, 8):
            due = date(2026, month, 30 if month != 2 else 28)
            old = invoice_row(f"inv_old{month}", date(2026, month, 2), due_date=due, status="paid")
            s.add(old)
        # A voided invoice counts nothing towards lifetime value.
        s.add(
            invoice_row("inv_void", date(2026, 9, 2), status="voided", amount_due=Decimal("9999"))
        )
        ledger = [
            ("step-0-email", "email", "sent"),
            ("step-1-sms", "sms", "failed"),  # a bad number: the step fell back to email
            ("step-1-email", "email", "sent"),
            ("thank-you", "email", "sent"),  # not a reminder
        ]
        for key, channel, status in ledger:
            s.add(
                ContactAttemptRow(
                    invoice_id="inv_1001",
                    step_key=key,
                    channel=channel,
                    template="reminder",
                    status=status,
                )
            )
        for n, paid_at in enumerate(["2026-12-10", "2026-12-15"]):
            s.add(
                JourneyEventRow(
                    event_id=f"evt_pay{n}",
                    invoice_id="inv_1001",
                    type="invoice.payment_received",
                    occurred_at=CLOSED_AT,
                    payload=json.dumps({"data": {"paid_at": paid_at, "amount": "625.00"}}),
                )
            )


def paid_outcome(**overrides: object) -> JourneyOutcome:
    # The 60 SEK reminder fee was waived by an agent.
    paid = {"fees": "0.00", "resolved_at_step": 2, "closed_at": CLOSED_AT}
    return journey_outcome(**{**paid, **overrides})


def stored(settings: Settings) -> JourneyOutcomeRow:
    with session_scope(settings.store_url) as s:
        row = s.get(JourneyOutcomeRow, "inv_1001")
        assert row is not None
        return row


def with_rate_for_2026_h2(settings: Settings, tmp_path: Path) -> Settings:
    """The policy file as it will be once the Riksbank's 2026-07-01 reference rate is added
    (the shipped table holds only published half-years)."""
    text = settings.policy_file.read_text(encoding="utf-8")
    text = text.replace('"2026-01-01" = "2.00"\n', '"2026-01-01" = "2.00"\n"2026-07-01" = "2.00"\n')
    path = tmp_path / "policies.toml"
    path.write_text(text, encoding="utf-8")
    return settings.model_copy(update={"policy_file": path})


async def test_every_figure_of_a_paid_journey(settings: Settings, tmp_path: Path) -> None:
    settings = with_rate_for_2026_h2(settings, tmp_path)
    seed(settings)
    record = OutcomeActivities(settings).record_outcome
    await ActivityEnvironment().run(record, paid_outcome())
    await ActivityEnvironment().run(record, paid_outcome())  # idempotent

    row = stored(settings)
    standard = load_policies(settings.policy_file).segments["standard"]
    assert (row.customer_id, row.segment, row.policy_name) == ("cus_berit", "standard", "standard")
    assert row.policy_version == policy_version(standard)
    assert row.policy_version is not None and len(row.policy_version) == 12
    assert (row.outcome, row.steps_sent, row.resolved_at_step) == ("paid", 2, 2)
    assert row.resolved_channel == "email"  # step 2 went out by email after the SMS failed
    assert (row.contacts_email, row.contacts_sms, row.contacts_call) == (2, 0, 0)
    assert row.paid_on == date(2026, 12, 15)  # the latest paid_at
    assert row.days_to_pay == 15
    assert (row.fees_charged, row.fees_waived) == (Decimal("60.00"), Decimal("60.00"))
    # 1 250 SEK at 2.00 % + 8 points = 10 % a year for 15 days: 1250 * 0.10 * 15 / 365 = 5.14
    assert row.interest_accrued == Decimal("5.14")
    assert row.interest_waived == Decimal("5.14")
    assert row.lifetime_value == Decimal("25000.00")
    assert row.closed_at.replace(tzinfo=UTC) == CLOSED_AT
    assert (row.currency, row.amount_due, row.due_date) == (
        "SEK",
        Decimal("1250.00"),
        date(2026, 11, 30),
    )


async def test_a_handed_over_journey_keeps_its_fee_and_interest(
    settings: Settings, tmp_path: Path
) -> None:
    settings = with_rate_for_2026_h2(settings, tmp_path)
    seed(settings)
    record = OutcomeActivities(settings).record_outcome
    await ActivityEnvironment().run(record, paid_outcome())
    # Reopened and closed again: the row is rewritten, not duplicated.
    await ActivityEnvironment().run(
        record,
        paid_outcome(phase="handed_over", balance="1310.00", fees="60.00", resolved_at_step=None),
    )
    row = stored(settings)
    assert (row.outcome, row.resolved_at_step, row.resolved_channel) == ("handed_over", None, None)
    assert (row.paid_on, row.days_to_pay) == (None, None)
    assert (row.fees_charged, row.fees_waived) == (Decimal("60.00"), Decimal("0"))
    # to the close, 16 days: 1250 * 0.10 * 16 / 365 = 5.479... = 5.48, claimed on, not waived
    assert (row.interest_accrued, row.interest_waived) == (Decimal("5.48"), Decimal("0"))
    with session_scope(settings.store_url) as s:
        assert len(s.exec(JourneyOutcomeRow.__table__.select()).all()) == 1  # type: ignore[attr-defined]


async def test_without_a_readable_policy_file_the_row_is_still_written(
    settings: Settings, tmp_path: Path
) -> None:
    seed(settings)
    broken = settings.model_copy(update={"policy_file": tmp_path / "missing.toml"})
    await ActivityEnvironment().run(OutcomeActivities(broken).record_outcome, paid_outcome())
    row = stored(settings)
    assert row.policy_version is None
    assert (row.fees_charged, row.fees_waived) == (Decimal("0.00"), Decimal("0"))
    assert row.interest_accrued == Decimal("0")
    assert row.days_to_pay == 15
