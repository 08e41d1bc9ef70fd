"""What every command prints besides its results: one error line for a user's mistake."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from songpop.errors import SongpopError

T = TypeVar("T")
err = Console(stderr=True)
"""Standard error, for messages about the run (results go to standard output)."""


def fail(exc: SongpopError) -> typer.Exit:
    """Print a library error as one line for the user and return the Exit to raise.

    Use as `raise fail(exc) from None`: the exit code is the error's own (`exit_code`, 2 by
    default), never 0, and no traceback is shown.
    """
    err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    return typer.Exit(code=getattr(exc, "exit_code", 2) or 2)


def note_left_out(what: str, extra: str) -> None:
    """Say on standard error that `what` is left out because the optional group `extra` is not
    installed, with the command that installs it (one line, never wrapped)."""
    # late: config is plain, but keeps this module's imports to the console
    from songpop.config import missing_extra_message

    why = missing_extra_message("it", extra)
    err.print(f"note: {what} is left out: {why}", markup=False, highlight=False, soft_wrap=True)


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
    """Connect to Dask (`inference.dask_cluster.connect`), say where, run `work(client, tick)`
    under a progress bar, and close the client whatever happens.

    Raises:
        SongpopError: the scheduler cannot be reached (or `work` refuses its input).
    """
    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.inference.dask_cluster import connect

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


class RunView:
    """What a long job shows while it runs, from its `songpop.progress` events.

    - "rich" (a terminal): a live view on standard error: a line per running stage with a
      spinner and its elapsed time, a bar per running model search (fits done of planned,
      elapsed and remaining time, the best cross-validated accuracy so far), and a "✓" line
      as each stage ends;
    - "plain" (CI, a log file): one timestamped line as each stage starts and ends and as each
      model search finishes;
    - "quiet": nothing while it runs.

    Use as a context manager and pass the view itself as the job's `hook`.
    """

    def __init__(self, mode: str = "rich", console: Console = err) -> None:
        if mode not in ("rich", "plain", "quiet"):
            raise typer.BadParameter(f"--log-format {mode!r}: expected rich or plain")
        self.mode, self.console = mode, console
        self._rows: dict[tuple[str, str], Any] = {}
        self._progress: Any = None

    def __enter__(self) -> RunView:
        if self.mode == "rich":
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[best]}"),
                console=self.console,
                transient=True,
            )
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
            self._progress = None

    def __call__(self, event: Any) -> None:
        if self.mode == "quiet":
            return
        if event.kind == "stage":
            self._stage(event)
        elif event.kind == "search":
            self._search(event)

    def _stage(self, event: Any) -> None:
        key = (event.stage, "")
        if event.seconds is None:  # a stage starts
            if self._progress is not None:
                self._rows[key] = self._progress.add_task(event.stage, total=None, best="")
            else:
                self._line(f"{event.stage}: started")
            return
        if key in self._rows:
            self._progress.remove_task(self._rows.pop(key))
        reused = f" (reused from run {event.reused})" if event.reused else ""
        if self._progress is not None:
            self.console.print(
                f"[green]✓[/green] {event.stage:<12} {event.seconds:7.1f} s{reused}",
                highlight=False,
            )
        else:
            self._line(f"{event.stage}: done in {event.seconds:.1f} s{reused}")

    def _search(self, event: Any) -> None:
        key = (event.stage, event.label)
        best = f"best CV {event.best:.3f}" if event.best is not None else ""
        finished = event.done >= event.total
        if self._progress is None:
            if finished:
                self._line(f"{event.stage} {event.label}: {event.total} fits, {best}")
            return
        if key not in self._rows:
            self._rows[key] = self._progress.add_task(
                f"{event.stage} · {event.label}", total=event.total, best=best
            )
        self._progress.update(self._rows[key], completed=event.done, best=best)
        if finished:
            self._progress.remove_task(self._rows.pop(key))

    def _line(self, text: str) -> None:
        from datetime import datetime

        self.console.print(
            f"{datetime.now():%H:%M:%S} {text}", highlight=False, soft_wrap=True, markup=False
        )
