"""The journey's input once its configuration is known: at once for a journey started with
it by value, after one local activity for a journey started by reference.

Signals and updates can reach a journey before that local activity has returned (a signal
sent with the start, an update-with-start, any of them while a store outage keeps the
activity retrying), and every handler reads the policy. So a signal's event is `defer`red
and applied by `load()` right after the configuration is in place, in the order the events
arrived; an update handler `wait`s for it (its validator lets it through, and the handler
checks it once the policy is known). A journey that has its configuration defers nothing
and waits for nothing: handlers of journeys started by value run exactly as before.
Workflow code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from temporalio import workflow
from temporalio.exceptions import ApplicationError

import workflows.activity_calls as calls
from domain.journey_config import resolve, shared_config
from domain.models import JourneyByRef, JourneyInput, JourneyStart
from domain.state import JourneyState
from workflows.activity_calls import CHANNEL_QUEUES_PATCH, LEAN_JOURNEY_PATCH, ROUTE_AT_SEND_PATCH
from workflows.channels import LETTER_PATCH
from workflows.customer_updates import CUSTOMER_UPDATES_PATCH
from workflows.erasure import GDPR_ERASE_PATCH
from workflows.ledger import LAW_CLOCK_PATCH, Ledger
from workflows.planning import ledger_figures
from workflows.requests import journey_ids

PATCHES_BEFORE_REFERENCES = frozenset(
    {
        LAW_CLOCK_PATCH,
        LEAN_JOURNEY_PATCH,
        CHANNEL_QUEUES_PATCH,
        ROUTE_AT_SEND_PATCH,
        CUSTOMER_UPDATES_PATCH,
        LETTER_PATCH,
        GDPR_ERASE_PATCH,
    }
)
"""Every patch released before or with journeys started by reference (`gdpr-erase` shipped in
the same release, so no journey by reference runs on code without it). Frozen: a patch added
later is asked of every journey (`ConfigGate.patched`)."""


class BillingEvent(Protocol):
    @property
    def event_id(self) -> str: ...


E = TypeVar("E", bound=BillingEvent)


class ConfigGate:
    def __init__(self, start: JourneyStart) -> None:
        self.start = start
        """The input as the journey was started: what continue-as-new carries on."""
        self._input = start if isinstance(start, JourneyInput) else None
        self._deferred: list[Callable[[], None]] = []

    def defer(self, handler: Callable[[E], None], event: E) -> bool:
        """True when the event must wait for the configuration (`load` applies it then)."""
        if self._input is not None:
            return False
        self._deferred.append(lambda: handler(event))
        return True

    @property
    def loaded(self) -> bool:
        return self._input is not None

    @property
    def input(self) -> JourneyInput:
        """The journey's input with its configuration; only after `wait()` or `load()`."""
        if self._input is None:  # a query before the first local activity returned
            raise ApplicationError(
                "the journey is still loading its configuration; ask again in a moment",
                type="JourneyConfigNotLoaded",
            )
        return self._input

    def replace(self, inp: JourneyInput) -> None:
        """The input with the customer's personal data erased (workflows.erasure)."""
        self._input = inp

    def carrying(self, ledger: dict[str, Any]) -> JourneyStart:
        """The input of the next run after continue-as-new: the start's form (a reference
        stays a reference: the next run reads the same version by its digest)."""
        return self.start.model_copy(update={"carried": ledger})

    def patched(self, patch_id: str) -> bool:
        """`workflow.patched`, except that a journey started by reference asks none of the
        patches that existed before references did: it started on code that has them all.
        That keeps its history free of their markers, and keeps them out of the workflow
        task its configuration arrives in: when that task was split (a query or a slow store
        made the worker complete it with the local activity's marker alone), a replay learns
        of the patches of the next task too late for code that runs as soon as the
        configuration is in (a step already due), and fails. A patch added after references
        must be asked before `load()` or after a timer, never right after the load."""
        if isinstance(self.start, JourneyByRef) and patch_id in PATCHES_BEFORE_REFERENCES:
            return True
        return workflow.patched(patch_id)

    def starting_state(self, ledger: Ledger, workflow_id: str) -> JourneyState:
        """What the `state` query answers before the configuration is read: the invoice as
        it stands, scheduled, no step planned yet, and the policy and version it will run."""
        start = self.start
        assert isinstance(start, JourneyByRef)  # a journey by value is never without it
        return JourneyState(
            **journey_ids(start, workflow_id),
            phase="scheduled",
            segment=start.segment,
            currency=start.invoice.currency,
            amount_due=start.invoice.amount_due,
            next_step=None,
            **ledger_figures(ledger),
            policy_name=start.config.name,
            config_digest=start.config.digest,
        )

    async def load(self) -> None:
        """Read the referenced configuration, once per run; each process keeps one copy of
        each version for all its journeys (`shared_config`)."""
        if self._input is not None or not isinstance(self.start, JourneyByRef):
            return
        ref = self.start.config
        config = await calls.load_config(ref)
        self._input = resolve(self.start, shared_config(ref.digest, config))
        deferred, self._deferred = self._deferred, []
        for apply in deferred:
            apply()

    async def wait(self) -> bool:
        """Until the configuration is in place; True when the caller had to wait for it."""
        if self._input is not None:
            return False
        await workflow.wait_condition(lambda: self._input is not None)
        return True
