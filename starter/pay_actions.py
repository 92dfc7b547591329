"""The customer page's forms: each one becomes a `CustomerResponse` and goes to the running
journey through `starter.actions.customer_response`, the same validated `respond` update an
SMS reply or the IVR uses, so the page can do nothing the journey would not accept from any
other channel. A rating goes to the store (starter/csat.py) once the journey has ended.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from pydantic import ValidationError
from temporalio.client import Client
from temporalio.service import RPCError

from activities.rendering import BABEL_LOCALES
from domain.messages import CustomerResponse
from domain.state import JourneyState
from domain.tenants import DEFAULT_TENANT
from infra.settings import Settings
from starter import csat
from starter.actions import (
    JourneyClosed,
    JourneyNotFound,
    NoWorker,
    RequestRefused,
    customer_response,
)
from starter.pay_text import TEXT, Lang, plain_refusal
from starter.pay_view import Notice, long_date

ACTIONS = ("promise", "plan", "dispute", "call", "rating")
FORM_MAX_BYTES = 16_384


class BadInput(ValueError):
    """A form field the customer must correct; the message is already in their language."""


@dataclass(frozen=True)
class Outcome:
    status: int
    notice: Notice
    state: JourneyState | None = None


def parse_form(body: bytes) -> dict[str, str]:
    """An urlencoded form (no multipart: the page has no uploads), first value per field."""
    if len(body) > FORM_MAX_BYTES:
        raise BadInput("form too large")
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items() if v}


def build_response(action: str, form: dict[str, str], lang: Lang) -> CustomerResponse:
    t = TEXT[lang]
    try:
        if action == "promise":
            try:
                day = date.fromisoformat(form.get("promise_date", "").strip())
            except ValueError:
                raise BadInput(t["err_date"]) from None
            return CustomerResponse(kind="promise", channel="web", promise_date=day)
        if action == "plan":
            months = form.get("months", "").strip()
            if not months.isdigit() or not 2 <= int(months) <= 60:
                raise BadInput(t["err_months"])
            return CustomerResponse(kind="plan_request", channel="web", plan_months=int(months))
        if action == "dispute":
            reason = form.get("reason", "").strip()
            if not reason:
                raise BadInput(t["err_reason"])
            return CustomerResponse(kind="dispute", channel="web", message=reason[:2000])
        if action == "call":
            try:
                at = datetime.fromisoformat(form.get("slot", "").strip())
            except ValueError:
                raise BadInput(t["err_slot"]) from None
            if at.utcoffset() is None:
                raise BadInput(t["err_slot"])
            return CustomerResponse(kind="contact_request", channel="web", call_at=at)
    except ValidationError as err:
        raise BadInput(str(err.errors()[0].get("msg", "invalid"))) from None
    raise BadInput(t["err_action"])


def _done_text(
    action: str, response: CustomerResponse, state: JourneyState, lang: Lang, timezone: str
) -> str:
    t = TEXT[lang]
    if action == "promise" and response.promise_date:
        return t["done_promise"].format(date=long_date(response.promise_date, lang))
    if action == "plan":
        key = "done_plan_active" if state.phase == "plan_active" else "done_plan_requested"
        return t[key].format(months=response.plan_months)
    if action == "call" and response.call_at:
        local = response.call_at.astimezone(ZoneInfo(timezone))
        slot = format_datetime(local, "EEEE d MMMM HH:mm", locale=BABEL_LOCALES[lang])
        return t["done_call"].format(slot=slot)
    return t["done_dispute"]


async def respond(
    client: Client,
    invoice_id: str,
    timezone: str,
    action: str,
    form: dict[str, str],
    lang: Lang,
    tenant: str = DEFAULT_TENANT,
) -> Outcome:
    """Send one page action to the journey; the outcome says what to show and with what
    status (200 done, 409 refused by the journey, 422 bad input, 503 no answer)."""
    t = TEXT[lang]
    try:
        response = build_response(action, form, lang)
    except BadInput as err:
        return Outcome(422, Notice("error", t["bad_input"].format(reason=err)))
    try:
        state = await customer_response(client, invoice_id, response, tenant)
    except RequestRefused as err:
        reason = plain_refusal(str(err), lang)
        return Outcome(409, Notice("error", t["refused"].format(reason=reason)))
    except JourneyClosed:
        return Outcome(409, Notice("error", t["closed"]))
    except (JourneyNotFound, NoWorker, RPCError):
        return Outcome(503, Notice("error", t["unavailable"]))
    return Outcome(200, Notice("ok", _done_text(action, response, state, lang, timezone)), state)


async def rate(
    settings: Settings, state: JourneyState | None, form: dict[str, str], lang: Lang
) -> Outcome:
    t = TEXT[lang]
    if state is None:
        return Outcome(503, Notice("error", t["unavailable"]))
    value = form.get("rating", "").strip()
    if value not in {"1", "2", "3", "4", "5"}:
        return Outcome(422, Notice("error", t["bad_input"].format(reason=t["err_rating"])))
    await asyncio.to_thread(
        csat.record_rating, settings.store_url, state, int(value), form.get("comment")
    )
    return Outcome(200, Notice("ok", t["done_rating"]), state)
