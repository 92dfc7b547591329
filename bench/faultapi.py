"""The HTTP API in a process of its own, for the fault-injection run (bench/faults.py), so
that the run can SIGKILL it while events are being posted.

    python -m bench.faultapi --settings JSON --port N --seconds-per-day S

Each invoice's journey day 0 starts when the API accepts its `invoice.issued` (the compressed
clock of `journeys dev --demo`, per invoice as in bench/product.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime

import uvicorn

from domain.models import Invoice, JourneyClock
from infra.logging import configure_logging
from infra.settings import Settings
from starter.api import create_app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--settings", required=True, help="Settings overrides as JSON")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seconds-per-day", type=int, required=True)
    args = parser.parse_args()
    settings = Settings(_env_file=None, **json.loads(args.settings))
    configure_logging(settings.log_format, settings.log_level)

    def clock(invoice: Invoice) -> JourneyClock:
        return JourneyClock(
            seconds_per_day=args.seconds_per_day,
            origin=datetime.now(UTC),
            origin_date=invoice.issued_at,
        )

    app = create_app(settings, clock=clock)
    uvicorn.run(
        app, host="127.0.0.1", port=args.port, log_config=None, access_log=False, lifespan="on"
    )
    sys.stdout.flush()
    os._exit(0)  # see README "Exit statuses"


if __name__ == "__main__":
    main()
