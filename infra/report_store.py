"""The store reads behind the experience report: outcome rows joined with what happened to
each customer afterwards (churn, next invoice) and the ratings customers gave.

Everything here only reads; `domain.reporting` does the arithmetic.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime

from sqlmodel import Session, col, select

from domain.reporting import (
    Costs,
    LeakageRule,
    OutcomeFact,
    Report,
    ReportFilter,
    build_report,
)
from infra.settings import Settings
from infra.store import CustomerRow, InvoiceRow, JourneyOutcomeRow, session_scope
from infra.store_page import CsatRatingRow


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; the store writes UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def ratings(session: Session) -> dict[str, int]:
    """Each invoice's latest 1-5 rating from the customer page (a second rating replaces the
    first, so the last one written wins)."""
    rows = session.exec(
        select(CsatRatingRow).order_by(col(CsatRatingRow.updated_at), col(CsatRatingRow.id))
    ).all()
    return {row.invoice_id: row.rating for row in rows if 1 <= row.rating <= 5}


def _next_invoices(session: Session, customer_ids: set[str]) -> dict[str, list[date]]:
    issued: dict[str, list[date]] = defaultdict(list)
    if not customer_ids:
        return issued
    rows = session.exec(
        select(InvoiceRow).where(col(InvoiceRow.customer_id).in_(sorted(customer_ids)))
    ).all()
    for row in rows:
        issued[row.customer_id].append(row.issued_at)
    return issued


def load_outcome_facts(url: str, extra_ratings: dict[str, int] | None = None) -> list[OutcomeFact]:
    """Every recorded outcome as a report fact. `extra_ratings` (invoice id to rating) adds or
    overrides ratings from elsewhere, e.g. SMS replies, or a store without the ratings table."""
    with session_scope(url) as session:
        rows = session.exec(select(JourneyOutcomeRow)).all()
        customer_ids = {r.customer_id for r in rows}
        churned = {
            c.id: _aware(c.churned_at)
            for c in session.exec(
                select(CustomerRow).where(col(CustomerRow.id).in_(sorted(customer_ids)))
            ).all()
        }
        issued = _next_invoices(session, customer_ids)
        given = ratings(session)
    given.update(extra_ratings or {})
    facts = []
    for r in rows:
        closed_at = _aware(r.closed_at)
        assert closed_at is not None
        later = [d for d in issued.get(r.customer_id, []) if d > closed_at.date()]
        facts.append(
            OutcomeFact(
                invoice_id=r.invoice_id,
                customer_id=r.customer_id,
                segment=r.segment,
                policy_name=r.policy_name,
                policy_version=r.policy_version,
                outcome=r.outcome,
                steps_sent=r.steps_sent,
                resolved_at_step=r.resolved_at_step,
                closed_at=closed_at,
                currency=r.currency,
                lifetime_value=r.lifetime_value,
                days_to_pay=r.days_to_pay,
                contacts={
                    "email": r.contacts_email,
                    "sms": r.contacts_sms,
                    "call": r.contacts_call,
                },
                churned_at=churned.get(r.customer_id),
                next_invoice_on=min(later, default=None),
                rating=given.get(r.invoice_id),
            )
        )
    return facts


def report_costs(settings: Settings) -> Costs:
    return Costs(
        per_email=settings.report_cost_per_email,
        per_sms=settings.report_cost_per_sms,
        per_call_minute=settings.report_cost_per_call_minute,
        call_minutes=settings.report_call_minutes,
        currency=settings.report_cost_currency,
    )


def leakage_rule(settings: Settings) -> LeakageRule:
    return LeakageRule(
        window_days=settings.leakage_window_days, silence_days=settings.leakage_silence_days
    )


def journey_report(
    settings: Settings,
    report_filter: ReportFilter,
    as_of: datetime | None = None,
    extra_ratings: dict[str, int] | None = None,
) -> Report:
    """The experience report from the store, with the configured costs and leakage rule:
    what `journeys report` prints and `GET /v1/reports/journeys` answers."""
    return build_report(
        load_outcome_facts(settings.store_url, extra_ratings),
        report_filter,
        report_costs(settings),
        leakage_rule(settings),
        as_of or datetime.now(UTC),
    )
