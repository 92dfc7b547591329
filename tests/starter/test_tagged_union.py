"""The one tagged-union parser behind billing events and agent actions."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from domain.messages import AGENT_ACTIONS
from starter.actions import ACTIONS, ActionRejected, parse_action
from starter.event_schema import EVENTS
from starter.tagged_union import TaggedUnion, tagged_members


class _Cat(BaseModel):
    kind: Literal["cat"]
    lives: int = Field(ge=1, le=9)


class _Dog(BaseModel):
    kind: Literal["dog"]


Pet = Annotated[_Cat | _Dog, Field(discriminator="kind")]


class PetRejected(ValueError):
    pass


PETS = TaggedUnion(Pet, BaseModel, noun="a pet", unknown="unknown pet", rejected=PetRejected)


def test_members_come_from_the_union_itself() -> None:
    assert PETS.tag == "kind"
    assert dict(PETS.models) == {"cat": _Cat, "dog": _Dog}
    assert ACTIONS.tag == "action" and tuple(ACTIONS.models) == AGENT_ACTIONS
    assert EVENTS.tag == "type" and "invoice.issued" in EVENTS.models


@pytest.mark.parametrize(
    ("raw", "prefix", "message"),
    [
        ([], "", "(root): a pet must be a JSON object"),
        ({}, "", "kind: Field required"),
        ({"kind": "cow"}, "[1]", '[1].kind: unknown pet "cow"; expected one of: cat, dog'),
        ({"kind": 3}, "", "kind: unknown pet 3; expected one of: cat, dog"),
        ({"kind": "cat", "lives": 10}, "[0]", "[0].lives: Input should be less than or equal"),
    ],
)
def test_each_problem_names_the_field(raw: object, prefix: str, message: str) -> None:
    with pytest.raises(PetRejected) as err:
        PETS.parse(raw, prefix)
    assert str(err.value).startswith(message)


def test_the_named_model_validates() -> None:
    cat = PETS.parse({"kind": "cat", "lives": 7})
    assert isinstance(cat, _Cat) and cat.lives == 7


def test_a_union_without_a_discriminator_is_refused_at_import() -> None:
    with pytest.raises(TypeError, match="one discriminator"):
        tagged_members(_Cat | _Dog, BaseModel)
    with pytest.raises(TypeError, match="is not a _Cat"):
        tagged_members(Pet, _Cat)


def test_actions_keep_their_messages() -> None:
    with pytest.raises(ActionRejected, match=r"^\(root\): an action must be a JSON object$"):
        parse_action(["pause"])
    with pytest.raises(ActionRejected, match='^action: unknown action "forgive"; expected'):
        parse_action({"action": "forgive", "agent": "a"})
