"""`journeys tenants add` · `list` · `show` · `remove`: the creditor companies one deployment
serves.

A tenant is registered in the control store (infra/tenants.py) with the settings it sets for
itself and, for its secrets, the names of the environment variables that hold them: a secret
never reaches the store, the command line's history or its output. `add` refuses a profile
the worker could not use (the same check, `check_profile`, the worker and the API make), makes
and migrates the tenant's store, and only then registers it, so that a registered tenant
always has a store. `remove` unregisters one and keeps its store (erasing its rows is a step
of its own, docs/production.md section 7).

Exit statuses: 0 done, 1 refused or not found (the message names the problem), 2 the command
line or the configuration is unusable. Only the store is touched (no Temporal), so these
commands exit normally, as `journeys keys` does.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import typer
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from domain.policies import PolicyConfigError, format_validation_error
from domain.tenants import DEFAULT_TENANT
from infra.logging import mask_url_secrets
from infra.settings import Settings
from infra.tenants import (
    TENANT_SECRETS,
    TenantConfigError,
    TenantHasKeys,
    TenantProfile,
    UnknownTenant,
    check_profile,
    delete_profile,
    profile_json,
    read_profile,
    read_profiles,
    save_profile,
)
from journeys.command import UserError, err, load_settings, out
from journeys.db_cli import one_line

tenants_app = typer.Typer(
    help="Tenants: the creditor companies this deployment serves, each with its own settings, "
    "secrets and store.",
    no_args_is_help=True,
)

PATH_SETTINGS = frozenset({"policy_file", "templates_dir", "brand_logo_file"})
"""Saved as absolute paths: the worker and the API may run from another directory."""

_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class PairOption(NamedTuple):
    """A repeatable `KEY=...` option of `add`, read by `parse_pairs`: its help and its errors
    give the same example."""

    metavar: str
    example: str
    meaning: str


_PAIR_OPTIONS = {
    "--set": PairOption(
        "KEY=VALUE",
        "POLICY_FILE=config/policies-gentle.toml",
        "A setting of the tenant's own (KEY as its variable, or in lower case)",
    ),
    "--secret": PairOption(
        "KEY=ENV_VAR",
        "SENDGRID_API_KEY=ACME_SENDGRID_API_KEY",
        "A secret: the environment variable that holds it (the worker and the API read it there)",
    ),
}


def _pairs(option: str) -> Any:
    spec = _PAIR_OPTIONS[option]
    return typer.Option(
        option,
        metavar=spec.metavar,
        help=f"{spec.meaning}, e.g. {option} {spec.example}; repeat for more.",
    )


class Refused(Exception):
    """The tenant cannot be registered as given (exit 1); the message says why."""


class Usage(Exception):
    """The command line itself is wrong (exit 2)."""


def _fail(status: int, message: str) -> typer.Exit:
    err.print(f"error: {message}", markup=False)
    return typer.Exit(status)


def _settings() -> Settings:
    try:
        return load_settings()
    except UserError as e:
        raise _fail(2, str(e)) from None


def _control_store(settings: Settings) -> None:
    """The registry's table exists (as `journeys keys` makes sure of the keys')."""
    from infra.migrations import init_db

    init_db(settings.store_url)


# --- parsing and checking a profile ---------------------------------------------------------


def parse_pairs(option: str, pairs: list[str]) -> dict[str, str]:
    """`KEY=VALUE` pairs by setting name (lower case; `POLICY_FILE` and `policy_file` alike).
    A malformed pair is named by its key only: its value may be a secret typed by mistake."""
    found: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        key = key.strip().lower()
        if not equals or not key:
            raise Usage(f"{option} takes KEY=VALUE, e.g. {option} {_PAIR_OPTIONS[option].example}")
        if key in found:
            raise Usage(f"{option} {key.upper()} is given twice")
        if not value:
            raise Usage(
                f"{option} {key.upper()}= has no value; leave it out to use the deployment's"
            )
        found[key] = value
    return found


def build_profile(
    tenant: str, name: str, values: dict[str, str], secrets: dict[str, str]
) -> TenantProfile:
    for key, variable in secrets.items():
        if not _VARIABLE.match(variable):
            # Not echoed: what is not a variable's name may be the secret itself.
            raise Refused(
                f"--secret {key.upper()}=...: after '=' comes the NAME of the environment "
                "variable that holds the secret (e.g. ACME_SENDGRID_API_KEY), not its value"
            )
    values = {
        key: str(Path(value).expanduser().resolve()) if key in PATH_SETTINGS else value
        for key, value in values.items()
    }
    try:
        return TenantProfile(id=tenant, name=name, settings=values, secrets=secrets)
    except ValidationError as e:
        raise Refused(format_validation_error(e)) from None


def check(profile: TenantProfile, base: Settings) -> list[str]:
    """Refuse what the worker would refuse; the warnings, for secrets whose variable is not
    set here (the worker and the API must have them, this command need not)."""
    if profile.id == DEFAULT_TENANT:
        raise Refused("the default tenant is configured by the environment (.env), not registered")
    unset = {k: v for k, v in profile.secrets.items() if not os.environ.get(v)}
    for key in unset:
        if key not in TENANT_SECRETS:  # named as check_profile names it
            _check(profile.model_copy(update={"settings": {}, "secrets": {key: unset[key]}}), base)
    present = {k: v for k, v in profile.secrets.items() if k not in unset}
    settings = _check(profile.model_copy(update={"secrets": present}), base)
    if "policy_file" in profile.settings:
        from infra.policy_file import load_policies

        try:
            load_policies(settings.policy_file)
        except PolicyConfigError as e:
            raise Refused(f"tenant {profile.id}: POLICY_FILE: {e}") from None
    for key, wanted in (("templates_dir", Path.is_dir), ("brand_logo_file", Path.is_file)):
        if key in profile.settings and not wanted(Path(profile.settings[key])):
            raise Refused(f"tenant {profile.id}: {key.upper()}: {profile.settings[key]} not found")
    return [
        f"{variable} (the tenant's {key.upper()}) is not set here; "
        "the worker and the API must have it"
        for key, variable in unset.items()
    ]


def _check(profile: TenantProfile, base: Settings) -> Settings:
    try:
        return check_profile(profile, base)
    except TenantConfigError as e:
        raise Refused(str(e)) from None


# --- the commands -----------------------------------------------------------------------------


@tenants_app.command("add")
def add(
    tenant: Annotated[
        str, typer.Argument(metavar="ID", help="The tenant's id, e.g. acme (a-z, 0-9, '-').")
    ],
    name: Annotated[
        str, typer.Option("--name", metavar="NAME", help="The company's name, e.g. 'Acme AB'.")
    ],
    set_: Annotated[list[str] | None, _pairs("--set")] = None,
    secret: Annotated[list[str] | None, _pairs("--secret")] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Change a registered tenant: its whole profile.")
    ] = False,
) -> None:
    """Register a tenant (or change it with --replace), then make and migrate its store."""
    from infra import migrations

    base = _settings()
    try:
        values, secrets = parse_pairs("--set", set_ or []), parse_pairs("--secret", secret or [])
        profile = build_profile(tenant, name, values, secrets)
        warnings = check(profile, base)
        _control_store(base)
        existing = read_profile(base.store_url, profile.id)
        if existing is not None and not replace:
            raise Refused(f"tenant {profile.id} exists; --replace changes it")
        for warning in warnings:
            err.print(f"warning: {warning}", markup=False)
        try:
            url = migrations.upgrade_tenant(base, profile)
        except TenantConfigError as e:  # its own DATABASE_URL's variable is not set here
            raise Refused(f"{e}: its store cannot be made; set it and run this again") from None
        save_profile(base.store_url, profile, replace=replace)
    except Usage as e:
        raise _fail(2, str(e)) from None
    except Refused as e:
        raise _fail(1, str(e)) from None
    except (SQLAlchemyError, migrations.MigrationError) as e:
        raise _fail(1, f"the store: {one_line(e)}") from None
    verb = "changed" if existing is not None else "registered"
    out.print(f"tenant {profile.id} ({profile.name}) {verb}", markup=False)
    out.print(f"its store: {mask_url_secrets(url)} (at {migrations.current(url)})", markup=False)


@tenants_app.command("list")
def list_tenants(
    as_json: Annotated[bool, typer.Option("--json", help="As a JSON array.")] = False,
) -> None:
    """Every tenant, the default one first: its store, its senders and its policy file."""
    base = _settings()
    _control_store(base)
    rows = [summary(base, None)] + [summary(base, p) for p in read_profiles(base.store_url)]
    if as_json:
        out.print(json.dumps(rows, indent=2), markup=False)
        return
    for row in rows:
        out.print(f"{row['id']}  {row['name']}", markup=False)
        out.print(f"    store:   {row['store']}", markup=False)
        senders = ", ".join(s for s in (row["from_email"], row["from_number"]) if s)
        out.print(f"    senders: {senders}", markup=False)
        out.print(f"    policy:  {row['policy_file']}", markup=False)


@tenants_app.command("show")
def show(
    tenant: Annotated[str, typer.Argument(metavar="ID", help="The tenant's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="The profile as JSON.")] = False,
) -> None:
    """A tenant's profile: its settings, and its secrets by their variables' names only."""
    base = _settings()
    _control_store(base)
    if tenant == DEFAULT_TENANT:
        profile = TenantProfile(id=DEFAULT_TENANT, name=_default_name(base))
    else:
        found = read_profile(base.store_url, tenant)
        if found is None:
            raise _fail(1, str(UnknownTenant(tenant).args[0]))
        profile = found
    if as_json:
        out.print(profile_json(profile), markup=False)
        return
    row = summary(base, None if tenant == DEFAULT_TENANT else profile)
    out.print(f"tenant {profile.id}: {profile.name}", markup=False)
    out.print(f"store: {row['store']}", markup=False)
    if tenant == DEFAULT_TENANT:
        out.print("settings: the environment's (.env), as every tenant's defaults", markup=False)
        return
    out.print("settings:" + ("" if profile.settings else " none of its own"), markup=False)
    for key, value in sorted(profile.settings.items()):
        out.print(f"  {key.upper()}={value}", markup=False)
    out.print("secrets:" + ("" if profile.secrets else " none of its own"), markup=False)
    for key, variable in sorted(profile.secrets.items()):
        out.print(f"  {key.upper()} from ${variable}", markup=False)


@tenants_app.command(
    "remove",
    epilog="Only the store is touched, not Temporal: the running journeys of a removed tenant "
    "stop getting deliveries (the workers of its delivery queues stop within "
    "WORKER_TENANT_REFRESH_SECONDS), so cancel or finish them first; in the Temporal UI the "
    'filter is Tenant = "ID".',
)
def remove(
    tenant: Annotated[str, typer.Argument(metavar="ID", help="The tenant's id.")],
    revoke_keys: Annotated[
        bool,
        typer.Option(
            "--revoke-keys", help="Revoke the API keys scoped to the tenant, in the same step."
        ),
    ] = False,
) -> None:
    """Unregister a tenant; its store is kept (its rows are erased separately). Refused while
    API keys scoped to it are active, unless --revoke-keys."""
    base = _settings()
    _control_store(base)
    if tenant == DEFAULT_TENANT:
        raise _fail(
            1, "the default tenant is configured by the environment (.env): it cannot be removed"
        )
    try:
        profile = read_profile(base.store_url, tenant)
        if profile is None:
            raise UnknownTenant(tenant)
        store = summary(base, profile)["store"]
        revoked = delete_profile(base.store_url, tenant, revoke_keys=revoke_keys)
    except (UnknownTenant, TenantHasKeys) as e:
        raise _fail(1, str(e.args[0])) from None
    except SQLAlchemyError as e:
        raise _fail(1, f"the store: {one_line(e)}") from None
    out.print(f"tenant {tenant} ({profile.name}) removed from the registry", markup=False)
    if revoked:
        out.print(f"its API keys revoked: {', '.join(revoked)}", markup=False)
    out.print(
        f"its store is kept: {store} (its rows are erased separately; `journeys tenants add "
        f"{tenant}` would serve it again)",
        markup=False,
    )
    out.print(
        "running workers stop its deliveries within WORKER_TENANT_REFRESH_SECONDS; its "
        f'journeys still running (Temporal UI: Tenant = "{tenant}") get no more deliveries',
        markup=False,
    )


def summary(base: Settings, profile: TenantProfile | None) -> dict[str, Any]:
    """What `list` shows of a tenant (None: the default one), read from its profile: nothing
    here needs the tenant's secrets."""
    from infra.tenants import tenant_store

    if profile is None:
        name, values, store = _default_name(base), {}, base.store_url
    else:
        name, values = profile.name, profile.settings
        variable = profile.secrets.get("database_url")
        store = f"${variable}" if variable else tenant_store(base, profile)
    return {
        "id": DEFAULT_TENANT if profile is None else profile.id,
        "name": name,
        "store": mask_url_secrets(store),
        "from_email": values.get("sendgrid_from_email", base.sendgrid_from_email),
        "from_number": values.get("twilio_from_number", base.twilio_from_number),
        "policy_file": values.get("policy_file", str(base.policy_file)),
    }


def _default_name(base: Settings) -> str:
    return base.brand_name or "(the deployment's own settings)"
