"""Customer-page links: `/pay/<link id>.<signature>`, one per invoice, no personal data.

The link id is an HMAC-SHA256 of the invoice id under the page secret (128 bits, so it can be
neither guessed nor derived without the secret) and names neither the invoice nor the
customer; a second HMAC over the id is the signature, checked before the store is asked, so a
tampered or made-up token costs no query. Every message about an invoice carries the same
link, computed wherever it is needed (rendering is pure and needs no store); the store's
`customer_page_links` maps an id back to its invoice and can revoke it.

The secret is CUSTOMER_PAGE_SECRET; unset, a random one is created once in DATA_DIR, which
the embedded default's worker and API share.

Tenants (domain/tenants.py): the default tenant's links are as they always were
(`<link id>.<signature>`, so links sent before tenants keep working). Every other tenant's
link names it in front, `<tenant>.<link id>.<signature>`, and the tenant is under both MACs:
the id is made from tenant and invoice, the signature covers tenant and id, so no link can be
edited into another tenant's. Reply addresses name the tenant the same way
(`reply+<tenant>.<reply id>@...`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from contextlib import suppress
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from domain.tenants import DEFAULT_TENANT, valid_tenant
from infra.logging import get_logger
from infra.settings import Settings
from infra.store import InvoiceRow, session_scope, utcnow
from infra.store_page import CustomerPageLinkRow

log = get_logger("infra.customer_links")

SECRET_FILE = "customer_page_secret"
TOKEN_RE = re.compile(
    r"^(?:([a-z][a-z0-9-]{0,30}[a-z0-9])\.)?([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{16})$"
)


def _tenant_ok(value: str) -> bool:
    try:
        valid_tenant(value)
    except ValueError:
        return False
    return True


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _mac(secret: bytes, purpose: str, value: str) -> bytes:
    return hmac.new(secret, f"{purpose}\0{value}".encode(), hashlib.sha256).digest()


@lru_cache(maxsize=16)
def _secret_from_file(path: Path) -> bytes:
    """The dev secret, created once. Written to a temporary file and linked into place, so a
    second process or thread never reads a half-written secret (it finds the link taken and
    reads the winner's)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    text = path.read_text().strip()
    if len(text) < 32:
        raise ValueError(f"{path}: the customer-page secret must be at least 32 characters")
    return text.encode()


def page_secret(settings: Settings) -> bytes:
    if settings.customer_page_secret:
        if len(settings.customer_page_secret) < 32:
            raise ValueError("CUSTOMER_PAGE_SECRET must be at least 32 characters")
        return settings.customer_page_secret.encode()
    return _secret_from_file((settings.data_dir / SECRET_FILE).resolve())


def _scoped(tenant: str, value: str) -> str:
    """What a MAC covers: the value alone for the default tenant (its links and reply ids
    are those issued before tenants), the tenant and the value for every other."""
    return value if tenant == DEFAULT_TENANT else f"{tenant}\0{value}"


def _named(tenant: str, value: str) -> str:
    """A link or reply id with its tenant in front (none for the default tenant)."""
    return value if tenant == DEFAULT_TENANT else f"{tenant}.{value}"


def _raw_link(secret: bytes, invoice_id: str, tenant: str) -> bytes:
    return _mac(secret, "customer-page-link", _scoped(tenant, invoice_id))[:16]


def link_id(secret: bytes, invoice_id: str, tenant: str = DEFAULT_TENANT) -> str:
    return _b64(_raw_link(secret, invoice_id, tenant))


def reply_id(secret: bytes, invoice_id: str, tenant: str = DEFAULT_TENANT) -> str:
    """The invoice's link id in base32, lower case: safe in an email address's local part,
    which mail systems may fold to one case (a tenant id is lower case already), with its
    tenant in front. It names neither invoice nor customer, and is not the page's credential
    (that needs the signature too)."""
    raw = _raw_link(secret, invoice_id, tenant)
    return _named(tenant, base64.b32encode(raw).decode().rstrip("=").lower())


def tenant_of_reply(rid: str) -> str:
    """The tenant a reply id names (none: the default tenant, as every id before tenants)."""
    head, dot, _ = rid.strip().lower().rpartition(".")
    return head if dot and _tenant_ok(head) else DEFAULT_TENANT


def link_id_of_reply(rid: str) -> str | None:
    """The link id a reply id stands for, or None if it is not one we could have made."""
    text = rid.strip().rpartition(".")[2].upper()
    if len(text) != 26 or not text.isalnum():
        return None
    try:
        raw = base64.b32decode(text + "======")
    except ValueError:
        return None
    return _b64(raw) if len(raw) == 16 else None


def reply_address(settings: Settings, invoice_id: str) -> str | None:
    """`reply+<reply id>@<SENDGRID_INBOUND_DOMAIN>` for an invoice's email (the settings'
    tenant's), or None without an inbound domain (or a secret to derive it from: the mail
    then goes without)."""
    domain = settings.sendgrid_inbound_domain
    if not domain:
        return None
    try:
        return f"reply+{reply_id(page_secret(settings), invoice_id, settings.tenant)}@{domain}"
    except (OSError, ValueError) as err:
        log.warning("reply-to address left out of an email", error=str(err))
        return None


def invoice_of_reply(settings: Settings, rid: str) -> str | None:
    """The invoice a reply id names in the settings' tenant (its link row, registered on
    demand like a page's); None for another tenant's reply id."""
    lid = link_id_of_reply(rid)
    if lid is None or tenant_of_reply(rid) != settings.tenant:
        return None
    row = find_link(settings, lid)
    return row.invoice_id if row is not None else None


def _signature(secret: bytes, lid: str, tenant: str = DEFAULT_TENANT) -> str:
    return _b64(_mac(secret, "customer-page-signature", _scoped(tenant, lid))[:12])


def token_for(secret: bytes, invoice_id: str, tenant: str = DEFAULT_TENANT) -> str:
    lid = link_id(secret, invoice_id, tenant)
    return _named(tenant, f"{lid}.{_signature(secret, lid, tenant)}")


def verified_link(secret: bytes, token: str) -> tuple[str, str] | None:
    """The tenant and link id of a token we signed, or None for anything else (tampered,
    made up, or another tenant's link with this one's name put in front)."""
    match = TOKEN_RE.match(token)
    if match is None:
        return None
    tenant, lid, sig = match.groups()
    tenant = tenant or DEFAULT_TENANT
    if tenant == DEFAULT_TENANT and match.group(1):
        return None  # the default tenant's links never name it
    return (tenant, lid) if hmac.compare_digest(sig, _signature(secret, lid, tenant)) else None


def verified_link_id(secret: bytes, token: str) -> str | None:
    """The link id of a default-tenant token we signed, or None for anything else."""
    found = verified_link(secret, token)
    return found[1] if found is not None and found[0] == DEFAULT_TENANT else None


def page_url(settings: Settings, invoice_id: str) -> str:
    """The invoice's page (the settings' tenant's invoice)."""
    token = token_for(page_secret(settings), invoice_id, settings.tenant)
    return f"{settings.public_url}/pay/{token}"


def page_url_or_none(settings: Settings, invoice_id: str) -> str | None:
    """The link for a message, or None (logged) when no secret can be had: a reminder
    without its page link is better than no reminder."""
    try:
        return page_url(settings, invoice_id)
    except (OSError, ValueError) as err:
        log.warning("customer-page link left out of a message", error=str(err))
        return None


def csrf_value(secret: bytes, token: str, nonce: str) -> str:
    """The hidden form field that must match the page's cookie nonce (double submit, signed)."""
    return _b64(_mac(secret, "customer-page-csrf", f"{token}\0{nonce}")[:18])


# --- the store side ----------------------------------------------------------------------------


def _register_missing(settings: Settings, secret: bytes) -> None:
    """Rows for invoices that have none yet (new invoices, or issued before the page existed).

    Only a correctly signed token whose id is unknown leads here, and one pass registers every
    invoice issued so far, so it runs about once per batch of new invoices whose page is
    opened, not once per visit. Ingest is left alone (no extra write per issued invoice); the
    cost is one anti-join over the invoices on such a first visit."""
    with session_scope(settings.store_url) as s:
        missing = s.exec(
            select(InvoiceRow.id).where(
                col(InvoiceRow.id).not_in(select(CustomerPageLinkRow.invoice_id))
            )
        ).all()
        for invoice_id in missing:
            lid = link_id(secret, invoice_id, settings.tenant)
            s.add(CustomerPageLinkRow(link_id=lid, invoice_id=invoice_id))


def find_link(settings: Settings, lid: str) -> CustomerPageLinkRow | None:
    secret = page_secret(settings)
    with session_scope(settings.store_url) as s:
        row = s.get(CustomerPageLinkRow, lid)
    if row is None:
        with suppress(IntegrityError):  # another request registered them first
            _register_missing(settings, secret)
        with session_scope(settings.store_url) as s:
            row = s.get(CustomerPageLinkRow, lid)
    return row


def revoke(settings: Settings, invoice_id: str, at: datetime | None = None) -> bool:
    """Withdraw an invoice's link (e.g. it reached the wrong person); False if none existed."""
    secret = page_secret(settings)
    lid = link_id(secret, invoice_id, settings.tenant)
    with session_scope(settings.store_url) as s:
        row = s.get(CustomerPageLinkRow, lid)
        if row is None:
            if s.get(InvoiceRow, invoice_id) is None:
                return False
            row = CustomerPageLinkRow(link_id=lid, invoice_id=invoice_id)
        row.revoked_at = at or utcnow()
        s.add(row)
    return True


def expired(invoice: InvoiceRow, settings: Settings, now: datetime | None = None) -> bool:
    """A link works until CUSTOMER_PAGE_LINK_DAYS after its journey ended."""
    if invoice.closed_at is None:
        return False
    closed = invoice.closed_at
    if closed.tzinfo is None:  # SQLite hands back naive UTC
        closed = closed.replace(tzinfo=(now or utcnow()).tzinfo)
    return (now or utcnow()) > closed + timedelta(days=settings.customer_page_link_days)
