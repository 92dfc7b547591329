"""docker-compose.yml starts the whole production stack, wired and pinned as documented.

No container engine runs in CI, so this reads the file (PyYAML) and checks what `docker compose
up` will do: services, their order (depends_on conditions), images, health and restart.
"""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest

from infra.settings import REPO_ROOT

yaml = pytest.importorskip("yaml", reason="PyYAML reads docker-compose.yml (test extra)")

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
NEEDED = {
    "postgres",
    "temporal-schema",
    "temporal",
    "temporal-ui",
    "temporal-setup",
    "migrate",
    "worker",
    "api",
}
LONG_RUNNING = ("postgres", "temporal", "temporal-ui", "worker", "api")
ONE_SHOT = ("temporal-schema", "temporal-setup", "migrate")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def command(service: dict[str, Any]) -> list[str]:
    parts = service.get("entrypoint", []) + service.get("command", [])
    assert isinstance(parts, list), "use the exec (list) form for entrypoint and command"
    return [str(p) for p in parts]


def depends(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on", {})
    assert isinstance(deps, dict), "depends_on needs conditions, not a bare list"
    return {name: spec["condition"] for name, spec in deps.items()}


def test_compose_spec_without_version_key(compose: dict[str, Any]) -> None:
    assert "version" not in compose


def test_every_service_of_the_stack_is_there(services: dict[str, Any]) -> None:
    assert set(services) >= NEEDED


def test_images_are_pinned(services: dict[str, Any]) -> None:
    for name, service in services.items():
        image = service.get("image")
        assert image, f"{name} has no image (built services are tagged too)"
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: image {image} has no tag"
        assert tag != "latest", f"{name}: image {image} is not pinned"
        assert re.search(r"\d", tag), f"{name}: tag {tag} names no version"


def test_temporal_images_share_one_version(services: dict[str, Any]) -> None:
    server = services["temporal"]["image"]
    assert server.startswith("temporalio/server:")
    version = server.rpartition(":")[2]
    for name in ("temporal-schema", "temporal-setup"):
        image = services[name]["image"]
        assert image.startswith(f"temporalio/admin-tools:{version}"), (name, image)
    assert services["temporal-ui"]["image"].startswith("temporalio/ui:")


def test_postgres_is_healthchecked_and_persistent(services: dict[str, Any]) -> None:
    postgres = services["postgres"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])


def test_temporal_schema_is_set_up_before_the_server(services: dict[str, Any]) -> None:
    schema = services["temporal-schema"]
    assert command(schema) == ["sh", "/deploy/schema.sh"]
    assert depends(schema) == {"postgres": "service_healthy"}
    assert "./deploy/temporal:/deploy:ro" in schema["volumes"]
    assert depends(services["temporal"]) == {
        "postgres": "service_healthy",
        "temporal-schema": "service_completed_successfully",
    }


def test_temporal_server_runs_on_postgres(services: dict[str, Any]) -> None:
    env = services["temporal"]["environment"]
    assert env["DB"] == "postgres12"
    assert env["POSTGRES_SEEDS"] == "postgres"
    assert (env["DBNAME"], env["VISIBILITY_DBNAME"]) == ("temporal", "temporal_visibility")
    config = env["DYNAMIC_CONFIG_FILE_PATH"]
    mounts = services["temporal"]["volumes"]
    host, container = "./deploy/temporal/dynamicconfig", "/etc/temporal/config/dynamicconfig"
    assert f"{host}:{container}:ro" in mounts
    assert (REPO_ROOT / host / config.removeprefix(container + "/")).is_file()


def test_temporal_ui_on_8233(services: dict[str, Any]) -> None:
    ui = services["temporal-ui"]
    assert any(str(p).endswith("8233:8080") for p in ui["ports"])
    assert ui["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_setup_step_registers_namespace_and_search_attributes(services: dict[str, Any]) -> None:
    setup = services["temporal-setup"]
    assert command(setup) == ["sh", "/deploy/setup.sh"]
    assert (REPO_ROOT / "deploy" / "temporal" / "setup.sh").is_file()
    assert "./deploy/temporal:/deploy:ro" in setup["volumes"]
    assert setup["env_file"] == ".env"
    # Which attributes it registers: tests/production/test_configuration.py reads setup.sh.


def test_the_one_shots_wait_for_what_they_need_and_give_up_with_a_reason() -> None:
    """schema.sh and setup.sh share wait_for.sh (mounted beside them at /deploy)."""
    script = REPO_ROOT / "deploy" / "temporal" / "wait_for.sh"
    waited = subprocess.run(
        ["sh", "-c", f'. "{script}"; wait_for 5 "yes" true && wait_for 2 "the server" false'],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert waited.returncode == 1
    assert waited.stderr.strip() == "the server did not answer in 2 s"


def test_migrate_runs_db_upgrade_once(services: dict[str, Any]) -> None:
    migrate = services["migrate"]
    assert command(migrate) == ["journeys", "db", "upgrade"]
    assert migrate["restart"] == "no"
    assert migrate["build"] == "."
    assert depends(migrate) == {"postgres": "service_healthy"}


@pytest.mark.parametrize("name", ["worker", "api"])
def test_app_services(services: dict[str, Any], name: str) -> None:
    service = services[name]
    assert command(service) == ["journeys", name]
    assert service["build"] == "."
    assert service["env_file"] == ".env"
    assert service["restart"] == "unless-stopped"
    assert service["healthcheck"]["test"]
    assert depends(service) == {
        "migrate": "service_completed_successfully",
        "temporal-setup": "service_completed_successfully",
    }


def test_api_health_and_port(services: dict[str, Any]) -> None:
    api = services["api"]
    assert "/readyz" in " ".join(api["healthcheck"]["test"])
    assert "8000:8000" in api["ports"]


def test_worker_health_checks_its_own_polling(services: dict[str, Any]) -> None:
    test = services["worker"]["healthcheck"]["test"]
    assert test == ["CMD", "python", "-m", "journeys.ops_cli", "worker-health"]


def test_restart_policies(services: dict[str, Any]) -> None:
    for name in LONG_RUNNING:
        assert services[name]["restart"] == "unless-stopped", name
    for name in ONE_SHOT:
        assert services[name]["restart"] == "no", name


def test_one_shots_that_others_wait_for(services: dict[str, Any]) -> None:
    """Every service_completed_successfully dependency is a one-shot, never a server."""
    for name, service in services.items():
        for dep, condition in depends(service).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            if condition == "service_completed_successfully":
                assert dep in ONE_SHOT, (name, dep)
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], (name, dep)


def test_postgres_credentials_come_from_env_file(services: dict[str, Any]) -> None:
    env = services["postgres"]["environment"]
    assert env["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD")
    assert services["temporal"]["environment"]["POSTGRES_PWD"] == "${POSTGRES_PASSWORD}"
