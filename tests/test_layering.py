"""The house has one direction: each floor imports only the floors below it.

    domain  <-  infra  <-  workflows, activities  <-  starter, worker  <-  journeys (command line)

The domain is pure (no I/O, nothing of the project above it), so its rules can be tested and
reused anywhere; the infrastructure knows the domain but no use of it; the command line is the
only floor that may start everything. An import against that direction fails here, with the
file and line, before it turns the layering into a tangle again. Imports inside functions count
too: a lazy import is still an arrow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FLOORS: dict[str, int] = {
    "domain": 0,
    "infra": 1,
    "workflows": 2,
    "activities": 2,
    "starter": 3,
    "worker": 3,
    "tenant_workers": 3,
    "journeys": 4,
}
"""Each top-level package of the product and the floor it stands on."""

SIDEWAYS = {("workflows", "activities"), ("worker", "tenant_workers")}
"""Imports between packages on one floor that are allowed: a journey invokes its activities by
reference (their functions and request types), never the other way round; the worker runs
the tenants' delivery workers that tenant_workers builds."""

DOMAIN_NO_IO = {
    "os",
    "pathlib",
    "socket",
    "subprocess",
    "httpx",
    "requests",
    "sqlmodel",
    "sqlalchemy",
    "alembic",
    "temporalio",
    "twilio",
    "sendgrid",
    "stripe",
    "structlog",
    "fastapi",
}
"""What the domain may not import: it decides, it does not fetch, store, send or log."""


def product_files() -> list[Path]:
    files = [ROOT / "worker.py", ROOT / "tenant_workers.py"]
    for package in FLOORS:
        folder = ROOT / package
        if folder.is_dir():
            files += sorted(folder.rglob("*.py"))
    return files


def package_of(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imports(tree: ast.Module) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def violations(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    return violations_in(source, package_of(path), str(path.relative_to(ROOT)))


def violations_in(source: str, here: str, rel: str) -> list[str]:
    found: list[str] = []
    for line, module in imports(ast.parse(source)):
        target = module.split(".")[0]
        if here == "domain" and target in DOMAIN_NO_IO:
            found.append(f"{rel}:{line} imports {module}: the domain does no I/O")
        if target not in FLOORS or target == here:
            continue
        if FLOORS[target] > FLOORS[here] or (
            FLOORS[target] == FLOORS[here] and (here, target) not in SIDEWAYS
        ):
            found.append(
                f"{rel}:{line} imports {module}: {here} (floor {FLOORS[here]}) may not import "
                f"{target} (floor {FLOORS[target]})"
            )
    return found


@pytest.mark.parametrize("path", product_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_go_down_the_house(path: Path) -> None:
    assert violations(path) == []


def test_infra_has_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for path in sorted((ROOT / "infra").glob("*.py")):
        name = f"infra.{path.stem}"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[name] = {m for _, m in imports(tree) if m.startswith("infra.")}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, set()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = [name for name in graph if reaches(name, name, {name})]
    assert cycles == []


def test_the_check_catches_upward_sideways_and_io_imports() -> None:
    source = "import sqlmodel\n\ndef f():\n    from starter.api import app\n"
    assert violations_in(source, "domain", "domain/x.py") == [
        "domain/x.py:1 imports sqlmodel: the domain does no I/O",
        "domain/x.py:4 imports starter.api: domain (floor 0) may not import starter (floor 3)",
    ]
    assert violations_in("import workflows.journey\n", "activities", "a.py") != []
    assert violations_in("import activities.delivery\n", "workflows", "w.py") == []
    assert violations_in("import starter.api\n", "journeys", "j.py") == []
