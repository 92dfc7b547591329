"""A letter step: the rendered reminder laid out as the PDF the post carries
(`activities.letter_pdf`), with the company's address block and bankgiro from the settings."""

from __future__ import annotations

from dataclasses import replace

from activities.letter_pdf import Letter, letter_pdf
from activities.rendering import RenderedMessage, format_money
from domain.payloads import DeliveryRequest
from infra.settings import Settings


def with_pdf(
    settings: Settings, request: DeliveryRequest, message: RenderedMessage, page_url: str | None
) -> RenderedMessage:
    """The message with its PDF attached; the text stays, for the ledger and the dev inbox."""
    letter = Letter(
        locale=request.locale,
        sender=settings.company_address_lines,
        recipient=(request.customer_name, *request.to.splitlines()),
        subject=message.subject or request.invoice_number,
        body=message.body,
        amount=format_money(request.balance, request.currency, request.locale),
        bankgiro=settings.bankgiro,
        ocr=request.ocr,
        page_url=page_url or request.payment_url,
    )
    return replace(message, document=letter_pdf(letter))
