"""`/pay/{token}`: the customer's own page for one invoice (README "Customer page").

No API key: the token is the customer's credential, and it opens only its own invoice
(infra/customer_links.py). A bad, revoked or expired link gets a friendly page in the
customer's language (403 or 410), never a stack trace. Every action is a form that works
without JavaScript, carries a CSRF field (starter/pay_guard.py), is rate-limited per link
and per client address, and answers with the page showing the journey's new state at once.
No asset comes from another host: the stylesheet is served here, the tenant's logo and
colours are inlined (starter/pay_brand.py), and the Content Security Policy forbids anything
else.

The link names its tenant (infra/customer_links.py): the page reads that tenant's store,
talks to that tenant's journey and shows that tenant's brand.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from temporalio.service import RPCError

from activities.rendering import format_hours
from domain.models import Invoice
from domain.policies import PolicyFile
from domain.state import JourneyState
from infra.customer_links import (
    csrf_value,
    expired,
    find_link,
    page_secret,
    verified_link,
)
from infra.logging import get_logger
from infra.settings import Settings
from infra.store import CustomerRow, InvoiceRow, session_scope
from infra.tenants import TenantConfigError, UnknownTenant, tenant_settings
from starter import csat, metrics, pay_actions
from starter.actions import JourneyClosed, JourneyNotFound, NoWorker, RequestRefused, get_state
from starter.pay_brand import Brand, brand_of, content_security_policy
from starter.pay_guard import (
    CSRF_COOKIE,
    PageGuard,
    RateLimiter,
    client_address,
    csrf_nonce,
    csrf_ok,
)
from starter.pay_text import TEXT, Lang, pick_lang
from starter.pay_view import Notice, PageData, page_context, render_page
from starter.tenancy import TenantRefused, tenant_policies
from workflows.journey_time import journey_today

log = get_logger("starter.pay_page")

STATE_TIMEOUT_SECONDS = 8.0
SECURITY_HEADERS = {
    "Content-Security-Policy": content_security_policy(None),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass
class PageConfig:
    settings: Settings
    policies: PolicyFile
    guard: PageGuard


router = APIRouter(tags=["customer page"])


def mount(app: FastAPI, settings: Settings, policies: PolicyFile) -> None:
    app.state.customer_page = PageConfig(
        settings,
        policies,
        PageGuard(
            per_address=RateLimiter(settings.customer_page_requests_per_address),
            per_link=RateLimiter(settings.customer_page_actions_per_token),
        ),
    )
    app.include_router(router)


def _config(request: Request) -> PageConfig:
    config: PageConfig = request.app.state.customer_page
    return config


def _html(body: str, brand: Brand, status: int = 200) -> HTMLResponse:
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": content_security_policy(brand)}
    return HTMLResponse(body, status_code=status, headers=headers)


def problem(
    config: PageConfig, lang: Lang, key: str, status: int, settings: Settings | None = None
) -> HTMLResponse:
    """A friendly page instead of the invoice, with how to reach customer service (the
    tenant's, once the link has named a tenant)."""
    metrics.CUSTOMER_PAGE_REFUSED.labels(key).inc()
    settings, t = settings or config.settings, TEXT[lang]
    brand = brand_of(settings)
    hours = _policies(config, settings).opening_hours
    body = render_page(
        settings,
        "problem.html.j2",
        brand=brand,
        t=t,
        lang=lang,
        message=t[key],
        service_phone=settings.customer_service_phone,
        service_hours=settings.customer_service_hours or format_hours(hours, lang),
    )
    return _html(body, brand, status)


def _policies(config: PageConfig, settings: Settings) -> PolicyFile:
    """The policy file of the page's tenant (its opening hours, its plan limits); the
    process's own for the default tenant, or while the tenant's cannot be read."""
    try:
        return tenant_policies(settings, config.policies)
    except TenantRefused as err:
        log.error("tenant's policy file unreadable; the page uses the deployment's", error=str(err))
        return config.policies


class _Refusal(Exception):
    def __init__(self, response: HTMLResponse) -> None:
        self.response = response


def _load_rows(settings: Settings, invoice_id: str) -> tuple[InvoiceRow | None, CustomerRow | None]:
    with session_scope(settings.store_url) as s:
        invoice = s.get(InvoiceRow, invoice_id)
        customer = s.get(CustomerRow, invoice.customer_id) if invoice else None
    return invoice, customer


async def _open(request: Request, token: str, lang_hint: str | None) -> PageData:
    """The page's invoice for a token, or a `_Refusal` with the friendly problem page."""
    config = _config(request)
    settings = config.settings
    fallback = pick_lang(lang_hint, request.headers.get("accept-language"))
    if not config.guard.per_address.allow(f"addr:{client_address(request)}"):
        raise _Refusal(problem(config, fallback, "too_many", 429))
    found = verified_link(page_secret(settings), token)
    if found is None:
        raise _Refusal(problem(config, fallback, "bad_link", 403))
    tenant, lid = found
    try:
        settings = await asyncio.to_thread(tenant_settings, settings, tenant)
    except (UnknownTenant, TenantConfigError) as err:
        log.warning("customer page of a tenant that cannot be served", error=str(err))
        raise _Refusal(problem(config, fallback, "bad_link", 403)) from None
    link = await asyncio.to_thread(find_link, settings, lid)
    if link is None:
        raise _Refusal(problem(config, fallback, "bad_link", 403))
    invoice, customer = await asyncio.to_thread(_load_rows, settings, link.invoice_id)
    if invoice is None:
        raise _Refusal(problem(config, fallback, "bad_link", 403))
    lang = pick_lang(lang_hint, customer.locale if customer else None)
    if link.revoked_at is not None:
        raise _Refusal(problem(config, lang, "revoked_link", 410, settings))
    if expired(invoice, settings, datetime.now(UTC)):
        raise _Refusal(problem(config, lang, "expired_link", 410, settings))
    return PageData(
        token=token, lang=lang, invoice=invoice, customer=customer, state=None, settings=settings
    )


async def _state(request: Request, data: PageData) -> JourneyState | None:
    """The journey's state (the link's tenant's journey), or None when it does not answer."""
    try:
        return await asyncio.wait_for(
            get_state(request.app.state.client, data.invoice.id, data.tenant),
            STATE_TIMEOUT_SECONDS,
        )
    except (
        JourneyNotFound,
        JourneyClosed,
        NoWorker,
        RequestRefused,
        RPCError,
        TimeoutError,
    ) as err:
        log.warning("customer page without journey state", error=type(err).__name__)
        return None


async def _show(request: Request, data: PageData, status: int = 200) -> HTMLResponse:
    config = _config(request)
    settings = data.settings or config.settings
    if data.closed:
        data.rating = await asyncio.to_thread(
            csat.rating_for, settings.store_url, data.invoice.workflow_id or ""
        )
    now = datetime.now(UTC)
    nonce, fresh = csrf_nonce(request)
    policies = _policies(config, settings)
    policy = policies.segments.get(data.invoice.segment or "")
    context = page_context(
        data,
        settings,
        policies.opening_hours,
        policy.plan_max_months if policy else 0,
        csrf_value(page_secret(settings), data.token, nonce),
        now,
        _journey_today(request, data, now),
    )
    brand = brand_of(settings)
    response = _html(render_page(settings, "pay.html.j2", brand=brand, **context), brand, status)
    if fresh:
        response.set_cookie(
            CSRF_COOKIE,
            nonce,
            httponly=True,
            samesite="lax",
            path="/pay",
            secure=request.url.scheme == "https",
        )
    return response


def _journey_today(request: Request, data: PageData, now: datetime) -> date:
    """The customer's date as the journey counts it: the calendar's, or on the demo's
    compressed clock (the API's ingest has one) the date the journey has reached, so that a
    promise the page offers is one the journey accepts."""
    ingest = getattr(request.app.state, "ingest", None)
    factory = getattr(ingest, "clock", None)
    if factory is not None:
        try:
            invoice = Invoice.model_validate(data.invoice, from_attributes=True)
        except ValueError:
            invoice = None
        if invoice is not None:
            return journey_today(now, factory(invoice), data.timezone)
    return now.astimezone(ZoneInfo(data.timezone)).date()


_REFUSAL_PAGES = {
    403: "Not a valid link (or, on a form, a missing or stale CSRF field).",
    404: "Not one of the page's forms.",
    409: "The journey refused the request; the page says why.",
    410: "The link has expired or been revoked.",
    422: "The form was filled in wrongly; the page says which field.",
    429: "Too many requests from this address or for this link.",
    503: "The journey did not answer in time.",
}


def _pages(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The friendly HTML pages a route answers instead of the invoice, for /docs (and for
    schemathesis, tests/fuzz/test_schemathesis.py)."""
    return {
        code: {"description": _REFUSAL_PAGES[code], "content": {"text/html": {}}} for code in codes
    }


@router.get("/pay/{token}", response_class=HTMLResponse, responses=_pages(403, 410, 429))
async def customer_page(request: Request, token: str, lang: str | None = None) -> Response:
    """The invoice's page: what is owed, how to pay, and what the customer can do."""
    try:
        data = await _open(request, token, lang)
    except _Refusal as refused:
        return refused.response
    data.state = await _state(request, data)
    return await _show(request, data)


@router.post(
    "/pay/{token}/{action}",
    response_class=HTMLResponse,
    responses=_pages(403, 404, 409, 410, 422, 429, 503),
)
async def customer_action(request: Request, token: str, action: str) -> Response:
    """One of the page's forms; answers with the page and the journey's new state."""
    config = _config(request)
    try:
        form = pay_actions.parse_form(await request.body())
    except pay_actions.BadInput:
        form = {}
    try:
        data = await _open(request, token, form.get("lang"))
    except _Refusal as refused:
        return refused.response
    settings = data.settings or config.settings
    if not config.guard.per_link.allow(f"link:{token}"):
        return problem(config, data.lang, "too_many", 429, settings)
    if not csrf_ok(request, page_secret(settings), token, form.get("csrf", "")):
        return problem(config, data.lang, "csrf", 403, settings)
    if action not in pay_actions.ACTIONS:
        return problem(config, data.lang, "bad_link", 404, settings)
    if action == "rating":
        data.state = await _state(request, data)
        if not data.closed:
            data.notice = Notice("error", TEXT[data.lang]["rating_after"])
            return await _show(request, data, 409)
        outcome = await pay_actions.rate(settings, data.state, form, data.lang)
    else:
        outcome = await pay_actions.respond(
            request.app.state.client,
            data.invoice.id,
            data.timezone,
            action,
            form,
            data.lang,
            data.tenant,
        )
        log.info("customer page action", action=action, status=outcome.status)
    metrics.CUSTOMER_PAGE_ACTIONS.labels(action, str(outcome.status), data.tenant).inc()
    data.state = outcome.state or await _state(request, data)
    data.notice = outcome.notice
    if outcome.status != 200:
        data.form = {k: v for k, v in form.items() if k != "csrf"}
    return await _show(request, data, outcome.status)


@router.get("/pay-assets/page.css", include_in_schema=False)
def stylesheet(request: Request) -> Response:
    path = Path(_config(request).settings.templates_dir) / "pages" / "page.css"
    return Response(
        path.read_text(encoding="utf-8"),
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
