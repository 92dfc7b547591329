"""The customer page's words in Swedish and English.

Kept apart from the HTML so that both languages are checked to say the same things (every key
in both, tests/customer_page/test_page_text.py) and so that the page, its refusals and its
error pages speak the customer's language with one lookup.
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["sv", "en"]
LANGS: tuple[Lang, ...] = ("sv", "en")

TEXT: dict[Lang, dict[str, str]] = {
    "sv": {
        "lang_name": "Svenska",
        "language": "Språk",
        "switch_to": "In English",
        "title": "Faktura {number}",
        "skip": "Hoppa till innehållet",
        "summary": "Din faktura",
        "invoice_number": "Fakturanummer",
        "amount_due": "Fakturabelopp",
        "fees": "Avgifter",
        "interest": "Dröjsmålsränta hittills",
        "interest_note": "Räntan ingår inte i beloppet att betala och betalas först när vi "
        "begär det.",
        "settled": "Betalt eller krediterat",
        "balance": "Kvar att betala",
        "due_date": "Förfallodag",
        "how_to_pay": "Så betalar du",
        "pay_online": "Betala med kort eller bank",
        "bankgiro": "Bankgiro",
        "plusgiro": "Plusgiro",
        "ocr": "OCR-nummer",
        "ocr_note": "Ange alltid OCR-numret när du betalar, så hittar vi din betalning.",
        "amount": "Belopp",
        "respond": "Kan du inte betala just nu?",
        "respond_intro": "Välj det som passar dig. Ditt svar går direkt till oss och "
        "påminnelserna anpassas direkt.",
        "promise": "Jag betalar ett visst datum",
        "promise_date": "Jag betalar senast",
        "promise_hint": "Högst {days} dagar framåt.",
        "promise_submit": "Lova att betala",
        "plan": "Jag behöver en avbetalningsplan",
        "plan_months": "Antal månader",
        "plan_hint": "Upp till {months} månader godkänns direkt; längre planer tittar "
        "kundservice på.",
        "plan_submit": "Be om avbetalningsplan",
        "months": "{n} månader",
        "dispute": "Jag invänder mot fakturan",
        "dispute_reason": "Berätta vad som är fel",
        "dispute_hint": "Inga påminnelser skickas medan vi utreder.",
        "dispute_submit": "Skicka invändning",
        "call": "Ring mig",
        "call_slot": "När ska vi ringa?",
        "call_hint": "Tider när kundservice är öppen, i din tidszon ({tz}).",
        "call_submit": "Be om samtal",
        "no_slots": "Det finns inga lediga tider just nu; ring oss gärna i stället.",
        "phase_scheduled": "Vi påminner dig om vi inte ser någon betalning.",
        "phase_promised": "Du har lovat att betala senast {date}. Vi skickar inga påminnelser "
        "före dess.",
        "phase_disputed": "Du har invänt mot fakturan. Inget mer händer förrän vi har gått "
        "igenom den; vi hör av oss till dig.",
        "phase_plan_requested": "Du har bett om en avbetalningsplan. Kundservice hör av sig.",
        "phase_plan_active": "Din avbetalningsplan gäller. Vi påminner dig inför varje "
        "delbetalning.",
        "phase_paused": "Påminnelserna är pausade till {date}.",
        "phase_paused_open": "Påminnelserna är pausade.",
        "phase_open": "Fakturan är obetald. Betala eller hör av dig så snart du kan.",
        "phase_paid": "Fakturan är betald. Tack!",
        "phase_credited": "Fakturan är krediterad. Du behöver inte göra något mer.",
        "phase_voided": "Fakturan är makulerad. Du behöver inte göra något mer.",
        "phase_cancelled": "Fordran är avskriven. Du behöver inte göra något mer.",
        "phase_handed_over": "Fordran har lämnats över till ett inkassobolag. Kontakta dem "
        "eller oss om du har frågor.",
        "status": "Läget just nu",
        "done_promise": "Tack! Vi har noterat att du betalar senast {date}.",
        "done_plan_active": "Din avbetalningsplan är godkänd: {months} månadsbetalningar.",
        "done_plan_requested": "Tack! Kundservice tittar på din önskan om {months} månader "
        "och hör av sig.",
        "done_dispute": "Tack, vi har tagit emot din invändning och utreder den.",
        "done_call": "Tack! Vi ringer dig {slot}.",
        "done_rating": "Tack för ditt betyg!",
        "refused": "Det gick inte: {reason}",
        "rating": "Hur kändes våra påminnelser?",
        "rating_legend": "Ditt betyg, 1 (dåligt) till 5 (mycket bra)",
        "rating_comment": "Vill du berätta mer? (frivilligt)",
        "rating_submit": "Skicka betyg",
        "rating_after": "Du kan ge ett betyg när fakturan är betald.",
        "rating_given": "Ditt betyg: {rating} av 5. Du kan ändra det nedan.",
        "star": "{n} av 5",
        "contact": "Kundservice",
        "phone": "Telefon",
        "hours": "Öppettider",
        "state_unavailable": "Vi kan inte visa det senaste läget just nu. Beloppen nedan är "
        "från fakturan.",
        "problem_title": "Länken fungerar inte",
        "bad_link": "Den här länken är inte giltig. Kontrollera att du har kopierat hela "
        "länken från meddelandet.",
        "expired_link": "Den här länken har gått ut. Kontakta kundservice om du har frågor om "
        "fakturan.",
        "revoked_link": "Den här länken har dragits tillbaka. Kontakta kundservice om du har "
        "frågor om fakturan.",
        "too_many": "Du har gjort för många försök på kort tid. Vänta några minuter och "
        "försök igen.",
        "csrf": "Formuläret kunde inte skickas eftersom sidan är för gammal eller inte kom "
        "härifrån. Ladda om sidan och försök igen.",
        "bad_input": "Kontrollera uppgifterna: {reason}",
        "unavailable": "Vi kan inte ta emot ditt svar just nu. Försök igen om en stund eller "
        "ring kundservice.",
        "closed": "Fakturan är redan avslutad, så det går inte längre att ändra något.",
        "err_date": "ange ett datum",
        "err_months": "välj antal månader",
        "err_reason": "skriv vad som är fel",
        "err_slot": "välj en tid",
        "err_rating": "välj ett betyg mellan 1 och 5",
        "err_action": "okänd åtgärd",
        "refusal_past": "datumet har redan passerat.",
        "refusal_too_far": "datumet ligger för långt fram; be om en avbetalningsplan i stället.",
        "refusal_plan": "det finns redan en avbetalningsplan.",
        "refusal_call_past": "tiden har redan passerat; välj en senare tid.",
        "refusal_call_closed": "kundservice har stängt då; välj en annan tid.",
        "refusal_call_far": "samtal kan bokas högst två veckor framåt.",
        "refusal_closed": "fakturan är redan avslutad.",
    },
    "en": {
        "lang_name": "English",
        "language": "Language",
        "switch_to": "På svenska",
        "title": "Invoice {number}",
        "skip": "Skip to content",
        "summary": "Your invoice",
        "invoice_number": "Invoice number",
        "amount_due": "Invoice amount",
        "fees": "Fees",
        "interest": "Late-payment interest so far",
        "interest_note": "The interest is not part of the amount to pay and is payable only "
        "when we ask for it.",
        "settled": "Paid or credited",
        "balance": "Left to pay",
        "due_date": "Due date",
        "how_to_pay": "How to pay",
        "pay_online": "Pay by card or bank",
        "bankgiro": "Bankgiro",
        "plusgiro": "Plusgiro",
        "ocr": "Payment reference (OCR)",
        "ocr_note": "Always give the OCR reference when you pay, so that we find your payment.",
        "amount": "Amount",
        "respond": "Can't pay right now?",
        "respond_intro": "Choose what suits you. Your answer reaches us at once and the "
        "reminders adapt straight away.",
        "promise": "I will pay on a date",
        "promise_date": "I will pay by",
        "promise_hint": "At most {days} days ahead.",
        "promise_submit": "Promise to pay",
        "plan": "I need a payment plan",
        "plan_months": "Number of months",
        "plan_hint": "Up to {months} months is approved at once; customer service looks at "
        "longer plans.",
        "plan_submit": "Ask for a payment plan",
        "months": "{n} months",
        "dispute": "I dispute this invoice",
        "dispute_reason": "Tell us what is wrong",
        "dispute_hint": "No reminders are sent while we look into it.",
        "dispute_submit": "Send dispute",
        "call": "Please call me",
        "call_slot": "When should we call?",
        "call_hint": "Times when customer service is open, in your time zone ({tz}).",
        "call_submit": "Ask for a call",
        "no_slots": "There are no free times right now; please call us instead.",
        "phase_scheduled": "We will remind you if we do not see a payment.",
        "phase_promised": "You have promised to pay by {date}. We send no reminders before then.",
        "phase_disputed": "You have disputed this invoice. Nothing more happens until we have "
        "looked into it; we will contact you.",
        "phase_plan_requested": "You have asked for a payment plan. Customer service will get "
        "back to you.",
        "phase_plan_active": "Your payment plan is active. We remind you before each installment.",
        "phase_paused": "Reminders are paused until {date}.",
        "phase_paused_open": "Reminders are paused.",
        "phase_open": "The invoice is unpaid. Please pay or contact us as soon as you can.",
        "phase_paid": "The invoice is paid. Thank you!",
        "phase_credited": "The invoice has been credited. There is nothing more to do.",
        "phase_voided": "The invoice has been voided. There is nothing more to do.",
        "phase_cancelled": "The claim has been cancelled. There is nothing more to do.",
        "phase_handed_over": "The claim has been handed over to a collection agency. Contact "
        "them or us if you have questions.",
        "status": "Where things stand",
        "done_promise": "Thank you! We have noted that you will pay by {date}.",
        "done_plan_active": "Your payment plan is approved: {months} monthly installments.",
        "done_plan_requested": "Thank you! Customer service will look at your request for "
        "{months} months and get back to you.",
        "done_dispute": "Thank you, we have received your dispute and will look into it.",
        "done_call": "Thank you! We will call you {slot}.",
        "done_rating": "Thank you for your rating!",
        "refused": "That did not work: {reason}",
        "rating": "How did you find our reminders?",
        "rating_legend": "Your rating, 1 (poor) to 5 (very good)",
        "rating_comment": "Anything you want to add? (optional)",
        "rating_submit": "Send rating",
        "rating_after": "You can rate us once the invoice is settled.",
        "rating_given": "Your rating: {rating} out of 5. You can change it below.",
        "star": "{n} out of 5",
        "contact": "Customer service",
        "phone": "Phone",
        "hours": "Opening hours",
        "state_unavailable": "We cannot show the latest status right now. The amounts below "
        "are the invoice's.",
        "problem_title": "This link does not work",
        "bad_link": "This link is not valid. Check that you copied the whole link from the "
        "message.",
        "expired_link": "This link has expired. Contact customer service if you have questions "
        "about the invoice.",
        "revoked_link": "This link has been withdrawn. Contact customer service if you have "
        "questions about the invoice.",
        "too_many": "You have made too many attempts in a short time. Please wait a few "
        "minutes and try again.",
        "csrf": "The form could not be sent because the page is too old or did not come from "
        "here. Reload the page and try again.",
        "bad_input": "Please check your answer: {reason}",
        "unavailable": "We cannot take your answer right now. Try again in a while or call "
        "customer service.",
        "closed": "The invoice is already settled, so nothing can be changed any more.",
        "err_date": "enter a date",
        "err_months": "choose a number of months",
        "err_reason": "write what is wrong",
        "err_slot": "choose a time",
        "err_rating": "choose a rating from 1 to 5",
        "err_action": "unknown action",
        "refusal_past": "that date has already passed.",
        "refusal_too_far": "that date is too far ahead; ask for a payment plan instead.",
        "refusal_plan": "there is already a payment plan.",
        "refusal_call_past": "that time has already passed; choose a later one.",
        "refusal_call_closed": "customer service is closed then; choose another time.",
        "refusal_call_far": "a call can be booked at most two weeks ahead.",
        "refusal_closed": "the invoice is already settled.",
    },
}

_REFUSALS: tuple[tuple[str, str], ...] = (
    ("is in the past", "refusal_past"),
    ("days ahead; ask for a payment plan", "refusal_too_far"),
    ("a payment plan is already", "refusal_plan"),
    ("the time to call you has already passed", "refusal_call_past"),
    ("customer service is closed at that time", "refusal_call_closed"),
    ("a call can be booked at most", "refusal_call_far"),
    ("the journey is already closed", "refusal_closed"),
)


def plain_refusal(reason: str, lang: Lang) -> str:
    """The journey's validator speaks English to agents; the customer gets it in their own
    language when we know the refusal, and the validator's words otherwise."""
    for needle, key in _REFUSALS:
        if needle in reason:
            return TEXT[lang][key]
    return reason


def pick_lang(*candidates: str | None) -> Lang:
    """The first candidate that is a language we speak ("sv-SE" counts as sv); else sv."""
    for candidate in candidates:
        for part in (candidate or "").replace(";", ",").split(","):
            code = part.strip().lower()[:2]
            if code == "sv":
                return "sv"
            if code == "en":
                return "en"
    return "sv"
