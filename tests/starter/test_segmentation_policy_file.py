"""The policy file's [segmentation] and [reference_rates] tables: a bad entry is refused with
its field named, and the shipped rates load, negative ones included."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain.policies import PolicyConfigError, parse_policies
from infra.policy_file import load_policies
from infra.settings import REPO_ROOT
from tests.factories import POLICIES


def _policy_data(**tables: Any) -> dict[str, Any]:
    data = POLICIES.model_dump(mode="json", exclude={"reference_rates", "segmentation"})
    return {**data, **tables}


@pytest.mark.parametrize(
    ("segmentation", "message"),
    [
        ({"loyal_min_yeras": 3}, r"segmentation\.loyal_min_yeras: Extra inputs are not permitted"),
        ({"loyal_min_years": "3"}, r"segmentation\.loyal_min_years: Input should be a valid int"),
        ({"loyal_min_years": True}, r"segmentation\.loyal_min_years: Input should be a valid int"),
        ({"habitual_late_window": 0}, r"segmentation\.habitual_late_window: .*greater than or"),
        ({"ltv_window_months": 6}, r"segmentation\.ltv_window_months: .*greater than or equal"),
        ({"ltv_horizon_years": 0}, r"segmentation\.ltv_horizon_years: .*greater than or equal"),
        (
            {"high_value_min_ltv": {"SKE": "50000.00"}},
            r"segmentation\.high_value_min_ltv\.SKE: 'SKE' is not an ISO 4217 currency code",
        ),
        (
            {"high_value_min_ltv": {"SEK": 50000}},
            r"segmentation\.high_value_min_ltv\.SEK: must be a decimal string",
        ),
        (
            {"high_value_min_ltv": {"SEK": "0.00"}},
            r"segmentation\.high_value_min_ltv\.SEK: must be greater than zero",
        ),
        (
            {"approval_for_segments": ["loyal", "lyoal"]},
            r"segmentation\.approval_for_segments\[1\]: unknown segment 'lyoal'",
        ),
        (
            {"new_max_years": 4},
            r"segmentation: new_max_years \(4\) must not exceed loyal_min_years \(3\)",
        ),
        (
            {"habitual_late_min_late": 7},
            r"segmentation: habitual_late_min_late \(7\) must not exceed habitual_late_window",
        ),
    ],
)
def test_a_bad_segmentation_entry_is_refused_with_its_field_named(
    segmentation: dict[str, Any], message: str
) -> None:
    with pytest.raises(PolicyConfigError, match=message):
        parse_policies(_policy_data(segmentation=segmentation))


@pytest.mark.parametrize(
    ("rates", "message"),
    [
        (
            {"2025-01-01": "2.50", "2025-03-01": "2.50"},
            r"reference_rates\.2025-03-01: reference rates must be keyed by 1 January or 1 July",
        ),
        ({"2025-13-01": "2.50"}, r"reference_rates\.2025-13-01: Input should be a valid date"),
        ({"first half": "2.50"}, r"reference_rates\.first half: Input should be a valid date"),
        ({"2025-07-01": 2.5}, r"reference_rates\.2025-07-01: must be a percent per year as a"),
        ({"2025-07-01": "2,50"}, r"reference_rates\.2025-07-01: must be a percent per year as a"),
        ({"2025-07-01": "75.00"}, r"reference_rates\.2025-07-01: must be between -10 and 50"),
    ],
)
def test_a_bad_reference_rate_is_refused_with_its_key_named(
    rates: dict[str, Any], message: str
) -> None:
    with pytest.raises(PolicyConfigError, match=message):
        parse_policies(_policy_data(reference_rates=rates))


def test_reference_rates_load_from_the_file_including_negative_ones(tmp_path: Any) -> None:
    text = (REPO_ROOT / "config" / "policies.toml").read_text(encoding="utf-8")
    rates = '[reference_rates]\n"2016-01-01" = "-0.50"\n"2016-07-01" = "-0.50"\n'
    start = text.index("[reference_rates]")
    end = text.index("\n[", start + 1)
    path = tmp_path / "policies.toml"
    path.write_text(text[:start] + rates + text[end:], encoding="utf-8")
    assert load_policies(path).reference_rates == {
        date(2016, 1, 1): Decimal("-0.50"),
        date(2016, 7, 1): Decimal("-0.50"),
    }
    path.write_text(text.replace('"2025-07-01" = "2.00"', '"2025-06-30" = "2.00"'))
    with pytest.raises(PolicyConfigError, match=r"policies\.toml: reference_rates\.2025-06-30: "):
        load_policies(path)
