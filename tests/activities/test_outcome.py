"""record_outcome: the invoice row learns how its journey ended."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal

from structlog.testing import capture_logs
from temporalio.testing import ActivityEnvironment

from activities.outcome import OutcomeActivities
from domain.journey_config import JourneyConfig
from domain.state import JourneyOutcome
from infra.journey_configs import store_config
from infra.settings import Settings
from infra.store import InvoiceRow, JourneyOutcomeRow, session_scope
from tests.factories import invoice_row, journey_outcome, standard_policy

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


def outcome_fact(settings: Settings) -> JourneyOutcomeRow | None:
    with session_scope(settings.store_url) as session:
        return session.get(JourneyOutcomeRow, "inv_1001")


async def test_the_row_names_the_version_the_journey_ran_not_the_file_of_today(
    settings: Settings,
) -> None:
    """A journey names the configuration it ran; the policy file edited since (here: the
    stored version has another name and no fees) does not rewrite what is reported."""
    ran = JourneyConfig(policy=standard_policy().model_copy(update={"segment": "trial-2026"}))
    ref = ran.ref()
    store_config(settings.store_url, ref.digest, ref.name, ran.canonical_json())
    add_invoice(settings)
    record = OutcomeActivities(settings).record_outcome
    await ActivityEnvironment().run(record, outcome(config_digest=ref.digest))

    fact = outcome_fact(settings)
    assert fact is not None
    assert (fact.policy_name, fact.policy_version) == ("trial-2026", ref.version)
    assert fact.fees_charged == Decimal("60.00")  # the ran policy charges no fee: all at close


async def test_a_journey_from_before_versions_is_reported_by_the_file(settings: Settings) -> None:
    with session_scope(settings.store_url) as session:
        session.add(invoice_row(issued=date(2026, 11, 2), segment="standard"))
    record = OutcomeActivities(settings).record_outcome
    await ActivityEnvironment().run(record, outcome())
    fact = outcome_fact(settings)
    assert fact is not None
    assert fact.policy_version is not None and len(fact.policy_version) == 12
    assert (fact.policy_name, fact.segment) == ("standard", "standard")


async def test_a_stored_version_that_no_longer_validates_is_recorded_without_it(
    settings: Settings,
) -> None:
    """A configuration stored by an older release whose model has changed since: retrying
    cannot fix it, so the outcome is recorded (under the digest the journey named) and the
    problem logged, instead of the activity retrying for ever."""
    body = json.dumps({"policy": {"name": "retired", "steps": "not a list"}})
    digest = hashlib.sha256(body.encode()).hexdigest()
    store_config(settings.store_url, digest, "retired", body)
    add_invoice(settings)
    with capture_logs() as logs:
        await ActivityEnvironment().run(
            OutcomeActivities(settings).record_outcome, outcome(config_digest=digest)
        )
    fact = outcome_fact(settings)
    assert fact is not None and fact.policy_version == digest[:12]
    [logged] = [e for e in logs if e["log_level"] == "error"]
    assert "does not validate" in logged["event"] and logged["digest"] == digest[:12]
