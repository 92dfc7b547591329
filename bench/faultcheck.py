"""What every customer received, by the providers' own records, against what the policy
prescribes; the report of the fault-injection run (bench/faults.py).

The truth is what the fakes accepted (`FakeSendGrid.accepted`, `FakeTwilio.created`,
`FakeAgency.cases`): what a customer would really have received, whatever our ledger says.
An unpaid invoice must have every step of its segment's policy exactly once and exactly one
handover; a paid one (it pays after the first step is due) its first step at most, the
thank-you email exactly once, and no handover. Every billing event posted must be recorded
once in the store.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlmodel import select

from activities.ledger import RECONCILED
from domain.policies import PolicyFile
from infra.store import ContactAttemptRow, HandoverRow, JourneyEventRow, session_scope
from tests.fakes import FakeAgency, FakeSendGrid, FakeTwilio

THANK_YOU = "thank-you"
"""The step key of the email a customer gets when the invoice is paid."""


@dataclass
class Customer:
    invoice_id: str
    email: str
    phone: str
    paid: bool


@dataclass
class Report:
    journeys: int = 0
    closed: int = 0
    paid: int = 0
    steps_prescribed: int = 0
    steps_delivered: int = 0
    contacts: int = 0
    duplicates: int = 0
    steps_missed: int = 0
    journeys_lost: int = 0
    handovers: int = 0
    handover_duplicates: int = 0
    handovers_missed: int = 0
    contacts_after_payment: int = 0
    events_posted: int = 0
    events_recorded_once: int = 0
    events_not_once: int = 0
    recoveries: int = 0
    """Sends an interruption left unsettled, settled from the provider's own record."""
    uncertain_left: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (
            self.duplicates
            or self.steps_missed
            or self.journeys_lost
            or self.handover_duplicates
            or self.handovers_missed
            or self.contacts_after_payment
            or self.events_not_once
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"clean": self.clean}

    def text(self) -> str:
        f = self.faults
        lines = [
            "fault-injection report",
            f"  journeys        {self.journeys} ({self.closed} closed, {self.paid} paid midway)",
            f"  steps           {self.steps_delivered} delivered of {self.steps_prescribed} "
            f"prescribed; missed {self.steps_missed}",
            f"  contacts        {self.contacts} accepted by the providers; duplicates "
            f"{self.duplicates}; after payment {self.contacts_after_payment}",
            f"  handovers       {self.handovers}; duplicates {self.handover_duplicates}; "
            f"missed {self.handovers_missed}",
            f"  events          {self.events_posted} posted; recorded once "
            f"{self.events_recorded_once}; not once {self.events_not_once}",
            f"  losses          {self.journeys_lost} journeys lost",
            f"  recoveries      {self.recoveries} interrupted sends settled from the provider's "
            f"record; {self.uncertain_left} left uncertain",
            "  faults          "
            + ", ".join(f"{k} {v}" for k, v in f.items() if not k.startswith("_")),
            f"  verdict         {'CLEAN' if self.clean else 'NOT CLEAN'}",
        ]
        lines += [f"  problem: {p}" for p in self.problems[:20]]
        return "\n".join(lines)


def check(
    customers: list[Customer],
    statuses: dict[str, str],
    event_ids: list[str],
    policies: PolicyFile,
    segment: str,
    sendgrid: FakeSendGrid,
    twilio: FakeTwilio,
    agency: FakeAgency,
    store_url: str,
) -> Report:
    """`statuses`: each invoice's workflow status name as Temporal reports it."""
    report = Report(journeys=len(customers), events_posted=len(event_ids))
    policy = policies.segments[segment]
    wanted = Counter(step.channel for step in policy.steps)
    first_channel = policy.steps[0].channel

    emails: dict[str, Counter[str]] = {}
    for mail in sendgrid.accepted:
        args = mail["custom_args"]
        emails.setdefault(args.get("invoice_id", "?"), Counter())[args.get("step_key", "?")] += 1
    by_phone = {c.phone: c.invoice_id for c in customers}
    texts = Counter(by_phone.get(m.get("to") or "", "?") for m in twilio.created["Messages"])
    calls = Counter(by_phone.get(c.get("to") or "", "?") for c in twilio.created["Calls"])
    cases = Counter(key.removeprefix("handover-") for key in agency.cases)
    case_posts = Counter(
        r.headers.get("idempotency-key", "").removeprefix("handover-") for r in agency.requests
    )

    with session_scope(store_url) as s:
        handover_rows = Counter(row.invoice_id for row in s.exec(select(HandoverRow)).all())
        recorded = Counter(row.event_id for row in s.exec(select(JourneyEventRow)).all())
        attempts = list(s.exec(select(ContactAttemptRow)).all())
    report.recoveries = sum(1 for a in attempts if a.error == RECONCILED)
    report.uncertain_left = sum(1 for a in attempts if a.status == "uncertain")

    for c in customers:
        status = statuses.get(c.invoice_id)
        if status is None or status != "COMPLETED":
            report.journeys_lost += 1
            report.problems.append(f"{c.invoice_id}: journey {status or 'missing'}")
            continue
        report.closed += 1
        per_step = emails.get(c.invoice_id, Counter())
        got = {"email": len([k for k in per_step if k != THANK_YOU])}
        got["sms"] = min(texts[c.invoice_id], 1)
        got["call"] = min(calls[c.invoice_id], 1)
        dups = sum(n - 1 for n in per_step.values()) + max(texts[c.invoice_id] - 1, 0)
        dups += max(calls[c.invoice_id] - 1, 0)
        report.duplicates += dups
        report.contacts += sum(per_step.values()) + texts[c.invoice_id] + calls[c.invoice_id]
        if dups:
            report.problems.append(f"{c.invoice_id}: {dups} duplicate contact(s)")
        handed = cases[c.invoice_id]
        report.handovers += handed
        if c.paid:
            report.paid += 1
            thanked = per_step.get(THANK_YOU, 0)
            first = min(got[first_channel], 1)
            extra = sum(got.values()) - first
            report.contacts_after_payment += extra
            report.steps_delivered += first + min(thanked, 1)
            report.steps_prescribed += first + 1
            if not thanked:
                report.steps_missed += 1
                report.problems.append(f"{c.invoice_id}: paid, but no thank-you")
            if handed or handover_rows[c.invoice_id]:
                report.handover_duplicates += 1
                report.problems.append(f"{c.invoice_id}: paid, yet handed over")
            continue
        report.steps_prescribed += sum(wanted.values())
        for channel, n in wanted.items():
            report.steps_delivered += min(got[channel], n)
            if got[channel] < n:
                report.steps_missed += n - got[channel]
                report.problems.append(f"{c.invoice_id}: {channel} step missed")
        if handed != 1 or handover_rows[c.invoice_id] != 1:
            if handed == 0:
                report.handovers_missed += 1
            else:
                report.handover_duplicates += 1
            report.problems.append(
                f"{c.invoice_id}: {handed} agency case(s) from {case_posts[c.invoice_id]} "
                f"post(s), {handover_rows[c.invoice_id]} handover row(s)"
            )

    for event_id in event_ids:
        if recorded[event_id] == 1:
            report.events_recorded_once += 1
        else:
            report.events_not_once += 1
            report.problems.append(f"event {event_id}: recorded {recorded[event_id]} time(s)")
    return report
