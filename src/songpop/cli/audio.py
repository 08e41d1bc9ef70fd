"""songpop CLI: `songpop analyze FILE...`, an audio file's features with where each came from.

A thin layer over `songpop.audio.analyze` and the audio input adapter
(`songpop.inference.inputs.audio`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from songpop import vocabulary
from songpop.cli.output import err, fail, on_cluster, progress
from songpop.errors import InputError

_out = Console()
SOURCE_STYLE = {"measured": "green", "tags": "cyan", "estimated": "yellow", "default": "magenta"}


def analyze(
    files: list[Path] = typer.Argument(
        ..., help="Audio files: mp3, wav, flac, ogg/opus (m4a/aac with ffmpeg installed)."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the analyses as JSON (features, sources, tags, descriptors)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Write one row per file to a .parquet, .csv or .json file."
    ),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help="For a FOLDER: analyse on Dask: 'local' (an embedded cluster, the default), "
        "tcp://host:8786, or a scheduler file. Default: $SONGPOP_SCHEDULER.",
    ),
) -> None:
    """Analyse audio files: measured features, uncalibrated estimates, and the tags.

    Measured: duration, tempo, key, mode, loudness, time signature. Estimated (never Spotify's
    values): energy, danceability, acousticness, instrumentalness, speechiness, liveness,
    valence.

    Each value says where it came from: measured, estimated, tags, default or unknown. A file
    that cannot be read is reported and the others go on; the exit code is then 1.

    A FOLDER (with --out .parquet or .csv) is analysed on Dask, one task per file; files already
    in --out are skipped, so an interrupted run resumes; failures go to <out>.failures.csv.
    """
    from songpop.inference.inputs.audio import analysis_table

    if any(f.is_dir() for f in files):
        _analyze_folder_on_cluster(files, out, scheduler)
        return

    if out is not None and out.suffix.lower() not in (".parquet", ".csv", ".json"):
        raise fail(InputError(f"--out {out}: expected a .parquet, .csv or .json file name"))
    songs, failures = _run(files)
    for f in failures:
        err.print(f"[bold red]error:[/] {f.error}", highlight=False, soft_wrap=True)
    if out is not None and songs:
        from songpop.io import write_csv_atomic, write_json_atomic, write_parquet_atomic

        if out.suffix.lower() == ".json":
            write_json_atomic([s.to_dict() for s in songs], out)
        elif out.suffix.lower() == ".csv":
            write_csv_atomic(analysis_table(songs), out)
        else:
            write_parquet_atomic(analysis_table(songs), out)
        err.print(f"{len(songs)} file(s) written to {out}")
    if as_json:
        sys.stdout.write(json.dumps([s.to_dict() for s in songs], indent=2, default=str) + "\n")
    elif out is None:
        for song in songs:
            print_analysis(song)
    if failures:
        raise typer.Exit(code=1 if songs else 2)


def _analyze_folder_on_cluster(files: list[Path], out: Path | None, scheduler: str | None) -> None:
    from songpop.errors import SongpopError
    from songpop.inference.cluster import analyze_folder, scheduler_address

    if len(files) != 1:
        raise fail(InputError("give one FOLDER (or audio files, without a folder)"))
    if out is None or out.suffix.lower() not in (".parquet", ".csv"):
        raise fail(InputError("a FOLDER needs --out features.parquet (or .csv)"))
    address = scheduler_address(scheduler) or "local"
    try:
        summary = on_cluster(
            address, "analysing",
            lambda client, tick: analyze_folder(client, files[0], out, progress=tick),
        )  # fmt: skip
    except SongpopError as exc:
        raise fail(exc) from None
    _out.print(
        f"{summary['files']} audio file(s) in {files[0]}: {summary['analysed']} analysed, "
        f"{summary['skipped']} already in {out}, {summary['failed']} failed"
        + (f" (see {summary['failures']})" if summary["failures"] else ""),
        highlight=False,
    )
    if summary["failed"]:
        raise typer.Exit(code=1)


def _run(files: list[Path]) -> tuple[list[Any], list[Any]]:
    from songpop.inference.inputs.audio import analyze_files

    paths = [str(f) for f in files]
    if len(paths) == 1:
        return analyze_files(paths)
    with progress("analysing") as tick:
        return analyze_files(paths, progress=lambda done, total, path: tick(done, total))


def print_analysis(song: Any) -> None:
    """One file's features as a table: value, source, what it rests on."""
    tags = song.tags
    named = " – ".join(x for x in (tags.artist, tags.title) if x)
    title = f"{song.path}" + (f" ({named})" if named else "")
    table = Table(title=title)
    table.add_column("feature")
    table.add_column("value", justify="right")
    table.add_column("source")
    table.add_column("from")
    for name, value in song.features.items():
        shown = (
            vocabulary.format_value(name, float(value.value)) if value.value is not None else "?"
        )
        style = SOURCE_STYLE.get(value.source, "red")
        basis = ", ".join(value.basis)
        if value.note and value.source in ("default", "unknown"):
            basis = value.note
        table.add_row(name, shown, f"[{style}]{value.source}[/]", basis)
    _out.print(table)
    _out.print(
        "[yellow]estimated[/] values are songpop's uncalibrated estimates from audio "
        "descriptors, not Spotify's values; [green]measured[/] ones follow Spotify's definitions.",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add `songpop analyze` to the root app."""
    app.command("analyze")(analyze)
