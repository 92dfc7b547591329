"""A webhook whose signing secret is not configured cannot check what it is sent: it refuses
every request 403, naming the setting to fix."""

from __future__ import annotations

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from infra.settings import Settings
from tests.webhooks.conftest import inbound_app

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@pytest.mark.parametrize(
    ("path", "setting", "content_type"),
    [
        ("/v1/webhooks/twilio/sms", "TWILIO_AUTH_TOKEN", FORM),
        ("/v1/webhooks/twilio/voice", "TWILIO_AUTH_TOKEN", FORM),
        ("/v1/webhooks/sendgrid/events", "SENDGRID_WEBHOOK_PUBLIC_KEY", JSON),
        ("/v1/webhooks/stripe", "STRIPE_WEBHOOK_SECRET", JSON),
    ],
)
async def test_a_webhook_without_its_secret_refuses_everything(
    temporal_env: WorkflowEnvironment,
    inbound_settings: Settings,
    path: str,
    setting: str,
    content_type: str,
) -> None:
    """Every other secret is set: each webhook needs its own."""
    unset = inbound_settings.model_copy(update={setting.lower(): None})
    app = inbound_app(unset, temporal_env.client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.post(
            path,
            content=b"Body=PAID" if content_type == FORM else b"{}",
            headers={
                "Content-Type": content_type,
                "X-Twilio-Signature": "x",
                "X-Twilio-Email-Event-Webhook-Signature": "x",
                "X-Twilio-Email-Event-Webhook-Timestamp": "1",
                "Stripe-Signature": "t=1,v1=x",
            },
        )
    assert response.status_code == 403
    assert response.json()["detail"].endswith(f"cannot be checked without {setting}")
