"""Liveness and readiness of an API process (SPEC, "HTTP API": `/healthz`, `/readyz`).

`/healthz` says the process serves HTTP, nothing more: a platform restarts a process whose
liveness fails, and restarting the API cures neither a Temporal outage nor a store outage.
`/readyz` says whether this process can do its work now: the store answers `SELECT 1` and
Temporal answers a cheap call (`GetSystemInfo`), each within `CHECK_TIMEOUT`. A load balancer
or Kubernetes readiness probe takes the process out of rotation while it answers 503 and
back when it answers 200, so a failing dependency turns it red within one probe and a few
seconds, never after a TCP timeout.

The answer names the failing check and the kind of failure only (an exception's class, a gRPC
status): never a URL, a host or a driver's message, which may carry credentials. The full
error is logged, without the URL's password.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from temporalio.service import RPCError

from infra.logging import get_logger
from infra.settings import Settings
from infra.store import get_engine

log = get_logger(__name__)

CHECK_TIMEOUT = 2.0
"""Seconds each readiness check may take before it counts as failed."""

_CREDENTIALS = re.compile(r"(://[^:/@\s]*):[^@\s]*@")


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, str]
    """Per dependency (`store`, `temporal`): `ok`, or what failed."""
    detail: str | None = None
    """When not ready: the failing checks as `<check>: <problem>`, like every refusal."""


router = APIRouter(tags=["ops"])


@router.get("/healthz")
async def healthz() -> Health:
    """Liveness: the process answers HTTP. Depends on nothing else on purpose."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A dependency does not answer."}},
)
async def readyz(request: Request) -> JSONResponse:
    """Readiness: the store and Temporal both answer; 503 naming the one that does not."""
    settings: Settings = request.app.state.settings
    client: Client | None = getattr(request.app.state, "client", None)
    store, temporal = await asyncio.gather(_store_check(settings), _temporal_check(client))
    checks = {"store": store, "temporal": temporal}
    failing = {name: problem for name, problem in checks.items() if problem != "ok"}
    if not failing:
        return JSONResponse(Readiness(status="ready", checks=checks).model_dump(exclude_none=True))
    detail = "; ".join(f"{name}: {problem}" for name, problem in failing.items())
    body = Readiness(status="not ready", checks=checks, detail=detail)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=503)


NO_ANSWER = f"no answer within {CHECK_TIMEOUT:g} s"

_store_probes: dict[str, asyncio.Future[None]] = {}
"""Per store URL, the check still running, if one is: a store that hangs costs one thread,
not one per probe."""


async def _store_check(settings: Settings) -> str:
    url = settings.store_url
    probe = _store_probes.get(url)
    if probe is None or probe.done():
        probe = _store_probes[url] = asyncio.ensure_future(asyncio.to_thread(_select_one, url))
    try:
        await asyncio.wait_for(asyncio.shield(probe), timeout=CHECK_TIMEOUT)
    except TimeoutError:
        log.warning("readiness: the store did not answer", timeout_seconds=CHECK_TIMEOUT)
        return NO_ANSWER
    except Exception as err:
        return _failed("the store", err)
    return "ok"


def _select_one(url: str) -> None:
    with get_engine(url).connect() as conn:
        conn.execute(text("SELECT 1"))


async def _temporal_check(client: Client | None) -> str:
    if client is None:
        return "not connected"
    try:
        await client.workflow_service.get_system_info(
            GetSystemInfoRequest(), timeout=timedelta(seconds=CHECK_TIMEOUT)
        )
    except RPCError as err:
        log.warning("readiness: Temporal failed", status=err.status.name, error=err.message)
        if err.status.name == "DEADLINE_EXCEEDED":
            return NO_ANSWER
        return f"failed ({err.status.name})"
    except Exception as err:
        return _failed("Temporal", err)
    return "ok"


def _failed(check: str, err: Exception) -> str:
    """The answer for a check that raised: the kind of failure only (the message may hold
    a host or a user); the whole message, credentials masked, goes to the log."""
    log.warning(f"readiness: {check} failed", error=scrub_url(str(err)))
    return f"failed ({type(err).__name__})"


def scrub_url(message: str) -> str:
    """`message` with any `scheme://user:password@` reduced to `scheme://user:***@`."""
    return _CREDENTIALS.sub(r"\1:***@", message)
