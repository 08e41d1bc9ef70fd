"""The `songpop` command line: thin Typer commands that parse, call the library and print.

Each module here registers its commands on the root app; none holds logic of its own.
"""

from __future__ import annotations

import logging

import typer

from songpop.cli import audio, data, explore, lookup, models, predict, run, serve

app = typer.Typer(
    name="songpop",
    help="Learn what makes songs popular from chart and audio-feature data, and predict it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages."),
) -> None:
    """songpop: song popularity from public chart and audio-feature data."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


for _module in (audio, data, explore, lookup, models, predict, serve, run):
    _module.register(app)
