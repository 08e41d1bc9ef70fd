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
from songpop.errors import InputError, SongpopError

_out = Console()
SOURCE_STYLE = {
    "measured": "green", "tags": "cyan", "estimated": "yellow", "default": "magenta",
    "reccobeats": "blue", "calibrated": "bright_green",
}  # fmt: skip
OnlineOption = typer.Option(
    False,
    "--online/--offline",
    help="Send up to three 30 s excerpts of each file to ReccoBeats' upload analysis and use "
    "its values in place of songpop's estimates (said before anything is sent; any failure "
    "keeps the local analysis). --offline, the default, never touches the network.",
)
PLAIN_BASIS: dict[str, str] = {
    "decoded samples": "the decoded audio",
    "date": "the file's date tag",
    "loudness_lufs": "loudness over the whole song",
    "rms_db": "average level",
    "dynamic_range_db": "loud-to-quiet range",
    "onset_rate": "notes per second",
    "spectral_flux": "how much the sound changes",
    "tempo_bpm": "the tracked beats",
    "tempo_distance_oct": "tempo's distance from 120 BPM",
    "beat_strength": "beat strength",
    "pulse_clarity": "how clear the pulse is",
    "beat_regularity": "how steady the beat is",
    "centroid_hz": "brightness",
    "flatness": "noisiness",
    "high_band_ratio": "treble share",
    "zcr_std": "changes in hiss and grit",
    "low_energy_share": "pauses",
    "mod4hz": "syllable-rate pulsing",
    "centroid_std_hz": "changes in brightness",
    "key_clarity": "how clearly it is in a key",
    "key_margin": "how far ahead the best key is",
    "major_clarity": "major against minor",
    "meter_confidence": "how clear the bar length is",
    "noise_floor_flatness": "background noise",
    "sounding_share": "share of the song with sound",
}
"""What each value rests on, in words, for the default table; the descriptor names
(`songpop.audio.describe.DESCRIPTORS`) are shown with --verbose and in --json."""


def plain_basis(name: str) -> str:
    """A descriptor (or tag) name in words; an estimate's own name ("estimate:energy") as
    "songpop's energy estimate"; anything else with spaces for underscores."""
    if name in PLAIN_BASIS:
        return PLAIN_BASIS[name]
    if name.startswith("estimate:"):
        return f"songpop's {name.removeprefix('estimate:')} estimate"
    return name.replace("_", " ")


CalibrationOption = typer.Option(
    None,
    "--calibration",
    help="A calibration file (songpop calibrate) whose fitted mappings replace the estimates "
    "where their held-out R² is 0.2 or more. Default: $SONGPOP_CALIBRATION.",
    show_default=False,
)


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
    online: bool = OnlineOption,
    calibration: Path | None = CalibrationOption,
    verbose: bool = typer.Option(
        False,
        "--verbose",
        help="Name the audio descriptors each value rests on (mod4hz, centroid_hz, ...) "
        "instead of saying them in words.",
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

    --online sends excerpts to ReccoBeats (its values are marked reccobeats); --calibration
    FILE applies a calibration from `songpop calibrate` (values marked calibrated, with their
    held-out error).
    """
    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.inference.inputs.audio import analysis_table

    fitted = load_calibration_option(calibration)
    if any(f.is_dir() for f in files):
        _analyze_folder_on_cluster(files, out, scheduler, online, calibration)
        return

    if out is not None and out.suffix.lower() not in (".parquet", ".csv", ".json"):
        raise fail(InputError(f"--out {out}: expected a .parquet, .csv or .json file name"))
    songs, failures = _run(files, online=online, calibration=fitted)
    for f in failures:
        err.print(f"[bold red]error:[/] {f.error}", highlight=False, soft_wrap=True)
    if out is not None and songs:
        # late: loads pyarrow, pandas, numpy (start-up)
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
            print_analysis(song, verbose=verbose)
    if failures:
        raise typer.Exit(code=1 if songs else 2)


def load_calibration_option(path: Path | None) -> Any:
    """The calibration of --calibration, else of $SONGPOP_CALIBRATION, else None; a file that
    cannot be used stops the command with one line naming it."""
    # late: loads numpy (start-up)
    from songpop.audio.calibrate import calibration_path, load_calibration

    chosen = calibration_path(path)
    if chosen is None:
        return None
    try:
        return load_calibration(chosen)
    except SongpopError as exc:
        raise fail(exc) from None


def _analyze_folder_on_cluster(
    files: list[Path],
    out: Path | None,
    scheduler: str | None,
    online: bool = False,
    calibration: Path | None = None,
) -> None:
    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.inference.dask_cluster import analyze_folder, scheduler_address

    if len(files) != 1:
        raise fail(InputError("give one FOLDER (or audio files, without a folder)"))
    if out is None or out.suffix.lower() not in (".parquet", ".csv"):
        raise fail(InputError("a FOLDER needs --out features.parquet (or .csv)"))
    address = scheduler_address(scheduler) or "local"
    from songpop.audio.calibrate import calibration_path  # late: loads numpy (start-up)

    chosen = calibration_path(calibration)
    options = {"online": online, "calibration": str(chosen) if chosen else None}
    if online:
        err.print(f"up to 3 excerpts of 30 s of each audio file in {files[0]} go to ReccoBeats "
                  "for analysis", highlight=False)  # fmt: skip
    try:
        summary = on_cluster(
            address, "analysing",
            lambda client, tick: analyze_folder(client, files[0], out, progress=tick, **options),
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


def _run(
    files: list[Path], *, online: bool = False, calibration: Any = None
) -> tuple[list[Any], list[Any]]:
    """Analyse the files (a progress bar for several); with `online`, ReccoBeats is asked and
    what leaves the machine is said before each file's first upload."""
    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.inference.inputs.audio import analyze_files

    paths = [str(f) for f in files]
    heard = None
    if online:
        from songpop.audio.online import OnlineAnalysis  # late: loads numpy (start-up)

        heard = OnlineAnalysis.from_environment(
            announce=lambda line: err.print(line, highlight=False, soft_wrap=True)
        )
    try:
        if len(paths) == 1:
            songs, failures = analyze_files(paths, online=heard, calibration=calibration)
        else:
            with progress("analysing") as tick:
                songs, failures = analyze_files(
                    paths, progress=lambda done, total, _path: tick(done, total),
                    online=heard, calibration=calibration,
                )  # fmt: skip
    finally:
        if heard is not None:
            heard.close()
    for song in songs:
        for note in song.notes:
            err.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)
    return songs, failures


def print_analysis(song: Any, *, verbose: bool = False) -> None:
    """One file's features as a table: value, source, what it rests on (in words; the
    descriptor names with `verbose`)."""
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
        if value.spread is not None:
            shown += f" ± {value.spread:.2f}"
        elif value.error is not None:
            shown += f" (± {value.error:.2f})"
        style = SOURCE_STYLE.get(value.source, "red")
        basis = ", ".join(value.basis if verbose else [plain_basis(b) for b in value.basis])
        if value.note and value.source in ("default", "unknown", "reccobeats", "calibrated"):
            basis = value.note
        table.add_row(name, shown, f"[{style}]{value.source}[/]", basis)
    _out.print(table)
    sources = {v.source for v in song.features.values()}
    if song.online is not None:
        n = len(song.online["excerpts"])
        _out.print(
            f"[blue]reccobeats[/] values are ReccoBeats' analysis of {n} excerpt"
            f"{'s' if n != 1 else ''} of 30 s (mean ± spread over them).",
            highlight=False,
        )
        if "tempo" in song.online:
            _out.print(f"tempo: {song.online['tempo']['said']}", highlight=False)
        if "loudness" in song.online:
            loud = song.online["loudness"]
            _out.print(f"loudness: ReccoBeats {loud['reccobeats_db']:.1f} dB on its scale, "
                       f"songpop {_number(loud['songpop_lufs'])} LUFS (integrated, whole song)",
                       highlight=False)  # fmt: skip
    if "calibrated" in sources and song.calibration is not None:
        _out.print(
            f"[bright_green]calibrated[/] values come from {song.calibration['file']} "
            f"({song.calibration['pairs']} pairs; ± its held-out mean absolute error).",
            highlight=False,
        )
    if "estimated" in sources:
        _out.print(
            "[yellow]estimated[/] values are songpop's uncalibrated estimates from audio "
            "descriptors, not Spotify's values; [green]measured[/] ones follow Spotify's "
            "definitions.",
            highlight=False,
        )


def _number(x: Any) -> str:
    return f"{x:.1f}" if isinstance(x, int | float) else "?"


def calibrate(
    folder: Path = typer.Argument(
        ..., help="A folder of your own released songs, tagged with title and artist."
    ),
    out: Path = typer.Option(..., "--out", help="The calibration file to write (.json)."),
    online: bool = typer.Option(
        False,
        "--online/--offline",
        help="Pair each file with ReccoBeats' analysis of its excerpts (sent to ReccoBeats) "
        "instead of the catalogue song its tags name.",
    ),
) -> None:
    """Fit songpop's estimates to real values from your own library.

    Each audio file under FOLDER is analysed and paired with real values: offline, the local
    catalogue's song its title and artist tags name; with --online, ReccoBeats' analysis of
    its excerpts. For every estimated feature and the loudness (LUFS to Spotify's dB) a small
    mapping is chosen and fitted, with its k-fold held-out R² and mean absolute error; the
    file (JSON) is then used by `songpop analyze --calibration FILE` (or
    $SONGPOP_CALIBRATION). A feature whose held-out R² is below 0.2 keeps its estimate.
    """
    from songpop.audio.calibrate import (  # late: loads numpy (start-up)
        MIN_PAIRS,
        MIN_R2,
        collect_pairs,
        fit_calibration,
        too_few,
        write_calibration,
    )

    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.inference.dask_cluster import audio_files

    if not folder.is_dir():
        raise fail(InputError(f"{folder}: not a folder; expected a folder of audio files"))
    if out.suffix.lower() != ".json":
        raise fail(InputError(f"--out {out}: expected a .json file name"))
    paths = [str(p) for p in audio_files(folder)]
    if len(paths) < MIN_PAIRS:
        raise fail(InputError(f"{folder}: {len(paths)} audio file(s); a calibration needs at "
                              f"least {MIN_PAIRS} paired songs"))  # fmt: skip
    heard = catalogue = None
    try:
        if online:
            from songpop.audio.online import OnlineAnalysis  # late: loads numpy (start-up)

            heard = OnlineAnalysis.from_environment(
                announce=lambda line: err.print(line, highlight=False, soft_wrap=True)
            )
        else:
            # late: loads pyarrow, pandas, numpy (start-up)
            from songpop.inference.inputs.lookup import load_catalogue

            catalogue = load_catalogue()
        with progress("pairing") as tick:
            collected = collect_pairs(paths, catalogue=catalogue, online=heard, progress=tick)
        if len(collected.pairs) < MIN_PAIRS:
            raise too_few(str(folder), collected)
        fitted = fit_calibration(collected.pairs, "reccobeats" if online else "catalogue")
        write_calibration(fitted, collected.pairs, out)
    except SongpopError as exc:
        raise fail(exc) from None
    finally:
        if heard is not None:
            heard.close()
    table = Table(title=f"{len(collected.pairs)} pairs of {collected.files} files "
                  f"({fitted.source}), {len(fitted.mappings)} features")  # fmt: skip
    for column in ("feature", "mapping", "held-out R²", "held-out MAE", "used"):
        table.add_column(column)
    for name, m in fitted.mappings.items():
        used = "yes" if m.applied else f"no (R² < {MIN_R2})"
        what = m.model["kind"] + (f" of {m.model['input']}" if "input" in m.model else "")
        table.add_row(name, what, f"{m.r2:.2f}", f"{m.mae:.3g}", used)
    _out.print(table)
    err.print(f"calibration written to {out}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `songpop analyze` and `songpop calibrate` to the root app."""
    app.command("analyze")(analyze)
    app.command("calibrate")(calibrate)
