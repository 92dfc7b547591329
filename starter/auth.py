"""API keys with roles for the HTTP API.

Roles:

| role | may |
|---|---|
| `billing` | post billing events (`POST /v1/events`) |
| `agent` | act on journeys (`POST /v1/invoices/{id}/actions`) |
| `read-only` | read journeys and dead letters |

Every role may read. A key is `rj_` plus 32 random bytes (URL-safe base64); only its SHA-256
is stored, next to a short visible prefix for listings. `journeys keys create` prints a key
once. `API_KEY` (the setting), if set, is a bootstrap key that holds every role: for
`journeys dev`, tests, and creating the first real keys' users.

A key is for one tenant (`journeys keys create --tenant acme`) or, without `--tenant`, for
every tenant; the bootstrap key is for every tenant. A key scoped to a tenant sees only that
tenant's journeys, events, reports and dead letters (starter/tenancy.py).

The key travels as `Authorization: Bearer <key>` or `X-API-Key: <key>`. No key: 401; a key
without the role the route needs: 403.

Before any key exists (no `API_KEY`, no key in the store: the embedded default right after
`make dev`), requests from loopback are let through with every role, as they were before keys
existed, and anything else gets 401. The first key created, or setting `API_KEY`, ends that.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlmodel import col, select

from domain.tenants import valid_tenant
from infra.settings import Settings
from infra.store import ApiKeyRow, session_scope
from infra.tenants import UnknownTenant, tenant_ids
from starter.routing import SettingsDep

Role = Literal["agent", "billing", "read-only"]
ROLES: tuple[Role, ...] = get_args(Role)
ALL_ROLES = "*"
"""The role of the bootstrap key (settings.api_key): every role."""

KEY_PREFIX = "rj_"
VISIBLE_PREFIX_LENGTH = 10
"""`rj_` and the first 7 characters of the random part: enough to tell keys apart in a list."""


@dataclass(frozen=True)
class Principal:
    """Who called: a stored key's name, role and tenant, or the bootstrap key."""

    name: str
    role: str
    key_id: int | None = None
    tenant: str | None = None
    """The one tenant the key is for; None: every tenant."""

    def holds(self, roles: frozenset[str]) -> bool:
        return self.role == ALL_ROLES or self.role in roles


class UnknownKey(LookupError):
    """No such key, or an ambiguous prefix (for `keys revoke`)."""


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def visible_prefix(key: str) -> str:
    return key[:VISIBLE_PREFIX_LENGTH]


# --- the store -------------------------------------------------------------------------------


def create_key(
    settings: Settings, name: str, role: str, tenant: str | None = None
) -> tuple[ApiKeyRow, str]:
    """A new key: the row (hash and prefix only) and the key itself, to be shown once.
    `tenant`: the one tenant it is for (it must exist), or None for every tenant. Keys live
    in the control store (`settings` are the deployment's)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not name.strip():
        raise ValueError("name must not be empty")
    if tenant is not None:
        valid_tenant(tenant)
        if tenant not in tenant_ids(settings):
            raise ValueError(str(UnknownTenant(tenant)))
    key = new_key()
    row = ApiKeyRow(
        name=name.strip(),
        role=role,
        prefix=visible_prefix(key),
        key_hash=hash_key(key),
        tenant=tenant,
    )
    with session_scope(settings.store_url) as s:
        s.add(row)
        s.flush()
        s.refresh(row)
    return row, key


def list_keys(settings: Settings, *, include_revoked: bool = False) -> list[ApiKeyRow]:
    with session_scope(settings.store_url) as s:
        statement = select(ApiKeyRow).order_by(col(ApiKeyRow.id))
        if not include_revoked:
            statement = statement.where(col(ApiKeyRow.revoked_at).is_(None))
        return list(s.exec(statement).all())


def revoke_key(settings: Settings, ident: str) -> ApiKeyRow:
    """Revoke by id (`3`) or visible prefix (`rj_AbCdEfG`); revoking twice is harmless."""
    with session_scope(settings.store_url) as s:
        if ident.isdigit():
            rows = [r for r in [s.get(ApiKeyRow, int(ident))] if r is not None]
        else:
            rows = list(s.exec(select(ApiKeyRow).where(ApiKeyRow.prefix == ident)).all())
        if not rows:
            raise UnknownKey(f"no API key with id or prefix {ident!r}")
        if len(rows) > 1:
            raise UnknownKey(f"prefix {ident!r} matches {len(rows)} keys; revoke by id instead")
        row = rows[0]
        if row.revoked_at is None:
            row.revoked_at = datetime.now(UTC)
            s.add(row)
        return row


def keys_configured(settings: Settings) -> bool:
    if settings.api_key:
        return True
    with session_scope(settings.store_url) as s:
        statement = select(ApiKeyRow.id).where(col(ApiKeyRow.revoked_at).is_(None)).limit(1)
        return s.exec(statement).first() is not None


def _loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host in ("localhost", "testclient"):  # testclient: Starlette's TestClient
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


LOCAL = Principal(name="local (no API keys configured)", role=ALL_ROLES)


def authenticate(settings: Settings, key: str) -> Principal | None:
    if settings.api_key and secrets.compare_digest(key.encode(), settings.api_key.encode()):
        return Principal(name="bootstrap", role=ALL_ROLES)
    # Looked up by its hash: the stored value reveals nothing, and the comparison is the
    # database's equality on a digest, so no timing leaks the key.
    with session_scope(settings.store_url) as s:
        row = s.exec(select(ApiKeyRow).where(ApiKeyRow.key_hash == hash_key(key))).first()
    if row is None or row.revoked_at is not None:
        return None
    return Principal(name=row.name, role=row.role, key_id=row.id, tenant=row.tenant)


# --- FastAPI ---------------------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, description="An API key as a bearer token.")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")


def require_role(*roles: Role) -> Callable[..., Principal]:
    """A dependency that lets a caller through if its key holds one of `roles` (no roles:
    any valid key). It returns the `Principal` and leaves it on `request.state.principal`."""
    allowed = frozenset(roles or ROLES)
    needed = " or ".join(sorted(allowed))

    def dependency(
        request: Request,
        settings: SettingsDep,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        header: Annotated[str | None, Depends(_header)],
    ) -> Principal:
        key = header or (bearer.credentials if bearer else None)
        if not key and not keys_configured(settings):
            client = request.client.host if request.client else None
            if _loopback(client):
                request.state.principal = LOCAL
                return LOCAL
        if not key:
            raise HTTPException(
                status_code=401,
                detail="Authorization: an API key is needed (Authorization: Bearer <key> or "
                "X-API-Key: <key>)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        principal = authenticate(settings, key)
        if principal is None:
            raise HTTPException(
                status_code=401,
                detail="Authorization: unknown or revoked API key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not principal.holds(allowed):
            raise HTTPException(
                status_code=403,
                detail=f"Authorization: this key has the role {principal.role!r}; "
                f"this route needs {needed}",
            )
        request.state.principal = principal
        return principal

    return dependency


AnyRole = Annotated[Principal, Depends(require_role())]


class WhoAmI(BaseModel):
    name: str
    role: str
    tenant: str | None = None
    """The one tenant the key is for; left out for a key for every tenant (as before
    tenants existed)."""


router = APIRouter(tags=["auth"])


@router.get("/v1/auth/whoami", response_model_exclude_none=True)
def whoami(principal: AnyRole) -> WhoAmI:
    """Which key this is: to check a key and its role without side effects."""
    return WhoAmI(name=principal.name, role=principal.role, tenant=principal.tenant)
