"""`GET /v1/reports/journeys`: the experience report as JSON, for any valid key (read-only
included). Filters are query parameters; the figures and their JSON form are
`domain.reporting` and `domain.report_formats`, the same as `journeys report --format json`.
The report is one tenant's (`?tenant=`, starter/tenancy.py), read from that tenant's store."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from domain.report_formats import report_json
from domain.reporting import ReportFilter
from infra.report_store import journey_report
from starter import auth
from starter.tenancy import TENANT_RESPONSES, TenantDep

router = APIRouter(tags=["reports"])


@router.get(
    "/v1/reports/journeys",
    dependencies=[Depends(auth.require_role())],
    responses=TENANT_RESPONSES,
)
async def get_journeys_report(
    scope: TenantDep,
    period_from: Annotated[date | None, Query(description="Closed on or after.")] = None,
    period_to: Annotated[date | None, Query(description="Closed on or before.")] = None,
    segment: Annotated[str | None, Query(description="Only this segment.")] = None,
    policy: Annotated[str | None, Query(description="Only this policy.")] = None,
) -> dict[str, Any]:
    """How finished journeys went, per segment and per step (see README, "Measuring the
    experience"): money as decimal strings, shares as numbers, null where nothing divides."""
    if period_from and period_to and period_from > period_to:
        raise HTTPException(
            status_code=422, detail=f"period_from: {period_from} is after period_to {period_to}"
        )
    report_filter = ReportFilter(period_from, period_to, segment, policy)
    report = await asyncio.to_thread(journey_report, scope, report_filter)
    return report_json(report)
