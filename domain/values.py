"""The value types every model is built from: money, currencies, zones, channels.

Amounts, currencies and zone names are validated here once, with the messages a person sees
at the boundary (HTTP, the policy file); every model module builds on these.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.numbers import list_currencies
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
)

_AMOUNT_RE = re.compile(r"^-?\d{1,15}(\.\d{1,2})?$")
_CURRENCIES = frozenset(list_currencies())


def _parse_amount(value: object) -> Decimal:
    """Amounts travel as decimal strings in the currency's major unit (SPEC)."""
    if isinstance(value, Decimal):
        return value
    if not isinstance(value, str) or not _AMOUNT_RE.match(value):
        raise ValueError('must be a decimal string with at most two decimals, like "1250.00"')
    return Decimal(value)


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value


_AS_STRING = PlainSerializer(lambda v: f"{v:.2f}", return_type=str)
Money = Annotated[
    Decimal, BeforeValidator(_parse_amount), AfterValidator(_non_negative), _AS_STRING
]
"""A non-negative amount; in JSON always a decimal string, never a float."""
PositiveMoney = Annotated[
    Decimal, BeforeValidator(_parse_amount), AfterValidator(_positive), _AS_STRING
]


def _currency(value: str) -> str:
    if value not in _CURRENCIES:
        raise ValueError(f"'{value}' is not an ISO 4217 currency code")
    return value


Currency = Annotated[str, AfterValidator(_currency)]


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{value}' is not an IANA time zone such as 'Europe/Stockholm'") from None
    return value


TimeZoneName = Annotated[str, AfterValidator(_timezone)]
UtcDatetime = Annotated[datetime, PlainSerializer(lambda v: v.isoformat(), return_type=str)]

Channel = Literal["email", "sms", "call", "letter"]
CHANNELS: tuple[Channel, ...] = ("email", "sms", "call", "letter")
"""`letter` is a paper reminder (a PDF, printed and posted): it needs a postal address, not
consent, and Swedish law counts it as delivered once posted."""
Locale = Literal["sv", "en"]
FeeKind = Literal["reminder", "collection_letter", "payment_plan", "late_compensation"]
"""What a charge is for. `late_compensation` is the Swedish förseningsersättning between
businesses, charged instead of reminder and collection-letter fees."""
StepFeeKind = Literal["reminder", "collection_letter"]


class Model(BaseModel):
    """Frozen and strict: a payload with an unknown field is refused, never half-read."""

    model_config = ConfigDict(extra="forbid", frozen=True)
