"""hand_over: once per invoice, to the outbox or to the agency's HTTP API."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.handover import HandoverActivities
from domain.payloads import HandoverRequest, HandoverResult
from infra.settings import Settings
from infra.store import CustomerRow, HandoverRow, session_scope
from tests.activities.factory import (
    EMAIL,
    closed_port_url,
    delivery_request,
    handover_request,
)
from tests.activities.helpers import deliver, outbox_rows
from tests.fakes import FakeAgency


async def hand_over(settings: Settings, request: HandoverRequest) -> HandoverResult:
    result = await ActivityEnvironment().run(HandoverActivities(settings).hand_over, request)
    assert isinstance(result, HandoverResult)
    return result


def handovers(settings: Settings) -> list[HandoverRow]:
    with session_scope(settings.store_url) as session:
        return list(session.exec(select(HandoverRow)).all())


async def test_embedded_handover_goes_to_the_outbox_once(settings: Settings) -> None:
    await deliver(settings, delivery_request("email"))
    await deliver(settings, delivery_request("sms", step_key="step-1-sms"))

    first = await hand_over(settings, handover_request())
    again = await hand_over(settings, handover_request())

    assert first == again
    assert (first.reference, first.delivered_to) == ("handover-inv_1001", "outbox")
    [row] = handovers(settings)
    assert (row.customer_id, row.currency, str(row.balance), str(row.fees)) == (
        "cus_berit",
        "SEK",
        "1310.00",
        "60.00",
    )
    evidence = json.loads(row.evidence)
    assert evidence["history"][0]["detail"] == "step 1 (email reminder): sent via outbox"
    assert [a["step_key"] for a in evidence["contact_attempts"]] == ["step-0-email", "step-1-sms"]
    assert {a["status"] for a in evidence["contact_attempts"]} == {"sent"}

    [message] = [m for m in outbox_rows(settings) if m.step_key == "handover"]
    assert (message.channel, message.to_address) == ("email", "collection-agency")
    assert json.loads(message.body) == evidence


async def test_evidence_names_the_debtor_when_known(settings: Settings) -> None:
    with session_scope(settings.store_url) as session:
        session.add(CustomerRow(id="cus_berit", name="Berit Andersson", email=EMAIL))
    await hand_over(settings, handover_request())
    evidence = json.loads(handovers(settings)[0].evidence)
    assert evidence["debtor"]["name"] == "Berit Andersson"
    assert evidence["debtor"]["email"] == EMAIL


async def test_agency_handover_posts_once_with_idempotency_key(
    agency_settings: Settings, fake_agency: FakeAgency
) -> None:
    first = await hand_over(agency_settings, handover_request())
    again = await hand_over(agency_settings, handover_request())

    assert (
        first
        == again
        == HandoverResult(reference="AG-00001", delivered_to=fake_agency.handover_url)
    )
    [posted] = fake_agency.requests
    assert posted.headers["idempotency-key"] == "handover-inv_1001"
    assert posted.headers["authorization"] == "Bearer agency-token"
    body = posted.json()
    assert body["invoice_id"] == "inv_1001"
    assert body["balance"] == "1310.00"
    assert body["history"][0]["kind"] == "step"
    [row] = handovers(agency_settings)
    assert (row.reference, row.delivered_to) == ("AG-00001", fake_agency.handover_url)
    assert all(m.step_key != "handover" for m in outbox_rows(agency_settings))


async def refused_handover(
    settings: Settings, fake_agency: FakeAgency, status: int
) -> ApplicationError:
    """The error of a handover the agency answers `status` to; no handover is recorded."""
    fake_agency.script(status)
    with pytest.raises(ApplicationError) as raised:
        await hand_over(settings, handover_request())
    assert handovers(settings) == []
    return raised.value


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_agency_server_errors_are_retried(
    agency_settings: Settings, fake_agency: FakeAgency, status: int
) -> None:
    error = await refused_handover(agency_settings, fake_agency, status)
    assert not error.non_retryable
    assert "inv_1001" in error.message

    result = await hand_over(agency_settings, handover_request())
    assert result.reference == "AG-00001"
    assert len(fake_agency.requests) == 2
    assert {r.headers["idempotency-key"] for r in fake_agency.requests} == {"handover-inv_1001"}


@pytest.mark.parametrize("status", [400, 401, 404, 422])
async def test_agency_client_errors_are_final(
    agency_settings: Settings, fake_agency: FakeAgency, status: int
) -> None:
    error = await refused_handover(agency_settings, fake_agency, status)
    assert error.non_retryable
    assert error.type == "HandoverRejected"
    assert f"HTTP {status}" in error.message


async def test_wrong_agency_token_is_final(
    agency_settings: Settings, fake_agency: FakeAgency
) -> None:
    settings = agency_settings.model_copy(update={"collection_agency_token": "wrong"})
    with pytest.raises(ApplicationError) as raised:
        await hand_over(settings, handover_request())
    assert raised.value.non_retryable


async def test_unreachable_agency_is_retried(agency_settings: Settings) -> None:
    settings = agency_settings.model_copy(
        update={"collection_agency_url": closed_port_url() + "/handovers"}
    )
    with pytest.raises(ApplicationError) as raised:
        await hand_over(settings, handover_request())
    assert not raised.value.non_retryable
    assert raised.value.type == "ProviderUnavailable"
    assert handovers(settings) == []
