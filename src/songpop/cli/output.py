"""What every command prints besides its results: one error line for a user's mistake."""

from __future__ import annotations

import typer
from rich.console import Console

from songpop.errors import SongpopError

err = Console(stderr=True)
"""Standard error, for messages about the run (results go to standard output)."""


def fail(exc: SongpopError) -> typer.Exit:
    """Print a library error as one line for the user and return the Exit to raise.

    Use as `raise fail(exc) from None`: the exit code is the error's own (`exit_code`, 2 by
    default), never 0, and no traceback is shown.
    """
    err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(code=getattr(exc, "exit_code", 2) or 2)
