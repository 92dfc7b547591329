"""Tenants: the creditor companies one deployment serves, and how a tenant is named.

A deployment that never adds a tenant runs everything as the default tenant, exactly as it
did before tenants existed: the same workflow ids (`invoice-<id>`), the same store, the same
settings. Every other tenant's journeys carry its id in their workflow id
(`<tenant>:invoice-<id>`, so that two tenants' invoices with the same id never collide) and in
the `Tenant` search attribute, and its rows live in a store of their own (infra/tenants.py).

Pure: names and their rules, no I/O.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

DEFAULT_TENANT = "default"
"""The tenant of a deployment with no tenants configured, and of every journey, key and row
from before tenants existed."""

_TENANT_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
TENANT_RULE = "2 to 32 characters: lower-case letters, digits and '-', starting with a letter"

_SEPARATOR = ":"
"""Between the tenant and the invoice's workflow id. Not allowed in a tenant id, so a
workflow id names its tenant without doubt whatever the invoice id holds."""


def valid_tenant(value: str) -> str:
    """A tenant id as people and URLs write it; refused with the rule it breaks."""
    if not isinstance(value, str) or not _TENANT_RE.match(value):
        raise ValueError(f"tenant id {value!r} is not valid: {TENANT_RULE}")
    return value


TenantId = Annotated[str, AfterValidator(valid_tenant)]


def workflow_id_for(invoice_id: str, tenant: str = DEFAULT_TENANT) -> str:
    """The journey's workflow id: unchanged for the default tenant (journeys started before
    tenants keep theirs), prefixed by the tenant's id for every other."""
    base = f"invoice-{invoice_id}"
    return base if tenant == DEFAULT_TENANT else f"{tenant}{_SEPARATOR}{base}"


def tenant_of_workflow(workflow_id: str) -> str:
    """The tenant a journey's workflow id names (the default tenant's ids name none)."""
    head, separator, rest = workflow_id.partition(_SEPARATOR)
    if separator and rest.startswith("invoice-") and _TENANT_RE.match(head):
        return head
    return DEFAULT_TENANT


def invoice_of_workflow(workflow_id: str) -> str | None:
    """The invoice id a journey's workflow id was made from; None if it is not a journey's."""
    tenant = tenant_of_workflow(workflow_id)
    base = workflow_id if tenant == DEFAULT_TENANT else workflow_id[len(tenant) + 1 :]
    return base.removeprefix("invoice-") if base.startswith("invoice-") else None
