"""`journeys simulate`: a seeded synthetic portfolio through the REAL journeys (Temporal dev
server, time skipping, the outbox, ingest) under the shipped policies and the gentler variant
gives the difference in handover rate, contacts and leakage the behaviour model implies,
worked out by hand below; the same seed gives the same run; bad input is refused by name.

Model: one segment (standard); 20 % pay before any reminder; after an email 20 %, an SMS
30 %, a call 70 % pay; no promises or disputes; 30 % leave after a harsh step (a call, a fee,
the final notice). The shipped standard policy is email, SMS + fee, call, final email; the
gentle one email, SMS, SMS, final email. Chance of reaching steps 1-4:

- shipped: 0.8, 0.64, 0.448, 0.1344; unpaid after all four (handed over): 0.1344 x 0.8 = 0.10752
- gentle:  0.8, 0.64, 0.448, 0.3136; handed over: 0.3136 x 0.8 = 0.25088

So the handover rate +0.14336 and reminders per invoice 2.0224 -> 2.2016 (+0.1792). Leaving:
shipped has three harsh steps (2, 3, 4): 1 - (0.36 + 0.192 x 0.7 + 0.3136 x 0.49 + 0.1344 x
0.343) = 0.3058368; gentle only step 4: 0.3136 x 0.3 = 0.09408, so leakage -0.2117568.

Every reminder takes the same draws under both policies (`domain.simulation.answer`), so the
difference is paired: its spread is that of the customers whose luck the policies treat
differently, not of two independent samples. Ranges are three standard deviations for
N = 120.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
import structlog
from typer.testing import CliRunner

from domain.policies import PolicyConfigError, parse_policy_toml
from domain.simulation import BehaviourError, parse_behaviour
from infra.settings import REPO_ROOT
from journeys import cli, command

N = 120
SHIPPED = REPO_ROOT / "config" / "policies.toml"
GENTLE = REPO_ROOT / "config" / "policies-gentle.toml"
BEHAVIOUR = """
[segments]
standard = { share = 1.0, pay_factor = 1.0 }
[behaviour]
pay_before_first_reminder = 0.2
pay_after = { email = 0.2, sms = 0.3, call = 0.7 }
churn_after_harsh = 0.3
"""


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[CliRunner]:
    """Unlike the shared runner (tests/conftest.py), the simulate command's own logging stays:
    it sends the journeys' logs (WARNING and up) to stderr, away from the report on stdout.
    The rest of the test session gets the logging it had back."""

    def leave(status: int) -> NoReturn:
        raise SystemExit(status)

    monkeypatch.setattr(command, "leave", leave)
    monkeypatch.setattr(command, "configure_logging", lambda *args, **kwargs: None)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    saved, root = structlog.get_config(), logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield CliRunner()
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)


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


def within(value: float, expected: float, p: float) -> None:
    """`value` (a share of N) within three standard deviations of a share `p` of N."""
    assert value == pytest.approx(expected, abs=3 * math.sqrt(p * (1 - p) / N))


@pytest.mark.store_independent
def test_the_difference_has_the_expected_direction_and_size(
    runner: CliRunner, tmp_path: Path
) -> None:
    behaviour = tmp_path / "behaviour.toml"
    behaviour.write_text(BEHAVIOUR, encoding="utf-8")
    result = run(runner, behaviour, "--invoices", str(N), "--seed", "7", "--format", "json")
    document = json.loads(result.stdout)
    assert f"{N} invoices through 2 policies" in result.stderr
    assert document["a"]["journeys_ended"] == document["b"]["journeys_ended"] == N
    assert document["a"]["customer_answers"]["pay"] > 0

    a, b = figure(document, "handover_rate")
    within(a, 0.10752, 0.10752)
    within(b, 0.25088, 0.25088)
    assert b > a  # gentler: more claims go to collection ...
    within(b - a, 0.14336, 0.14336)  # paired: only the customers the policies treat apart

    a, b = figure(document, "contacts")
    # Reminders per invoice take 0-4 (shipped: SD 1.35; gentle: SD 1.52), so 3 SD of the mean
    # of N are 0.37 and 0.42; the extra reminder goes to whoever reaches step 3 and would
    # have paid after a call but not after an SMS: 0.448 x 0.4 = 0.1792 of them.
    assert a / N == pytest.approx(2.0224, abs=0.37)
    assert b / N == pytest.approx(2.2016, abs=0.42)
    assert b > a  # ... after more reminders
    within((b - a) / N, 0.1792, 0.1792)

    a, b = figure(document, "leaked")
    within(a / N, 0.3058368, 0.3058368)
    within(b / N, 0.09408, 0.09408)
    assert b < a  # but far fewer customers lost
    within((b - a) / N, -0.2117568, 0.2117568)

    sms = [r for r in document["a"]["rows"] if (r["segment"], r["step"]) == ("all", "all")]
    assert float(sms[0]["provider_cost"]) > 0  # SMS and calls went out, not only email


@pytest.mark.store_independent
def test_the_same_seed_gives_the_same_run_and_the_table(runner: CliRunner, tmp_path: Path) -> None:
    behaviour = tmp_path / "behaviour.toml"
    behaviour.write_text(
        BEHAVIOUR.replace(
            "churn_after_harsh", "promise = 0.3\nkeep_promise = 0.5\nchurn_after_harsh"
        ),
        encoding="utf-8",
    )
    first = run(runner, behaviour, "--invoices", "12", "--seed", "3", "--format", "json")
    document = json.loads(first.stdout)
    assert document["a"]["customer_answers"].get("promise_kept", 0) > 0  # held clocks too
    table = run(runner, behaviour, "--invoices", "12", "--seed", "3")
    assert table.stdout.count("Journeys report: 12 finished journeys") == 2
    assert "policies-gentle.toml - policies.toml" in table.stdout
    # The second run, printed as a table, has every figure of the first.
    shown = difference_rows(table.stdout)
    expected = {(d["segment"], d["figure"]): (d["a"], d["b"]) for d in document["difference"]}
    assert shown.keys() == expected.keys()
    for key, (a, b) in expected.items():
        assert shown[key] == (a, b), key


def difference_rows(text: str) -> dict[tuple[str, str], tuple[float | None, float | None]]:
    """The Difference table's rows: (segment, figure) -> (A, B)."""
    rows = {}
    below = text[text.index("Difference") :]
    for line in below.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) == 5 and cells[0] and cells[1] != "figure":
            value = [None if c == "-" else float(c) for c in cells[2:4]]
            rows[(cells[0], cells[1])] = (value[0], value[1])
    return rows


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
    bad.write_text("[segments]\nvip = { share = 1 }\n", encoding="utf-8")
    result = runner.invoke(
        cli.app, ["simulate", str(SHIPPED), str(GENTLE), "--behaviour", str(bad)]
    )
    assert result.exit_code == 1 and "no policy for the behaviour file's segments" in (
        result.stderr
    )
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
