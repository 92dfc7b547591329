"""Twilio delivery status webhook (`/status`): a message or call we placed did not arrive.

An SMS `failed`/`undelivered`, or a call that `failed`, was `busy` or not answered, is a
`delivery_failed` for its step, so the step is re-sent on the next channel (an undelivered SMS
falls back to email). It is `permanent` (the number is marked bad for later steps too) only for
error codes that say the number itself is wrong: 21211, 21214, 21217, 21610, 21614, 30003,
30005, 30006. Carrier filtering, queue overflow, unknown errors and unanswered calls are not
permanent: the next step may use the channel again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fastapi import Response
from temporalio.client import Client

from activities.twilio_sender import INVALID_RECIPIENT_CODES, OPTED_OUT_CODES
from domain.messages import DeliveryFailure
from infra.settings import Settings
from starter.deadletters import record_async
from starter.routing import ClientDep, Form, attempt_by_provider_id, signal_journey
from starter.webhooks_twilio_common import (
    PROVIDER,
    TenantSettings,
    TwilioForm,
    answer_once,
    log,
    twilio_router,
)
from workflows.journey import InvoiceJourney

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


@dataclass(frozen=True)
class Callback:
    """What one status callback says, whichever kind of delivery it is about."""

    sid: str
    state: str
    failed: bool


def _message_status(form: Form) -> Callback:
    """An SMS's status (Twilio still sends the older `Sms*` names beside `Message*`)."""
    state = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    return Callback(sid, state, state in FAILED_SMS_STATUSES)


def _call_status(form: Form) -> Callback:
    state = (form.get("CallStatus") or "").lower()
    return Callback(form.get("CallSid") or "", state, state in FAILED_CALL_STATUSES)


router = twilio_router()


@router.post("/status", status_code=204, response_class=Response)
async def status(form: TwilioForm, settings: TenantSettings, client: ClientDep) -> Response:
    """Twilio's status callback for a message or call we placed."""
    is_message = "MessageStatus" in form or "SmsStatus" in form
    callback = _message_status(form) if is_message else _call_status(form)
    if callback.failed and callback.sid:
        await answer_once(
            settings,
            f"status:{callback.sid}:{callback.state}",
            lambda: _report_failure(settings, client, callback, form),
        )
    return Response(status_code=204)


async def _report_failure(
    settings: Settings, client: Client, callback: Callback, form: Form
) -> str:
    """Tell the step's journey its delivery failed; the outcome is what a repeat is told."""
    sid, state = callback.sid, callback.state
    attempt = await asyncio.to_thread(attempt_by_provider_id, settings.store_url, [sid], PROVIDER)
    if attempt is None:
        await record_async(
            settings, "twilio-status", form.first_values(), f"{state} for a SID not in the ledger"
        )
        return "dead letter: SID not in the ledger"
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
        client, attempt.invoice_id, InvoiceJourney.delivery_failed, failure, settings.tenant
    )
    log.info(
        "delivery failure reported",
        invoice_id=attempt.invoice_id,
        step_key=attempt.step_key,
        status=state,
        error_code=code,
        result=result,
    )
    return f"{result}: {reason}; permanent={failure.permanent}"
