"""A journey's configuration by reference: what it is planned by, stored once by its digest.

Every journey of a segment is planned by the same policy, holidays, opening hours and
reference rates. Carried by value in each journey's input they cost about 1.5 kB of its
2.3 kB, and each input byte costs the worker about 8.6 bytes per cached journey (README,
"Performance"). So the starter stores the configuration once, keyed by the SHA-256 of its
canonical JSON (`JourneyConfig.digest`), and starts journeys with its name and digest
(`ConfigRef`); the journey reads it by a local activity at its start, whose result is in its
history. The digest names the content: an edit of the policy file is a new digest, never a
change of a running journey's configuration or of its replay.

Pure: the digest, the canonical JSON and the one shared copy per digest (`shared_config`).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from typing import Any

from domain.models import ConfigRef, JourneyByRef, JourneyInput, Policy, shared_fields_set
from domain.opening_hours import OpeningHours
from domain.values import Model


class JourneyConfig(Model):
    """The configuration a journey is planned by that does not depend on its invoice."""

    policy: Policy
    holidays: tuple[date, ...] = ()
    opening_hours: OpeningHours | None = None
    reference_rates: dict[date, Decimal] = {}

    def canonical_json(self) -> str:
        """Sorted keys, no spaces, decimals and dates as strings: equal content, equal text."""
        return canonical_json(self.model_dump(mode="json"))

    def digest(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def ref(self) -> ConfigRef:
        return ConfigRef(name=self.policy.segment, digest=self.digest())


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def resolve(start: JourneyByRef, config: JourneyConfig) -> JourneyInput:
    """The journey's input as if it had been started with `config` by value: what the
    planning reads. The invoice, customer and the rest are the start's own objects."""
    values = {name: getattr(start, name) for name in type(start).model_fields}
    values.update(config)  # policy, holidays, opening_hours, reference_rates
    # Both are validated already: constructed, not validated again (a journey holds this
    # object as long as it is cached; its field names are the shared set of them all).
    names = shared_fields_set(start.__pydantic_fields_set__ | set(type(config).model_fields))
    return JourneyInput.model_construct(names, **values)


def config_of(inp: JourneyInput) -> JourneyConfig:
    """The configuration a journey's input carries (by value, or resolved from its reference):
    each of `JourneyConfig`'s fields is the input's field of that name, so a field added to
    the configuration is carried without a second list to keep in step."""
    return JourneyConfig(**{name: getattr(inp, name) for name in JourneyConfig.model_fields})


def version_of(inp: JourneyInput) -> ConfigRef:
    """The name and version a journey runs: its reference, or (a journey started with its
    configuration by value) the digest that configuration would be stored under."""
    return inp.config if inp.config is not None else config_of(inp).ref()


_SHARED: dict[str, JourneyConfig] = {}
_SHARED_MAX = 256


def shared_config(digest: str, config: JourneyConfig) -> JourneyConfig:
    """The one copy of the configuration stored under `digest` that journeys in this process
    hold: a thousand cached journeys of a segment share one policy. Deterministic although it
    is process state: a digest names one content, so whichever copy is returned is equal to
    the journey's own. The table is bounded; clearing it only costs some sharing."""
    found = _SHARED.get(digest)
    if found is not None:
        return found
    if len(_SHARED) >= _SHARED_MAX:
        _SHARED.clear()
    _SHARED[digest] = config
    return config
