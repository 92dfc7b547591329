"""Twilio SMS webhook (`/sms`): a text from the customer's phone to all of that customer's
open invoices.

Keywords are Swedish or English, case-insensitive:

- `STOP` `STOPP` `STOPALL` `UNSUBSCRIBE` `CANCEL` `END` `QUIT` `AVSLUTA` (the whole message):
  SMS consent withdrawn on the customer row and `consent_changed(sms, granted=False)`.
- `START` `UNSTOP` `YES` (the whole message): consent given again (`granted=True`).
- `BETALT ...` / `PAID ...`: "I have paid" is not trusted as a payment: `agent_task`.
- `LOVAR 2026-12-05` / `PROMISE 5/12` (an ISO date, or dd/mm[/yyyy]): `respond(promise)`.
- `RING ...` / `CALL ...`: `respond(contact_request)`.
- `1` to `5` (the whole message) answering a thank-you SMS: the journey's rating, stored as
  the customer page stores it (`starter.sms_rating`); without such a thank-you, as below.
- anything else: `agent_task` with the text, for a person to read.

Opt-out words count only as the whole message ("END of month I pay" is not an opt-out; it
goes to an agent). The reply is TwiML `<Message>` in the customer's language.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from fastapi import Response
from temporalio.client import Client
from twilio.twiml.messaging_response import MessagingResponse

from domain.messages import AgentTask, ConsentChange, CustomerResponse
from domain.values import Locale
from infra.settings import Settings
from starter.consent import change_consent
from starter.deadletters import record_async
from starter.routing import (
    ClientDep,
    Form,
    Target,
    customers_by_phone,
    local_today,
    open_targets_for_customers,
)
from starter.sms_rating import rate_by_sms
from starter.webhooks_twilio_common import (
    TenantSettings,
    TwilioForm,
    answer_once,
    ask_agent,
    log,
    respond,
    twilio_router,
    twiml,
)

STOP_WORDS = frozenset(
    {"stop", "stopp", "stopall", "unsubscribe", "cancel", "end", "quit", "avsluta"}
)
START_WORDS = frozenset({"start", "unstop", "yes"})
PAID_WORDS = frozenset({"betalt", "paid"})
PROMISE_WORDS = frozenset({"lovar", "promise"})
CALL_WORDS = frozenset({"ring", "call"})


# --- reading SMS -----------------------------------------------------------------------------

SmsKind = Literal["stop", "start", "paid", "promise", "bad_promise", "call", "rating", "other"]
RATINGS = frozenset({"1", "2", "3", "4", "5"})


@dataclass(frozen=True)
class SmsCommand:
    kind: SmsKind
    promise_date: date | None = None
    rating: int | None = None


_PUNCTUATION = ".,!?;:()[]\"'«»”“"
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DAY_MONTH = re.compile(r"^(\d{1,2})[/.](\d{1,2})(?:[/.](\d{2}|\d{4}))?$")


def parse_promise_date(text: str, today: date) -> date | None:
    """`2026-12-05`, `5/12`, `05/12/2026`, `5.12.26`; day before month, as in Sweden. Without a
    year, the next such date from today on."""
    if m := _ISO_DATE.match(text):
        year, month, day = (int(g) for g in m.groups())
    elif m := _DAY_MONTH.match(text):
        day, month = int(m.group(1)), int(m.group(2))
        if m.group(3) is None:
            try:
                candidate = date(today.year, month, day)
            except ValueError:
                return None
            return candidate if candidate >= today else _next_year(candidate)
        year = int(m.group(3))
        year += 2000 if year < 100 else 0
    else:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _next_year(day: date) -> date | None:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return None


def parse_sms(body: str, today: date) -> SmsCommand:
    words = [w for w in (t.strip(_PUNCTUATION) for t in body.casefold().split()) if w]
    if not words:
        return SmsCommand("other")
    first = words[0]
    if len(words) == 1 and first in STOP_WORDS:
        return SmsCommand("stop")
    if len(words) == 1 and first in START_WORDS:
        return SmsCommand("start")
    if len(words) == 1 and first in RATINGS:
        return SmsCommand("rating", rating=int(first))
    if first in PROMISE_WORDS:
        when = parse_promise_date(words[1], today) if len(words) > 1 else None
        return SmsCommand("promise", when) if when else SmsCommand("bad_promise")
    if first in PAID_WORDS:
        return SmsCommand("paid")
    if first in CALL_WORDS:
        return SmsCommand("call")
    return SmsCommand("other")


# --- what we answer --------------------------------------------------------------------------

SMS_REPLIES: dict[Locale, dict[str, str]] = {
    "sv": {
        "stop": "Du får inte längre sms från oss om dina fakturor. Svara START för att få sms "
        "igen.",
        "start": "Tack! Du får sms från oss om dina fakturor igen. Svara STOPP för att avsluta.",
        "paid": "Tack! Vi kontrollerar betalningen och hör av oss om något saknas.",
        "promise": "Tack! Vi har noterat att du betalar {numbers} senast {date}. Vi påminner "
        "dig inte före dess.",
        "promise_refused": "Vi kunde inte registrera löftet för {numbers}: {reason}. Svara "
        "t.ex. LOVAR {example}, eller RING så kontaktar vi dig.",
        "bad_promise": "Skriv datumet så här: LOVAR {example} (eller LOVAR {short}).",
        "call": "Tack! Kundservice ringer upp dig så snart vi kan.",
        "other": "Tack för ditt meddelande! Kundservice återkommer så snart vi kan.",
        "nothing_open": "Vi hittar ingen obetald faktura för ditt nummer. Tack för att du hörde "
        "av dig!",
        "invoice": "faktura {number}",
        "rating": "Tack för ditt betyg!",
    },
    "en": {
        "stop": "You will no longer get text messages from us about your invoices. Reply START "
        "to get them again.",
        "start": "Thank you! You will get text messages about your invoices again. Reply STOP to "
        "opt out.",
        "paid": "Thank you! We will check the payment and get back to you if anything is missing.",
        "promise": "Thank you! We have noted that you will pay {numbers} by {date}. We will not "
        "remind you before then.",
        "promise_refused": "We could not record the promise for {numbers}: {reason}. Reply e.g. "
        "PROMISE {example}, or CALL and we will contact you.",
        "bad_promise": "Please write the date like this: PROMISE {example} (or PROMISE {short}).",
        "call": "Thank you! Customer service will call you as soon as we can.",
        "other": "Thank you for your message! Customer service will get back to you soon.",
        "nothing_open": "We cannot find an unpaid invoice for your number. Thank you for getting "
        "in touch!",
        "invoice": "invoice {number}",
        "rating": "Thank you for your rating!",
    },
}


def _message(text: str | None) -> str:
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response)


def _numbers(targets: list[Target], locale: Locale) -> str:
    template = SMS_REPLIES[locale]["invoice"]
    return ", ".join(template.format(number=t.invoice_number) for t in targets)


def _examples(today: date) -> dict[str, str]:
    example = today + timedelta(days=7)
    return {"example": example.isoformat(), "short": f"{example.day}/{example.month}"}


# --- answering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sms:
    """One inbound text, read, and who sent it: the customers with the sender's number (one
    person may be several customer records) and their open invoices."""

    settings: Settings
    client: Client
    command: SmsCommand
    body: str
    event_id: str
    customer_ids: list[str]
    targets: list[Target]
    today: date
    locale: Locale

    def text(self, name: str, **values: str) -> str:
        return SMS_REPLIES[self.locale][name].format(**values)


router = twilio_router()


@router.post("/sms", response_class=Response)
async def inbound_sms(form: TwilioForm, settings: TenantSettings, client: ClientDep) -> Response:
    """An SMS from a customer; answered with TwiML `<Message>` in the customer's language."""
    sid = form.get("MessageSid") or form.get("SmsSid") or ""

    async def answer() -> str:
        return _message(await _reply(settings, client, form, sid))

    return twiml(await answer_once(settings, f"sms:{sid}" if sid else None, answer))


async def _reply(settings: Settings, client: Client, form: Form, sid: str) -> str | None:
    """The reply to send, after doing what the text asks; None for a stranger's number."""
    body = (form.get("Body") or "").strip()
    url = settings.store_url
    customers = await asyncio.to_thread(customers_by_phone, url, form.get("From"))
    if not customers:
        await record_async(
            settings, "twilio-sms", form.first_values(), "no customer has this phone number"
        )
        return None
    customer_ids = [c.id for c in customers]
    targets = await asyncio.to_thread(open_targets_for_customers, url, customer_ids)
    today = local_today(customers[0].timezone)
    sms = Sms(
        settings,
        client,
        parse_sms(body, today),
        body,
        f"twilio-sms:{sid or secrets.token_hex(8)}",
        customer_ids,
        targets,
        today,
        customers[0].locale,
    )
    kind = sms.command.kind
    log.info("inbound sms", kind=kind, journeys=len(targets))
    if kind == "rating" and (thanked := await _rating(sms)) is not None:
        return thanked
    if (handler := ANY_TIME.get(kind)) is not None:
        return await handler(sms)
    if not targets:
        reason = f"SMS ({kind}) from a customer with no open invoice"
        await record_async(settings, "twilio-sms", form.first_values(), reason)
        return sms.text("nothing_open")
    return await ABOUT_INVOICES[kind](sms)


async def _consent(sms: Sms) -> str:
    """STOP or START: the customer rows first (later steps read them), then each journey."""
    kind = sms.command.kind
    granted = kind == "start"
    change = ConsentChange(
        event_id=sms.event_id,
        channel="sms",
        granted=granted,
        source=f"SMS {sms.body.upper()[:40]}",
    )
    await change_consent(sms.settings, sms.client, sms.customer_ids, change)
    return sms.text(kind)


async def _rating(sms: Sms) -> str | None:
    """A digit answering a thank-you SMS rates that journey; any other digit is a message."""
    assert sms.command.rating is not None  # parse_sms gives a rating only with its value
    if await rate_by_sms(sms.settings, sms.client, sms.customer_ids, sms.command.rating):
        return sms.text("rating")
    return None


async def _bad_promise(sms: Sms) -> str:
    """A promise without a date we can read: how to write one."""
    return sms.text("bad_promise", **_examples(sms.today))


async def _paid(sms: Sms) -> str:
    summary = f"customer says paid (not a payment; check the bank): {sms.body[:500]}"
    task = AgentTask(event_id=sms.event_id, source="sms", summary=summary)
    await ask_agent(sms.client, sms.targets, task, sms.settings.tenant)
    return sms.text("paid")


async def _other(sms: Sms) -> str:
    summary = f"SMS: {sms.body[:1900] or '(empty)'}"
    task = AgentTask(event_id=sms.event_id, source="sms", summary=summary)
    await ask_agent(sms.client, sms.targets, task, sms.settings.tenant)
    return sms.text("other")


async def _call(sms: Sms) -> str:
    response = CustomerResponse(kind="contact_request", channel="sms", message=sms.body[:2000])
    for t in sms.targets:
        await respond(sms.client, t, response, sms.settings.tenant)
    return sms.text("call")


async def _promise(sms: Sms) -> str:
    """Each open journey decides for itself; the reply names the invoices that took the
    promise and those that refused it (with the first refusal's reason)."""
    when = sms.command.promise_date
    assert when is not None  # parse_sms gives a promise only with its date
    response = CustomerResponse(
        kind="promise", channel="sms", promise_date=when, message=sms.body[:2000]
    )
    accepted: list[Target] = []
    refused: list[tuple[Target, str]] = []
    for t in sms.targets:
        refusal = await respond(sms.client, t, response, sms.settings.tenant)
        if refusal is None:
            accepted.append(t)
        elif not refusal.closed:
            refused.append((t, refusal.reason))
    if not accepted and not refused:
        return sms.text("nothing_open")
    parts = []
    if accepted:
        parts.append(
            sms.text("promise", numbers=_numbers(accepted, sms.locale), date=when.isoformat())
        )
    if refused:
        parts.append(
            sms.text(
                "promise_refused",
                numbers=_numbers([t for t, _ in refused], sms.locale),
                reason=refused[0][1],
                **_examples(sms.today),
            )
        )
    return " ".join(parts)


SmsHandler = Callable[[Sms], Awaitable[str]]

ANY_TIME: dict[SmsKind, SmsHandler] = {
    "stop": _consent,
    "start": _consent,
    "bad_promise": _bad_promise,
}
"""What a text does whether or not the sender has an open invoice."""

ABOUT_INVOICES: dict[SmsKind, SmsHandler] = {
    "paid": _paid,
    "other": _other,
    "rating": _other,
    "call": _call,
    "promise": _promise,
}
"""What a text tells each open invoice's journey; with none open the sender hears so."""
