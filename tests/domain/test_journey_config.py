"""The configuration by reference: its digest names its content, both input forms decode
unambiguously, and a reference resolves to the very input the by-value form carries."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import TypeAdapter, ValidationError

from domain.journey_config import JourneyConfig, config_of, resolve, shared_config, version_of
from domain.models import ConfigRef, JourneyByRef, JourneyInput, JourneyStart
from tests.factories import POLICIES, journey_input

RATES = {date(2026, 1, 1): Decimal("2.00"), date(2025, 7, 1): Decimal("2.25")}


def full_input() -> JourneyInput:
    return journey_input("inv_cfg").model_copy(
        update={
            "holidays": (date(2026, 12, 25), date(2026, 12, 26)),
            "opening_hours": POLICIES.opening_hours,
            "reference_rates": RATES,
        }
    )


def test_the_digest_names_the_content_not_how_it_was_built() -> None:
    config = config_of(full_input())
    reordered = config.model_copy(update={"reference_rates": dict(reversed(RATES.items()))})
    assert reordered.digest() == config.digest()
    assert JourneyConfig.model_validate_json(config.canonical_json()).digest() == config.digest()
    assert len(config.digest()) == 64 and config.ref().version == config.digest()[:12]


@pytest.mark.parametrize(
    "change",
    [
        {"policy": POLICIES.segments["standard"].model_copy(update={"send_hour": 11})},
        {"holidays": (date(2026, 12, 25),)},
        {"opening_hours": None},
        {"reference_rates": {date(2026, 1, 1): Decimal("2.01")}},
    ],
)
def test_any_edit_is_a_new_version(change: dict[str, object]) -> None:
    config = config_of(full_input())
    assert config.model_copy(update=change).digest() != config.digest()


def test_both_forms_decode_each_as_itself() -> None:
    inp = full_input()
    ref = config_of(inp).ref()
    by_ref = inp.model_copy(update={"config": ref}).by_reference()
    adapter: TypeAdapter[JourneyStart] = TypeAdapter(JourneyStart)
    assert adapter.validate_json(inp.model_dump_json()) == inp
    decoded = adapter.validate_json(by_ref.model_dump_json())
    assert isinstance(decoded, JourneyByRef) and decoded.config == ref
    assert len(by_ref.model_dump_json()) < len(inp.model_dump_json()) * 0.6
    with pytest.raises(ValidationError):  # a policy and a reference at once is neither
        JourneyByRef.model_validate({**by_ref.model_dump(), "policy": inp.policy.model_dump()})


def test_a_reference_resolves_to_the_input_by_value_naming_its_version() -> None:
    inp = full_input()
    config = config_of(inp)
    by_ref = inp.model_copy(update={"config": config.ref()}).by_reference()
    resolved = resolve(by_ref, config)
    assert resolved == inp.model_copy(update={"config": config.ref()})
    assert version_of(resolved) == config.ref()
    assert version_of(inp) == config.ref()  # by value: the digest it would be stored under


def test_a_reference_must_be_a_sha256() -> None:
    with pytest.raises(ValidationError):
        ConfigRef(name="standard", digest="v2")


def test_journeys_of_one_version_share_one_copy() -> None:
    config = config_of(full_input())
    equal = JourneyConfig.model_validate_json(config.canonical_json())
    first = shared_config(config.digest(), config)
    assert shared_config(config.digest(), equal) is first
