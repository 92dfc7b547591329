"""docker-compose.yml starts the whole production stack, wired and pinned as documented.

No container engine runs in CI, so this reads the file (PyYAML) and checks what `docker compose
up` will do: services, their order (depends_on conditions), images, health and restart.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
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
    "tenant-nordic",
    "worker",
    "api",
}
LONG_RUNNING = ("postgres", "temporal", "temporal-ui", "worker", "api")
ONE_SHOT = ("temporal-schema", "temporal-setup", "migrate", "tenant-nordic")


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
        "tenant-nordic": "service_completed_successfully",
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


# --- the second tenant (README, "Tenants") ---------------------------------------------------


def pairs(args: list[str], option: str) -> dict[str, str]:
    """`KEY=VALUE` after each `option` in a command, by KEY."""
    found = [args[i + 1] for i, arg in enumerate(args) if arg == option]
    return dict(pair.split("=", 1) for pair in found)


def test_the_second_tenant_is_registered_before_the_worker_and_the_api_start(
    services: dict[str, Any],
) -> None:
    tenant = services["tenant-nordic"]
    args = command(tenant)
    assert args[:4] == ["journeys", "tenants", "add", "nordic"]
    assert "--replace" in args  # every `up` applies the file's profile, and is harmless again
    assert (tenant["build"], tenant["env_file"], tenant["restart"]) == (".", ".env", "no")
    # After the store's migration (its registry table), before anything that serves it.
    assert depends(tenant) == {"migrate": "service_completed_successfully"}
    for name in ("worker", "api"):
        assert depends(services[name])["tenant-nordic"] == "service_completed_successfully"
    # Its own policy file, shipped in the image; its own senders and branding.
    settings = pairs(args, "--set")
    assert settings["POLICY_FILE"] == "/app/config/policies-gentle.toml"
    assert (REPO_ROOT / "config" / "policies-gentle.toml").is_file()
    for own in ("SENDGRID_FROM_EMAIL", "TWILIO_FROM_NUMBER", "BRAND_NAME", "BRAND_PRIMARY_COLOR"):
        assert own in settings, own


def test_the_second_tenants_secrets_reach_the_worker_and_the_api(services: dict[str, Any]) -> None:
    """Its profile names variables; each must be set where the tenant's settings are made,
    from .env, and compose refuses to start without it (`:?`)."""
    secrets = pairs(command(services["tenant-nordic"]), "--secret")
    assert set(secrets) == {"SENDGRID_API_KEY", "TWILIO_AUTH_TOKEN"}
    documented = (REPO_ROOT / ".env.example").read_text(encoding="utf-8")
    for variable in secrets.values():
        assert variable.startswith("NORDIC_")
        assert re.search(rf"^{variable}=\S", documented, flags=re.MULTILINE), variable
        for name in ("worker", "api", "tenant-nordic"):
            passed = services[name]["environment"][variable]
            assert passed.startswith(f"${{{variable}:?"), (name, passed)


def test_temporal_setup_registers_the_tenant_search_attribute() -> None:
    """The Temporal UI's `Tenant = "acme"` filter needs it (docs/production.md, tenants)."""
    from infra.temporal import SEARCH_ATTRIBUTES, TENANT

    assert TENANT in SEARCH_ATTRIBUTES
    setup = (REPO_ROOT / "deploy" / "temporal" / "setup.sh").read_text(encoding="utf-8")
    assert re.search(r"^Tenant:Keyword$", setup, flags=re.MULTILINE)


@pytest.mark.store_independent
def test_the_second_tenants_command_registers_a_tenant_the_worker_can_use(
    services: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command as compose runs it (interpolated from .env.example, /app being the image's
    copy of this repository) against a store of its own; then its settings as the worker
    makes them, with the secrets' variables set as compose sets them."""
    from typer.testing import CliRunner

    from infra.settings import Settings
    from infra.tenants import forget_cached, tenant_settings
    from journeys.tenants_cli import tenants_app

    dockerfile = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "WORKDIR /app" in dockerfile and "COPY config ./config" in dockerfile
    values = {k: v for k, v in env_example().items() if v is not None}

    def interpolate(text: str) -> str:
        text = re.sub(r"\$\{([A-Z0-9_]+)(?::\?[^}]*)?\}", lambda m: values[m[1]], text)
        return text.replace("=/app/", f"={REPO_ROOT}/")

    args = [interpolate(arg) for arg in command(services["tenant-nordic"])[2:]]
    store = f"sqlite:///{tmp_path / 'journeys.db'}"
    env = {"DATABASE_URL": store, "DATA_DIR": str(tmp_path)}
    added = CliRunner().invoke(tenants_app, args, env=env)
    assert added.exit_code == 0, added.output
    assert "tenant nordic (Nordic Kredit AB) registered" in added.stdout
    again = CliRunner().invoke(tenants_app, args, env=env)  # the next `up`
    assert again.exit_code == 0 and "changed" in again.stdout, again.output

    for variable in services["worker"]["environment"]:
        monkeypatch.setenv(variable, values[variable])
    forget_cached()
    nordic = tenant_settings(
        Settings(_env_file=None, database_url=store, data_dir=tmp_path), "nordic"
    )
    forget_cached()
    assert nordic.sendgrid_api_key == values["NORDIC_SENDGRID_API_KEY"]
    assert nordic.twilio_auth_token == values["NORDIC_TWILIO_AUTH_TOKEN"]
    assert nordic.sendgrid_from_email == values["NORDIC_FROM_EMAIL"]
    assert nordic.policy_file == REPO_ROOT / "config" / "policies-gentle.toml"
    assert (nordic.brand_name, nordic.brand_primary_color) == ("Nordic Kredit", "#005f73")
    assert nordic.store_url == f"sqlite:///{tmp_path / 'journeys-nordic.db'}"
    assert (tmp_path / "journeys-nordic.db").is_file()


def env_example() -> dict[str, str | None]:
    from tests.production.test_configuration import env_example_lines

    return env_example_lines()
