"""Secrets come from the environment (or, for the customer-page secret of the embedded default,
a file only its owner reads) and appear nowhere else: not in the settings' repr, not in a
command's error, not in a log line at DEBUG (ours and the libraries'), not in an HTTP answer,
not in the store, not in the error a provider's refusal becomes.

Each secret has a distinctive value, set in the environment; the requests and deliveries below
all fail in the ways a wrong or missing credential makes them fail."""

from __future__ import annotations

import io
import logging
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import structlog
from sqlalchemy import text
from sqlmodel import SQLModel
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from typer.testing import CliRunner

from activities.handover import HandoverActivities
from infra.customer_links import SECRET_FILE, page_secret, token_for
from infra.logging import configure_logging, redact
from infra.settings import Settings
from infra.store import get_engine
from journeys.db_cli import db_app
from starter import auth
from starter.api import create_app
from tests.activities.factory import closed_port_url, delivery_request, handover_request
from tests.activities.helpers import deliver
from tests.api_server import serving
from tests.fakes import FakeAgency, FakeSendGrid, FakeTwilio
from tests.fakes.fixtures import TWILIO_FROM
from tests.fakes.post import FakePost
from tests.webhooks.conftest import PUBLIC_BASE, SendGridKeys, sendgrid_keys

__all__ = ["sendgrid_keys"]

SECRETS = {
    "API_KEY": "rj_bootstrap-SECRET-0001",
    "TWILIO_AUTH_TOKEN": "twilio-SECRET-0002",
    "SENDGRID_API_KEY": "SG.sendgrid-SECRET-0003",
    "STRIPE_WEBHOOK_SECRET": "whsec_stripe-SECRET-0004",
    "SENDGRID_INBOUND_TOKEN": "inbound-SECRET-0005",
    "CUSTOMER_PAGE_SECRET": "customer-page-SECRET-0006-0123456789abcdef",
    "COLLECTION_AGENCY_TOKEN": "agency-SECRET-0007",
    "LETTER_PROVIDER_KEY": "post-SECRET-0008",
    "TEMPORAL_API_KEY": "temporal-SECRET-0009",
}
DB_PASSWORD = "db-SECRET-0010"


@pytest.fixture
def from_env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Settings:
    """Settings read from the environment, every secret set there; the store, data folder and
    task queue the suite's."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    monkeypatch.setenv("TWILIO_FROM_NUMBER", TWILIO_FROM)
    monkeypatch.setenv("DATABASE_URL", settings.store_url)
    monkeypatch.setenv("DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TEMPORAL_TASK_QUEUE", settings.temporal_task_queue)
    loaded = Settings(_env_file=None)
    for name, value in SECRETS.items():
        assert getattr(loaded, name.lower()) == value, name
    return loaded


@contextmanager
def debug_logs() -> Iterator[list[str]]:
    """Every line logged inside the block, at DEBUG, through the product's own setup (the
    standard library's loggers too: uvicorn, httpx, the providers' clients), filled in when the
    block ends. The lines go to a stream of their own: pytest's capture closes its files
    between a test's phases."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, sys.stderr)
    stream = io.StringIO()
    sys.stderr = stream  # configure_logging binds the stream it finds
    try:
        configure_logging("json", "DEBUG")
    finally:
        sys.stderr = saved[2]
    lines: list[str] = []
    try:
        yield lines
    finally:
        root.handlers[:], level, _ = saved
        root.setLevel(level)
        structlog.reset_defaults()
        lines.extend(stream.getvalue().splitlines())


def leaks(texts: list[str], secrets: list[str]) -> list[tuple[str, str]]:
    return [(s, t[:300]) for t in texts for s in secrets if s in t]


def store_text(url: str) -> list[str]:
    with get_engine(url).connect() as conn:
        return [
            repr(tuple(row))
            for table in SQLModel.metadata.sorted_tables
            for row in conn.execute(text(f"SELECT * FROM {table.name}")).all()
        ]


def test_settings_and_commands_name_no_secret(
    from_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"postgresql+psycopg://journeys:{DB_PASSWORD}@127.0.0.1:1/journeys"
    shown = from_env.model_copy(update={"database_url": url})
    for rendering in (repr(shown), str(shown), f"{shown!r}"):
        assert not leaks([rendering], [*SECRETS.values(), DB_PASSWORD]), rendering
    assert "temporal_address" in repr(shown)  # the rest is still shown

    monkeypatch.setenv("DATABASE_URL", url)  # nothing listens on port 1
    failed = CliRunner().invoke(db_app, ["current"])
    assert failed.exit_code == 2, failed.output
    assert DB_PASSWORD not in failed.output and "127.0.0.1" in failed.output


def test_the_embedded_secret_file_is_its_owners_alone(settings: Settings) -> None:
    assert settings.customer_page_secret is None
    secret = page_secret(settings)
    path = settings.data_dir / SECRET_FILE
    assert path.read_bytes().strip() == secret
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


async def test_refused_requests_name_no_secret(
    from_env: Settings,
    temporal_env: WorkflowEnvironment,
    sendgrid_keys: SendGridKeys,
) -> None:
    settings = from_env.model_copy(
        update={
            "public_base_url": PUBLIC_BASE,
            "sendgrid_webhook_public_key": sendgrid_keys.public_b64,
            "sendgrid_api_host": closed_port_url(),
            "twilio_api_base_url": closed_port_url(),
        }
    )
    _, reader = auth.create_key(settings, "dashboard", "read-only")
    link = token_for(page_secret(settings), "inv_unknown")  # a page link's credential
    secrets = [*SECRETS.values(), reader, link]
    answers: list[httpx.Response] = []
    app = create_app(settings, client=temporal_env.client)
    with debug_logs() as logs:
        async with serving(app) as base_url, httpx.AsyncClient(base_url=base_url) as http:

            async def post(path: str, **kw: Any) -> None:
                answers.append(await http.post(path, **kw))

            await post("/v1/events", json={}, headers={"X-API-Key": SECRETS["TWILIO_AUTH_TOKEN"]})
            await post("/v1/events", json={}, headers={"Authorization": f"Bearer {reader}"})
            await post("/v1/events", json={}, headers={"X-API-Key": SECRETS["API_KEY"] + "x"})
            await post("/v1/events", json={"id": 1}, headers={"X-API-Key": SECRETS["API_KEY"]})
            await post("/v1/invoices/inv_none/actions", headers={"X-API-Key": SECRETS["API_KEY"]})
            form = {"From": "+46700000000", "Body": "STOP", "MessageSid": "SM1"}
            for path in ("/v1/webhooks/twilio/sms", "/v1/webhooks/twilio/status"):
                await post(path, data=form, headers={"X-Twilio-Signature": "forged"})
            await post(
                "/v1/webhooks/stripe", content=b"{}", headers={"Stripe-Signature": "t=1,v1=0"}
            )
            await post(
                "/v1/webhooks/sendgrid/events",
                content=b"[]",
                headers={
                    "X-Twilio-Email-Event-Webhook-Signature": "MEUCIQ==",
                    "X-Twilio-Email-Event-Webhook-Timestamp": "1",
                },
            )
            inbound = "/v1/webhooks/sendgrid/inbound?token="
            await post(inbound + "wrong", data={"from": "x@example.org"})
            await post(inbound + SECRETS["SENDGRID_INBOUND_TOKEN"], data={"subject": "no match"})
            answers.append(await http.get(f"/pay/{link}"))
            answers.append(await http.get("/dev/inbox", headers={"X-API-Key": reader}))

    statuses = [a.status_code for a in answers]
    assert statuses == [401, 403, 401, 422, 422, 403, 403, 403, 403, 403, 200, 403, 404]
    texts = [a.text for a in answers] + [repr(dict(a.headers)) for a in answers]
    assert not leaks(texts, secrets)
    assert not leaks(store_text(settings.store_url), secrets)
    assert any("bad signature" in line for line in logs), logs[-5:]
    assert not leaks(logs, secrets)


async def test_provider_refusals_name_no_credential(from_env: Settings) -> None:
    """Each provider answers 401 to the credential we send (it expects another one): the
    errors, the ledger and the logs say so without repeating what was sent."""
    errors: list[str] = []
    with (
        debug_logs() as logs,
        FakeSendGrid(api_key="SG.the-right-key") as sendgrid,
        FakeTwilio(account_sid=from_env.twilio_account_sid or "", auth_token="right") as twilio,
        FakeAgency(token="the-right-token") as agency,
        FakePost(key="the-right-key") as post,
    ):
        settings = from_env.model_copy(
            update={
                "sendgrid_api_host": sendgrid.url,
                "twilio_api_base_url": twilio.url,
                "collection_agency_url": agency.handover_url,
                "letter_provider_url": post.url,
                "provider_timeout_seconds": 2.0,
            }
        )
        requests = [
            delivery_request("email", step_key="s-email"),
            delivery_request("sms", step_key="s-sms"),
            delivery_request("letter", step_key="s-letter", to="Storgatan 1\n111 22 Stockholm"),
        ]
        for request in requests:
            channel = request.channel
            with pytest.raises(ApplicationError) as refused:
                await deliver(settings, request)
            assert refused.value.type == "ProviderAuthFailed", (channel, str(refused.value))
            errors.append(f"{refused.value} {refused.value.details!r}")
        with pytest.raises(ApplicationError) as refused:
            hand_over = HandoverActivities(settings).hand_over
            await ActivityEnvironment().run(hand_over, handover_request())
        errors.append(f"{refused.value} {refused.value.details!r}")
        sent = [r.headers.get("authorization", "") for r in sendgrid.requests + agency.requests]
    assert any(SECRETS["SENDGRID_API_KEY"] in h for h in sent)  # it was sent, and refused
    assert not leaks(errors, list(SECRETS.values()))
    assert not leaks(store_text(settings.store_url), list(SECRETS.values()))
    assert any("provider refused step" in line for line in logs)
    assert not leaks(logs, list(SECRETS.values()))


def test_credentials_in_urls_are_masked_in_log_lines() -> None:
    """A safety net under the rule of logging no URL that carries one (uvicorn's access log,
    which `journeys api` turns off, would log every request's)."""
    token = "AAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBB"
    cases = {
        "postgresql+psycopg://journeys:pw0rd@db:5432/x": "postgresql+psycopg://journeys:***@db:5432/x",
        "POST /v1/webhooks/sendgrid/inbound?token=t0k&x=1": (
            "POST /v1/webhooks/sendgrid/inbound?token=***&x=1"
        ),
        f"GET /pay/{token}/promise": "GET /pay/AAAAAAAAAAAAAAAAAAAAAA.***/promise",
        "https://h.example/x?a=1&API_KEY=k3y": "https://h.example/x?a=1&API_KEY=***",
        "GET /v1/invoices/inv_1/journey?tokenish=1": "GET /v1/invoices/inv_1/journey?tokenish=1",
    }
    assert {line: redact(line) for line in cases} == cases


def test_the_suite_knows_every_secret_setting() -> None:
    """A new secret setting is left out of the repr and checked here, or this fails."""
    hidden = {name for name, field in Settings.model_fields.items() if not field.repr}
    assert hidden == {name.lower() for name in SECRETS} | {"database_url"}
