"""Reading a journey's configuration from the versioned store, once, at the journey's start.

The journey runs this as a local activity: its result is recorded in the history, so a
replay reads the configuration from there and never from the store (`workflows.journey`).
An unknown digest or a row whose content is not its digest is permanent (the journey cannot
be planned by a guess); a store that does not answer is retried.
"""

from __future__ import annotations

import asyncio

from pydantic import ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.contracts import ConfigContract
from domain.journey_config import JourneyConfig
from infra.journey_configs import ConfigDigestMismatch, config_body
from infra.logging import get_logger
from infra.settings import Settings

log = get_logger(__name__)

UNKNOWN_CONFIG = "UnknownJourneyConfig"
BAD_CONFIG = "InvalidJourneyConfig"


class ConfigActivities(ConfigContract):
    """load_journey_config (`ConfigContract`)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def load(self, digest: str) -> JourneyConfig:
        workflow_id = activity.info().workflow_id if activity.in_activity() else None
        try:
            body = await asyncio.to_thread(config_body, self._settings.store_url, digest)
        except ConfigDigestMismatch as err:
            log.error("journey configuration corrupt", workflow_id=workflow_id, error=str(err))
            raise ApplicationError(str(err), type=BAD_CONFIG, non_retryable=True) from None
        if body is None:
            log.error("journey configuration unknown", workflow_id=workflow_id, digest=digest)
            raise ApplicationError(
                f"no journey configuration {digest[:12]} in the store (was it started against "
                "another database, or before migration 0005?)",
                type=UNKNOWN_CONFIG,
                non_retryable=True,
            )
        try:
            return JourneyConfig.model_validate_json(body)
        except ValidationError as err:
            message = f"journey configuration {digest[:12]} does not validate: {err}"
            raise ApplicationError(message, type=BAD_CONFIG, non_retryable=True) from None
