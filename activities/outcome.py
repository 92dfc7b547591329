"""Recording how a journey ended, for reporting: the invoice's status, and the outcome row
(`JourneyOutcomeRow`) the experience report aggregates, in one transaction."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from pydantic import ValidationError
from structlog.contextvars import bound_contextvars

from activities.contracts import OutcomeContract
from activities.metrics import JOURNEYS_ENDED
from activities.outcome_facts import outcome_row
from activities.tenancy import PerTenant, settings_of
from domain.journey_config import JourneyConfig
from domain.policies import PolicyConfigError, PolicyFile
from domain.state import JourneyOutcome
from infra.journey_configs import ConfigDigestMismatch, config_body
from infra.logging import get_logger
from infra.policy_file import PolicyFileCache
from infra.settings import Settings
from infra.store import InvoiceRow, JourneyOutcomeRow, session_scope

log = get_logger(__name__)


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; the store writes UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class OutcomeActivities(OutcomeContract):
    """record_outcome (`OutcomeContract`): in the store of the outcome's tenant, with its
    policy file (`activities.tenancy`)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._policies = PerTenant(lambda s: PolicyFileCache(s.policy_file))
        self._configs: dict[str, JourneyConfig | None] = {}

    async def record(self, outcome: JourneyOutcome) -> None:
        """Idempotent: writing the same outcome twice leaves the same rows."""
        with bound_contextvars(
            invoice_id=outcome.invoice_id, workflow_id=outcome.workflow_id, tenant=outcome.tenant
        ):
            await asyncio.to_thread(self._record, outcome)

    def _policy_file(self, settings: Settings) -> PolicyFile | None:
        """The tenant's policy file as it is on disk now, re-read only when it changes. An
        unreadable file does not stop the outcome from being recorded (only its
        policy-derived figures)."""
        try:
            return self._policies.get(settings).get()
        except (OSError, PolicyConfigError) as err:
            log.warning("policy file unreadable; outcome recorded without it", error=str(err))
            return None

    def _ran(self, outcome: JourneyOutcome) -> JourneyConfig | None:
        """The configuration the journey ran, from the control store by its digest (shared
        by every tenant: content-addressed); None if the journey named none or it was never
        stored (a journey started with its configuration by value)."""
        digest = outcome.config_digest
        if digest is None:
            return None
        if digest not in self._configs:
            try:
                body = config_body(self._settings.store_url, digest)
            except ConfigDigestMismatch as err:
                log.error("journey configuration corrupt", error=str(err))
                body = None
            config = self._validated(digest, body) if body is not None else None
            if len(self._configs) >= 64:
                self._configs.clear()
            self._configs[digest] = config
        return self._configs[digest]

    @staticmethod
    def _validated(digest: str, body: str) -> JourneyConfig | None:
        """The stored configuration, or None (logged) when it no longer validates (stored by
        an older release whose model has since changed): the outcome is still recorded, under
        the digest the journey named, since retrying cannot make the row validate."""
        try:
            return JourneyConfig.model_validate_json(body)
        except ValidationError as err:
            log.error(
                "journey configuration does not validate; outcome recorded without it",
                digest=digest[:12],
                error=str(err),
            )
            return None

    def _record(self, outcome: JourneyOutcome) -> None:
        settings = settings_of(self._settings, outcome.tenant)
        policies = self._policy_file(settings)
        with session_scope(settings.store_url) as session:
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
            fact = outcome_row(session, outcome, row, policies, self._ran(outcome))
            existing = session.get(JourneyOutcomeRow, outcome.invoice_id)
            # A retried activity writes the same close again: count each close once.
            new_close = existing is None or (existing.outcome, _utc(existing.closed_at)) != (
                fact.outcome,
                _utc(fact.closed_at),
            )
            if existing is not None:
                for name, value in fact.model_dump(exclude={"invoice_id"}).items():
                    setattr(existing, name, value)
                fact = existing
            session.add(fact)
        if new_close:
            JOURNEYS_ENDED.labels(fact.outcome, fact.segment, outcome.tenant).inc()
        log.info(
            "journey outcome recorded",
            phase=outcome.phase,
            segment=fact.segment,
            steps_sent=outcome.steps_sent,
            resolved_at_step=outcome.resolved_at_step,
        )
