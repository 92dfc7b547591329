"""Configuration from environment variables (and a `.env` file), documented in the README.

Secrets (keys, tokens, the customer-page secret, a DATABASE_URL that may hold a password) come
only from there and are left out of the settings' repr and str, so that a settings object
logged or shown in a traceback names no secret (tests/security/test_secrets.py). They stay
plain strings rather than `SecretStr`: the providers' clients take strings, and the tests'
`model_copy(update=...)`, which does not validate, would otherwise hand some code a `str`
and other code a `SecretStr`."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, PrivateAttr
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from domain.values import Channel

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=Path("data"), description="Where the embedded default keeps state."
    )
    database_url: str | None = Field(
        default=None,
        repr=False,  # may hold the database's password
        description="SQLAlchemy URL of the store; default SQLite in DATA_DIR.",
    )
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "journeys"
    temporal_ui_port: int = 8233
    temporal_tls: bool = Field(
        default=False,
        description="Connect to Temporal over TLS (on by itself with an API key or a client cert).",
    )
    temporal_tls_cert_path: Path | None = Field(
        default=None, description="mTLS client certificate (PEM), e.g. for Temporal Cloud."
    )
    temporal_tls_key_path: Path | None = Field(
        default=None, description="mTLS client private key (PEM), with TEMPORAL_TLS_CERT_PATH."
    )
    temporal_tls_ca_path: Path | None = Field(
        default=None, description="CA that signed the server's certificate, if not a public CA."
    )
    temporal_api_key: str | None = Field(
        default=None, repr=False, description="Temporal Cloud API key; turns TLS on."
    )
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_key: str | None = Field(
        default=None,
        repr=False,
        description="A bootstrap API key holding every role (starter/auth.py).",
    )
    policy_file: Path = REPO_ROOT / "config" / "policies.toml"
    journey_config_by_reference: bool = Field(
        default=True,
        description=(
            "Start journeys with their policy by name and digest (stored once in the "
            "journey_configs table) instead of by value in every input. Workers must run "
            "this release (and the store migration 0005) first; false during a rollout."
        ),
    )
    templates_dir: Path = REPO_ROOT / "templates"
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"

    sendgrid_api_key: str | None = Field(default=None, repr=False)
    sendgrid_from_email: str = "billing@example.com"
    sendgrid_api_host: str = "https://api.sendgrid.com"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = Field(default=None, repr=False)
    twilio_from_number: str | None = None
    twilio_api_base_url: str | None = Field(
        default=None, description="Override Twilio's API host (tests, regional edges)."
    )
    public_base_url: str | None = Field(
        default=None,
        description="Public URL of the HTTP API, for Twilio callbacks (IVR keypresses, status).",
    )
    provider_timeout_seconds: float = 10.0
    max_request_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=1024,
        description="Largest request body the HTTP API reads (SendGrid Inbound Parse: 32 MB).",
    )
    email_sends_per_second: float = Field(
        default=50.0, description="Cap on emails per second across all workers (SendGrid)."
    )
    sms_sends_per_second: float = Field(
        default=1.0, description="Cap on SMS per second: a Twilio long code sends one a second."
    )
    calls_per_second: float = Field(
        default=1.0, description="Cap on calls placed per second (Twilio's default CPS is 1)."
    )
    worker_max_concurrent_activities: int = Field(
        default=50, description="Activities one worker runs at once, per task queue."
    )
    worker_max_concurrent_workflow_tasks: int = Field(
        default=100, description="Workflow tasks one worker processes at once."
    )
    worker_max_cached_workflows: int = Field(
        default=10_000,
        description="Journeys kept in the worker's sticky cache (about 90 kB each when idle, "
        "measured by bench/run.py).",
    )
    worker_sticky_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How long a cached journey's next workflow task waits for this worker "
        "(its sticky queue) before any worker may take it from the shared queue; the SDK's "
        "default. See README, Fairness between tenants.",
    )
    worker_tenant_refresh_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How often the worker reads the tenant registry and makes its delivery "
        "workers match it (tenants added, rates changed, tenants removed), and so how long a "
        "new tenant's first deliveries may wait for its workers.",
    )
    worker_graceful_shutdown_seconds: float = Field(
        default=10.0, ge=0, description="How long running activities get to finish on shutdown."
    )
    api_graceful_shutdown_seconds: int = Field(
        default=15,
        ge=0,
        description="How long open HTTP requests get to finish when the API stops (SIGTERM).",
    )
    # --- inbound surface (webhooks; appended) ---
    sendgrid_webhook_public_key: str | None = Field(
        default=None,
        description="SendGrid signed Event Webhook verification key (base64 DER, as SendGrid "
        "shows it); without it /v1/webhooks/sendgrid/events refuses every request.",
    )
    sendgrid_inbound_token: str | None = Field(
        default=None,
        repr=False,
        description="Inbound Parse must post to /v1/webhooks/sendgrid/inbound?token=<it>; "
        "without it that route refuses every request.",
    )
    stripe_webhook_secret: str | None = Field(
        default=None,
        repr=False,
        description="Stripe webhook signing secret (whsec_...); without it /v1/webhooks/stripe "
        "refuses every request.",
    )
    customer_service_phone: str | None = Field(
        default=None,
        description="E.164 number a called customer is connected to after pressing 2.",
    )
    customer_service_hours: str | None = Field(
        default=None,
        description="Opening hours read to a caller who presses 2 when no "
        "CUSTOMER_SERVICE_PHONE is set, e.g. '08:00-20:00 weekdays'; unset, the policy "
        "file's opening_hours are read.",
    )
    collection_agency_url: str | None = None
    collection_agency_token: str | None = Field(default=None, repr=False)
    # --- measuring the experience (report, leakage, metrics; appended) ---
    report_cost_currency: str = Field(
        default="SEK", description="Currency of the provider costs in the report."
    )
    report_cost_per_email: Decimal = Field(
        default=Decimal("0.01"), ge=0, description="Provider cost of one email (example price)."
    )
    report_cost_per_sms: Decimal = Field(
        default=Decimal("0.60"), ge=0, description="Provider cost of one SMS (example price)."
    )
    report_cost_per_call_minute: Decimal = Field(
        default=Decimal("0.90"), ge=0, description="Provider cost of one call minute (example)."
    )
    report_call_minutes: Decimal = Field(
        default=Decimal("2"),
        ge=0,
        description="Minutes billed per placed call: the ledger keeps no call durations.",
    )
    leakage_window_days: int = Field(
        default=90,
        ge=0,
        description="A customer who churns within this many days after a journey ended counts "
        "as leaked by that journey.",
    )
    leakage_silence_days: int | None = Field(
        default=None,
        ge=1,
        description="If set, a customer with no new invoice this many days after their last "
        "journey ended counts as leaked too.",
    )
    worker_metrics_host: str = Field(
        default="127.0.0.1", description="Address the worker's Prometheus /metrics listens on."
    )
    worker_metrics_port: int = Field(
        default=9464,
        ge=0,
        le=65535,
        description="Port of the worker's Prometheus /metrics; 0 turns it off.",
    )
    # --- customer page (/pay/{token}; appended) ---
    customer_page_secret: str | None = Field(
        default=None,
        repr=False,
        description="Signs the customer-page links and its forms. Unset: a random secret kept "
        "in DATA_DIR/customer_page_secret (the embedded default); set it wherever the worker "
        "and the API do not share DATA_DIR.",
    )
    customer_page_link_days: int = Field(
        default=60, ge=1, le=3650, description="Days a page link works after its journey ends."
    )
    customer_page_actions_per_token: int = Field(
        default=10, ge=1, description="Actions one page link may post per 10 minutes."
    )
    customer_page_requests_per_address: int = Field(
        default=120, ge=1, description="Page requests one client address may make per 10 minutes."
    )
    sendgrid_inbound_domain: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9.-]+\.[A-Za-z]{2,}$",
        description="Domain whose mail SendGrid Inbound Parse receives: outgoing email gets "
        "the reply-to reply+<opaque id>@<it>. Unset: no reply-to.",
    )
    bankgiro: str | None = Field(default=None, description="Bankgiro number shown on the page.")
    plusgiro: str | None = Field(default=None, description="Plusgiro number shown on the page.")
    company_address: str = Field(
        default="Exempelbolaget AB|Box 123|111 22 Stockholm",
        description="The company's address block on paper reminders, lines separated by '|'.",
    )
    letter_provider_url: str | None = Field(
        default=None,
        description="Print-and-post provider's base URL (docs/production.md, 'Letters'). "
        "Unset: letters go to the outbox as PDFs.",
    )
    letter_provider_key: str | None = Field(
        default=None, repr=False, description="Bearer key for the print-and-post provider."
    )
    letters_per_second: float = Field(
        default=5.0, gt=0, description="Letters handed to the print-and-post provider per second."
    )
    # --- tenants (infra/tenants.py; appended): each tenant may set these for itself ---
    brand_name: str | None = Field(
        default=None,
        description="The company's name on the customer page; unset: the first line of "
        "COMPANY_ADDRESS.",
    )
    brand_logo_file: Path | None = Field(
        default=None, description="PNG or SVG logo shown on the customer page (a local file)."
    )
    brand_primary_color: str = Field(
        default="#1f4e79",
        pattern=r"^#[0-9a-fA-F]{6}$",
        description="Customer page's main colour (headings, buttons), as #rrggbb.",
    )
    brand_accent_color: str = Field(
        default="#f2f6fa",
        pattern=r"^#[0-9a-fA-F]{6}$",
        description="Customer page's accent colour (panels), as #rrggbb.",
    )

    _tenant: str = PrivateAttr(default="default")
    _control_store_url: str | None = PrivateAttr(default=None)

    @property
    def tenant(self) -> str:
        """Whose settings these are (domain.tenants): the default tenant's, unless they came
        from `infra.tenants.tenant_settings`. Not a setting: no variable names a tenant."""
        return self._tenant

    def for_tenant(self, tenant: str, control_store_url: str | None = None) -> Settings:
        """These settings as the given tenant's (infra/tenants.py builds them);
        `control_store_url`: the deployment's store, where the cross-tenant tables are."""
        self._tenant = tenant
        self._control_store_url = control_store_url
        return self

    @property
    def control_store_url(self) -> str:
        """The deployment's own store (the default tenant's), which keeps what every tenant
        shares: the tenant registry, API keys, journey configurations (the worker reads a
        journey's configuration there, whichever tenant's journey it is)."""
        return self._control_store_url or self.store_url

    @property
    def store_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'journeys.db').resolve()}"

    @property
    def public_url(self) -> str:
        """Where customers and providers reach the API: PUBLIC_BASE_URL, else API_HOST:API_PORT."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = "localhost" if self.api_host in ("127.0.0.1", "0.0.0.0") else self.api_host
        return f"http://{host}:{self.api_port}"

    @property
    def outbox_in_use(self) -> bool:
        """Some channel delivers to the outbox (the embedded default): the dev inbox is on."""
        return not (self.sendgrid_enabled and self.twilio_enabled)

    @property
    def sendgrid_enabled(self) -> bool:
        return bool(self.sendgrid_api_key)

    @property
    def letter_provider_enabled(self) -> bool:
        return bool(self.letter_provider_url and self.letter_provider_key)

    @property
    def company_address_lines(self) -> tuple[str, ...]:
        return tuple(line.strip() for line in self.company_address.split("|") if line.strip())

    @property
    def twilio_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from_number)

    def channel_rates(self) -> dict[Channel, float | None]:
        """Deliveries per second per channel: the provider's rate when it is configured, no
        limit for the outbox (the embedded default and the benchmark)."""
        return {
            "email": self.email_sends_per_second if self.sendgrid_enabled else None,
            "sms": self.sms_sends_per_second if self.twilio_enabled else None,
            "call": self.calls_per_second if self.twilio_enabled else None,
            "letter": self.letters_per_second if self.letter_provider_enabled else None,
        }

    def local_channels(self) -> tuple[Channel, ...]:
        """Channels delivered by local activity: those without a rate to keep. The starter
        puts them in each journey's input as a first guess; a worker with a provider for one
        of them since answers `rerouted`, and the journey uses the channel's task queue from
        then on (`workflows.activity_calls.deliver`)."""
        return tuple(ch for ch, rate in self.channel_rates().items() if rate is None)


@lru_cache
def get_settings() -> Settings:
    return Settings()
