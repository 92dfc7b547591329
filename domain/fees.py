"""Fees at run time: the one function every charge goes through (`lawful_fee`).

A step's fee, a collection letter's, a payment plan's and the flat compensation between
businesses are all decided here, at the moment they would be charged, against the journey's
jurisdiction pack: capped, in the pack's currency only, once per kind, only where agreed,
never to a vulnerable customer. The policy check at load (`domain.policy_check`) refuses a
policy that asks for more; this is the second line, for what only a customer's data decides.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta
from decimal import Decimal
from typing import NamedTuple, get_args

from domain.jurisdiction import SE_COMPENSATION_LAW, JurisdictionPack
from domain.models import Customer, Step
from domain.values import Channel, FeeKind

FEE_KINDS: tuple[FeeKind, ...] = get_args(FeeKind)


def step_fee_kind(step: Step) -> FeeKind:
    """What a step's fee is for (`Step.fee_kind`: a reminder fee unless the policy says it is
    a collection letter)."""
    return step.fee_kind


def format_money(amount: Decimal, currency: str | None) -> str:
    return f"{amount:.2f} {currency}" if currency else f"{amount:.2f}"


class FeeDecision(NamedTuple):
    """The fee actually charged for one step, why, and under which kind to record it (add
    `kind` to the invoice's charged kinds when `amount > 0`)."""

    amount: Decimal
    reason: str
    kind: FeeKind | None


_ZERO = Decimal("0.00")


def lawful_fee(
    step_fee: Decimal | None,
    customer: Customer,
    fees_charged_so_far: Collection[str],
    pack: JurisdictionPack,
    *,
    kind: FeeKind = "reminder",
    currency: str | None = None,
    channel: Channel | None = None,
) -> FeeDecision:
    """The fee a step may actually charge this customer on this invoice.

    `step_fee` is what the policy asks for; `fees_charged_so_far` the kinds already charged on
    this invoice (e.g. `["reminder"]`); `currency` the invoice's, when known. Between
    businesses (where the pack has a flat compensation) a reminder or collection-letter fee
    becomes the compensation, charged once per invoice, statutory, so no prior agreement is
    needed; but only where the policy asked for a fee at all, since charging is the company's
    choice. Amounts above a cap are reduced to the cap, not refused: load-time validation
    already refuses such policies, and at run time charging less is always lawful.
    """
    if step_fee is None or step_fee <= 0:
        return FeeDecision(_ZERO, "no fee on this step", None)
    if customer.vulnerable and pack.no_fees_when_vulnerable:
        return FeeDecision(_ZERO, "no fees for a customer marked vulnerable", None)
    if pack.currency is not None and currency is not None and currency != pack.currency:
        return FeeDecision(
            _ZERO,
            f"{pack.code} fee limits are in {pack.currency}; no fee on a {currency} invoice",
            None,
        )
    charged = set(fees_charged_so_far)
    cur = pack.currency
    if (
        customer.is_business
        and pack.business_compensation is not None
        and kind in ("reminder", "collection_letter")
    ):
        if "late_compensation" in charged:
            return FeeDecision(
                _ZERO, f"late-payment compensation already charged ({SE_COMPENSATION_LAW})", None
            )
        if charged & {"reminder", "collection_letter"}:
            return FeeDecision(
                _ZERO,
                "reminder or collection fees already charged; no compensation on top "
                f"({SE_COMPENSATION_LAW})",
                None,
            )
        return FeeDecision(
            pack.business_compensation,
            f"flat {format_money(pack.business_compensation, cur)} late-payment compensation "
            f"(förseningsersättning) between businesses, instead of reminder and collection "
            f"fees ({SE_COMPENSATION_LAW})",
            "late_compensation",
        )
    rule = pack.fee_rule(kind)
    if rule is None:
        return FeeDecision(_ZERO, f"{pack.code} allows no {kind.replace('_', ' ')} fee", None)
    if rule.needs_agreement and not customer.fee_agreed:
        return FeeDecision(
            _ZERO,
            f"no {rule.label}: not agreed no later than when the debt arose ({rule.law})",
            None,
        )
    if rule.written_only and channel == "call":
        return FeeDecision(_ZERO, f"no {rule.label} for a call ({rule.law})", None)
    if rule.once_per_invoice and kind in charged:
        return FeeDecision(
            _ZERO, f"a {rule.label} was already charged on this invoice ({rule.law})", None
        )
    if rule.cap is not None and step_fee > rule.cap:
        return FeeDecision(
            rule.cap, f"{rule.label} capped at {format_money(rule.cap, cur)} ({rule.law})", kind
        )
    return FeeDecision(step_fee, f"{rule.label} {format_money(step_fee, cur)}", kind)


def collection_letter_pay_by(sent_on: date, pack: JurisdictionPack) -> date | None:
    """The earliest pay-by date an inkassokrav sent on `sent_on` may state (None: no rule)."""
    if pack.collection_letter_min_days is None:
        return None
    return sent_on + timedelta(days=pack.collection_letter_min_days)
