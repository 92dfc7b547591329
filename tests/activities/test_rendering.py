"""Templates: every template renders in both languages and shows what a reminder must show."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jinja2 import TemplateNotFound, UndefinedError

from activities.rendering import (
    SMS_MAX_CHARS,
    format_hours,
    format_money,
    render,
    template_context,
)
from domain.opening_hours import OpeningHours
from domain.values import CHANNELS, Channel, Locale
from infra.settings import REPO_ROOT
from tests.activities.factory import delivery_request

TEMPLATES = REPO_ROOT / "templates"
REMINDERS = ["gentle_reminder", "reminder", "courtesy_call", "reminder_call", "final_notice"]
LOCALES: list[Locale] = ["sv", "en"]


def plain(text: str) -> str:
    """Babel separates digit groups and currency with non-breaking spaces."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def email_lines(**fields: Any) -> list[str]:
    """The plain lines of the email a step with these fields renders to."""
    return plain(render(TEMPLATES, delivery_request("email", **fields)).body).splitlines()


def test_money_uses_the_customers_conventions() -> None:
    assert plain(format_money(Decimal("1250.00"), "SEK", "sv")) == "1 250,00 kr"
    assert format_money(Decimal("1250.00"), "SEK", "sv") == "1\u00a0250,00\u00a0kr"
    assert plain(format_money(Decimal("1250.00"), "SEK", "en")) == "SEK 1,250.00"
    assert plain(format_money(Decimal("99.5"), "EUR", "en")) == "€99.50"


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("template", [*REMINDERS, "thank_you"])
def test_every_template_renders(template: str, channel: Channel, locale: Locale) -> None:
    request = delivery_request(
        channel,
        template=template,
        locale=locale,
        customer_name="Berit Andersson-Lindqvist",
        invoice_number="2026-001001",
        amount_due=Decimal("12250.00"),
        balance=Decimal("12310.00"),
        fees=Decimal("60.00"),
        fee_this_step=Decimal("60.00"),
        ocr="100140000012345",
        payment_url="https://billing.example.com/pay/inv_1001abcdef",
    )
    message = render(TEMPLATES, request)
    assert "Berit Andersson-Lindqvist" in message.body
    assert "2026-001001" in message.body
    assert "{{" not in message.body and "{%" not in message.body
    if channel in ("email", "letter"):  # a letter is headed by its email's subject
        assert message.subject and "2026-001001" in message.subject
        assert "\n" not in message.subject
    else:
        assert message.subject is None
    if channel == "sms":
        assert len(message.body) <= SMS_MAX_CHARS, len(message.body)
        assert "\u00a0" not in message.body  # keeps the SMS in GSM-7
    if template == "thank_you":
        return
    body = plain(message.body)
    amount = "12 310,00 kr" if locale == "sv" else "SEK 12,310.00"
    fee = "60,00 kr" if locale == "sv" else "SEK 60.00"
    due = "30 november 2026" if locale == "sv" else "November 30, 2026"
    assert amount in body
    assert fee in body
    assert due in body
    if channel == "call":
        assert "1 0 0 1 4 0 0 0 0 0 1 2 3 4 5" in body  # read digit by digit
        assert "billing.example.com/pay/inv_1001abcdef" in body
    else:
        assert "100140000012345" in body
        assert "https://billing.example.com/pay/inv_1001abcdef" in body


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "sv",
            ["1 250,00 kr", "30 november 2026", "10014", "https://billing.example/pay/inv_1001"],
        ),
        (
            "en",
            ["SEK 1,250.00", "November 30, 2026", "10014", "https://billing.example/pay/inv_1001"],
        ),
    ],
)
def test_reminder_email_shows_payment_details(locale: Locale, expected: list[str]) -> None:
    message = render(TEMPLATES, delivery_request("email", locale=locale))
    body = plain(message.body)
    for text in expected:
        assert text in body
    assert "Berit Andersson" in body
    assert message.subject == (
        "Påminnelse: faktura 1001" if locale == "sv" else "Reminder: invoice 1001"
    )


def test_fee_is_named_only_when_this_step_has_one() -> None:
    without = plain(render(TEMPLATES, delivery_request("sms")).body)
    assert "avgift" not in without
    with_fee = plain(
        render(
            TEMPLATES,
            delivery_request(
                "sms",
                balance=Decimal("1310.00"),
                fees=Decimal("60.00"),
                fee_this_step=Decimal("60.00"),
            ),
        ).body
    )
    assert "påminnelseavgift 60,00 kr" in with_fee
    assert "1 310,00 kr" in with_fee


def test_email_shows_invoice_amount_and_balance_when_they_differ() -> None:
    body = plain(
        render(
            TEMPLATES,
            delivery_request(
                "email", balance=Decimal("1310.00"), fees=Decimal("60"), fee_this_step=Decimal("60")
            ),
        ).body
    )
    assert "Fakturabelopp: 1 250,00 kr" in body
    assert "Att betala: 1 310,00 kr" in body
    assert "påminnelseavgift på 60,00 kr" in body


@pytest.mark.parametrize(
    ("locale", "ending"),
    [
        (
            "sv",
            "Tryck 1 för att lova att betala inom 7 dagar. Tryck 2 för att komma till kundservice.",
        ),
        ("en", "Press 1 to promise payment within 7 days. Press 2 to reach customer service."),
    ],
)
@pytest.mark.parametrize("template", REMINDERS)
def test_calls_end_with_the_keypad_menu(template: str, locale: Locale, ending: str) -> None:
    body = render(TEMPLATES, delivery_request("call", template=template, locale=locale)).body
    assert body.endswith(ending)


@pytest.mark.parametrize("channel", CHANNELS)
def test_gentle_reminder_is_loyal_in_tone(channel: Channel) -> None:
    sv = render(TEMPLATES, delivery_request(channel, template="gentle_reminder")).body
    en = render(TEMPLATES, delivery_request(channel, template="gentle_reminder", locale="en")).body
    assert "missat något" in sv
    assert "missed something" in en


def test_missing_optional_fields_leave_no_gaps() -> None:
    body = render(TEMPLATES, delivery_request("email", ocr=None, payment_url=None)).body
    assert "OCR" not in body
    assert "None" not in body


def test_unknown_template_fails_loudly() -> None:
    with pytest.raises(TemplateNotFound):
        render(TEMPLATES, delivery_request("email", template="no_such_template"))


def test_missing_variable_fails_loudly(tmp_path: Path) -> None:
    (tmp_path / "sv").mkdir()
    (tmp_path / "sv" / "typo.sms.j2").write_text("Hej {{ customer_nme }}")
    with pytest.raises(UndefinedError):
        render(tmp_path, delivery_request("sms", template="typo"))


def test_email_template_without_subject_block_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "sv").mkdir()
    (tmp_path / "sv" / "bare.email.j2").write_text("Hej {{ customer_name }}")
    with pytest.raises(ValueError, match="subject"):
        render(tmp_path, delivery_request("email", template="bare"))


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("sv", "Telefon +46 8 123 456, öppet mån–fre 08:00–20:00"),
        ("en", "Phone +46 8 123 456, open Mon–Fri 08:00–20:00"),
    ],
)
def test_email_shows_customer_service_phone_and_hours(locale: str, expected: str) -> None:
    request = delivery_request(
        "email", locale=locale, service_phone="+46 8 123 456", service_hours=OpeningHours()
    )
    body = plain(render(TEMPLATES, request).body)
    assert expected in body


def test_hours_group_days_with_the_same_hours() -> None:
    hours = OpeningHours.model_validate(
        {"weekly": {"mon": ["08:00-20:00"], "tue": ["08:00-20:00"], "sat": ["10:00-14:00"]}}
    )
    assert format_hours(hours, "sv") == "mån–tis 08:00–20:00, lör 10:00–14:00"


@pytest.mark.parametrize(
    ("locale", "interest_line", "note", "balance_line"),
    [
        (
            "sv",
            "Dröjsmålsränta hittills: 1 234,56 kr (räntelagen)",
            "Räntan ingår inte i beloppet att betala ovan och betalas först när vi begär det.",
            "Att betala: 12 310,00 kr",
        ),
        (
            "en",
            "Late-payment interest so far: SEK 1,234.56 (räntelagen, the Swedish Interest Act)",
            "The interest is not included in the amount to pay above and is payable only when "
            "we ask for it.",
            "Amount to pay: SEK 12,310.00",
        ),
    ],
)
@pytest.mark.parametrize("template", REMINDERS)
def test_email_shows_interest_so_far_beside_the_balance(
    template: str, locale: Locale, interest_line: str, note: str, balance_line: str
) -> None:
    lines = email_lines(
        template=template,
        locale=locale,
        amount_due=Decimal("12250.00"),
        fees=Decimal("60.00"),
        balance=Decimal("12310.00"),
        interest=Decimal("1234.56"),
    )
    assert interest_line in lines
    assert note in lines
    # Interest is shown, never added to what to pay: the balance line is unchanged and the
    # interest comes after it.
    assert balance_line in lines
    assert lines.index(balance_line) < lines.index(interest_line)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("template", REMINDERS)
def test_email_has_no_interest_line_when_there_is_none(template: str, locale: Locale) -> None:
    request = delivery_request("email", template=template, locale=locale)
    assert request.interest == 0
    body = plain(render(TEMPLATES, request).body)
    assert "ränta" not in body.lower()
    assert "interest" not in body.lower()


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "sv",
            [
                "Fakturabelopp: 1 250,00 kr",
                "Avgifter: 120,00 kr",
                "Redan betalt eller krediterat: 500,00 kr",
                "Att betala: 870,00 kr",
                "I beloppet ingår en påminnelseavgift på 60,00 kr.",
                "Dröjsmålsränta hittills: 4,11 kr (räntelagen)",
            ],
        ),
        (
            "en",
            [
                "Invoice amount: SEK 1,250.00",
                "Fees: SEK 120.00",
                "Already paid or credited: SEK 500.00",
                "Amount to pay: SEK 870.00",
                "This includes a reminder fee of SEK 60.00.",
                "Late-payment interest so far: SEK 4.11 (räntelagen, the Swedish Interest Act)",
            ],
        ),
    ],
)
def test_email_breakdown_adds_up_to_the_balance(locale: Locale, expected: list[str]) -> None:
    """Amount due + fees - paid = what to pay; interest is shown after, outside the sum."""
    lines = email_lines(
        locale=locale,
        fees=Decimal("120.00"),
        fee_this_step=Decimal("60.00"),
        balance=Decimal("870.00"),
        interest=Decimal("4.11"),
    )
    positions = [lines.index(text) for text in expected]
    assert positions == sorted(positions)


def test_template_context_formats_interest_for_the_locale() -> None:
    sv = template_context(delivery_request("email", interest=Decimal("1234.5")))
    assert (plain(sv["interest"]), sv["has_interest"]) == ("1 234,50 kr", True)
    en = template_context(delivery_request("email", locale="en", interest=Decimal("0")))
    assert (plain(en["interest"]), en["has_interest"]) == ("SEK 0.00", False)
    assert (en["has_fees"], en["has_settled"]) == (False, False)


def test_us_emails_carry_an_opt_out_line_and_se_emails_do_not() -> None:
    us = plain(render(TEMPLATES, delivery_request("email", locale="en", jurisdiction="US")).body)
    se = plain(render(TEMPLATES, delivery_request("email", locale="en")).body)
    assert "To stop emails about this invoice, reply STOP" in us
    assert "reply STOP" not in se
    sms = render(TEMPLATES, delivery_request("sms", locale="en", jurisdiction="US")).body
    assert sms.count("STOP") == 1  # the template's own line already satisfies the rule
