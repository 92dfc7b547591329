"""A small portfolio of finished journeys with known outcomes, and the report computed by
hand for it (EXPECTED_CSV), shared by the pure, CLI and HTTP tests.

Costs: email 0.01, SMS 0.60, a call 2 minutes at 0.90 = 1.80. Leakage window 90 days.

| id | segment  | outcome     | steps | resolved | days | e/s/c | cost | rating |
|----|----------|-------------|-------|----------|------|-------|------|--------|
| A  | standard | paid        | 1     | 1        | 5    | 1/0/0 | 0.01 | 5      |
| B  | standard | paid        | 2     | 2        | 12   | 1/1/0 | 0.61 | 3      |
| C  | standard | handed_over | 4     | -        | -    | 2/1/1 | 2.42 | 1      |
| D  | loyal    | paid        | 0     | 0        | -2   | 0/0/0 | 0    | -      |
| E  | loyal    | paid        | 1     | 1        | 8    | 1/0/0 | 0.01 | 4      |
| F  | loyal    | cancelled   | 2     | 2        | -    | 1/1/0 | 0.61 | -      |

C's customer churns 10 days after it (lifetime value 25 000 SEK): leaked. F's churns 120 days
after: outside the window, not leaked.

Worked, for example, "all" segments, step "all": 6 journeys, 4 paid (0.6667); days to pay
-2, 5, 8, 12: median 6.5; ratings 5, 3, 1, 4: mean 3.25 of 4; 1 handover of 6 (0.1667);
contacts 1+2+4+0+1+2 = 10 over 4 paid = 2.50; cost 0.01+0.61+2.42+0+0.01+0.61 = 3.66 over 4
paid = 0.915, 0.92 rounded half up. Step 4 of standard: only C reached it and ended there.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from domain.reporting import Costs, LeakageRule, OutcomeFact

COSTS = Costs(
    per_email=Decimal("0.01"),
    per_sms=Decimal("0.60"),
    per_call_minute=Decimal("0.90"),
    call_minutes=Decimal("2"),
    currency="SEK",
)
LEAKAGE = LeakageRule(window_days=90)
CLOSED = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
AS_OF = datetime(2026, 11, 30, tzinfo=UTC)
NEXT_INVOICE = date(2026, 7, 2)


def _fact(
    invoice_id: str,
    segment: str,
    outcome: str,
    steps: int,
    resolved: int | None,
    days: int | None,
    contacts: tuple[int, int, int],
    rating: int | None = None,
    churn_after_days: int | None = None,
    ltv: str = "10000.00",
) -> OutcomeFact:
    return OutcomeFact(
        invoice_id=f"inv_{invoice_id}",
        customer_id=f"cus_{invoice_id}",
        segment=segment,
        policy_name=segment,
        outcome=outcome,
        steps_sent=steps,
        resolved_at_step=resolved,
        closed_at=CLOSED,
        currency="SEK",
        lifetime_value=Decimal(ltv),
        days_to_pay=days,
        contacts=dict(zip(("email", "sms", "call"), contacts, strict=True)),
        churned_at=CLOSED + timedelta(days=churn_after_days) if churn_after_days else None,
        next_invoice_on=NEXT_INVOICE,
        rating=rating,
    )


FACTS = [
    _fact("A", "standard", "paid", 1, 1, 5, (1, 0, 0), rating=5),
    _fact("B", "standard", "paid", 2, 2, 12, (1, 1, 0), rating=3),
    _fact("C", "standard", "handed_over", 4, None, None, (2, 1, 1), 1, 10, ltv="25000.00"),
    _fact("D", "loyal", "paid", 0, 0, -2, (0, 0, 0)),
    _fact("E", "loyal", "paid", 1, 1, 8, (1, 0, 0), rating=4),
    _fact("F", "loyal", "cancelled", 2, 2, None, (1, 1, 0), churn_after_days=120),
]

EXPECTED_CSV = """\
segment,step,reached,resolved,share_resolved,median_days_to_pay,csat_mean,csat_count,leaked,ltv_lost,handovers,handover_rate,contacts,contacts_per_resolved,provider_cost,cost_per_resolved
all,all,6,4,0.6667,6.5,3.25,4,1,25000.00 SEK,1,0.1667,10,2.50,3.66,0.92
all,0,6,1,0.1667,-2.0,,0,0,,0,0.0000,0,0.00,0.00,0.00
all,1,5,2,0.4000,6.5,4.50,2,0,,0,0.0000,2,1.00,0.02,0.01
all,2,3,1,0.3333,12.0,3.00,1,0,,0,0.0000,2,2.00,0.61,0.61
all,3,1,0,0.0000,,,0,0,,0,0.0000,0,,0.00,
all,4,1,0,0.0000,,1.00,1,1,25000.00 SEK,1,1.0000,0,,0.00,
loyal,all,3,2,0.6667,3.0,4.00,1,0,,0,0.0000,3,1.50,0.62,0.31
loyal,0,3,1,0.3333,-2.0,,0,0,,0,0.0000,0,0.00,0.00,0.00
loyal,1,2,1,0.5000,8.0,4.00,1,0,,0,0.0000,1,1.00,0.01,0.01
loyal,2,1,0,0.0000,,,0,0,,0,0.0000,0,,0.00,
standard,all,3,2,0.6667,8.5,3.00,3,1,25000.00 SEK,1,0.3333,7,3.50,3.04,1.52
standard,0,3,0,0.0000,,,0,0,,0,0.0000,0,,0.00,
standard,1,3,1,0.3333,5.0,5.00,1,0,,0,0.0000,1,1.00,0.01,0.01
standard,2,2,1,0.5000,12.0,3.00,1,0,,0,0.0000,2,2.00,0.61,0.61
standard,3,1,0,0.0000,,,0,0,,0,0.0000,0,,0.00,
standard,4,1,0,0.0000,,1.00,1,1,25000.00 SEK,1,1.0000,0,,0.00,
"""


def expected_rows(text: str = EXPECTED_CSV) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def as_json_value(column: str, cell: str) -> object:
    """What the JSON form must say for a hand-written CSV cell."""
    if column in ("segment", "step"):
        return cell
    if column == "ltv_lost":
        return {c: a for a, c in (part.split(" ") for part in cell.split("; ") if part)}
    if cell == "":
        return None
    if column in ("provider_cost", "cost_per_resolved"):
        return cell
    if column in (
        "reached",
        "resolved",
        "csat_count",
        "leaked",
        "handovers",
        "contacts",
    ):
        return int(cell)
    return float(cell)
