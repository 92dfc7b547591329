"""Workflow code stays deterministic: no clock, randomness, I/O or threads.

`InvoiceJourney` runs outside the SDK's sandbox (see workflows/journey.py), so this test is
the check the sandbox would otherwise make at run time, and a stricter one: it reads every
module the journey imports from this project, not just the workflow's own file. Replaying
stored histories (test_replay.py) then proves the commands did not change.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENTRY = "workflows.journey"
PROJECT_PACKAGES = ("workflows", "domain", "infra", "activities")
CLIENT_SIDE = {"infra.temporal": "imported for its search-attribute keys only"}
"""Modules the journey imports for constants, whose functions only clients and workers call."""

FORBIDDEN_IMPORTS = {
    "random": "use workflow.random()",
    "uuid": "use workflow.uuid4()",
    "secrets": "randomness breaks replay",
    "time": "use workflow.now() and timers",
    "threading": "workflow code runs in the journey's event loop",
    "subprocess": "I/O belongs in activities",
    "socket": "I/O belongs in activities",
    "requests": "I/O belongs in activities",
    "httpx": "I/O belongs in activities",
    "sqlmodel": "the store is reached from activities",
    "sqlalchemy": "the store is reached from activities",
    "twilio": "providers are reached from activities",
    "sendgrid": "providers are reached from activities",
    "holidays": "holiday dates come in the journey's input",
}
FORBIDDEN_CALLS = {
    "datetime.now": "use workflow.now()",
    "datetime.utcnow": "use workflow.now()",
    "datetime.today": "use workflow.now()",
    "date.today": "use workflow.now()",
    "os.getenv": "configuration comes in the journey's input",
    "os.environ": "configuration comes in the journey's input",
    "asyncio.to_thread": "I/O belongs in activities",
    "asyncio.get_event_loop": "the journey's loop is Temporal's",
    "open": "I/O belongs in activities",
    "print": "log through workflow.logger, or not at all",
}


def module_path(name: str) -> Path:
    base = ROOT.joinpath(*name.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def imported(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def workflow_modules() -> dict[str, ast.Module]:
    """The journey's module and every project module it reaches through imports."""
    found: dict[str, ast.Module] = {}
    todo = [ENTRY]
    while todo:
        name = todo.pop()
        if name in found or name in CLIENT_SIDE:
            continue
        tree = ast.parse(module_path(name).read_text(encoding="utf-8"))
        found[name] = tree
        todo += [n for n in imported(tree) if n.split(".")[0] in PROJECT_PACKAGES]
    return found


def dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = dotted(node.value)
        return None if inner is None else f"{inner}.{node.attr}"
    return None


def problems(name: str, tree: ast.Module) -> list[str]:
    found: list[str] = []
    for module in sorted(imported(tree)):
        root = module.split(".")[0]
        if root in FORBIDDEN_IMPORTS:
            found.append(f"{name} imports {module}: {FORBIDDEN_IMPORTS[root]}")
    for node in ast.walk(tree):
        target = dotted(node.func) if isinstance(node, ast.Call) else None
        if isinstance(node, ast.Attribute):
            target = target or dotted(node)
        for call, why in FORBIDDEN_CALLS.items():
            if target == call or (target or "").endswith("." + call):
                found.append(f"{name}:{getattr(node, 'lineno', 0)} uses {call}: {why}")
    return found


def test_the_journey_reaches_the_modules_it_is_made_of() -> None:
    modules = workflow_modules()
    for expected in (
        "workflows.planning",
        "workflows.rules",
        "workflows.requests",
        "workflows.activity_calls",
        "activities.contracts",
    ):
        assert expected in modules
    assert "domain.models" in modules


@pytest.mark.parametrize("name", sorted(workflow_modules()))
def test_workflow_code_is_deterministic(name: str) -> None:
    assert problems(name, workflow_modules()[name]) == []


def test_the_check_catches_what_it_should() -> None:
    source = "import uuid\nfrom datetime import datetime\ndef f():\n    return datetime.now()\n"
    found = problems("example", ast.parse(source))
    assert any("imports uuid" in p for p in found)
    assert any("uses datetime.now" in p for p in found)
