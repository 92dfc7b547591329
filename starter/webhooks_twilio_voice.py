"""Twilio voice webhook (`/voice`): the keypress of a reminder call, and the end of a transfer.

The `<Gather>` action of a reminder call, found by CallSid in the ledger:
1 promises payment within 7 days; 2 connects to CUSTOMER_SERVICE_PHONE (a missed transfer
becomes an agent task) or, without one, reads the opening hours (CUSTOMER_SERVICE_HOURS, else
the policy file's `opening_hours`; all three the call's tenant's) and creates an agent task;
anything else repeats the menu once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Request, Response
from jinja2 import Environment, FileSystemLoader, TemplateError
from temporalio.client import Client
from twilio.twiml.voice_response import VoiceResponse

from activities.rendering import format_hours
from activities.twilio_sender import VOICE_LANGUAGES
from domain.messages import AgentTask, ConversationHeld, CustomerResponse
from domain.opening_hours import OpeningHours
from domain.policies import PolicyFile
from domain.values import Locale
from infra.settings import Settings
from starter.deadletters import record_async
from starter.routing import (
    ClientDep,
    Form,
    Target,
    attempt_by_provider_id,
    customers_by_phone,
    local_today,
    signal_journey,
    target_for_invoice,
)
from starter.webhook_tenants import tenant_policy_file
from starter.webhooks_twilio_common import (
    PREFIX,
    PROVIDER,
    TenantSettings,
    TwilioForm,
    answer_once,
    ask_agent,
    respond,
    twilio_router,
    twiml,
)
from workflows.journey import InvoiceJourney

IVR_PROMISE_DAYS = 7
VOICE_PATH = f"{PREFIX}/voice"

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


def _menu_text(settings: Settings, locale: Locale) -> str:
    """The same words as the call itself (templates/<locale>/_call_menu.j2)."""
    try:
        env = Environment(loader=FileSystemLoader(str(settings.templates_dir)), autoescape=False)
        text = " ".join(env.get_template(f"{locale}/_call_menu.j2").render().split())
    except (TemplateError, OSError):
        text = ""
    return text or VOICE_TEXTS[locale]["menu"]


def _hours(settings: Settings, locale: Locale, opening: OpeningHours | None) -> str:
    """CUSTOMER_SERVICE_HOURS as written, else the policy file's opening hours in words."""
    if settings.customer_service_hours:
        hours = settings.customer_service_hours
    elif opening is not None and opening.ever_open:
        hours = format_hours(opening, locale).replace("–", " till " if locale == "sv" else " to ")
    else:
        return ""
    return VOICE_TEXTS[locale]["hours"].format(hours=hours)


def _opening_hours(request: Request, settings: Settings) -> OpeningHours | None:
    """The opening hours in the policy file of the call's tenant: the default tenant's as the
    app loaded it (`app.state.ingest.policies`), another tenant's from its own file."""
    ingest = getattr(request.app.state, "ingest", None)
    loaded = getattr(ingest, "policies", None)
    policies = tenant_policy_file(settings, loaded if isinstance(loaded, PolicyFile) else None)
    return None if policies is None else policies.opening_hours


@dataclass(frozen=True)
class Call:
    """One step of a reminder call we placed, and the TwiML being built to answer it."""

    settings: Settings
    client: Client
    response: VoiceResponse
    target: Target
    event_id: str
    form: Form
    hours: str
    """The opening-hours sentence, or "" when none are known."""

    @property
    def locale(self) -> Locale:
        return self.target.locale

    def say(self, text: str) -> None:
        self.response.say(text, language=VOICE_LANGUAGES[self.locale])

    def text(self, name: str, **values: str) -> str:
        return VOICE_TEXTS[self.locale][name].format(**values)

    async def ask_agent(self, summary: str) -> None:
        task = AgentTask(event_id=self.event_id, source="phone", summary=summary)
        await ask_agent(self.client, [self.target], task, self.settings.tenant)


router = twilio_router()


@router.post("/voice", response_class=Response)
async def voice(
    request: Request, form: TwilioForm, settings: TenantSettings, client: ClientDep
) -> Response:
    """The keypress of a reminder call (`<Gather>` action), and the end of a transfer."""
    call_sid = form.get("CallSid") or ""
    digits = (form.get("Digits") or "").strip()
    stage = request.query_params.get("stage") or "menu"
    step = f"{call_sid}:{stage}:{digits or '-'}"

    async def answer() -> str:
        response = VoiceResponse()
        url = settings.store_url
        attempt = await asyncio.to_thread(attempt_by_provider_id, url, [call_sid], PROVIDER)
        target = None
        if attempt is not None:
            target = await asyncio.to_thread(target_for_invoice, url, attempt.invoice_id)
        if target is None:
            await _unknown_call(settings, response, form)
            return str(response)
        opening = await asyncio.to_thread(_opening_hours, request, settings)
        hours = _hours(settings, target.locale, opening)
        call = Call(settings, client, response, target, f"twilio-voice:{step}", form, hours)
        if stage == "transfer":
            await _transfer_ended(call)
        else:
            await KEYPRESSES.get(digits, _menu_again if stage == "menu" else _goodbye)(call)
        return str(response)

    return twiml(await answer_once(settings, f"voice:{step}" if call_sid else None, answer))


async def _unknown_call(settings: Settings, response: VoiceResponse, form: Form) -> None:
    """Not a call of ours (or its ledger row is gone): a polite goodbye in the callee's
    language, and a dead letter for operations."""
    customers = await asyncio.to_thread(customers_by_phone, settings.store_url, form.get("To"))
    locale: Locale = customers[0].locale if customers else "sv"
    await record_async(
        settings, "twilio-voice", form.first_values(), "no reminder call with this CallSid"
    )
    response.say(VOICE_TEXTS[locale]["unknown"], language=VOICE_LANGUAGES[locale])
    response.hangup()


async def _transfer_ended(call: Call) -> None:
    """The `<Dial>` to customer service ended: a talk held, or a callback for an agent."""
    status = call.form.get("DialCallStatus") or ""
    if status in ("completed", "answered"):
        talked = ConversationHeld(event_id=call.event_id, at=datetime.now(UTC), source="phone")
        await signal_journey(
            call.client,
            call.target.invoice_id,
            InvoiceJourney.conversation_held,
            talked,
            call.settings.tenant,
        )
    else:
        await call.ask_agent(
            f"missed IVR transfer to customer service ({status or 'no status'}); "
            "call the customer back"
        )
        call.say(call.text("missed", hours=call.hours))
    call.response.hangup()


async def _pressed_promise(call: Call) -> None:
    """1: the customer promises to pay within IVR_PROMISE_DAYS."""
    promise = local_today(call.target.timezone) + timedelta(days=IVR_PROMISE_DAYS)
    refusal = await respond(
        call.client,
        call.target,
        CustomerResponse(
            kind="promise",
            channel="call",
            promise_date=promise,
            message="pressed 1 on the reminder call",
        ),
        call.settings.tenant,
    )
    if refusal is None:
        call.say(call.text("promised", date=promise.isoformat()))
    elif refusal.closed:
        call.say(call.text("closed"))
    else:
        await call.ask_agent(
            f"customer pressed 1 (promise to pay by {promise}) but it was refused: {refusal.reason}"
        )
        call.say(call.text("promise_refused"))
    call.response.hangup()


async def _pressed_service(call: Call) -> None:
    """2: customer service, by transfer when it has a number, else by callback."""
    phone = call.settings.customer_service_phone
    if phone:
        call.say(call.text("connecting"))
        call.response.dial(phone, action=f"{VOICE_PATH}?stage=transfer", method="POST", timeout=30)
        return
    await call.ask_agent("customer pressed 2 on the reminder call (customer service); call back")
    call.say(call.text("callback", hours=call.hours))
    call.response.hangup()


async def _menu_again(call: Call) -> None:
    """No or another key at the first menu: the menu once more, then goodbye."""
    gather = call.response.gather(
        num_digits=1, action=f"{VOICE_PATH}?stage=retry", method="POST", timeout=8
    )
    gather.say(_menu_text(call.settings, call.locale), language=VOICE_LANGUAGES[call.locale])
    await _goodbye(call)


async def _goodbye(call: Call) -> None:
    call.say(call.text("goodbye"))
    call.response.hangup()


KEYPRESSES: dict[str, Callable[[Call], Awaitable[None]]] = {
    "1": _pressed_promise,
    "2": _pressed_service,
}
"""What each key of the call menu does; any other key is the menu again (once)."""
