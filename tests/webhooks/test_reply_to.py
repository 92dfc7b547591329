"""A reply to a reminder email finds its own journey by the reply-to address (real HTTP,
the fake SendGrid, time skipping): two open invoices of one customer, a reply whose subject
and sender would fit both, and the agent task lands on the one the email was about."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.testing import WorkflowEnvironment

from infra.customer_links import link_id, link_id_of_reply, reply_id
from infra.settings import Settings
from tests.factories import journey_input
from tests.fakes.fixtures import fake_sendgrid
from tests.fakes.sendgrid import FakeSendGrid
from tests.webhooks.conftest import (
    EMAIL,
    INBOUND,
    Inbound,
    Journey,
    eventually,
    new_id,
    settle,
    start_input,
    state_of,
)
from tests.webhooks.test_consent_email import through_next_step
from worker import build_worker

__all__ = ["fake_sendgrid"]


async def start_on(inbound: Inbound, settings: Settings) -> Journey:
    return await start_input(inbound, journey_input(new_id("inv")), settings)


def reply(to: str) -> dict[str, Any]:
    fields = {
        "from": f"Berit Andersson <{EMAIL}>",
        "to": to,
        "subject": "Re: hej",
        "text": "Jag har redan betalat, se kvitto.",
        "headers": f"Message-ID: <{new_id('msg')}@mail.example.se>\n",
    }
    return {k: (None, v) for k, v in fields.items()}


async def test_a_reply_becomes_an_agent_task_on_its_own_journey(
    inbound: Inbound, temporal_env: WorkflowEnvironment, fake_sendgrid: FakeSendGrid
) -> None:
    inbound.settings.sendgrid_inbound_domain = "in.example.com"
    mail = inbound.settings.model_copy(
        update={
            **fake_sendgrid.settings(),
            "provider_timeout_seconds": 2.0,
            "temporal_task_queue": inbound.settings.temporal_task_queue + "-mail",
        }
    )
    async with build_worker(temporal_env.client, mail):
        first = await start_on(inbound, mail)
        second = await start_on(inbound, mail)
        await through_next_step(temporal_env, first)
        for _ in range(200):
            if fake_sendgrid.mails:
                break
            await asyncio.sleep(0.05)
        [sent] = fake_sendgrid.mails
        reply_to = sent.json()["reply_to"]["email"]
        local, _, domain = reply_to.partition("@")
        assert domain == "in.example.com" and local.startswith("reply+")
        assert first.invoice_id not in reply_to and "berit" not in reply_to  # no personal data

        response = await inbound.http.post(INBOUND, files=reply(f"Kundservice <{reply_to}>"))
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "applied", "invoices": [first.invoice_id]}
        state = await eventually(first, lambda s: bool(s.open_tasks))
        [task] = state.open_tasks
        assert task.startswith("email reply: Re: hej: Jag har redan betalat")
        await settle()
        assert (await state_of(second)).open_tasks == ()

        # without the reply address, the sender's address fits both open invoices
        both = await inbound.http.post(INBOUND, files=reply("billing@in.example.com"))
        assert sorted(both.json()["invoices"]) == sorted([first.invoice_id, second.invoice_id])


def test_a_reply_id_is_the_link_id_in_one_case() -> None:
    secret = b"s" * 32
    rid = reply_id(secret, "inv_1001")
    assert rid == rid.lower() and len(rid) == 26 and "1001" not in rid
    assert link_id_of_reply(rid) == link_id(secret, "inv_1001")
    assert link_id_of_reply(rid.upper()) == link_id(secret, "inv_1001")  # folded by a mail system
    for bad in ("inv_1001", "", rid[:-1], rid + "a", "!" * 26):
        assert link_id_of_reply(bad) is None
