"""`journeys report --html FILE`: the experience report as one self-contained HTML page.

Charts are SVG drawn here, inline, with the page's own CSS: nothing is loaded from another
host (no script, font, stylesheet or image), so the file opens offline, in a mail client or
from an archive years later exactly as it was written. Three charts answer the questions the
report is for: where journeys get resolved (funnel per step), how customers feel at each step
(CSAT per step) and where customers are lost (leakage per segment); the full table follows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape
from pathlib import Path

from domain.report_formats import COLUMNS, cell
from domain.reporting import Report, ReportRow

WIDTH = 640
BAR_GAP = 8
PLOT_TOP, PLOT_BOTTOM = 30, 200
INK, PALE, ACCENT, WARN = "#1f4e79", "#a9c4de", "#2e7d32", "#b23b3b"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str
    color: str


def _svg_bars(title: str, groups: Sequence[Sequence[Bar]], maximum: float) -> str:
    """A grouped bar chart: one group per x label, bars side by side, value text on top."""
    count = max(len(groups), 1)
    slot = (WIDTH - 40) / count
    parts = [
        f'<svg role="img" aria-label="{escape(title)}" width="{WIDTH}" height="240" '
        f'viewBox="0 0 {WIDTH} 240">',
        f"<title>{escape(title)}</title>",
        f'<line x1="30" y1="{PLOT_BOTTOM}" x2="{WIDTH - 10}" y2="{PLOT_BOTTOM}" stroke="#555"/>',
    ]
    scale = (PLOT_BOTTOM - PLOT_TOP) / maximum if maximum > 0 else 0
    for g, bars in enumerate(groups):
        x0 = 30 + g * slot + BAR_GAP
        inner = (slot - 2 * BAR_GAP) / max(len(bars), 1)
        for b, bar in enumerate(bars):
            height = bar.value * scale
            x, y = x0 + b * inner, PLOT_BOTTOM - height
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(inner - 2, 1):.1f}" '
                f'height="{height:.1f}" fill="{bar.color}"><title>{escape(bar.label)}: '
                f"{escape(bar.text)}</title></rect>"
            )
            parts.append(
                f'<text x="{x + inner / 2:.1f}" y="{y - 4:.1f}" font-size="11" '
                f'text-anchor="middle">{escape(bar.text)}</text>'
            )
        label = bars[0].label.split(":")[0] if bars else ""
        parts.append(
            f'<text x="{x0 + (slot - 2 * BAR_GAP) / 2:.1f}" y="{PLOT_BOTTOM + 16}" '
            f'font-size="12" text-anchor="middle">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _steps(report: Report) -> list[ReportRow]:
    return [r for r in report.rows if r.segment == "all" and r.step != "all"]


def funnel_chart(report: Report) -> str:
    steps = _steps(report)
    groups = [
        [
            Bar(f"step {r.step}: reached", r.reached, str(r.reached), PALE),
            Bar(f"step {r.step}: resolved", r.resolved, str(r.resolved), INK),
        ]
        for r in steps
    ]
    top = max((r.reached for r in steps), default=0)
    return _svg_bars("Resolution funnel per step: reached and resolved", groups, top)


def csat_chart(report: Report) -> str:
    groups = [
        [
            Bar(
                f"step {r.step}: CSAT",
                float(r.csat_mean or 0),
                f"{r.csat_mean} (n={r.csat_count})" if r.csat_mean is not None else "none",
                ACCENT,
            )
        ]
        for r in _steps(report)
    ]
    return _svg_bars("CSAT (1-5) per step the journey ended after", groups, 5.0)


def leakage_chart(report: Report) -> str:
    segments = [r for r in report.rows if r.step == "all" and r.segment != "all"]

    def lost(r: ReportRow) -> str:
        money = ", ".join(f"{a:.2f} {c}" for c, a in r.ltv_lost.items())
        return f"{r.leaked}" + (f" ({money})" if money else "")

    groups = [[Bar(f"{r.segment}: leaked", r.leaked, lost(r), WARN)] for r in segments]
    top = max((r.leaked for r in segments), default=0)
    return _svg_bars("Customers lost per segment (lifetime value lost)", groups, top)


def _table(report: Report) -> str:
    head = "".join(f"<th>{escape(c.replace('_', ' '))}</th>" for c in COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell(r, c))}</td>" for c in COLUMNS) + "</tr>"
        for r in report.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def report_html(report: Report) -> str:
    scope = report.filter.describe()
    costs = report.costs
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Journeys report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
h1 {{ font-size: 1.4rem; }} h2 {{ font-size: 1.1rem; margin-top: 2rem; }}
table {{ border-collapse: collapse; font-size: 0.8rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.2rem 0.4rem; text-align: right; }}
th {{ background: #eef3f8; }} svg {{ max-width: 100%; height: auto; }}
</style></head>
<body>
<h1>Journeys report</h1>
<p>{report.journeys} finished journeys{escape(f" ({scope})" if scope else "")}, as of
{escape(report.as_of.strftime("%Y-%m-%d %H:%M UTC"))}. Step k: after k reminders went out.
Costs in {escape(costs.currency)}: email {_money(costs.per_email)}, SMS
{_money(costs.per_sms)}, call minute {_money(costs.per_call_minute)} ({costs.call_minutes}
minutes a call). Leakage window {report.leakage.window_days} days.</p>
<h2>Resolution funnel per step</h2>
<p><span style="color:{PALE}">&#9632;</span> reached the step &nbsp;
<span style="color:{INK}">&#9632;</span> paid after it</p>
{funnel_chart(report)}
<h2>CSAT per step</h2>
{csat_chart(report)}
<h2>Customers lost per segment</h2>
{leakage_chart(report)}
<h2>All figures</h2>
{_table(report)}
</body></html>
"""


def write_html(report: Report, path: Path) -> None:
    """Written whole or not at all: a half-written report is worse than none."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(report_html(report), encoding="utf-8")
    tmp.replace(path)
