"""Running delivery activities the way a worker would, and reading the ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

import activities.ledger
from activities.build import build_activities
from activities.delivery import DeliveryActivities
from activities.ledger import get_attempt
from domain.payloads import DeliveryRequest, DeliveryResult
from infra.settings import Settings
from infra.store import ContactAttemptRow, OutboxMessageRow, session_scope, utcnow


def delivery_activities(settings: Settings) -> DeliveryActivities:
    """The DeliveryActivities exactly as `build_activities` wires them for these settings."""
    send_email = build_activities(settings)[0]
    owner = getattr(send_email, "__self__", None)
    assert isinstance(owner, DeliveryActivities)
    return owner


async def deliver(settings: Settings, request: DeliveryRequest) -> DeliveryResult:
    acts = delivery_activities(settings)
    method = {
        "email": acts.send_email,
        "sms": acts.send_sms,
        "call": acts.place_call,
        "letter": acts.send_letter,
    }[request.channel]
    result = await ActivityEnvironment().run(method, request)
    assert isinstance(result, DeliveryResult)
    return result


def attempt(settings: Settings, request: DeliveryRequest) -> ContactAttemptRow:
    row = get_attempt(settings.store_url, request.invoice_id, request.step_key)
    assert row is not None
    return row


def outbox_rows(settings: Settings) -> list[OutboxMessageRow]:
    with session_scope(settings.store_url) as session:
        return list(session.exec(select(OutboxMessageRow)).all())


def attempt_rows(settings: Settings) -> list[ContactAttemptRow]:
    with session_scope(settings.store_url) as session:
        return list(session.exec(select(ContactAttemptRow)).all())


async def delivery_error(settings: Settings, request: DeliveryRequest) -> ApplicationError:
    """The error a delivery fails with, as the worker would hand it to Temporal."""
    with pytest.raises(ApplicationError) as raised:
        await deliver(settings, request)
    return raised.value


class WorkerKilled(Exception):
    """Stands in for the process dying at this point: nothing after it runs."""


async def killed_at(
    settings: Settings,
    request: DeliveryRequest,
    monkeypatch: pytest.MonkeyPatch,
    target: object | str,
    name: str | None = None,
) -> None:
    """Deliver once with the worker dying where `target.name` (or the dotted `target`) is
    called: nothing after that point runs, as when the process is killed there."""

    def crash(*_args: object, **_kwargs: object) -> None:
        raise WorkerKilled("worker process killed")

    with monkeypatch.context() as patch:
        if name is None:
            patch.setattr(str(target), crash)
        else:
            patch.setattr(target, name, crash)
        with pytest.raises(WorkerKilled):
            await deliver(settings, request)


async def killed_after_sending(
    settings: Settings, request: DeliveryRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deliver once with the worker dying after the provider accepted, before the ledger
    says so: the attempt is left "sending"."""
    await killed_at(settings, request, monkeypatch, activities.ledger, "mark_sent")


def settled(settings: Settings, request: object) -> None:
    """Age the unsettled attempt past the ledger's settle time (a retry comes much later)."""
    with session_scope(settings.store_url) as s:
        s.execute(update(ContactAttemptRow).values(updated_at=utcnow() - timedelta(minutes=5)))
