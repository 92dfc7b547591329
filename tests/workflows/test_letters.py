"""A letter when nothing electronic reaches the customer (issue 13), in time skipping through
the real worker and outbox: the PDF is read back and holds what the customer needs to pay."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from pypdf import PdfReader

from domain.interest import PUBLISHED_REFERENCE_RATES
from domain.messages import DeliveryFailure
from domain.models import Consent, Policy, Step
from domain.postal import add_postal_days
from infra import customer_links
from infra.policy_file import load_policies
from infra.settings import REPO_ROOT
from infra.store import split_letter
from tests.factories import journey_input
from tests.workflows.journey_driver import JourneyDriver, steps_out
from workflows import planning
from workflows.journey import InvoiceJourney
from workflows.journey_time import journey_today
from workflows.ledger import Ledger

ADDRESS = ("Storgatan 1", "111 22 Stockholm")


def pdf_text(pdf: bytes) -> str:
    """The PDF's text as a reader extracts it, whitespace normalised."""
    pages = PdfReader(io.BytesIO(pdf)).pages
    return " ".join(" ".join(page.extract_text().split()) for page in pages)


async def test_no_email_and_no_sms_consent_gets_a_letter(journeys: JourneyDriver) -> None:
    inp = journey_input(
        "inv_paper",
        email=None,
        consent=Consent(email=True, sms=False, call=False),
        postal_address=ADDRESS,
    )
    handle, state = await journeys.through_first_step(inp)

    assert steps_out(state) == ["letter:fallback", "letter:sent"]
    assert "no email address" in state.history[-2].detail and state.open_tasks == ()
    [letter] = journeys.outbox("inv_paper")
    assert (letter.channel, letter.step_key) == ("letter", "step-0-letter")
    assert letter.to_address == "\n".join(ADDRESS)
    text, pdf = split_letter(letter.body)
    assert pdf is not None and pdf.startswith(b"%PDF")
    page = customer_links.page_url(journeys.settings, "inv_paper")
    extracted = pdf_text(pdf)
    for expected in ("1 250,00 kr", "10014", page, "Berit Andersson", "Storgatan 1"):
        assert expected in extracted, expected
    assert "Exempelbolaget AB" in extracted  # the company's address block
    assert page in text and "mejlet" not in text  # no "reply to this email" on paper

    # The post gets its days: the next step waits two postal days after the letter.
    posted = journey_today(state.history[-1].at, inp.clock, "Europe/Stockholm")
    arrives = add_postal_days(posted, inp.policy.postal_days_after_letter, inp.holidays)
    assert state.next_step is not None
    assert journey_today(state.next_step.at, inp.clock, "Europe/Stockholm") >= arrives


async def test_a_bounced_email_without_sms_consent_becomes_a_letter(
    journeys: JourneyDriver,
) -> None:
    inp = journey_input(
        "inv_bounce_paper",
        consent=Consent(email=True, sms=False, call=False),
        postal_address=ADDRESS,
        locale="en",
    )
    handle, _ = await journeys.through_first_step(inp)
    bounce = DeliveryFailure(
        event_id="sg-paper-1",
        step_key="step-0-email",
        channel="email",
        reason="bounce: 550 no such user",
    )
    await handle.signal(InvoiceJourney.delivery_failed, bounce)
    await journeys.settle(handle, lambda s: len(journeys.outbox("inv_bounce_paper")) == 2)
    email, letter = journeys.outbox("inv_bounce_paper")
    assert (email.channel, letter.channel) == ("email", "letter")
    _, pdf = split_letter(letter.body)
    assert pdf is not None
    extracted = pdf_text(pdf)
    assert "SEK 1,250.00" in extracted and "OCR reference: 10014" in extracted


async def test_without_a_postal_address_it_stays_an_agent_task(journeys: JourneyDriver) -> None:
    inp = journey_input("inv_nowhere", email=None, consent=Consent(sms=False))
    handle, state = await journeys.through_first_step(inp)
    assert journeys.outbox("inv_nowhere") == []
    assert "no way to reach the customer" in state.open_tasks[0]  # as before letters


def test_interest_past_the_last_published_half_year_is_named_not_guessed() -> None:
    """The shipped table ends with 2026-01-01 (2026-07-01 was not published): a journey late
    into July shows no interest and says which half-year's rate it lacks."""
    inp = journey_input(issued=date(2026, 5, 1)).model_copy(
        update={"reference_rates": dict(PUBLISHED_REFERENCE_RATES)}
    )
    ledger = Ledger(due_date=inp.invoice.due_date, amount_due=inp.invoice.amount_due)
    june = planning.snapshot(inp, ledger, "wf", datetime(2026, 6, 20, 12, tzinfo=UTC))
    assert june.interest > 0 and june.interest_unknown_from is None
    july = planning.snapshot(inp, ledger, "wf", datetime(2026, 7, 20, 12, tzinfo=UTC))
    assert (july.interest, july.interest_unknown_from) == (Decimal("0"), date(2026, 7, 1))
    ledger.paid = inp.invoice.amount_due  # nothing left to bear interest: nothing unknown
    paid = planning.snapshot(inp, ledger, "wf", datetime(2026, 7, 20, 12, tzinfo=UTC))
    assert paid.interest_unknown_from is None
    assert (
        date(2026, 7, 1)
        not in load_policies(REPO_ROOT / "config" / "policies.toml").reference_rates
    )


async def test_a_letter_step_and_the_post_gets_its_days(journeys: JourneyDriver) -> None:
    """A policy may send a letter as a step; the email planned for the next day waits until
    the letter has had its postal days (weekends and holidays not counted)."""
    policy = Policy(
        segment="standard",
        steps=(
            Step(offset_days=3, channel="letter", template="reminder"),
            Step(offset_days=4, channel="email", template="reminder"),
        ),
        postal_days_after_letter=2,
    )
    inp = journey_input("inv_letter_step", policy=policy, postal_address=ADDRESS)
    handle, state = await journeys.through_first_step(inp)
    assert steps_out(state) == ["letter:sent"]
    posted = journey_today(state.history[-1].at, inp.clock, "Europe/Stockholm")
    planned = inp.invoice.due_date + timedelta(days=4)
    arrives = add_postal_days(posted, 2, inp.holidays)
    assert state.next_step is not None and arrives > planned
    assert journey_today(state.next_step.at, inp.clock, "Europe/Stockholm") == arrives
    state = await journeys.through_step(handle, 1)
    assert steps_out(state) == ["letter:sent", "email:sent"]
    assert [m.channel for m in journeys.outbox("inv_letter_step")] == ["letter", "email"]
