"""The figures `bench/run.py` reports: each with its baseline, their ratio, a target, and
whether the medians over the runs meet it.

Every phase of a run leaves its raw results in the run's dict (`bench/run.py`);
`figures_of` turns one run into `{figure: {"value", "baseline", "ratio"}}`, the ratio taken
within that run (both sides minutes apart on the same machine), and `table` prints the
median of each over the runs: the median value, the median baseline and the median of the
per-run ratios (so the ratio column need not be the quotient of the other two).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class Figure:
    name: str
    label: str
    """What is measured, then `vs` what it is held against (the baseline column)."""
    fmt: str = ".1f"
    target: float | None = None
    on: Literal["value", "ratio"] = "ratio"
    """Whether the target is on the measured value or on value ÷ baseline."""
    at_most: bool = False

    def target_text(self) -> str:
        if self.target is None:
            return ""
        sign = "<=" if self.at_most else ">="
        suffix = "x" if self.on == "ratio" else ""
        return f"{sign} {self.target:g}{suffix}"

    def status(self, value: float | None, ratio: float | None) -> str:
        if self.target is None:
            return ""
        x = ratio if self.on == "ratio" else value
        if x is None or math.isnan(x):
            return "n/a"
        ok = x <= self.target if self.at_most else x >= self.target
        return "MET" if ok else "MISSED"


FIGURES: tuple[Figure, ...] = (
    # (a) memory
    Figure(
        "memory",
        "memory: worker kB / cached idle journey, product vs bare",
        target=1.0,
        at_most=True,
    ),
    Figure("memory_by_value", "  the same, configuration by value, vs bare"),
    # (b) ingest
    Figure(
        "ingest_post",
        "ingest: invoices/s, POST arrays vs old one-by-one path",
        target=3.0,
    ),
    Figure("ingest_post_abs", "  the same, invoices/s on its own", target=200, on="value"),
    Figure(
        "ingest_import",
        "ingest: invoices/s, `events import` vs old one-by-one",
        target=3.0,
    ),
    Figure("ingest_import_abs", "  the same, invoices/s on its own", target=200, on="value"),
    Figure("ingest_floor", "ingest: bare workflow starts/s (no product) vs old"),
    # (c) saturation
    Figure(
        "saturation",
        "saturation: due steps run per s, tuned vs default server",
        target=1.8,  # the first round's tuned/default target, which this measure replaces
    ),
    Figure("saturation_all", "  s until every due step ran, default ÷ tuned"),
    Figure("saturation_half", "  s until half of them ran, default ÷ tuned"),
    Figure("saturation_start", "  s to start the journeys, default ÷ tuned"),
    # (d) providers
    Figure(
        "provider_step_events",
        "history events / step (p50), SendGrid+Twilio vs outbox",
        fmt=".1f",
        target=8,
        on="value",
        at_most=True,
    ),
    Figure("provider_journey_events", "  history events / journey, SendGrid+Twilio vs outbox"),
    # end to end (first round)
    Figure(
        "throughput",
        "journeys/s end to end, product vs bare (tuned server)",
        fmt=".2f",
        target=0.85,
    ),
    Figure("throughput_default", "  product: journeys/s, tuned vs default server", fmt=".2f"),
    Figure(
        "step_events",
        "history events / executed step (p50), product vs bare",
        target=8,
        on="value",
        at_most=True,
    ),
    Figure("journey_events", "  history events / journey, product vs bare"),
    Figure("journey_step_events", "  history events / journey ÷ steps, handed over"),
    Figure("transitions", "  state transitions / journey, product vs bare"),
    Figure("lateness", "  step lateness p50 (s), product vs bare", fmt=".2f"),
    Figure("worker_rss", "  worker peak RSS (MB), product vs bare", fmt=".0f"),
    Figure("worker_cpu", "  CPU s: worker, product vs bare"),
    Figure("server_cpu", "  CPU s: Temporal server, product vs bare"),
)


def _get(node: Any, *path: str) -> float | None:
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    if isinstance(node, bool) or not isinstance(node, int | float) or math.isnan(node):
        return None
    return float(node)


def _pair(value: float | None, baseline: float | None) -> dict[str, float | None]:
    ratio = value / baseline if value is not None and baseline else None
    return {"value": value, "baseline": baseline, "ratio": ratio}


def figures_of(run: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """One run's figures, from whatever phases it ran."""
    f: dict[str, dict[str, float | None]] = {}
    if "memory_product" in run:
        f["memory"] = _pair(
            _get(run, "memory_product", "kb_per_journey"),
            _get(run, "memory_bare", "kb_per_journey"),
        )
    if "memory_product-by-value" in run:
        f["memory_by_value"] = _pair(
            _get(run, "memory_product-by-value", "kb_per_journey"),
            _get(run, "memory_bare", "kb_per_journey"),
        )
    if "ingest" in run:
        ing = run["ingest"]
        old = _get(ing, "old", "invoices_per_s")
        for name, phase in (("post", "new"), ("import", "import"), ("floor", "floor")):
            if phase in ing:
                f[f"ingest_{name}"] = _pair(_get(ing, phase, "invoices_per_s"), old)
                if name != "floor":
                    f[f"ingest_{name}_abs"] = _pair(_get(ing, phase, "invoices_per_s"), None)
    if "saturation" in run:
        sat = run["saturation"]
        f["saturation"] = _pair(
            _get(sat, "tuned", "steps_per_s"), _get(sat, "default", "steps_per_s")
        )
        for name, key in (("all", "burst_s"), ("half", "half_done_s"), ("start", "start_s")):
            # Seconds, less is better: the ratio is how many times longer the default took.
            tuned, default = _get(sat, "tuned", key), _get(sat, "default", key)
            ratio = default / tuned if default is not None and tuned else None
            f[f"saturation_{name}"] = {"value": tuned, "baseline": default, "ratio": ratio}
    if "providers" in run:
        prov = run["providers"]
        f["provider_step_events"] = _pair(
            _get(prov, "providers", "step_events_p50"), _get(prov, "outbox", "step_events_p50")
        )
        f["provider_journey_events"] = _pair(
            _get(prov, "providers", "events_per_journey"),
            _get(prov, "outbox", "events_per_journey"),
        )
    if "product" in run:
        p, b, d = run["product"], run.get("bare", {}), run.get("product_default_server", {})
        f["throughput"] = _pair(_get(p, "journeys_per_s"), _get(b, "journeys_per_s"))
        if d:
            f["throughput_default"] = _pair(_get(p, "journeys_per_s"), _get(d, "journeys_per_s"))
        f["step_events"] = _pair(_get(p, "step_events_p50"), _get(b, "step_events_p50"))
        for name, key in (
            ("journey_events", "events_per_journey"),
            ("transitions", "state_transitions_per_journey"),
            ("lateness", "lateness_p50_s"),
            ("worker_cpu", "worker_cpu_s"),
            ("server_cpu", "server_cpu_s"),
        ):
            f[name] = _pair(_get(p, key), _get(b, key))
        f["journey_step_events"] = _pair(
            _get(p, "cohorts", "handed_over", "events_per_step"), _get(run, "bare_per_product_step")
        )
        rss_p, rss_b = _get(p, "worker_peak_rss_kb"), _get(b, "worker_peak_rss_kb")
        f["worker_rss"] = _pair(
            None if rss_p is None else rss_p / 1024, None if rss_b is None else rss_b / 1024
        )
    return f


def medians(runs: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Per figure: the median value, baseline and ratio over the runs that have it."""
    out: dict[str, dict[str, float | None]] = {}
    for fig in FIGURES:
        per_run = [r["figures"][fig.name] for r in runs if fig.name in r.get("figures", {})]
        if not per_run:
            continue
        out[fig.name] = {}
        for key in ("value", "baseline", "ratio"):
            values = [x[key] for x in per_run if x[key] is not None]
            out[fig.name][key] = statistics.median(values) if values else None
        out[fig.name]["status"] = fig.status(out[fig.name]["value"], out[fig.name]["ratio"])  # type: ignore[assignment]
    return out


def _fmt(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def table(m: dict[str, dict[str, Any]], runs: list[dict[str, Any]], header: str) -> str:
    """The figures as one table; a ratio's per-run values follow it when there are several."""
    rows = [("figure", "measured", "baseline", "ratio", "target", "", "per run")]
    for fig in FIGURES:
        if fig.name not in m:
            continue
        x = m[fig.name]
        # Each run's ratio, or its value where the target is on the value.
        key = "value" if fig.on == "value" else "ratio"
        each = [r["figures"][fig.name][key] for r in runs if fig.name in r["figures"]]
        per_run = ", ".join(_fmt(v, fig.fmt if key == "value" else ".2f") for v in each)
        per_run = per_run if len(each) > 1 else ""
        rows.append(
            (
                fig.label,
                _fmt(x["value"], fig.fmt),
                _fmt(x["baseline"], fig.fmt),
                _fmt(x["ratio"], ".2f") + ("x" if x["ratio"] is not None else ""),
                fig.target_text(),
                x["status"],
                per_run,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [header]
    for r in rows:
        cells = [f"{r[0]:<{widths[0]}}"]
        cells += [f"{c:>{w}}" for c, w in zip(r[1:4], widths[1:4], strict=True)]
        cells += [f"{c:<{w}}" for c, w in zip(r[4:], widths[4:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
