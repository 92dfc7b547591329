"""SendGrid's unsubscribe, spam report and resubscribe events over real HTTP (signed): the
customer's email consent in the store and in the running journey, which falls back from
email at its next step (time skipping), as it does after an SMS STOP."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from infra.store import CustomerRow, DeadLetterRow, session_scope
from tests.webhooks.conftest import Inbound, Journey, eventually, start_journey
from tests.webhooks.payloads import sendgrid_event


def email_consent(inbound: Inbound, customer_id: str) -> bool:
    with session_scope(inbound.settings.store_url) as s:
        row = s.get(CustomerRow, customer_id)
        assert row is not None
        return row.consent_email


async def through_next_step(env: WorkflowEnvironment, journey: Journey) -> None:
    state = await eventually(journey, lambda s: s.next_step is not None)
    assert state.next_step is not None
    now = await env.get_current_time(journey.handle)
    await env.fast_forward(journey.handle, state.next_step.at - now + timedelta(minutes=1))


async def test_unsubscribe_stops_email_and_the_next_step_falls_back(
    inbound: Inbound, temporal_env: WorkflowEnvironment
) -> None:
    journey = await start_journey(inbound)
    unsubscribe = sendgrid_event(
        "unsubscribe", invoice_id=journey.invoice_id, step_key="step-0-email"
    )
    response = await inbound.sendgrid_events([unsubscribe])
    assert response.status_code == 200, response.text
    assert response.json()["applied"] == 1
    assert not email_consent(inbound, journey.customer_id)
    state = await eventually(journey, lambda s: "email" in s.channels_unavailable)
    [consent] = [h for h in state.history if h.kind == "consent"]
    assert "withdrew consent for email (SendGrid unsubscribe)" in consent.detail

    await through_next_step(temporal_env, journey)
    state = await eventually(journey, lambda s: any(h.outcome == "sent" for h in s.history))
    steps = [(h.channel, h.outcome) for h in state.history if h.kind == "step"]
    assert steps == [("sms", "fallback"), ("sms", "sent")]
    [fallback] = [h for h in state.history if h.outcome == "fallback"]
    assert "no consent for email" in fallback.detail

    again = await inbound.sendgrid_events([unsubscribe])
    assert again.json()["duplicates"] == 1
    back = await inbound.sendgrid_events([sendgrid_event("group_resubscribe", asm_group_id=1)])
    assert back.json()["applied"] == 1
    assert email_consent(inbound, journey.customer_id)
    state = await eventually(journey, lambda s: "email" not in s.channels_unavailable)
    assert "email" not in state.channels_unavailable


async def test_spam_reports_and_group_unsubscribes_withdraw_too(inbound: Inbound) -> None:
    for kind in ("spamreport", "group_unsubscribe"):
        journey = await start_journey(inbound)
        response = await inbound.sendgrid_events([sendgrid_event(kind)])  # found by the address
        assert response.json()["applied"] == 1, kind
        state = await eventually(journey, lambda s: "email" in s.channels_unavailable)
        assert "email" in state.channels_unavailable, kind
        assert not email_consent(inbound, journey.customer_id)
        await inbound.sendgrid_events([sendgrid_event("group_resubscribe")])


async def test_an_unsubscribe_of_an_unknown_address_is_a_dead_letter(inbound: Inbound) -> None:
    response = await inbound.sendgrid_events(
        [sendgrid_event("unsubscribe", email="who@example.org")]
    )
    assert response.json()["dead_letters"] == 1
    with session_scope(inbound.settings.store_url) as s:
        [letter] = list(s.exec(select(DeadLetterRow)).all())
    assert "no customer" in letter.reason
