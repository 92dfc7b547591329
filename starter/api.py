"""The HTTP API: billing events in, journey state and agent actions out (SPEC, "HTTP API").

Every refusal is `{"detail": "<field>: <problem>"}` so that a billing system's operator can
act on it without reading our code. Request bodies for events and actions are parsed by the
same functions the CLI uses (`parse_events`, `parse_action`), not by FastAPI's own body
validation, so the API and `journeys events import` refuse the same input with the same words.

Access follows `starter/auth.py`: posting events needs the `billing` role, agent actions the
`agent` role, reading any valid key; with no key configured at all, callers on loopback are let
in (the embedded default). The webhook, API-key and dead-letter routers of their own modules
are mounted here so that one app serves the whole contract.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Header, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import Client
from temporalio.service import RPCError

from domain.state import JourneyState
from infra.logging import bind_journey, get_logger
from infra.policy_file import load_policies
from infra.settings import Settings, get_settings
from infra.temporal import connect
from starter import (
    auth,
    deadletters,
    dev_inbox,
    health,
    idempotency,
    metrics,
    pay_page,
    reports_api,
    webhooks_sendgrid,
    webhooks_stripe,
    webhooks_twilio_sms,
    webhooks_twilio_status,
    webhooks_twilio_voice,
)
from starter.actions import (
    ActionRejected,
    JourneyClosed,
    JourneyNotFound,
    NoWorker,
    RequestRefused,
    agent_action,
    get_state,
    parse_action,
)
from starter.body_limit import BodyLimit
from starter.event_schema import (
    EventConflict,
    EventOutcome,
    EventRejected,
    parse_events,
)
from starter.ingest import Ingest
from starter.journey_calendar import ClockFactory
from starter.journey_signals import JourneyMissing
from starter.openapi_doc import Problem, openapi_builder
from starter.routing import MAX_FORM_BYTES, ClientDep
from starter.tenancy import TENANT_RESPONSES, TenantDep, TenantIngestDep

log = get_logger("starter.api")

FASTAPI_UNPARSABLE_BODY = "There was an error parsing the body"


class EventsAccepted(BaseModel):
    outcomes: list[EventOutcome]
    """One per event sent, in the order sent."""


# --- routes ----------------------------------------------------------------------------------

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem},
    403: {"model": Problem},
    409: {"model": Problem},
    422: {"model": Problem},
    503: {"model": Problem},
}


router = APIRouter()


@router.post(
    "/v1/events",
    status_code=202,
    dependencies=[Depends(auth.require_role("billing"))],
    responses={**TENANT_RESPONSES, **_ERRORS},
    tags=["billing"],
)
async def post_events(
    ingest: TenantIngestDep,
    scope: TenantDep,
    payload: Annotated[Any, Body(description="One billing event, or a JSON array of them.")],
) -> EventsAccepted:
    """Billing events; idempotent by event `id`. A bad element refuses the whole array.

    A refused event is also kept as a dead letter (`GET /v1/dead-letters`), so that operations
    see what a billing system keeps sending wrong even if the sender ignores the 422."""
    try:
        events = parse_events(payload)
    except EventRejected as err:
        metrics.EVENTS_REFUSED.labels(scope.tenant).inc()
        await deadletters.record_async(scope, "billing-event", payload, str(err))
        raise
    outcomes = await ingest(events)
    for outcome in outcomes:
        metrics.EVENTS.labels(outcome.type, outcome.status, scope.tenant).inc()
    return EventsAccepted(outcomes=outcomes)


@router.get(
    "/v1/invoices/{invoice_id}/journey",
    dependencies=[Depends(auth.require_role())],
    responses={**TENANT_RESPONSES, 404: {"model": Problem}, 503: {"model": Problem}},
    tags=["journeys"],
)
async def get_journey(invoice_id: str, client: ClientDep, scope: TenantDep) -> JourneyState:
    """The journey's state, as its `state` query returns it (the tenant's journey only)."""
    bind_journey(invoice_id, tenant=scope.tenant)
    return await get_state(client, invoice_id, scope.tenant)


@router.post(
    "/v1/invoices/{invoice_id}/actions",
    dependencies=[Depends(auth.require_role("agent"))],
    responses={**TENANT_RESPONSES, 404: {"model": Problem}, **_ERRORS},
    tags=["journeys"],
)
async def post_action(
    invoice_id: str,
    client: ClientDep,
    scope: TenantDep,
    payload: Annotated[Any, Body(description='An agent action: {"action": ..., "agent": ...}')],
    idempotency_key: Annotated[
        str | None,
        Header(
            description="Makes a retry harmless: a repeat with the same key gets the first "
            "answer and the action is applied once (see starter/idempotency.py)."
        ),
    ] = None,
) -> JourneyState:
    """An agent action on a running journey; answers with the journey's new state."""
    bind_journey(invoice_id, tenant=scope.tenant)
    action = parse_action(payload)
    key = idempotency.check_key(idempotency_key)
    if key is not None:
        earlier = await idempotency.replayed(scope, invoice_id, key, action)
        if earlier is not None:
            metrics.AGENT_ACTIONS.labels(action.action, "replayed", scope.tenant).inc()
            return earlier
    update_id = idempotency.update_id(invoice_id, key) if key is not None else None
    try:
        state = await agent_action(client, invoice_id, action, update_id, scope.tenant)
    except Exception:
        metrics.AGENT_ACTIONS.labels(action.action, "refused", scope.tenant).inc()
        raise
    if key is not None:
        await idempotency.keep(scope, invoice_id, key, action, state)
    metrics.AGENT_ACTIONS.labels(action.action, "applied", scope.tenant).inc()
    log.info("agent action applied", action=action.action, agent=action.agent)
    return state


@router.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
def prometheus_metrics() -> PlainTextResponse:
    """Prometheus metrics of this API process (see starter/metrics.py)."""
    return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    return RedirectResponse("/docs")


# --- errors ----------------------------------------------------------------------------------


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail})


def _format_request_error(err: RequestValidationError) -> str:
    """FastAPI's own validation (bad JSON, missing body) in the same `field: problem` form."""
    lines = []
    for e in err.errors():
        loc = [str(p) for p in e.get("loc", ()) if p != "body"]
        if e.get("type") == "json_invalid":
            reason = e.get("ctx", {}).get("error", "")
            lines.append(f"(root): not valid JSON ({reason})" if reason else "(root): not JSON")
            continue
        lines.append(f"{'.'.join(loc) or '(root)'}: {e.get('msg', 'invalid')}")
    return "; ".join(lines)


def _install_error_handlers(app: FastAPI) -> None:
    mapping: list[tuple[type[Exception], int]] = [
        (EventRejected, 422),
        (ActionRejected, 422),
        (idempotency.KeyRejected, 422),
        (EventConflict, 409),
        (JourneyMissing, 409),
        (JourneyClosed, 409),
        (RequestRefused, 409),
        (JourneyNotFound, 404),
        (NoWorker, 503),
    ]
    for exc_type, status in mapping:

        def handler(_r: Request, exc: Exception, status: int = status) -> JSONResponse:
            return _problem(status, str(exc))

        app.add_exception_handler(exc_type, handler)

    def request_error(_r: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _problem(422, _format_request_error(exc))

    def temporal_error(_r: Request, exc: Exception) -> JSONResponse:
        log.error("temporal call failed", error=str(exc))
        return _problem(503, f"Temporal did not answer: {exc}")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400 and exc.detail == FASTAPI_UNPARSABLE_BODY:
            # FastAPI's words for a body it could not decode at all (not UTF-8): found by
            # schemathesis, undocumented and naming no problem.
            return _problem(422, "(root): not valid JSON (not UTF-8 text)")
        return await http_exception_handler(request, exc)

    app.add_exception_handler(RequestValidationError, request_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RPCError, temporal_error)


# --- the app ---------------------------------------------------------------------------------


def create_app(
    settings: Settings | None = None,
    *,
    client: Client | None = None,
    clock: ClockFactory | None = None,
) -> FastAPI:
    """The API. Pass `client` to share one Temporal connection (dev stack, tests); otherwise
    one is opened at startup. `clock` compresses journey days (the demo)."""
    settings = settings or get_settings()
    policies = load_policies(settings.policy_file)  # a bad policy file stops startup, loudly

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        connected = client or await connect(settings)
        app.state.client = connected
        app.state.ingest = Ingest(connected, settings, policies, clock)
        yield

    app = FastAPI(
        title="Reminder Journeys",
        version="0.1.0",
        description="Own the payment moment: one durable journey per unpaid invoice.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.include_router(router)
    for extra in (
        health.router,
        auth.router,
        deadletters.router,
        reports_api.router,
        webhooks_twilio_sms.router,
        webhooks_twilio_voice.router,
        webhooks_twilio_status.router,
        webhooks_sendgrid.router,
        webhooks_stripe.router,
        dev_inbox.router,
    ):
        app.include_router(extra)
    pay_page.mount(app, settings, policies)
    _install_error_handlers(app)
    app.add_middleware(
        BodyLimit,
        default=settings.max_request_bytes,
        limits={"/v1/webhooks/sendgrid/inbound": MAX_FORM_BYTES},
    )
    _count_webhook_refusals(app)  # added last, so outermost: a webhook's 413 is counted too
    app.openapi = openapi_builder(app)  # type: ignore[method-assign]
    return app


WEBHOOK_PREFIX = "/v1/webhooks/"
WEBHOOK_PROVIDERS = frozenset({"twilio", "sendgrid", "stripe"})


def _count_webhook_refusals(app: FastAPI) -> None:
    """Count every 4xx a webhook route answers, by provider, without touching the webhook
    modules: a provider whose requests we keep refusing (a rotated secret, a changed payload)
    shows on the dashboard before anyone reads the dead letters."""

    @app.middleware("http")
    async def count(request: Request, call_next: Callable[[Request], Any]) -> Any:
        response = await call_next(request)
        path = request.url.path
        if path.startswith(WEBHOOK_PREFIX) and 400 <= response.status_code < 500:
            provider = path.removeprefix(WEBHOOK_PREFIX).split("/", 1)[0]
            if provider not in WEBHOOK_PROVIDERS:  # no label per made-up path
                provider = "other"
            metrics.WEBHOOK_REFUSALS.labels(provider, str(response.status_code)).inc()
        return response
