"""The root command both programs share, `journeys` and `python -m journeys.ops_cli`.

Its own module, importing only Typer, so that the worker container's healthcheck
(`python -m journeys.ops_cli worker-health`) does not load what `journeys.command` brings.
"""

from __future__ import annotations

import typer


def program(name: str, help_text: str) -> typer.Typer:
    """A program's root command: help when called bare, no shell-completion options, and no
    rich tracebacks (known failures are printed as one line; an unknown one keeps Python's
    plain traceback)."""
    return typer.Typer(
        name=name,
        help=help_text,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
