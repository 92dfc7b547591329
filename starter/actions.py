"""Talking to one running journey: its state, agent actions, customer responses.

Shared by the HTTP API, the CLI and the demo so that every caller gets the same errors: a
journey that does not exist, one that has ended, and a request the journey refuses (the
update validator's own message, which says what is wrong in the journey's terms).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from domain.messages import AgentAction, AgentRequest, CustomerResponse
from domain.models import workflow_id_for
from domain.state import JourneyState
from domain.tenants import DEFAULT_TENANT
from starter.tagged_union import TaggedUnion
from workflows.journey import InvoiceJourney

QUERY_TIMEOUT = timedelta(seconds=10)
"""A query needs a worker to answer; past this the caller hears that none did."""


class JourneyNotFound(LookupError):
    pass


class JourneyClosed(Exception):
    pass


class RequestRefused(Exception):
    """The journey's validator refused the update; the message is the journey's reason."""


class NoWorker(Exception):
    """Temporal knows the journey but no worker answered in time."""


class ActionRejected(ValueError):
    """The action is malformed (unknown name, missing or bad field); the message names it."""


ACTIONS = TaggedUnion(
    AgentAction, BaseModel, noun="an action", unknown="unknown action", rejected=ActionRejected
)
"""Agent actions by their kebab-case name, as the API and the CLI spell them."""


def parse_action(raw: object) -> AgentAction:
    """An agent action from decoded JSON, with errors as `field: problem` (no union noise)."""
    # Every model ACTIONS returns is a member of AgentAction: it read them from that union.
    return cast(AgentAction, ACTIONS.parse(raw))


def _handle(
    client: Client, invoice_id: str, tenant: str = DEFAULT_TENANT
) -> WorkflowHandle[Any, Any]:
    return client.get_workflow_handle(workflow_id_for(invoice_id, tenant))


async def _not_found_or_closed(
    client: Client, invoice_id: str, tenant: str = DEFAULT_TENANT
) -> Exception:
    try:
        desc = await _handle(client, invoice_id, tenant).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return JourneyNotFound(f"no journey for invoice {invoice_id!r}")
        raise
    if desc.status is not None and desc.status != WorkflowExecutionStatus.RUNNING:
        return JourneyClosed(
            f"the journey for invoice {invoice_id!r} has ended ({desc.status.name.lower()})"
        )
    return NoWorker(f"the journey for invoice {invoice_id!r} did not answer")


async def get_state(client: Client, invoice_id: str, tenant: str = DEFAULT_TENANT) -> JourneyState:
    """The journey's own view (`state` query); it answers after the journey ended too."""
    handle = _handle(client, invoice_id, tenant)
    try:
        state = await handle.query(InvoiceJourney.state, rpc_timeout=QUERY_TIMEOUT)
    except WorkflowQueryFailedError as err:
        raise RequestRefused(str(err)) from None
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise await _not_found_or_closed(client, invoice_id, tenant) from None
        if err.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
            raise NoWorker(
                f"no worker answered for invoice {invoice_id!r} within "
                f"{QUERY_TIMEOUT.total_seconds():.0f} s; is `journeys worker` running?"
            ) from None
        raise
    assert isinstance(state, JourneyState)
    return state


def _refusal(err: WorkflowUpdateFailedError) -> RequestRefused:
    cause = err.cause
    if isinstance(cause, ApplicationError):
        return RequestRefused(cause.message)
    return RequestRefused(str(cause or err))


async def _update(
    client: Client,
    invoice_id: str,
    update: Any,
    arg: Any,
    update_id: str | None = None,
    tenant: str = DEFAULT_TENANT,
) -> JourneyState:
    handle = _handle(client, invoice_id, tenant)
    try:
        state = await handle.execute_update(update, arg, id=update_id)
    except WorkflowUpdateFailedError as err:
        raise _refusal(err) from None
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise await _not_found_or_closed(client, invoice_id, tenant) from None
        raise
    assert isinstance(state, JourneyState)
    return state


async def agent_action(
    client: Client, invoice_id: str, action: AgentAction, update_id: str | None = None
) -> JourneyState:
    """`update_id` (from an Idempotency-Key) makes Temporal apply a repeated request once."""
    return await _update(
        client, invoice_id, InvoiceJourney.agent_action, AgentRequest(action=action), update_id
    )


async def customer_response(
    client: Client, invoice_id: str, response: CustomerResponse, tenant: str = DEFAULT_TENANT
) -> JourneyState:
    return await _update(client, invoice_id, InvoiceJourney.respond, response, tenant=tenant)
