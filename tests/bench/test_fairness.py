"""The fairness benchmark's figures (bench/fairness.py): lateness, percentiles, due instants.

The benchmark itself is not in the suite (minutes of load); these pure pieces decide what its
table says, so they are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bench.fairness import due_instants, figures, lateness, percentile, ratio

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_lateness_is_ran_minus_due_sorted_and_skips_steps_that_never_ran() -> None:
    due = {"x": T0, "y": T0 + timedelta(seconds=10), "z": T0 + timedelta(seconds=20)}
    ran = {
        "x": T0 + timedelta(seconds=3),
        "y": T0 + timedelta(seconds=9.5),  # early: negative
        "other": T0,  # not one of the due steps
    }
    assert lateness(ran, due) == [-0.5, 3.0]


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 95) == 95.0
    assert percentile(values, 50) == 50.0
    assert percentile([7.0], 95) == 7.0
    assert percentile([1.0, 2.0, 3.0], 95) == 3.0
    with pytest.raises(ValueError):
        percentile([], 95)


def test_figures_and_ratio() -> None:
    assert figures([0.5, 1.0, 2.0, 10.0]) == {"median": 1.5, "p95": 10.0, "max": 10.0}
    assert ratio(6.0, 2.0) == 3.0
    assert ratio(6.0, 0.0) is None
    assert ratio(6.0, -0.2) is None


def test_due_instants_spread_evenly_over_the_window() -> None:
    due = due_instants(["a", "b", "c"], T0, 10.0)
    assert due == {
        "a": T0,
        "b": T0 + timedelta(seconds=5),
        "c": T0 + timedelta(seconds=10),
    }
    assert due_instants(["only"], T0, 10.0) == {"only": T0}
