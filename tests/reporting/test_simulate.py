"""`journeys simulate`: a seeded synthetic portfolio through the shipped policies and the
gentler variant gives the difference in handover rate, contacts and leakage that the
behaviour model implies, worked out by hand below; bad input is refused by name.

Model: one segment (standard), 20 000 invoices; 20 % pay before any reminder; after an email
20 %, an SMS 30 %, a call 40 % pay; no promises or disputes; 10 % churn after a harsh step (a
call, a fee, the final notice). The shipped standard policy is email, SMS + fee, call, final
email; the gentle one email, SMS, SMS, final email. Chance of reaching steps 1-4:

- shipped: 0.8, 0.64, 0.448, 0.2688; unpaid after all four: 0.2688 x 0.8 = 0.21504
- gentle:  0.8, 0.64, 0.448, 0.3136; unpaid: 0.3136 x 0.8 = 0.25088

So handover rate +0.03584, contacts per invoice 2.1568 -> 2.2016 (+0.0448). Churn: shipped
has three harsh steps (2, 3, 4): 1 - E[0.9^harsh reached] = 1 - (0.36 + 0.192 x 0.9 +
0.1792 x 0.81 + 0.2688 x 0.729) = 0.1260928; gentle only step 4: 0.3136 x 0.1 = 0.03136.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from domain.policies import PolicyConfigError, parse_policy_toml
from domain.simulation import BehaviourError, parse_behaviour
from infra.settings import REPO_ROOT
from journeys import cli

N = 20_000
SHIPPED = REPO_ROOT / "config" / "policies.toml"
GENTLE = REPO_ROOT / "config" / "policies-gentle.toml"
BEHAVIOUR = """
[segments]
standard = { share = 1.0, pay_factor = 1.0, lifetime_value = "15000.00" }
[behaviour]
pay_before_first_reminder = 0.2
pay_after = { email = 0.2, sms = 0.3, call = 0.4 }
churn_after_harsh = 0.1
"""


def run(runner: CliRunner, behaviour: Path, *extra: str) -> Any:
    result = runner.invoke(
        cli.app,
        ["simulate", str(SHIPPED), str(GENTLE), "--behaviour", str(behaviour), *extra],
    )
    assert result.exit_code == 0, result.output
    return result


def figure(document: dict[str, Any], name: str) -> tuple[float, float]:
    (row,) = [d for d in document["difference"] if (d["segment"], d["figure"]) == ("all", name)]
    return row["a"], row["b"]


def test_the_difference_has_the_expected_direction_and_size(
    runner: CliRunner, tmp_path: Path
) -> None:
    behaviour = tmp_path / "behaviour.toml"
    behaviour.write_text(BEHAVIOUR, encoding="utf-8")
    result = run(runner, behaviour, "--invoices", str(N), "--seed", "7", "--format", "json")
    document = json.loads(result.stdout)
    assert f"{N} invoices through 2 policies" in result.stderr

    a, b = figure(document, "handover_rate")
    assert a == pytest.approx(0.21504, abs=0.012)
    assert b == pytest.approx(0.25088, abs=0.012)
    assert b - a == pytest.approx(0.03584, abs=0.012)  # gentler: more claims go to collection

    a, b = figure(document, "contacts")
    assert a / N == pytest.approx(2.1568, abs=0.03)
    assert b / N == pytest.approx(2.2016, abs=0.03)
    assert (b - a) / N == pytest.approx(0.0448, abs=0.02)  # and a few more contacts

    a, b = figure(document, "leaked")
    assert a / N == pytest.approx(0.1260928, abs=0.008)
    assert b / N == pytest.approx(0.03136, abs=0.005)
    assert (b - a) / N == pytest.approx(-0.0947328, abs=0.01)  # but far fewer customers lost
    lost = document["b"]["rows"][0]["ltv_lost"]["SEK"]
    assert float(lost) == b * 15000  # every lost customer's lifetime value

    again = run(runner, behaviour, "--invoices", str(N), "--seed", "7", "--format", "json")
    assert json.loads(again.stdout) == document  # the same seed, the same run
    other = run(runner, behaviour, "--invoices", str(N), "--seed", "8", "--format", "json")
    assert json.loads(other.stdout)["difference"] != document["difference"]


def test_the_table_shows_both_reports_and_the_difference(runner: CliRunner) -> None:
    result = run(runner, REPO_ROOT / "config" / "behaviour.toml", "--invoices", "200")
    assert result.stdout.count("Journeys report: 200 finished journeys") == 2
    assert "Difference" in result.stdout and "policies-gentle.toml - policies.toml" in (
        result.stdout
    )


def test_a_bad_behaviour_file_is_refused_by_name(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        "[segments]\nstandard = { share = 0.5 }\n[behaviour]\npay_after = { fax = 0.5 }\n",
        encoding="utf-8",
    )
    result = runner.invoke(
        cli.app, ["simulate", str(SHIPPED), str(GENTLE), "--behaviour", str(bad)]
    )
    assert result.exit_code == 1
    assert "segments: shares add up to 0.5, not 1" in result.stderr
    bad.write_text("[segments]\nstandard = { share = 2 }\n", encoding="utf-8")
    result = runner.invoke(
        cli.app, ["simulate", str(SHIPPED), str(GENTLE), "--behaviour", str(bad)]
    )
    assert result.exit_code == 1 and "segments.standard.share" in result.stderr
    missing = runner.invoke(
        cli.app, ["simulate", str(SHIPPED), str(GENTLE), "--behaviour", str(tmp_path / "no")]
    )
    assert missing.exit_code == 1 and "behaviour file not found" in missing.stderr


@pytest.mark.parametrize(
    ("parse", "error"),
    [(parse_policy_toml, PolicyConfigError), (parse_behaviour, BehaviourError)],
)
def test_a_file_that_is_not_toml_is_refused_by_its_name(parse: Any, error: type[Exception]) -> None:
    """The policy file and the behaviour file read TOML alike: bad syntax names the file."""
    with pytest.raises(error, match=r"^some\.toml: not valid TOML: "):
        parse("segments = \n", "some.toml")
