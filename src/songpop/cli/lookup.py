"""songpop CLI: `songpop lookup`, a song's real features from the local catalogue."""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from songpop.cli.output import fail
from songpop.errors import SongpopError

_out = Console()


def lookup(
    query: str = typer.Argument(
        ..., help="A title, or a Spotify track link / URI / id.", show_default=False
    ),
    artist: str | None = typer.Option(None, "--artist", help="The artist, to narrow the search."),
    limit: int = typer.Option(5, "--limit", min=1, max=100, help="How many candidates at most."),
    as_json: bool = typer.Option(False, "--json", help="Print the candidates as JSON."),
) -> None:
    """Find a song in the local catalogue: its real features and its Hot 100 history.

    The catalogue is every track table of the data folder; each candidate shows title, artist,
    year, source file, match score, its features and what happened to it on the Hot 100.

    Titles match as the build matches charts to tracks (accents, "feat." and version tags
    ignored; fuzzy at 90 or above); a song that is not there gives no candidate.
    """
    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.inference.inputs.find import list_candidates

    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.inference.inputs.lookup import load_catalogue

    try:
        catalogue = load_catalogue()
        found = list_candidates(query, artist, limit=limit)
    except SongpopError as exc:
        raise fail(exc) from None
    if as_json:
        sys.stdout.write(json.dumps([c.to_dict() for c in found], indent=2, default=str) + "\n")
    else:
        table = Table(title=f"{len(found)} match(es) for {query!r} in {len(catalogue):,} tracks")
        for column in ("title", "artist", "when", "file", "match", "Hot 100"):
            table.add_column(column)
        for c in found:
            chart = (
                f"#{c.best_position}, {c.weeks_on_chart} wk"
                if c.charted
                else ("never" if c.charted is False else "?")
            )
            table.add_row(
                *map(escape, (c.title, c.artist, c.when, c.source_file)),
                f"{c.score:g} {c.how}",
                chart,
            )
        _out.print(table)
    if not found:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add `songpop lookup` to the root app."""
    app.command("lookup")(lookup)
