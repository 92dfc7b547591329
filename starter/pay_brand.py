"""The customer page in the tenant's colours: its name, its logo and two colours.

Nothing comes from another host (the page's Content Security Policy forbids it, and a
customer's page must not tell a third party it was opened): the logo is inlined as a
`data:` URI, the colours are CSS custom properties in one small `<style>` element whose hash
the policy allows (`style-src 'self' 'sha256-...'`), so no inline style is allowed beyond it.

A logo that cannot be shown (missing, too large, not PNG or SVG) is left out with an error
log naming the file and the problem; the page itself always renders.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from infra.logging import get_logger
from infra.settings import Settings

log = get_logger("starter.pay_brand")

MAX_LOGO_BYTES = 256 * 1024
"""Inlined into every page view: a logo larger than this is a mistake, not a logo."""

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class LogoError(ValueError):
    """A logo file that cannot be shown; the message names the file and the problem."""


@dataclass(frozen=True)
class Brand:
    name: str
    logo_uri: str | None
    primary: str
    accent: str

    @property
    def style(self) -> str:
        """The `<style>` element's content: the colours as custom properties."""
        return f":root{{--brand-primary:{self.primary};--brand-accent:{self.accent}}}"

    @property
    def style_source(self) -> str:
        """The CSP source that allows exactly `style` and no other inline style."""
        digest = hashlib.sha256(self.style.encode()).digest()
        return f"'sha256-{base64.b64encode(digest).decode()}'"


def logo_kind(data: bytes) -> str:
    """The logo's media type from its content (not its name); LogoError if neither."""
    if data.startswith(_PNG_MAGIC):
        return "image/png"
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if (head.startswith((b"<?xml", b"<svg", b"<!--"))) and b"<svg" in data.lower():
        return "image/svg+xml"
    raise LogoError("not a PNG or SVG file")


def read_logo(path: Path) -> str:
    """The logo as a `data:` URI; LogoError (naming the file) if it cannot be one."""
    try:
        size = path.stat().st_size
        if size > MAX_LOGO_BYTES:
            raise LogoError(f"{path}: {size} bytes, more than {MAX_LOGO_BYTES}")
        data = path.read_bytes()
    except OSError as err:
        raise LogoError(f"{path}: {err.strerror or err}") from None
    try:
        kind = logo_kind(data)
    except LogoError as err:
        raise LogoError(f"{path}: {err}") from None
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


@lru_cache(maxsize=64)
def _cached_logo(path: Path, mtime_ns: int, size: int) -> str:
    return read_logo(path)


def logo_uri(path: Path | None, tenant: str) -> str | None:
    """The tenant's logo, read once per version of the file; None (logged) without one."""
    if path is None:
        return None
    try:
        stat = path.stat()
        return _cached_logo(path, stat.st_mtime_ns, stat.st_size)
    except OSError as err:
        log.error("brand logo not shown", tenant=tenant, error=f"{path}: {err.strerror or err}")
    except LogoError as err:
        log.error("brand logo not shown", tenant=tenant, error=str(err))
    return None


def brand_of(settings: Settings) -> Brand:
    """The tenant's brand: BRAND_NAME, else the first line of COMPANY_ADDRESS."""
    lines = settings.company_address_lines
    name = settings.brand_name or (lines[0] if lines else "")
    return Brand(
        name=name,
        logo_uri=logo_uri(settings.brand_logo_file, settings.tenant),
        primary=settings.brand_primary_color,
        accent=settings.brand_accent_color,
    )


def content_security_policy(brand: Brand | None) -> str:
    """The page's policy: nothing from another host; the brand's style and `data:` logo."""
    style = "'self'" + (f" {brand.style_source}" if brand else "")
    images = "'self' data:" if brand else "'self'"
    return (
        f"default-src 'none'; style-src {style}; img-src {images}; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
