"""Journey policies as data: one TOML file, validated at load with errors that name the field.

The file holds one policy per segment (`[segments.<name>]`). A bad file never half-loads:
`load_policies` either returns every policy or raises `PolicyConfigError` listing each problem
as `segments.loyal.steps[2].channel: ...`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from journeys.jurisdiction import UnknownJurisdictionError, pack_for, validate_policy
from journeys.models import OpeningHours, Policy

REQUIRED_SEGMENTS = ("loyal", "standard", "new", "habitual-late")


class PolicyConfigError(ValueError):
    """The policy file is invalid; the message names every bad field."""


class PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jurisdiction: str = Field(default="SE", pattern=r"^[A-Z]{2}$")
    opening_hours: OpeningHours = OpeningHours()
    """Customer service's hours; every journey's contacts wait for them."""
    segments: dict[str, Policy]

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


def format_validation_error(err: ValidationError, prefix: str = "") -> str:
    """Turn pydantic's errors into `path.to[2].field: problem` lines a person can act on."""
    lines = []
    for e in err.errors():
        path = prefix
        for part in e["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            elif str(part).startswith(("function-", "tagged-union")):
                continue
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
    if problems:
        raise PolicyConfigError("; ".join(problems))
    return policies


def load_policies(path: Path) -> PolicyFile:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyConfigError(f"{path}: policy file not found") from None
    except tomllib.TOMLDecodeError as err:
        raise PolicyConfigError(f"{path}: not valid TOML: {err}") from None
    try:
        return parse_policies(raw)
    except PolicyConfigError as err:
        raise PolicyConfigError(f"{path}: {err}") from None
