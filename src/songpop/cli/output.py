"""What every command prints besides its results: one error line for a user's mistake."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer
from rich.console import Console

from songpop.errors import SongpopError

T = TypeVar("T")
err = Console(stderr=True)
"""Standard error, for messages about the run (results go to standard output)."""


def fail(exc: SongpopError) -> typer.Exit:
    """Print a library error as one line for the user and return the Exit to raise.

    Use as `raise fail(exc) from None`: the exit code is the error's own (`exit_code`, 2 by
    default), never 0, and no traceback is shown.
    """
    err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(code=getattr(exc, "exit_code", 2) or 2)


@contextmanager
def progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on standard error; yields `tick(done, total)` for the library to call."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn(label), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def on_cluster(address: str, label: str, work: Callable[[Any, Callable[[int, int], None]], T]) -> T:
    """Connect to Dask (`inference.cluster.connect`), say where, run `work(client, tick)` under a
    progress bar, and close the client whatever happens.

    Raises:
        SongpopError: the scheduler cannot be reached (or `work` refuses its input).
    """
    from songpop.inference.cluster import connect

    client = connect(address)
    try:
        info = client.scheduler_info()
        link = getattr(client, "dashboard_link", None)
        shown = f"; dashboard {link}" if link and _dashboard_runs(client, info) else ""
        err.print(f"Dask: {address} ({len(info['workers'])} workers){shown}", highlight=False)
        with progress(label) as tick:
            return work(client, tick)
    finally:
        client.close()


def _dashboard_runs(client: Any, info: dict[str, Any]) -> bool:
    """Whether the scheduler serves a dashboard: it needs bokeh, which songpop does not install
    (an embedded cluster's dashboard only exists when bokeh is importable here)."""
    import importlib.util

    local = getattr(client, "cluster", None) is not None
    has = "dashboard" in info.get("services", {})
    return has and (not local or importlib.util.find_spec("bokeh") is not None)
