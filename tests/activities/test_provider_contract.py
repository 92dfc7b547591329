"""What every provider sender promises, whichever the provider (SendGrid, Twilio, the
print-and-post provider), against its fake: a step goes out once and is recorded with the
provider's id, a retry after success sends nothing, an answer to try again later is retried
and then sent once, an unreachable provider is retried, wrong credentials are final, and a
send cut off by a crash is never resent while the provider cannot say whether it has it.

What is each provider's own (its request on the wire, its error texts) is tested in
test_sendgrid_delivery.py, test_twilio_delivery.py and test_letter_delivery.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from domain.payloads import DeliveryRequest
from domain.values import Channel
from infra.settings import Settings
from tests.activities.factory import closed_port_url, delivery_request
from tests.activities.helpers import (
    attempt,
    deliver,
    delivery_error,
    killed_after_sending,
    settled,
)
from tests.fakes.server import FakeServer


@dataclass(frozen=True)
class Provider:
    name: str
    channel: Channel
    settings_fixture: str
    """The `settings` pointed at the fake (tests/fakes/fixtures.py)."""
    fake_fixture: str
    url_setting: str
    """Where the sender finds the provider: a closed port makes it unreachable."""
    secret_setting: str
    """What the sender authenticates with: a wrong one is refused 401."""
    id_prefix: str = ""
    to: str | None = None

    def request(self) -> DeliveryRequest:
        extra = {} if self.to is None else {"to": self.to}
        return delivery_request(self.channel, **extra)


PROVIDERS = [
    Provider(
        "sendgrid",
        "email",
        "sendgrid_settings",
        "fake_sendgrid",
        "sendgrid_api_host",
        "sendgrid_api_key",
    ),
    Provider(
        "twilio",
        "sms",
        "twilio_settings",
        "fake_twilio",
        "twilio_api_base_url",
        "twilio_auth_token",
        id_prefix="SM",
    ),
    Provider(
        "post",
        "letter",
        "post_settings",
        "fake_post",
        "letter_provider_url",
        "letter_provider_key",
        id_prefix="L-",
        to="Storgatan 1\n111 22 Stockholm",
    ),
]


@dataclass(frozen=True)
class Against:
    """One provider, its settings and its running fake."""

    provider: Provider
    settings: Settings
    fake: FakeServer

    def with_setting(self, name: str, value: str) -> Settings:
        return self.settings.model_copy(update={name: value})


@pytest.fixture(params=PROVIDERS, ids=lambda p: p.name)
def against(request: pytest.FixtureRequest) -> Against:
    provider: Provider = request.param
    return Against(
        provider,
        request.getfixturevalue(provider.settings_fixture),
        request.getfixturevalue(provider.fake_fixture),
    )


async def test_a_step_goes_out_once_with_the_providers_id(against: Against) -> None:
    request = against.provider.request()
    result = await deliver(against.settings, request)

    assert (result.status, result.provider) == ("sent", against.provider.name)
    assert result.provider_id and result.provider_id.startswith(against.provider.id_prefix)
    assert len(against.fake.requests) == 1
    row = attempt(against.settings, request)
    assert (row.status, row.provider, row.provider_id, row.attempts, row.error) == (
        "sent",
        against.provider.name,
        result.provider_id,
        1,
        None,
    )


async def test_a_retry_after_success_does_not_send_again(against: Against) -> None:
    request = against.provider.request()
    first = await deliver(against.settings, request)
    again = await deliver(against.settings, request)

    assert (again.status, again.provider_id) == ("already_sent", first.provider_id)
    assert len(against.fake.requests) == 1


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(429, "ProviderRateLimited"), (500, "ProviderUnavailable"), (503, "ProviderUnavailable")],
)
async def test_try_again_later_is_retried_then_sent_once(
    against: Against, status: int, error_type: str
) -> None:
    against.fake.script(status)
    request = against.provider.request()
    error = await delivery_error(against.settings, request)
    assert (error.type, error.non_retryable) == (error_type, False)
    assert attempt(against.settings, request).status == "failed"

    result = await deliver(against.settings, request)  # Temporal's retry
    assert result.status == "sent"
    assert len(against.fake.requests) == 2
    row = attempt(against.settings, request)
    assert (row.status, row.attempts, row.error) == ("sent", 2, None)


async def test_an_unreachable_provider_is_retried(against: Against) -> None:
    settings = against.with_setting(against.provider.url_setting, closed_port_url())
    request = against.provider.request()
    error = await delivery_error(settings, request)
    assert (error.type, error.non_retryable) == ("ProviderUnavailable", False)
    assert attempt(settings, request).status == "failed"  # never reached it: may send again


async def test_wrong_credentials_are_a_final_auth_failure(against: Against) -> None:
    settings = against.with_setting(against.provider.secret_setting, "wrong")
    error = await delivery_error(settings, against.provider.request())
    assert (error.type, error.non_retryable) == ("ProviderAuthFailed", True)


async def test_a_provider_that_cannot_list_keeps_a_cut_off_send_unsettled_and_retryable(
    against: Against, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker died after the provider accepted, and the provider's list (its own record,
    which settles the step) fails: the step stays `sending` and is retried, never resent."""
    request = against.provider.request()
    await killed_after_sending(against.settings, request, monkeypatch)
    settled(against.settings, request)
    against.fake.script(503)  # the list fails
    error = await delivery_error(against.settings, request)
    assert (error.type, error.non_retryable) == ("ProviderUnavailable", False)
    assert attempt(against.settings, request).status == "sending"
    sends = [r for r in against.fake.requests if r.method != "GET"]
    assert len(sends) == 1
