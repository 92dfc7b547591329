"""Each activity works as its request's tenant: that tenant's provider accounts and sending
addresses, its store, its templates (the shipped ones where it has none of its own)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.handover import HandoverActivities
from activities.ledger import get_attempt
from activities.outcome import OutcomeActivities
from activities.rendering import SHIPPED_TEMPLATES, template_dirs
from activities.tenancy import TENANT_UNAVAILABLE, PerTenant
from domain.payloads import HandoverResult
from infra.settings import Settings
from infra.store import HandoverRow, InvoiceRow, JourneyOutcomeRow, session_scope
from tests.activities.factory import delivery_request, handover_request
from tests.activities.helpers import attempt, attempt_rows, deliver, outbox_rows
from tests.factories import invoice_row, journey_outcome
from tests.fakes import FakeAgency
from tests.fakes.sendgrid import FakeSendGrid
from tests.fakes.twilio import FakeTwilio
from tests.tenants import add_tenant, tenants_forgotten  # noqa: F401  (a fixture)

pytestmark = pytest.mark.usefixtures("tenants_forgotten")

ACME_SENDGRID_KEY = "SG.acme-key"
ACME_TWILIO_SID = "AC" + "a" * 32
ACME_TWILIO_TOKEN = "acme-token"
ACME_FROM_NUMBER = "+46701110000"
ACME_FROM_EMAIL = "billing@acme.example"


@pytest.fixture
def acme_sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid(api_key=ACME_SENDGRID_KEY) as server:
        yield server


@pytest.fixture
def acme_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(account_sid=ACME_TWILIO_SID, auth_token=ACME_TWILIO_TOKEN) as server:
        yield server


@pytest.fixture
def base(settings: Settings, acme_sendgrid: FakeSendGrid, acme_twilio: FakeTwilio) -> Settings:
    """The deployment: no provider for the default tenant (the outbox), the providers' API
    addresses pointed at the fakes (an address is the deployment's, an account a tenant's)."""
    return settings.model_copy(
        update={
            "sendgrid_api_host": acme_sendgrid.url,
            "twilio_api_base_url": acme_twilio.url,
            "provider_timeout_seconds": 2.0,
        }
    )


@pytest.fixture
def acme(base: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Tenant acme, with SendGrid and Twilio accounts of its own."""
    return add_tenant(
        base,
        "acme",
        settings={
            "sendgrid_from_email": ACME_FROM_EMAIL,
            "twilio_account_sid": ACME_TWILIO_SID,
            "twilio_from_number": ACME_FROM_NUMBER,
        },
        secrets={"sendgrid_api_key": ACME_SENDGRID_KEY, "twilio_auth_token": ACME_TWILIO_TOKEN},
        monkeypatch=monkeypatch,
    )


async def test_acme_email_goes_through_acmes_sendgrid_and_acmes_store(
    base: Settings, acme: Settings, acme_sendgrid: FakeSendGrid
) -> None:
    request = delivery_request("email", tenant="acme", workflow_id="acme:invoice-inv_1001")
    result = await deliver(base, request)  # the worker's activities, built with its settings

    assert (result.status, result.provider) == ("sent", "sendgrid")
    [mail] = acme_sendgrid.mails
    assert mail.headers["authorization"] == f"Bearer {ACME_SENDGRID_KEY}"
    assert mail.json()["from"]["email"] == ACME_FROM_EMAIL
    assert attempt(acme, request).provider_id == result.provider_id
    assert get_attempt(base.store_url, request.invoice_id, request.step_key) is None
    assert attempt_rows(base) == []


async def test_acme_sms_goes_through_acmes_twilio_account(
    base: Settings, acme: Settings, acme_twilio: FakeTwilio
) -> None:
    request = delivery_request("sms", tenant="acme", workflow_id="acme:invoice-inv_1001")
    result = await deliver(base, request)

    assert (result.status, result.provider) == ("sent", "twilio")
    [message] = acme_twilio.messages
    assert f"/Accounts/{ACME_TWILIO_SID}/" in message.path
    basic = base64.b64encode(f"{ACME_TWILIO_SID}:{ACME_TWILIO_TOKEN}".encode()).decode()
    assert message.headers["authorization"] == f"Basic {basic}"
    assert message.form()["From"] == ACME_FROM_NUMBER
    assert attempt(acme, request).status == "sent"
    assert attempt_rows(base) == []


async def test_the_default_tenant_keeps_its_outbox_and_store_beside_acme(
    base: Settings, acme: Settings, acme_sendgrid: FakeSendGrid
) -> None:
    """The same invoice id in both tenants: two journeys, two stores, two ways out."""
    mine = delivery_request("email")
    theirs = delivery_request("email", tenant="acme", workflow_id="acme:invoice-inv_1001")
    assert (await deliver(base, mine)).provider == "outbox"
    assert (await deliver(base, theirs)).provider == "sendgrid"

    assert [m.to_address for m in outbox_rows(base)] == [mine.to]
    assert outbox_rows(acme) == []
    assert attempt(base, mine).provider == "outbox"
    assert attempt(acme, theirs).provider == "sendgrid"
    assert len(acme_sendgrid.mails) == 1


async def test_a_template_acme_overrides_is_its_own_and_the_rest_are_shipped(
    base: Settings, tmp_path: Path
) -> None:
    own = tmp_path / "acme-templates"
    (own / "sv").mkdir(parents=True)
    (own / "sv" / "reminder.email.j2").write_text(
        "{% block subject %}Acme: faktura {{ invoice_number }}{% endblock %}\n"
        "{% block body %}Hej {{ customer_name }}, Acme här.{% endblock %}\n",
        encoding="utf-8",
    )
    bolag = add_tenant(base, "bolag", settings={"templates_dir": str(own)})
    assert template_dirs(bolag) == (own, SHIPPED_TEMPLATES)
    assert template_dirs(base) == (base.templates_dir,)

    email = delivery_request("email", tenant="bolag")
    sms = delivery_request("sms", tenant="bolag")
    await deliver(base, email)
    await deliver(base, sms)
    await deliver(base, delivery_request("email"))

    by_channel = {m.channel: m for m in outbox_rows(bolag)}
    assert by_channel["email"].subject == "Acme: faktura 1001"
    assert by_channel["email"].body == "Hej Berit Andersson, Acme här."
    assert "1001" in by_channel["sms"].body  # the shipped SMS template: bolag has none
    [default_mail] = outbox_rows(base)
    assert "Acme" not in (default_mail.subject or "") + default_mail.body


async def test_acme_hands_over_to_its_agency_with_its_token_into_its_store(
    base: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeAgency(token="acme-agency-token") as agency:
        acme = add_tenant(
            base,
            "acme",
            settings={"collection_agency_url": agency.handover_url},
            secrets={"collection_agency_token": "acme-agency-token"},
            monkeypatch=monkeypatch,
        )
        request = handover_request(tenant="acme", workflow_id="acme:invoice-inv_1001")
        result = await ActivityEnvironment().run(HandoverActivities(base).hand_over, request)
        assert isinstance(result, HandoverResult)
        assert result.delivered_to == agency.handover_url
        assert len(agency.requests) == 1
    with session_scope(acme.store_url) as session:
        assert [h.invoice_id for h in session.exec(select(HandoverRow))] == ["inv_1001"]
    with session_scope(base.store_url) as session:
        assert list(session.exec(select(HandoverRow))) == []


async def test_acmes_outcome_is_recorded_in_acmes_store(base: Settings, acme: Settings) -> None:
    for store in (acme, base):
        with session_scope(store.store_url) as session:
            session.add(invoice_row(issued=date(2026, 11, 2), due_date=date(2026, 11, 30)))
    outcome = journey_outcome(tenant="acme", workflow_id="acme:invoice-inv_1001")
    await ActivityEnvironment().run(OutcomeActivities(base).record_outcome, outcome)

    with session_scope(acme.store_url) as session:
        row = session.get(InvoiceRow, "inv_1001")
        assert row is not None and row.status == "paid"
        assert session.get(JourneyOutcomeRow, "inv_1001") is not None
    with session_scope(base.store_url) as session:
        row = session.get(InvoiceRow, "inv_1001")
        assert row is not None and row.status == "open"
        assert session.get(JourneyOutcomeRow, "inv_1001") is None


async def test_an_unknown_tenant_is_retried_with_its_name(base: Settings) -> None:
    with pytest.raises(ApplicationError) as raised:
        await deliver(base, delivery_request("email", tenant="ghost"))
    assert raised.value.type == TENANT_UNAVAILABLE and not raised.value.non_retryable
    assert "'ghost'" in str(raised.value)
    assert attempt_rows(base) == []


def test_a_tenants_things_are_built_once_and_again_when_its_settings_change(
    base: Settings,
) -> None:
    acme = add_tenant(base, "acme", settings={"sendgrid_from_email": ACME_FROM_EMAIL})
    built: list[str] = []

    def build(settings: Settings) -> str:
        built.append(settings.sendgrid_from_email)
        return settings.sendgrid_from_email

    per_tenant = PerTenant(build, fixed={"default": "given"})
    assert per_tenant.get(base) == "given"
    assert per_tenant.get(acme) == per_tenant.get(acme.model_copy()) == ACME_FROM_EMAIL
    assert built == [ACME_FROM_EMAIL]  # equal settings (a re-read, unchanged): kept
    changed = add_tenant(base, "acme", settings={"sendgrid_from_email": "ar@acme.example"})
    assert per_tenant.get(changed) == "ar@acme.example"
    assert built == [ACME_FROM_EMAIL, "ar@acme.example"]
