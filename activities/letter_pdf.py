"""A paper reminder as a PDF: the company's address block, the customer's, the rendered
reminder, a payment slip (amount, bankgiro, OCR reference) and the customer page's link with
its QR code. Pure (bytes in, bytes out), so the outbox and the print-and-post provider get
the very same document, and a test reads its text back.

fpdf2's core font (Helvetica) covers Latin-1, which holds Swedish and English; the few
typographic characters outside it (thin spaces, dashes) are written as their plain cousins
rather than dropped."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import segno
from fpdf import FPDF

_PLAIN = str.maketrans(
    {
        "\u202f": " ",
        "\u2009": " ",
        "\u2013": "-",
        "\u2014": "-",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2026": "...",
        "\u20ac": "EUR",
    }
)

_SLIP_LABELS = {
    "sv": ("Inbetalning", "Att betala", "Bankgiro", "OCR-nummer", "Betala eller svara här"),
    "en": ("Payment slip", "Amount to pay", "Bankgiro", "OCR reference", "Pay or answer here"),
}


def latin1(text: str) -> str:
    """Text the core font can draw: known typography mapped, anything else as '?'."""
    return text.translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")


@dataclass(frozen=True)
class Letter:
    locale: str
    sender: Sequence[str]
    recipient: Sequence[str]
    subject: str
    body: str
    amount: str
    bankgiro: str | None
    ocr: str | None
    page_url: str | None


def letter_pdf(letter: Letter) -> bytes:
    """The letter on A4, its address in the window of a C5/DL envelope (left, 45 mm down)."""
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_title(latin1(letter.subject))
    pdf.add_page()
    pdf.set_font("Helvetica", size=9)
    pdf.set_xy(20, 15)
    pdf.multi_cell(90, 4.5, latin1("\n".join(letter.sender)))
    pdf.set_font("Helvetica", size=11)
    pdf.set_xy(25, 45)
    pdf.multi_cell(85, 5, latin1("\n".join(letter.recipient)))
    pdf.set_xy(20, 85)
    pdf.set_font("Helvetica", style="B", size=13)
    pdf.multi_cell(170, 6, latin1(letter.subject))
    pdf.ln(3)
    pdf.set_font("Helvetica", size=10.5)
    pdf.multi_cell(170, 5, latin1(letter.body))
    _slip(pdf, letter)
    return bytes(pdf.output())


def _slip(pdf: FPDF, letter: Letter) -> None:
    title, amount, bankgiro, ocr, link = _SLIP_LABELS.get(letter.locale, _SLIP_LABELS["en"])
    if pdf.get_y() > 220:
        pdf.add_page()
    top = max(pdf.get_y() + 8, 225.0)
    pdf.line(20, top - 3, 190, top - 3)
    pdf.set_xy(20, top)
    pdf.set_font("Helvetica", style="B", size=11)
    pdf.cell(120, 6, latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10.5)
    lines = [f"{amount}: {letter.amount}"]
    if letter.bankgiro:
        lines.append(f"{bankgiro}: {letter.bankgiro}")
    if letter.ocr:
        lines.append(f"{ocr}: {letter.ocr}")
    if letter.page_url:
        lines.append(f"{link}: {letter.page_url}")
    pdf.set_x(20)
    pdf.multi_cell(130, 5.5, latin1("\n".join(lines)))
    if letter.page_url:
        png = io.BytesIO()
        segno.make(letter.page_url, error="m").save(png, kind="png", scale=4, border=2)
        png.seek(0)
        pdf.image(png, x=155, y=top, w=35, h=35)
