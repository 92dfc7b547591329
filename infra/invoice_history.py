"""A customer's earlier invoices as segmentation reads them (`domain.segmentation.PastInvoice`),
made from the store's rows in one place: ingest reads them to choose a segment, the outcome
activity to fix the lifetime value at close."""

from __future__ import annotations

from datetime import date

from domain.segmentation import PastInvoice
from infra.store import InvoiceRow


def past_invoice(row: InvoiceRow, paid_on: date | None = None) -> PastInvoice:
    """The row as a past invoice. When it was paid in full is the caller's to say: the payment
    events know it better than `closed_at`, and the lifetime value does not need it."""
    return PastInvoice(
        invoice_id=row.id,
        issued_at=row.issued_at,
        due_date=row.due_date,
        status=row.status,
        paid_on=paid_on,
        amount=row.amount_due,
        currency=row.currency,
    )
