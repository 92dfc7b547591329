"""Journey policies as data: one TOML file, validated at load with errors that name the field.

The file holds one policy per segment (`[segments.<name>]`), the segmentation thresholds
(`[segmentation]`, see `domain.segmentation.SegmentationThresholds`) and the reference rates
for late-payment interest (`[reference_rates]`, see `domain.interest`). A bad file never
half-loads: `load_policies` either returns everything or raises `PolicyConfigError` listing
each problem as `segments.loyal.steps[2].channel: ...` or `reference_rates.2025-03-01: ...`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from domain.interest import check_rate_table
from domain.jurisdiction import UnknownJurisdictionError, pack_for
from domain.models import Policy
from domain.opening_hours import OpeningHours
from domain.policy_check import validate_policy
from domain.segmentation import SegmentationThresholds
from domain.windows import CALL_MIN_OPEN

REQUIRED_SEGMENTS = ("loyal", "standard", "new", "habitual-late")


class PolicyConfigError(ValueError):
    """The policy file is invalid; the message names every bad field."""


_PERCENT_RE = re.compile(r"^-?\d{1,2}(\.\d{1,4})?$")
_RATE_MIN, _RATE_MAX = Decimal("-10"), Decimal("50")


def _half_year(day: date) -> date:
    check_rate_table({day: Decimal("0")})  # 1 January or 1 July, or a message naming the key
    return day


def _percent(value: object) -> Decimal:
    """A reference rate in percent per year, as a decimal string: "2.50", "-0.25"."""
    if isinstance(value, Decimal):
        rate = value
    elif isinstance(value, str) and _PERCENT_RE.match(value):
        rate = Decimal(value)
    else:
        raise ValueError('must be a percent per year as a decimal string, like "2.50"')
    if not _RATE_MIN <= rate <= _RATE_MAX:
        raise ValueError(f"must be between {_RATE_MIN} and {_RATE_MAX} percent, got {rate}")
    return rate


HalfYear = Annotated[date, AfterValidator(_half_year)]
ReferenceRate = Annotated[Decimal, BeforeValidator(_percent)]


class PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jurisdiction: str = Field(default="SE", pattern=r"^[A-Z]{2}$")
    opening_hours: OpeningHours = OpeningHours()
    """Customer service's hours; every journey's contacts wait for them."""
    segments: dict[str, Policy]
    segmentation: SegmentationThresholds = SegmentationThresholds()
    """Which segment a customer is in and whose handover waits for an agent."""
    reference_rates: dict[HalfYear, ReferenceRate] = {}
    """The central bank's reference rate (percent) per half-year, keyed by its first day, for
    late-payment interest. Empty: journeys show no interest."""

    @model_validator(mode="before")
    @classmethod
    def _name_segments(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("segments"), dict):
            data = dict(data)
            data["segments"] = {
                name: {"segment": name, **body} if isinstance(body, dict) else body
                for name, body in data["segments"].items()
            }
        return data

    @model_validator(mode="after")
    def _all_segments(self) -> PolicyFile:
        missing = [s for s in REQUIRED_SEGMENTS if s not in self.segments]
        if missing:
            raise ValueError(f"missing policies for segments: {', '.join(missing)}")
        return self

    @model_validator(mode="after")
    def _hours_fit_calls(self) -> PolicyFile:
        """A call needs customer service open for 30 more minutes; hours that never allow
        that would leave every call step without a slot."""
        has_calls = any(st.channel == "call" for p in self.segments.values() for st in p.steps)
        longest = max(
            (i.end - i.start for day in self.opening_hours.weekly.values() for i in day),
            default=0,
        )
        if not self.opening_hours.ever_open:
            raise ValueError("opening_hours: customer service is never open")
        if has_calls and longest < CALL_MIN_OPEN.total_seconds() / 60:
            raise ValueError(
                "opening_hours: no weekly interval is 30 minutes or longer, so call steps "
                "could never be placed while customer service can answer"
            )
        return self


def format_validation_error(err: ValidationError, prefix: str = "") -> str:
    """Turn pydantic's errors into `path.to[2].field: problem` lines a person can act on."""
    lines = []
    for e in err.errors():
        path = prefix
        for part in e["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            elif str(part).startswith(("function-", "tagged-union")) or part == "[key]":
                continue  # a bad dict key is named by the key itself
            else:
                path += f".{part}" if path else str(part)
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"{path or '(root)'}: {msg}")
    return "; ".join(lines)


def parse_policies(data: Mapping[str, Any]) -> PolicyFile:
    """Validate the shape, then the law: a policy its jurisdiction forbids never loads."""
    try:
        policies = PolicyFile.model_validate(data)
    except ValidationError as err:
        raise PolicyConfigError(format_validation_error(err)) from None
    try:
        pack = pack_for(policies.jurisdiction)
    except UnknownJurisdictionError as err:
        raise PolicyConfigError(f"jurisdiction: {err}") from None
    problems = [
        problem
        for name, policy in policies.segments.items()
        for problem in validate_policy(policy, pack, name)
    ]
    problems += [
        f"segmentation.approval_for_segments[{i}]: unknown segment {name!r}; the policy file "
        f"has {', '.join(policies.segments)}"
        for i, name in enumerate(policies.segmentation.approval_for_segments)
        if name not in policies.segments
    ]
    if problems:
        raise PolicyConfigError("; ".join(problems))
    return policies


def read_toml(text: str, source: str, error: type[ValueError]) -> dict[str, Any]:
    """A configuration file's text as data; bad syntax is raised as `error`, naming `source`
    (the policy file and the simulator's behaviour file answer alike)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise error(f"{source}: not valid TOML: {err}") from None


def parse_policy_toml(text: str, source: str) -> PolicyFile:
    """The policy file's text, parsed and validated; every message starts with `source`."""
    raw = read_toml(text, source, PolicyConfigError)
    try:
        return parse_policies(raw)
    except PolicyConfigError as err:
        raise PolicyConfigError(f"{source}: {err}") from None
