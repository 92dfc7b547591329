"""Twilio webhooks: inbound SMS, IVR keypresses, and delivery status.

Every request must carry a valid `X-Twilio-Signature` (HMAC of the full public URL and the
form fields with TWILIO_AUTH_TOKEN, checked by Twilio's own `RequestValidator`); anything else
is answered 403 and changes nothing. Each request is handled once per provider id (MessageSid,
CallSid plus keypress, SID plus status): a repeat answers what the first one did.

Inbound SMS (`/sms`), from the customer's phone to all of that customer's open invoices.
Keywords are Swedish or English, case-insensitive:

- `STOP` `STOPP` `STOPALL` `UNSUBSCRIBE` `CANCEL` `END` `QUIT` `AVSLUTA` (the whole message):
  SMS consent withdrawn on the customer row and `consent_changed(sms, granted=False)`.
- `START` `UNSTOP` `YES` (the whole message): consent given again (`granted=True`).
- `BETALT ...` / `PAID ...`: "I have paid" is not trusted as a payment: `agent_task`.
- `LOVAR 2026-12-05` / `PROMISE 5/12` (an ISO date, or dd/mm[/yyyy]): `respond(promise)`.
- `RING ...` / `CALL ...`: `respond(contact_request)`.
- anything else: `agent_task` with the text, for a person to read.

Opt-out words count only as the whole message ("END of month I pay" is not an opt-out; it
goes to an agent). The reply is TwiML `<Message>` in the customer's language.

Voice (`/voice`), the `<Gather>` action of a reminder call, found by CallSid in the ledger:
1 promises payment within 7 days; 2 connects to CUSTOMER_SERVICE_PHONE (a missed transfer
becomes an agent task) or, without one, reads the opening hours (CUSTOMER_SERVICE_HOURS, else
the policy file's `opening_hours`) and creates an agent task;
anything else repeats the menu once.

Status (`/status`): an SMS `failed`/`undelivered`, or a call that `failed`, was `busy` or
not answered, is a `delivery_failed` for its step, so the step is re-sent on the next channel
(an undelivered SMS falls back to email). It is `permanent` (the number is marked bad for
later steps too) only for error codes that say the number itself is wrong: 21211, 21214,
21217, 21610, 21614, 30003, 30005, 30006. Carrier filtering, queue overflow, unknown errors and
unanswered calls are not permanent: the next step may use the channel again.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Final, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from jinja2 import Environment, FileSystemLoader, TemplateError
from temporalio.client import Client
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from activities.rendering import format_hours
from activities.twilio_sender import INVALID_RECIPIENT_CODES, OPTED_OUT_CODES, VOICE_LANGUAGES
from domain.models import (
    AgentTask,
    ConsentChange,
    ConversationHeld,
    CustomerResponse,
    DeliveryFailure,
    Locale,
    OpeningHours,
)
from infra.logging import get_logger
from infra.settings import Settings
from starter.actions import (
    JourneyClosed,
    JourneyNotFound,
    RequestRefused,
    customer_response,
)
from starter.deadletters import record_async
from starter.routing import (
    ClientDep,
    Form,
    SettingsDep,
    Target,
    attempt_by_provider_id,
    customers_by_phone,
    local_today,
    open_targets_for_customers,
    public_url,
    read_form,
    remember,
    seen,
    set_sms_consent,
    signal_journey,
    target_for_invoice,
)
from workflows.journey import InvoiceJourney

log = get_logger("starter.webhooks.twilio")

PROVIDER: Final = "twilio"
IVR_PROMISE_DAYS = 7
VOICE_PATH = "/v1/webhooks/twilio/voice"

STOP_WORDS = frozenset(
    {"stop", "stopp", "stopall", "unsubscribe", "cancel", "end", "quit", "avsluta"}
)
START_WORDS = frozenset({"start", "unstop", "yes"})
PAID_WORDS = frozenset({"betalt", "paid"})
PROMISE_WORDS = frozenset({"lovar", "promise"})
CALL_WORDS = frozenset({"ring", "call"})

PERMANENT_SMS_CODES: frozenset[int] = frozenset(
    {
        30003,  # unreachable destination handset
        30005,  # unknown destination handset (the number does not exist)
        30006,  # landline or unreachable carrier
    }
    | INVALID_RECIPIENT_CODES  # 21211, 21214, 21217, 21408, 21614
    | OPTED_OUT_CODES  # 21610: the recipient replied STOP to Twilio itself
) - {21408}  # region not enabled: our account's problem, not the customer's number
FAILED_SMS_STATUSES = frozenset({"failed", "undelivered"})
FAILED_CALL_STATUSES = frozenset({"failed", "busy", "no-answer"})


# --- reading SMS -----------------------------------------------------------------------------

SmsKind = Literal["stop", "start", "paid", "promise", "bad_promise", "call", "other"]


@dataclass(frozen=True)
class SmsCommand:
    kind: SmsKind
    promise_date: date | None = None


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
    },
}

VOICE_TEXTS: dict[Locale, dict[str, str]] = {
    "sv": {
        "promised": "Tack! Vi har noterat att du betalar senast den {date}. Hej då.",
        "promise_refused": "Vi kunde inte registrera ditt löfte. Kundservice kontaktar dig. "
        "Hej då.",
        "closed": "Tack! Fakturan är redan avslutad. Hej då.",
        "connecting": "Vi kopplar dig till kundservice.",
        "hours": "Kundservice har öppet {hours}. ",
        "callback": "{hours}Vi har bett kundservice att ringa upp dig. Hej då.",
        "missed": "Tyvärr kunde ingen svara just nu. {hours}Vi ringer upp dig. Hej då.",
        "goodbye": "Tack för att du lyssnade. Hej då.",
        "unknown": "Tack för ditt samtal. Hej då.",
        "menu": "Tryck 1 för att lova att betala inom 7 dagar. Tryck 2 för att komma till "
        "kundservice.",
    },
    "en": {
        "promised": "Thank you! We have noted that you will pay by {date}. Goodbye.",
        "promise_refused": "We could not record your promise. Customer service will contact "
        "you. Goodbye.",
        "closed": "Thank you! This invoice is already settled. Goodbye.",
        "connecting": "Connecting you to customer service.",
        "hours": "Customer service is open {hours}. ",
        "callback": "{hours}We have asked customer service to call you back. Goodbye.",
        "missed": "Sorry, nobody could answer right now. {hours}We will call you back. Goodbye.",
        "goodbye": "Thank you for listening. Goodbye.",
        "unknown": "Thank you for your call. Goodbye.",
        "menu": "Press 1 to promise payment within 7 days. Press 2 to reach customer service.",
    },
}


def _message(text: str | None) -> str:
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response)


def _twiml(xml: str) -> Response:
    return Response(content=xml, media_type="application/xml")


def _numbers(targets: list[Target], locale: Locale) -> str:
    template = SMS_REPLIES[locale]["invoice"]
    return ", ".join(template.format(number=t.invoice_number) for t in targets)


def _examples(today: date) -> dict[str, str]:
    example = today + timedelta(days=7)
    return {"example": example.isoformat(), "short": f"{example.day}/{example.month}"}


# --- verification ----------------------------------------------------------------------------


async def verified_form(request: Request, settings: SettingsDep) -> Form:
    """The form fields of a request Twilio signed; 403 for anything else."""
    form = await read_form(request)
    signature = request.headers.get(SIGNATURE_HEADER)
    token = settings.twilio_auth_token
    if not token:
        log.error("Twilio webhook refused: TWILIO_AUTH_TOKEN is not set", path=request.url.path)
        raise HTTPException(
            status_code=403,
            detail=f"{SIGNATURE_HEADER}: cannot be checked without TWILIO_AUTH_TOKEN",
        )
    if not signature:
        raise HTTPException(status_code=403, detail=f"{SIGNATURE_HEADER}: missing")
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    url = public_url(request, settings)
    if not RequestValidator(token).validate(url, form, signature, algorithm):
        log.warning("Twilio webhook with a bad signature refused", url=url)
        raise HTTPException(status_code=403, detail=f"{SIGNATURE_HEADER}: does not match")
    return form


TwilioForm = Annotated[Form, Depends(verified_form)]

router = APIRouter(prefix="/v1/webhooks/twilio", tags=["webhooks"])


# --- inbound SMS -----------------------------------------------------------------------------


@router.post("/sms", response_class=Response)
async def inbound_sms(form: TwilioForm, settings: SettingsDep, client: ClientDep) -> Response:
    """An SMS from a customer; answered with TwiML `<Message>` in the customer's language."""
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    key = f"sms:{sid}"
    if sid and (done := await seen(settings, PROVIDER, key)):
        return _twiml(done.outcome)
    sender = form.get("From")
    body = (form.get("Body") or "").strip()
    url = settings.store_url
    customers = await asyncio.to_thread(customers_by_phone, url, sender)
    if not customers:
        await record_async(
            settings, "twilio-sms", form.first_values(), "no customer has this phone number"
        )
        xml = _message(None)
    else:
        targets = await asyncio.to_thread(
            open_targets_for_customers, url, [c.id for c in customers]
        )
        today = local_today(customers[0].timezone)
        command = parse_sms(body, today)
        reply = await _apply_sms(
            settings,
            client,
            command,
            body,
            sid,
            [c.id for c in customers],
            targets,
            today,
            customers[0].locale,
            form,
        )
        xml = _message(reply)
    if sid:
        await remember(settings, PROVIDER, key, xml)
    return _twiml(xml)


async def _apply_sms(
    settings: Settings,
    client: Client,
    command: SmsCommand,
    body: str,
    sid: str,
    customer_ids: list[str],
    targets: list[Target],
    today: date,
    locale: Locale,
    form: Form,
) -> str:
    texts = SMS_REPLIES[locale]
    event_id = f"twilio-sms:{sid or secrets.token_hex(8)}"
    log.info("inbound sms", kind=command.kind, journeys=len(targets))
    if command.kind in ("stop", "start"):
        granted = command.kind == "start"
        await asyncio.to_thread(set_sms_consent, settings.store_url, customer_ids, granted)
        change = ConsentChange(
            event_id=event_id, channel="sms", granted=granted, source=f"SMS {body.upper()[:40]}"
        )
        for t in targets:
            await signal_journey(client, t.invoice_id, InvoiceJourney.consent_changed, change)
        return texts[command.kind]
    if command.kind == "bad_promise":
        return texts["bad_promise"].format(**_examples(today))
    if not targets:
        reason = f"SMS ({command.kind}) from a customer with no open invoice"
        await record_async(settings, "twilio-sms", form.first_values(), reason)
        return texts["nothing_open"]
    if command.kind == "paid":
        task = AgentTask(
            event_id=event_id,
            source="sms",
            summary=f"customer says paid (not a payment; check the bank): {body[:500]}",
        )
        for t in targets:
            await signal_journey(client, t.invoice_id, InvoiceJourney.agent_task, task)
        return texts["paid"]
    if command.kind == "other":
        summary = f"SMS: {body[:1900] or '(empty)'}"
        task = AgentTask(event_id=event_id, source="sms", summary=summary)
        for t in targets:
            await signal_journey(client, t.invoice_id, InvoiceJourney.agent_task, task)
        return texts["other"]
    if command.kind == "call":
        response = CustomerResponse(kind="contact_request", channel="sms", message=body[:2000])
        for t in targets:
            await _respond(client, t, response)
        return texts["call"]
    assert command.kind == "promise" and command.promise_date is not None
    response = CustomerResponse(
        kind="promise", channel="sms", promise_date=command.promise_date, message=body[:2000]
    )
    accepted: list[Target] = []
    refused: list[tuple[Target, str]] = []
    for t in targets:
        refusal = await _respond(client, t, response)
        if refusal is None:
            accepted.append(t)
        elif not refusal.closed:
            refused.append((t, refusal.reason))
    if not accepted and not refused:
        return texts["nothing_open"]
    parts = []
    if accepted:
        parts.append(
            texts["promise"].format(
                numbers=_numbers(accepted, locale), date=command.promise_date.isoformat()
            )
        )
    if refused:
        parts.append(
            texts["promise_refused"].format(
                numbers=_numbers([t for t, _ in refused], locale),
                reason=refused[0][1],
                **_examples(today),
            )
        )
    return " ".join(parts)


@dataclass(frozen=True)
class Refusal:
    reason: str
    closed: bool = False
    """The journey had ended (or never ran): nothing to refuse, nothing to promise."""


async def _respond(client: Client, target: Target, response: CustomerResponse) -> Refusal | None:
    """None when the journey took the response; else why not (the validator's own words)."""
    try:
        await customer_response(client, target.invoice_id, response)
    except RequestRefused as err:
        return Refusal(str(err))
    except (JourneyClosed, JourneyNotFound) as err:
        return Refusal(str(err), closed=True)
    return None


# --- voice (IVR) -----------------------------------------------------------------------------


def _menu_text(settings: Settings, locale: Locale) -> str:
    """The same words as the call itself (templates/<locale>/_call_menu.j2)."""
    try:
        env = Environment(loader=FileSystemLoader(str(settings.templates_dir)), autoescape=False)
        text = " ".join(env.get_template(f"{locale}/_call_menu.j2").render().split())
    except (TemplateError, OSError):
        text = ""
    return text or VOICE_TEXTS[locale]["menu"]


def _say(response: VoiceResponse, text: str, locale: Locale) -> None:
    response.say(text, language=VOICE_LANGUAGES[locale])


def _hours(settings: Settings, locale: Locale, opening: OpeningHours | None) -> str:
    """CUSTOMER_SERVICE_HOURS as written, else the policy file's opening hours in words."""
    if settings.customer_service_hours:
        hours = settings.customer_service_hours
    elif opening is not None and opening.ever_open:
        hours = format_hours(opening, locale).replace("–", " till " if locale == "sv" else " to ")
    else:
        return ""
    return VOICE_TEXTS[locale]["hours"].format(hours=hours)


def _opening_hours(request: Request) -> OpeningHours | None:
    """The policy file's hours, as the app loaded them (`app.state.ingest.policies`)."""
    ingest = getattr(request.app.state, "ingest", None)
    policies = getattr(ingest, "policies", None)
    hours = getattr(policies, "opening_hours", None)
    return hours if isinstance(hours, OpeningHours) else None


@router.post("/voice", response_class=Response)
async def voice(
    request: Request, form: TwilioForm, settings: SettingsDep, client: ClientDep
) -> Response:
    """The keypress of a reminder call (`<Gather>` action), and the end of a transfer."""
    call_sid = form.get("CallSid") or ""
    digits = (form.get("Digits") or "").strip()
    stage = request.query_params.get("stage") or "menu"
    key = f"voice:{call_sid}:{stage}:{digits or '-'}"
    if call_sid and (done := await seen(settings, PROVIDER, key)):
        return _twiml(done.outcome)
    url = settings.store_url
    attempt = await asyncio.to_thread(attempt_by_provider_id, url, [call_sid], PROVIDER)
    target = None
    if attempt is not None:
        target = await asyncio.to_thread(target_for_invoice, url, attempt.invoice_id)
    response = VoiceResponse()
    if target is None:
        customers = await asyncio.to_thread(customers_by_phone, url, form.get("To"))
        locale: Locale = customers[0].locale if customers else "sv"
        await record_async(
            settings, "twilio-voice", form.first_values(), "no reminder call with this CallSid"
        )
        _say(response, VOICE_TEXTS[locale]["unknown"], locale)
        response.hangup()
    else:
        hours = _hours(settings, target.locale, _opening_hours(request))
        await _voice_step(settings, client, response, target, call_sid, digits, stage, form, hours)
    xml = str(response)
    if call_sid:
        await remember(settings, PROVIDER, key, xml)
    return _twiml(xml)


async def _voice_step(
    settings: Settings,
    client: Client,
    response: VoiceResponse,
    target: Target,
    call_sid: str,
    digits: str,
    stage: str,
    form: Form,
    hours: str,
) -> None:
    locale = target.locale
    texts = VOICE_TEXTS[locale]
    event_id = f"twilio-voice:{call_sid}:{stage}:{digits or '-'}"
    if stage == "transfer":
        status = form.get("DialCallStatus") or ""
        if status in ("completed", "answered"):
            talked = ConversationHeld(event_id=event_id, at=datetime.now(UTC), source="phone")
            await signal_journey(
                client, target.invoice_id, InvoiceJourney.conversation_held, talked
            )
            response.hangup()
            return
        task = AgentTask(
            event_id=event_id,
            source="phone",
            summary=f"missed IVR transfer to customer service ({status or 'no status'}); "
            "call the customer back",
        )
        await signal_journey(client, target.invoice_id, InvoiceJourney.agent_task, task)
        _say(response, texts["missed"].format(hours=hours), locale)
        response.hangup()
        return
    if digits == "1":
        promise = local_today(target.timezone) + timedelta(days=IVR_PROMISE_DAYS)
        refusal = await _respond(
            client,
            target,
            CustomerResponse(
                kind="promise",
                channel="call",
                promise_date=promise,
                message="pressed 1 on the reminder call",
            ),
        )
        if refusal is None:
            _say(response, texts["promised"].format(date=promise.isoformat()), locale)
        elif refusal.closed:
            _say(response, texts["closed"], locale)
        else:
            task = AgentTask(
                event_id=event_id,
                source="phone",
                summary=f"customer pressed 1 (promise to pay by {promise}) but it was refused: "
                f"{refusal.reason}",
            )
            await signal_journey(client, target.invoice_id, InvoiceJourney.agent_task, task)
            _say(response, texts["promise_refused"], locale)
        response.hangup()
        return
    if digits == "2":
        if settings.customer_service_phone:
            _say(response, texts["connecting"], locale)
            response.dial(
                settings.customer_service_phone,
                action=f"{VOICE_PATH}?stage=transfer",
                method="POST",
                timeout=30,
            )
            return
        task = AgentTask(
            event_id=event_id,
            source="phone",
            summary="customer pressed 2 on the reminder call (customer service); call back",
        )
        await signal_journey(client, target.invoice_id, InvoiceJourney.agent_task, task)
        _say(response, texts["callback"].format(hours=hours), locale)
        response.hangup()
        return
    if stage == "menu":
        gather = response.gather(
            num_digits=1, action=f"{VOICE_PATH}?stage=retry", method="POST", timeout=8
        )
        gather.say(_menu_text(settings, locale), language=VOICE_LANGUAGES[locale])
    _say(response, texts["goodbye"], locale)
    response.hangup()


# --- delivery status -------------------------------------------------------------------------


@router.post("/status", status_code=204, response_class=Response)
async def status(form: TwilioForm, settings: SettingsDep, client: ClientDep) -> Response:
    """Twilio's status callback for a message or call we placed."""
    if "MessageStatus" in form or "SmsStatus" in form:
        sid = form.get("MessageSid") or form.get("SmsSid") or ""
        state = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
        failed = state in FAILED_SMS_STATUSES
    else:
        sid = form.get("CallSid") or ""
        state = (form.get("CallStatus") or "").lower()
        failed = state in FAILED_CALL_STATUSES
    if not failed or not sid:
        return Response(status_code=204)
    key = f"status:{sid}:{state}"
    if await seen(settings, PROVIDER, key):
        return Response(status_code=204)
    attempt = await asyncio.to_thread(attempt_by_provider_id, settings.store_url, [sid], PROVIDER)
    if attempt is None:
        await record_async(
            settings, "twilio-status", form.first_values(), f"{state} for a SID not in the ledger"
        )
        outcome = "dead letter: SID not in the ledger"
    else:
        code_text = form.get("ErrorCode") or ""
        code = int(code_text) if code_text.isdigit() else None
        channel = "call" if attempt.channel == "call" else "sms"
        reason = f"Twilio {channel} {state}" + (f" (error {code})" if code else "")
        failure = DeliveryFailure(
            event_id=f"twilio-status:{sid}:{state}",
            step_key=attempt.step_key,
            channel=channel,
            reason=reason,
            permanent=code in PERMANENT_SMS_CODES if code is not None else False,
        )
        result = await signal_journey(
            client, attempt.invoice_id, InvoiceJourney.delivery_failed, failure
        )
        outcome = f"{result}: {reason}; permanent={failure.permanent}"
        log.info(
            "delivery failure reported",
            invoice_id=attempt.invoice_id,
            step_key=attempt.step_key,
            status=state,
            error_code=code,
            result=result,
        )
    await remember(settings, PROVIDER, key, outcome)
    return Response(status_code=204)
