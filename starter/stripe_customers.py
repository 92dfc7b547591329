"""A Stripe customer's details as the product's customer (SPEC "Billing events", `customer`).

Stripe's contact details win over what we already store, which wins over the defaults. What
Stripe does not know (consent per channel, time zone, language, fee agreement, customer since)
comes from the customer we store, else from the Stripe customer's metadata (`locale`,
`timezone`, `consent_email`, `consent_sms`, `consent_call`, `fee_agreed`, `is_business`), else
the defaults (email consent only). A phone number that is not valid, or an email that is not an
address, is left out rather than refusing the invoice: Stripe accepts free text in both.
Pure functions: no store, no network.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from babel.core import get_global

from domain.models import Customer

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_phone(raw: str | None, country: str | None) -> str | None:
    """E.164, or None when Stripe's free-text phone is not a valid number."""
    if not raw:
        return None
    try:
        parsed = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _valid_timezone(name: object) -> str | None:
    if not isinstance(name, str) or not name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


_OLD_DEFAULT_ZONE = "Europe/Stockholm"
"""What a customer without a zone used to be given, before an unknown zone stayed unknown."""


def country_timezone(country: str | None) -> str | None:
    """The country's time zone if it has exactly one (Sweden yes, the United States no)."""
    if not country:
        return None
    zones = get_global("territory_zones").get(country, ())
    return _valid_timezone(zones[0]) if len(zones) == 1 else None


def _locale(
    metadata: Mapping[str, Any], preferred: object, country: str | None
) -> Literal["sv", "en"] | None:
    candidates: list[object] = [metadata.get("locale")]
    if isinstance(preferred, list):
        candidates += preferred
    for candidate in candidates:
        if isinstance(candidate, str) and candidate[:2].lower() in ("sv", "en"):
            return "sv" if candidate[:2].lower() == "sv" else "en"
    if country is not None:
        return "sv" if country == "SE" else "en"
    return None


def _flag(metadata: Mapping[str, Any], key: str) -> bool | None:
    value = metadata.get(key)
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "no", "0"):
        return False
    return None


def build_customer(
    *,
    customer_id: str,
    name: str | None,
    email: str | None,
    phone: str | None,
    country: str | None,
    metadata: Mapping[str, Any],
    preferred_locales: object = None,
    customer_since: date | None = None,
    known: Customer | None = None,
) -> dict[str, Any]:
    """The product customer: Stripe's contact details over what we know over the defaults."""
    base: dict[str, Any] = known.model_dump(mode="json") if known else {"id": customer_id}
    base["id"] = customer_id
    if email and not _EMAIL.match(email):
        email = None  # Stripe accepts free text; the product needs an address
    base["name"] = name or (known.name if known else None) or email or customer_id
    if email:
        base["email"] = email
    e164 = normalise_phone(phone, country)
    if e164:
        base["phone"] = e164
    if locale := _locale(metadata, preferred_locales, None if known else country):
        base["locale"] = locale
    if tz := _valid_timezone(metadata.get("timezone")) or (
        None if known else country_timezone(country)
    ):
        base["timezone"] = tz
    elif known is not None and known.timezone == _OLD_DEFAULT_ZONE and country not in (None, "SE"):
        # Stored when every customer without a zone was given Stockholm: in another country
        # that was a guess, so their country's only zone, or unknown (never guessed again).
        base["timezone"] = country_timezone(country)
    consent = dict(base.get("consent") or {})
    for channel in ("email", "sms", "call"):
        if (flag := _flag(metadata, f"consent_{channel}")) is not None:
            consent[channel] = flag
    if consent:
        base["consent"] = consent
    for key in ("fee_agreed", "is_business"):
        if (flag := _flag(metadata, key)) is not None:
            base[key] = flag
    if customer_since and not base.get("customer_since"):
        base["customer_since"] = customer_since.isoformat()
    return base
