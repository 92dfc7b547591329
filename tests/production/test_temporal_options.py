"""How settings become Temporal connection options: plain, TLS, mTLS, API key (no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from temporalio.service import TLSConfig

from infra.settings import Settings
from infra.temporal import (
    TUNED_DEV_SERVER_ARGS,
    TemporalConfigError,
    connect_options,
    tuned_args,
)


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


@pytest.fixture
def pems(tmp_path: Path) -> dict[str, Path]:
    files = {}
    for name in ("cert", "key", "ca"):
        path = tmp_path / f"{name}.pem"
        path.write_bytes(f"-----BEGIN {name.upper()}-----\n".encode())
        files[name] = path
    return files


def test_plain_by_default() -> None:
    options = connect_options(settings(temporal_namespace="journeys"))
    assert options.tls is False
    assert options.api_key is None
    assert options.namespace == "journeys"


def test_tls_with_system_roots() -> None:
    assert connect_options(settings(temporal_tls=True)).tls is True


def test_api_key_turns_tls_on() -> None:
    options = connect_options(settings(temporal_api_key="secret-key"))
    assert options.api_key == "secret-key"
    assert options.tls is True


def test_empty_api_key_is_no_api_key() -> None:
    options = connect_options(settings(temporal_api_key=""))
    assert options.api_key is None
    assert options.tls is False


def test_mtls_reads_certificate_key_and_ca(pems: dict[str, Path]) -> None:
    options = connect_options(
        settings(
            temporal_tls=True,
            temporal_tls_cert_path=pems["cert"],
            temporal_tls_key_path=pems["key"],
            temporal_tls_ca_path=pems["ca"],
        )
    )
    assert isinstance(options.tls, TLSConfig)
    assert options.tls.client_cert == pems["cert"].read_bytes()
    assert options.tls.client_private_key == pems["key"].read_bytes()
    assert options.tls.server_root_ca_cert == pems["ca"].read_bytes()


def test_client_certificate_alone_implies_tls(pems: dict[str, Path]) -> None:
    options = connect_options(
        settings(temporal_tls_cert_path=pems["cert"], temporal_tls_key_path=pems["key"])
    )
    assert isinstance(options.tls, TLSConfig)
    assert options.tls.server_root_ca_cert is None


def test_private_ca_without_client_certificate(pems: dict[str, Path]) -> None:
    options = connect_options(settings(temporal_tls_ca_path=pems["ca"]))
    assert isinstance(options.tls, TLSConfig)
    assert options.tls.client_cert is None
    assert options.tls.server_root_ca_cert == pems["ca"].read_bytes()


def test_mtls_and_api_key_together(pems: dict[str, Path]) -> None:
    options = connect_options(
        settings(
            temporal_api_key="k",
            temporal_tls_cert_path=pems["cert"],
            temporal_tls_key_path=pems["key"],
        )
    )
    assert options.api_key == "k"
    assert isinstance(options.tls, TLSConfig)


@pytest.mark.parametrize("given", ["cert", "key"])
def test_certificate_and_key_go_together(pems: dict[str, Path], given: str) -> None:
    with pytest.raises(TemporalConfigError, match="set both or neither"):
        connect_options(settings(**{f"temporal_tls_{given}_path": pems[given]}))


def test_unreadable_file_names_the_variable(tmp_path: Path, pems: dict[str, Path]) -> None:
    with pytest.raises(TemporalConfigError, match="TEMPORAL_TLS_KEY_PATH: cannot read"):
        connect_options(
            settings(
                temporal_tls_cert_path=pems["cert"],
                temporal_tls_key_path=tmp_path / "missing.key",
            )
        )


def test_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, pems: dict[str, Path]
) -> None:
    monkeypatch.setenv("TEMPORAL_TLS", "true")
    monkeypatch.setenv("TEMPORAL_TLS_CA_PATH", str(pems["ca"]))
    monkeypatch.setenv("TEMPORAL_API_KEY", "from-env")
    options = connect_options(settings())
    assert options.api_key == "from-env"
    assert isinstance(options.tls, TLSConfig)
    assert options.tls.server_root_ca_cert == pems["ca"].read_bytes()


def test_the_tuned_dev_server_hands_out_backlogs_fairly_by_tenant() -> None:
    """`journeys dev` and the benchmarks' tuned server run with task-queue fairness on
    (README, "Fairness between tenants"); bench/fairness.py turns it off by override, once."""
    assert "matching.enableFairness=true" in TUNED_DEV_SERVER_ARGS
    off = tuned_args({"matching.enableFairness": False})
    assert "matching.enableFairness=false" in off
    assert "matching.enableFairness=true" not in off
    assert off.count("--dynamic-config-value") == TUNED_DEV_SERVER_ARGS.count(
        "--dynamic-config-value"
    )
