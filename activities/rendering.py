"""Turning a DeliveryRequest into the words a customer reads or hears.

Rendering is pure (no I/O beyond reading template files) so that it can run before the
idempotency ledger is touched: a broken template must fail the step loudly without leaving a
half-claimed contact behind. `StrictUndefined` makes a missing variable an error instead of
an empty gap in a letter about somebody's money.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency
from jinja2 import BaseLoader, ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from domain.contact_rules import opt_out_line
from domain.jurisdiction import pack_for
from domain.opening_hours import WEEKDAYS, OpeningHours
from domain.payloads import DeliveryRequest
from domain.tenants import DEFAULT_TENANT
from infra.settings import Settings

# Babel locale per product locale. English uses US conventions, matching the en-US voice.
BABEL_LOCALES: dict[str, str] = {"sv": "sv_SE", "en": "en_US"}

SMS_MAX_CHARS = 320
"""Two concatenated SMS segments: longer texts cost more and arrive split on old phones."""

_CODE_THEN_DIGIT = re.compile(r"^([A-Z]{3})(\d)")
_WIDE_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " "})


@dataclass(frozen=True)
class RenderedMessage:
    subject: str | None
    body: str
    document: bytes | None = None
    """A letter's PDF (`activities.letters`); None for email, SMS and calls."""


def format_money(amount: Decimal, currency: str, locale: str) -> str:
    """Money as the customer's locale writes it ("1 250,00 kr" in Swedish).

    Babel writes foreign currency codes glued to the number in English ("SEK1,250.00");
    a non-breaking space keeps it readable without letting a line break split the amount.
    """
    text = format_currency(amount, currency, locale=BABEL_LOCALES[locale])
    return _CODE_THEN_DIGIT.sub("\\1\u00a0\\2", text)


def _spoken_digits(value: object) -> str:
    """A payment reference read digit by digit, so a voice does not say "ten thousand"."""
    return " ".join(str(value).replace(" ", ""))


def _spoken_url(value: object) -> str:
    """A link as a person would say it: without the scheme."""
    return re.sub(r"^https?://", "", str(value)).rstrip("/")


SHIPPED_TEMPLATES: Path = Settings.model_fields["templates_dir"].default
"""The templates the product ships (templates/): every step's, in every locale."""


def template_dirs(settings: Settings) -> tuple[Path, ...]:
    """Where a tenant's templates are looked up, first match wins: a tenant that names its
    own TEMPLATES_DIR overrides only the templates it has there (a signature, one reminder),
    and the shipped ones fill in the rest, includes too. The default tenant's TEMPLATES_DIR
    is used alone, as before tenants existed."""
    own = settings.templates_dir
    if settings.tenant == DEFAULT_TENANT or own == SHIPPED_TEMPLATES:
        return (own,)
    return (own, SHIPPED_TEMPLATES)


@lru_cache(maxsize=64)
def _environment(templates_dirs: tuple[str, ...]) -> Environment:
    loader: BaseLoader = FileSystemLoader(templates_dirs[0])
    if len(templates_dirs) > 1:
        loader = ChoiceLoader([FileSystemLoader(d) for d in templates_dirs])
    env = Environment(
        loader=loader,
        undefined=StrictUndefined,
        autoescape=False,  # plain text for email, SMS and speech; nothing here is HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["spoken_digits"] = _spoken_digits
    env.filters["spoken_url"] = _spoken_url
    return env


def template_name(request: DeliveryRequest) -> str:
    """A letter says what the email says (the templates ask `channel` where they differ),
    so it uses the email template of its step."""
    channel = "email" if request.channel == "letter" else request.channel
    return f"{request.locale}/{request.template}.{channel}.j2"


def template_context(request: DeliveryRequest, page_url: str | None = None) -> dict[str, Any]:
    """Everything a template may use, already formatted for the customer's locale.

    `page_url` is the invoice's customer page (infra/customer_links.py), where the customer
    pays, promises, asks for a plan or a call, disputes, and rates us afterwards."""
    locale = request.locale

    def money(amount: Decimal) -> str:
        return format_money(amount, request.currency, locale)

    # What has been paid or credited: the difference between what was charged and what is
    # still owed, so the breakdown adds up (amount due + fees - settled = balance).
    settled = max(Decimal("0"), request.amount_due + request.fees - request.balance)
    return {
        "locale": locale,
        "channel": request.channel,
        "customer_name": request.customer_name,
        "invoice_number": request.invoice_number,
        "amount_due": money(request.amount_due),
        "balance": money(request.balance),
        "balance_differs": request.balance != request.amount_due,
        "fees": money(request.fees),
        "fee_this_step": money(request.fee_this_step),
        "has_fee": request.fee_this_step > 0,
        "has_fees": request.fees > 0,
        "settled": money(settled),
        "has_settled": settled > 0,
        # Late-payment interest so far: shown beside the balance, never part of it (it is
        # payable when the company asks for it).
        "interest": money(request.interest),
        "has_interest": request.interest > 0,
        "due_date": format_date(request.due_date, format="long", locale=BABEL_LOCALES[locale]),
        "ocr": request.ocr,
        "payment_url": request.payment_url,
        "page_url": page_url,
        "final_notice": request.final_notice,
        "service_phone": request.service_phone,
        "service_hours": format_hours(request.service_hours, locale)
        if request.service_hours
        else None,
    }


_DAY_NAMES = {
    "sv": ("mån", "tis", "ons", "tor", "fre", "lör", "sön"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}


def format_hours(hours: OpeningHours, locale: str) -> str:
    """Weekly opening hours in a line a customer reads at a glance: days with the same hours
    run together ("mån–fre 08:00–20:00, lör 10:00–14:00")."""
    names = _DAY_NAMES[locale]
    groups: list[tuple[int, int, str]] = []
    for n, day in enumerate(WEEKDAYS):
        intervals = hours.weekly.get(day, ())
        text = ", ".join(f"{i}".replace("-", "–") for i in intervals)
        if not text:
            continue
        if groups and groups[-1][1] == n - 1 and groups[-1][2] == text:
            groups[-1] = (groups[-1][0], n, text)
        else:
            groups.append((n, n, text))
    parts = [f"{names[a]}{'–' + names[b] if b != a else ''} {text}" for a, b, text in groups]
    return ", ".join(parts)


def _tidy(text: str) -> str:
    """Collapse the blank-line runs that conditional template lines leave behind."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def render(
    templates_dir: Path | str | Sequence[Path | str],
    request: DeliveryRequest,
    page_url: str | None = None,
) -> RenderedMessage:
    """Render `templates/<locale>/<template>.<channel>.j2` for one delivery, from the first
    of `templates_dir` (one folder, or several: `template_dirs`) that has it.

    Email templates define `{% block subject %}` and `{% block body %}`; SMS and call
    templates are the text itself. SMS text uses ordinary spaces: a non-breaking space is
    outside the GSM-7 alphabet and would force the whole message into UCS-2 (70 characters
    a segment instead of 160).
    """
    dirs = [templates_dir] if isinstance(templates_dir, Path | str) else templates_dir
    env = _environment(tuple(str(d) for d in dirs))
    template = env.get_template(template_name(request))
    variables = template_context(request, page_url)
    if request.channel in ("email", "letter"):
        missing = {"subject", "body"} - set(template.blocks)
        if missing:
            raise ValueError(f"email template {template.name} must define blocks {sorted(missing)}")
        context = template.new_context(variables)
        subject = " ".join("".join(template.blocks["subject"](context)).split())
        body = _tidy("".join(template.blocks["body"](context)))
        if request.channel == "email":
            body = _with_opt_out(body, request)
        return RenderedMessage(subject=subject, body=body)
    body = _tidy(template.render(variables))
    if request.channel == "sms":
        body = _with_opt_out(body, request).translate(_WIDE_SPACES)
    return RenderedMessage(subject=None, body=body)


def _with_opt_out(body: str, request: DeliveryRequest) -> str:
    """Where the jurisdiction requires it (US), every email and SMS says how to opt out; a
    template that already tells the customer to reply STOP is left as it is."""
    line = opt_out_line(request.channel, request.locale, pack_for(request.jurisdiction))
    if line is None or "STOP" in body:
        return body
    return f"{body}\n\n{line}" if request.channel == "email" else f"{body} {line}"
