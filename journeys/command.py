"""What every `journeys` command shares: its consoles, one-line user errors, and its exit.

Every command ends through `infra.process.leave`, which flushes and calls `os._exit`, so
that the known abort of a process that used a Temporal client in interpreter shutdown
(temporalio/sdk-python#300) never turns a successful import or status call into a failure
for scripts that check the exit status.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec

import typer
from pydantic import ValidationError
from rich.console import Console

from domain.policies import PolicyConfigError, format_validation_error
from domain.tenants import DEFAULT_TENANT
from infra.logging import configure_logging
from infra.process import leave
from infra.settings import Settings

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

P = ParamSpec("P")


class UserError(Exception):
    """A problem the user can fix; printed as one line, no traceback."""


def load_settings() -> Settings:
    """The settings from the environment, or a one-line `UserError` naming the bad one."""
    try:
        return Settings()
    except ValidationError as e:
        raise UserError(f"bad configuration: {format_validation_error(e)}") from None


TENANT_HELP = "The tenant (creditor company) whose data this is; default: the default tenant."


def tenant_settings(tenant: str | None, base: Settings | None = None) -> Settings:
    """The settings of the tenant a command names with `--tenant`, refused as the API refuses
    `?tenant=` (starter/tenancy.py), as a one-line `UserError`. The default tenant's are the
    environment's, without a look at the store (`journeys status` needs only Temporal); any
    other is read from the registry in the control store (`journeys tenants add` made and
    migrated its store)."""
    from starter.tenancy import TenantRefused, resolve_tenant

    base = base or load_settings()
    if tenant in (None, DEFAULT_TENANT):
        return base
    try:
        return resolve_tenant(base, tenant)
    except TenantRefused as e:
        raise UserError(f"--tenant: {e.problem}") from None


def command(fn: Callable[P, int | None]) -> Callable[P, None]:
    """Run a command body, turn known failures into one-line messages, and leave via `leave`."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        status = 1
        try:
            configure_command_logging()
            status = fn(*args, **kwargs) or 0
        except typer.Exit as e:
            status = e.exit_code
        except KeyboardInterrupt:
            status = 130
        except (UserError, PolicyConfigError) as e:
            err.print(f"error: {e}", markup=False)
        except Exception as e:
            if is_connect_error(e):
                err.print(
                    f"error: cannot reach Temporal ({e}); is `journeys dev` or the Temporal "
                    "server running, and is TEMPORAL_ADDRESS right?",
                    markup=False,
                )
            else:
                err.print_exception()
        leave(status)

    return run


def is_connect_error(e: Exception) -> bool:
    return isinstance(e, RuntimeError) and "Failed client connect" in str(e)


def configure_command_logging() -> None:
    """Once a command really runs (not for --help, not for a mounted sub-app): JSON with
    LOG_FORMAT=json. Process-wide, which is why it is not done on import or in the callback."""
    try:
        settings = Settings()
    except ValidationError:
        return  # the command itself reports bad configuration
    configure_logging(settings.log_format, settings.log_level)
