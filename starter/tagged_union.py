"""One parser for JSON objects that say in one field which model they are.

Billing events (`type`) and agent actions (`action`) are both tagged unions. Pydantic's own
discriminated-union errors put the tag's value into every field path and, for a bad tag, list
every member; a sender wants one `field: problem` line it can act on. So the tag is checked by
hand first and only the one model it names validates the rest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar, get_args

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from domain.policies import format_validation_error

M = TypeVar("M", bound=BaseModel)


def tagged_members(union: object, base: type[M]) -> tuple[str, dict[str, type[M]]]:
    """The tag field and the members by tag value of `Annotated[A | B, Field(discriminator=…)]`.

    Read from the union itself so that a new member needs no second table to be accepted.
    """
    inner, *metadata = get_args(union)
    tags = [m.discriminator for m in metadata if isinstance(m, FieldInfo) and m.discriminator]
    if len(tags) != 1 or not isinstance(tags[0], str):
        raise TypeError(f"{union!r} is not a union with one discriminator field")
    tag = tags[0]
    members: dict[str, type[M]] = {}
    for model in get_args(inner):
        if not (isinstance(model, type) and issubclass(model, base)):
            raise TypeError(f"{model!r} in {union!r} is not a {base.__name__}")
        (value,) = get_args(model.model_fields[tag].annotation)
        members[value] = model
    return tag, members


@dataclass(frozen=True)
class TaggedUnion(Generic[M]):
    """How one tagged union is named to a sender, and the parser that uses those words."""

    union: object
    """The `Annotated[A | B, Field(discriminator=…)]` the models come from."""
    base: type[M]
    """What every member is; `parse` returns it."""
    noun: str
    """The union's members as a sender calls one, with its article: "an action"."""
    unknown: str
    """How a bad tag value is introduced: "unknown action"."""
    rejected: type[ValueError]
    """The error raised; its message is `path.to.field: problem`, several joined by `; `."""
    tag: str = field(init=False)
    models: Mapping[str, type[M]] = field(init=False)

    def __post_init__(self) -> None:
        tag, models = tagged_members(self.union, self.base)
        object.__setattr__(self, "tag", tag)
        object.__setattr__(self, "models", models)

    def parse(self, raw: object, prefix: str = "") -> M:
        """The member `raw` names, validated, or `rejected` naming each bad field.

        `prefix` (e.g. `[3]`) goes in front of every path, for an element of a batch.
        """
        if not isinstance(raw, dict):
            raise self.rejected(f"{prefix or '(root)'}: {self.noun} must be a JSON object")
        tag_path = f"{prefix}.{self.tag}" if prefix else self.tag
        value = raw.get(self.tag)
        if value is None:
            raise self.rejected(f"{tag_path}: Field required")
        model = self.models.get(value) if isinstance(value, str) else None
        if model is None:
            raise self.rejected(
                f"{tag_path}: {self.unknown} {json.dumps(value)}; expected one of: "
                + ", ".join(self.models)
            )
        try:
            return model.model_validate(raw)
        except ValidationError as err:
            raise self.rejected(format_validation_error(err, prefix)) from None
