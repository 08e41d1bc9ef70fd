"""songpop CLI: `explore` (correlations and figures of a song table) and `report` (HTML page)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from songpop.cli.output import fail
from songpop.errors import InputError, SongpopError


def explore(
    songs: Annotated[
        Path,
        typer.Option(
            "--songs",
            help="The song table written by `songpop data build` (songs.parquet).",
            dir_okay=False,
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Folder for the CSVs, figures (PNG + SVG) and section.json.",
            file_okay=False,
        ),
    ],
) -> None:
    """Correlations with popularity, class balance, per-level distributions and decade trends.

    Reads DIR/songs.parquet (and build.json plus the match audit beside it when present) and
    writes the report's exploration and data sections.
    """
    from songpop.report.sections import explore_sections  # late: matplotlib is slow to import

    try:
        result = explore_sections(songs, out, progress=True)
    except SongpopError as exc:
        raise fail(exc) from None
    typer.echo(f"{result.n_songs:,} songs; correlation with {result.target} (Pearson, Spearman):")
    for row in result.correlations.itertuples(index=False):
        typer.echo(f"  {row.feature:<18} {row.pearson:+.3f}  {row.spearman:+.3f}")
    typer.echo(f"wrote {len(result.files)} files and {len(result.sections)} section(s) to {out}")


def report(
    run: Annotated[
        Path,
        typer.Option(
            "--run",
            help="The run folder; every section.json below it is rendered.",
            file_okay=False,
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="The HTML file (default: reports/<run>/index.html).", dir_okay=False
        ),
    ] = None,
    readme: Annotated[
        Path | None,
        typer.Option(
            "--readme",
            help="Also put the run's figures (facts.md) between the facts markers of this README.",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Write one self-contained HTML report of a run (figures embedded) and copy its figures."""
    from songpop.report import write_report  # late: loads pyarrow, pandas, numpy (start-up)

    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.report.facts import facts_markdown, run_facts, update_readme

    try:
        path = write_report(run, out)
        typer.echo(f"report written to {path}")
        if readme is not None:
            changed = update_readme(readme, facts_markdown(run_facts(run)))
            typer.echo(f"{readme}: " + (f"figures of {run.name} written" if changed else "as is"))
    except SongpopError as exc:
        raise fail(exc) from None
    except OSError as exc:
        raise fail(InputError(f"{exc.filename or readme}: {exc.strerror}")) from None


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("explore")(explore)
    app.command("report")(report)
