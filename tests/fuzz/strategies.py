"""Hostile input: arbitrary JSON, and valid documents broken one or a few places at a time
(a field dropped, a value replaced by anything JSON can hold), which reach deeper into the
parsers than random noise does."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["", " ", "2026-02-30", "-1", "1e999", "NaN", "\u0000", "💸" * 3])
)

JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    items: list[tuple[Any, Any]] = []
    if isinstance(doc, dict):
        items = list(doc.items())
    elif isinstance(doc, list):
        items = list(enumerate(doc))
    for key, value in items:
        out.append((*prefix, key))
        out.extend(_paths(value, (*prefix, key)))
    return out


@st.composite
def broken(draw: st.DrawFn, base: Any, max_changes: int = 3) -> Any:
    """`base` with 1..max_changes fields dropped or replaced."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, max_changes))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSON)
    return doc


def hostile(*bases: Any) -> st.SearchStrategy[Any]:
    """Mostly broken versions of the bases, some arbitrary JSON, some bases untouched."""
    return st.one_of(
        st.sampled_from(bases).flatmap(broken),
        JSON,
        st.sampled_from(bases),
    )
