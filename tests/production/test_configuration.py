"""Configuration a production deploy relies on: .env.example, the README's table, the setup
scripts and the Dockerfile agree with the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infra.settings import REPO_ROOT, Settings
from infra.temporal import SEARCH_ATTRIBUTES

ENV_EXAMPLE = REPO_ROOT / ".env.example"
README = REPO_ROOT / "README.md"
SETUP_SCRIPT = REPO_ROOT / "deploy" / "temporal" / "setup.sh"
SCHEMA_SCRIPT = REPO_ROOT / "deploy" / "temporal" / "schema.sh"
DOCKERFILE = REPO_ROOT / "Dockerfile"

SETTING_NAMES = sorted(name.upper() for name in Settings.model_fields)

# How infra/temporal.py's key types are called by the server and the `temporal` CLI.
SERVER_TYPES = {"KEYWORD": "Keyword", "DOUBLE": "Double", "DATETIME": "Datetime"}


def env_example_lines() -> dict[str, str | None]:
    """Each variable in .env.example: its value, or None where the line is commented out."""
    found: dict[str, str | None] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
        if match:
            commented, name, value = match.groups()
            if name not in found or found[name] is None:
                found[name] = None if commented else value
    return found


def test_env_example_lists_every_setting() -> None:
    listed = env_example_lines()
    missing = [name for name in SETTING_NAMES if name not in listed]
    assert not missing, f".env.example lacks {missing}"


def test_env_example_sets_no_optional_variable_to_empty() -> None:
    """An empty value is not 'unset' for every type (an empty path is '.'): comment it out."""
    empty = [name for name, value in env_example_lines().items() if value == ""]
    assert not empty, f".env.example sets {empty} to an empty value"


def test_env_example_is_valid_production_configuration() -> None:
    settings = Settings(_env_file=ENV_EXAMPLE)
    assert settings.database_url is not None
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.temporal_address == "temporal:7233"
    assert settings.log_format == "json"
    assert settings.api_host == "0.0.0.0"
    assert settings.api_key


def test_env_example_store_password_matches_postgres() -> None:
    values = env_example_lines()
    password = values["POSTGRES_PASSWORD"]
    user = values["POSTGRES_USER"]
    assert f"://{user}:{password}@postgres:5432/{values['POSTGRES_DB']}" in str(
        values["DATABASE_URL"]
    )


def test_readme_configuration_table_lists_every_setting() -> None:
    if not README.exists():
        pytest.fail("README.md is missing; its configuration table must list every setting")
    rows = [line for line in README.read_text(encoding="utf-8").splitlines() if "|" in line]
    table = "\n".join(rows)
    missing = [name for name in SETTING_NAMES if not re.search(rf"\b{name}\b", table)]
    assert not missing, f"README.md's configuration table lacks {missing}"


def test_setup_script_registers_every_search_attribute_with_its_type() -> None:
    script = SETUP_SCRIPT.read_text(encoding="utf-8")
    registered = dict(re.findall(r"^([A-Za-z]+):([A-Za-z]+)$", script, flags=re.MULTILINE))
    expected = {key.name: SERVER_TYPES[key.indexed_value_type.name] for key in SEARCH_ATTRIBUTES}
    assert registered == expected
    assert "temporal operator search-attribute create" in script
    assert "temporal operator namespace create" in script


def test_schema_script_sets_up_both_temporal_databases() -> None:
    script = SCHEMA_SCRIPT.read_text(encoding="utf-8")
    assert "temporal:temporal temporal_visibility:visibility" in script
    for step in ("create-database", "setup-schema -v 0.0", "update-schema -d"):
        assert step in script
    assert "postgres12" in script


def test_dockerfile_installs_the_project_as_a_non_root_user() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\b", text, flags=re.MULTILINE)
    assert "pip install --no-deps ." in text
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}
    # Everything the image needs at run time is copied in, and exists.
    for source in re.findall(r"^COPY\s+(\S+)\s", text, flags=re.MULTILINE):
        assert (REPO_ROOT / source).exists(), f"Dockerfile copies missing {source}"


def test_dockerignore_keeps_secrets_and_state_out_of_the_image() -> None:
    ignored = (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for entry in (".env", ".git", ".venv", "data"):
        assert entry in ignored
    kept = {line for line in ignored if line.startswith("!")}
    assert kept <= {"!.env.example"}
    assert not set(ignored) & {"migrations", "config", "templates", "README.md"}


def test_dynamic_config_is_valid_key_value_yaml() -> None:
    text = (REPO_ROOT / "deploy/temporal/dynamicconfig/production.yaml").read_text()
    keys = re.findall(r"^([a-zA-Z.]+):\s*$", text, flags=re.MULTILINE)
    assert "frontend.enableUpdateWorkflowExecution" in keys
    assert text.count("- value:") == len(keys)


def test_production_temporal_hands_out_backlogs_fairly_by_tenant() -> None:
    """Journeys carry their tenant as fairness key; the server uses it only with fairness on
    (README, "Fairness between tenants")."""
    text = (REPO_ROOT / "deploy/temporal/dynamicconfig/production.yaml").read_text()
    assert re.search(r"^matching\.enableFairness:\n  - value: true$", text, flags=re.MULTILINE)


def test_paths_in_env_example_exist_in_the_image_layout() -> None:
    values = env_example_lines()
    for name, relative in (("POLICY_FILE", "config/policies.toml"), ("TEMPLATES_DIR", "templates")):
        assert values[name] == f"/app/{relative}"
        assert (REPO_ROOT / relative).exists()
    assert Path(str(values["DATA_DIR"])).is_absolute()
