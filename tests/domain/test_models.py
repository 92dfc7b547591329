"""The models are complete when their modules are imported."""

from __future__ import annotations

import importlib
import inspect

import pytest
from pydantic import BaseModel

MODEL_MODULES = (
    "domain.values",
    "domain.opening_hours",
    "domain.models",
    "domain.messages",
    "domain.state",
    "domain.payloads",
)


@pytest.mark.parametrize("name", MODEL_MODULES)
def test_every_model_is_built_at_import(name: str) -> None:
    """An incomplete model (a forward reference left unresolved) is rebuilt by every pydantic
    converter that decodes it, and the worker keeps one converter per cached journey: that
    cost 48 kB per idle journey before JourneyInput was rebuilt at import."""
    module = importlib.import_module(name)
    models = [
        cls
        for cls in vars(module).values()
        if inspect.isclass(cls) and issubclass(cls, BaseModel) and cls.__module__ == name
    ]
    assert models, f"{name} defines no model"
    assert [cls.__name__ for cls in models if not cls.__pydantic_complete__] == []
