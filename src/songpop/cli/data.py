"""songpop CLI: data commands (`songpop data fetch`, `songpop data build`).

Thin commands: parse the options, call the library, print the outcome. Library errors
(`SongpopError`) are printed as one clear line and end the command with their exit code.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from songpop.errors import SongpopError

data_app = typer.Typer(
    help="Find, fetch and verify the raw data, and build the song table.",
    no_args_is_help=True,
)
_out = Console()
_err = Console(stderr=True)

DataDirOption = typer.Option(
    None,
    "--data-dir",
    help="Folder holding charts/, tracks/ and seed/ (default: $SONGPOP_DATA_DIR, else a "
    "per-user cache folder).",
)
NamesArgument = typer.Argument(
    None,
    help="Datasets to fetch (default: every default dataset of the registry).",
    show_default=False,
)


def fail(exc: SongpopError) -> typer.Exit:
    """Print a library error for the user and return the Exit to raise (non-zero code)."""
    _err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(code=getattr(exc, "exit_code", 2) or 2)


@data_app.command("fetch")
def fetch_command(
    names: list[str] | None = NamesArgument,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Find each registry dataset in the data folder, download what is missing, verify sha256.

    Prints one line per dataset: file, status (ok / fetched / missing / mismatch / unreadable)
    and rows. Exits non-zero when any dataset is missing or differs from the registry.
    """
    from songpop import config
    from songpop.sources import registry

    folder = config.data_dir(data_dir)
    try:
        reports = registry.fetch_all(names or None, folder)
    except SongpopError as exc:
        raise fail(exc) from exc
    table = Table(title=f"data folder: {folder}")
    table.add_column("dataset", overflow="fold")
    table.add_column("file", overflow="fold")
    table.add_column("status")
    table.add_column("rows", justify="right")
    colours = {"ok": "green", "fetched": "cyan"}
    for report in reports:
        colour = colours.get(report.status, "red")
        rows = f"{report.rows:,}" if report.rows is not None else "-"
        table.add_row(
            report.name,
            str(report.path.relative_to(folder)),
            f"[{colour}]{report.status}[/]",
            rows,
        )
    _out.print(table)
    bad = [r for r in reports if r.status not in ("ok", "fetched")]
    for report in bad:
        _err.print(f"[bold red]error:[/] {report.message}", highlight=False, soft_wrap=True)
    if bad:
        raise typer.Exit(code=2)


def register(app: typer.Typer) -> None:
    """Add the `data` command group to the root app."""
    app.add_typer(data_app, name="data", help="Find, fetch and verify the raw data; build songs.")
