"""Build the song table: read the sources, run the prepare steps, write every stage's table.

This is the I/O edge of the prepare stage. `build_dataset` reads the chart and track files with
`songpop.sources`, runs the pure steps of `songpop.prepare` and writes into `out_dir`:

* ``chart_weeks.parquet``  cleaned chart weeks (canonical columns)
* ``chart_songs.parquet``  one row per chart song with its chart history
* ``tracks.parquet``       cleaned tracks with their parsed artists and match keys
* ``matched.parquet``      every track with its chart match (before one-per-song selection)
* ``songs.parquet``        one row per song with `score` and `level` (docs/architecture.md)
* ``build.json``           profile, label parameters, inputs with sha256, rows per stage, ...
* ``match_audit.json``, ``match_weakest.csv``, ``match_unmatched_sample.csv``

Everything is computed in memory first and written to a staging folder inside `out_dir`; the
files are moved into place only when all of them were written, so a failure leaves the folder
as it was. Raw inputs are only read.

Profiles: ``default`` (songpop's rules, every track table, fuzzy matching) and ``seed`` (the
original project's rules from NOTES.md, to reproduce its 9,516 songs).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from songpop import config
from songpop.errors import DataNotFoundError, InputError, LayoutError, SchemaError
from songpop.io import (
    recover_dir,
    replace_dir,
    temp_prefix,
    umask,
    write_csv_atomic,
    write_json_atomic,
    write_parquet_atomic,
)
from songpop.prepare.charts import aggregate_chart_songs, aggregate_seed_charts
from songpop.prepare.clean import Cleaned, clean_charts, clean_tracks
from songpop.prepare.history import artist_years, history_before
from songpop.prepare.label import hit_levels, label_songs
from songpop.prepare.match import (
    DEFAULT_THRESHOLD,
    match_audit,
    match_tracks,
    seed_join,
    select_one_per_song,
)
from songpop.prepare.normalize import add_keys, normalize_text, split_artists
from songpop.sources import registry
from songpop.sources.charts import read_charts
from songpop.sources.tracks import read_tracks

log = logging.getLogger(__name__)

PROFILES: tuple[str, ...] = ("default", "seed")
# Default inputs, as names of `songpop.sources.registry` datasets.
DEFAULT_CHARTS = "hot100_weekly"
SEED_CHARTS = "hot_stuff_reconstructed"
SEED_TRACKS: tuple[str, ...] = ("spotify_1921_2020_seed_matched",)
DEFAULT_TRACKS: tuple[str, ...] = (
    "tidytuesday_spotify_2020",
    "hit_predictor_dev",
    "spotify_1921_2020_seed_matched",
)
DEFAULT_LABEL = {"default": "composite", "seed": "spotify"}
TASKS: tuple[str, ...] = ("chart-chance",)
"""Builds with a question of their own (`build_dataset(task=...)`)."""
CHART_CHANCE_TRACKS: tuple[str, ...] = ("tidytuesday_spotify_2020",)
"""The chart-chance task's default tracks: released tracks picked by playlist genre, not by their
chart history (the Hit Predictor's flops are picked from other genres, and the seed's songs are
all chart songs). More tables of released tracks join with `--tracks` (the full Kaggle
1921-2020 `data.csv`, saved feature-API answers)."""

SONG_COLUMNS: tuple[str, ...] = (
    "song_id",
    "title",
    "artist",
    "primary_artist",
    "featured_artists",
    "norm_title",
    "norm_artist",
    "source",
    "track_id",
    *config.AUDIO_FEATURES,
    "year",
    "decade",
    "mode",
    "time_signature",
    "explicit",
    "genre",
    "popularity",
    "hit_target",
    *config.HISTORY_FEATURES,
    *config.CHART_COLUMNS,
    "score",
    "level",
)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _given(path: str | os.PathLike[str]) -> Path:
    """A file named on the command line: it must exist (it is never fetched)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataNotFoundError(f"input file {path} not found (check the path)")
    return path


def _default(name: str, data_dir: Path) -> Path:
    """A registry dataset inside the data folder, fetched when missing (names file and folder)."""
    return registry.locate(name, data_dir)


def _check_out(out_dir: Path) -> None:
    """The build replaces its folder whole: refuse a file, or a folder of other things."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir}: a file is there; give a folder for the build")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / "build.json").is_file():
        raise InputError(
            f"--out {out_dir}: the folder holds files that are not a songpop build (no "
            "build.json); a build replaces its folder whole, so give a new or empty folder"
        )


@contextmanager
def _staging(out_dir: Path) -> Iterator[Path]:
    """A temporary folder beside `out_dir` that replaces it as a whole on success.

    Readers of `out_dir` see the earlier build or the new one, never a mix of their files
    (`songpop.io.replace_dir`); what a killed build left is cleared (or put back) first.
    """
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    recover_dir(out_dir)
    stage = Path(
        tempfile.mkdtemp(prefix=temp_prefix(out_dir.name), suffix=".tmp", dir=out_dir.parent)
    )
    os.chmod(stage, 0o777 & ~umask())
    try:
        yield stage
        replace_dir(stage, out_dir)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _parquet_ready(table: pd.DataFrame) -> pd.DataFrame:
    """Categoricals as plain strings so every reader sees the same dtypes."""
    out = table.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.CategoricalDtype):
            out[column] = out[column].astype("string")
    return out


def _songs_table(songs: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in SONG_COLUMNS if c not in songs]
    out = songs.copy()
    for column in missing:
        out[column] = float("nan") if column in config.HISTORY_FEATURES else pd.NA
    out = out[list(SONG_COLUMNS)]
    out["charted"] = out["charted"].astype(bool)
    for column in ("weeks_on_chart", "best_position", "n_runs"):
        out[column] = pd.array(out[column], dtype="Int64")
    out["level"] = out["level"].astype("string")
    return out.reset_index(drop=True)


def _default_songs(
    charts: pd.DataFrame,
    tracks: pd.DataFrame,
    threshold: float,
    progress: bool,
    summary: dict[str, Any],
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    chart_songs = aggregate_chart_songs(charts)
    summary["stages"].append(_stage("aggregate_charts", len(charts), len(chart_songs)))
    keyed = add_keys(tracks)
    matched = match_tracks(keyed, chart_songs, threshold=threshold, progress=progress)
    audit, weakest, unmatched = match_audit(matched, chart_songs)
    audit["threshold"] = threshold
    summary["stages"].append(
        _stage("match", len(keyed), len(matched), matched=int(matched["charted"].sum()))
    )
    songs, versions = select_one_per_song(matched)
    summary["stages"].append(_stage("one_per_song", len(matched), len(songs)))
    summary["other_versions_dropped"] = versions
    tables = {
        "chart_songs": chart_songs,
        "tracks": keyed,
        "matched": matched.drop(columns=["chart_row"]),
        "songs": songs,
    }
    return tables, {"audit": audit, "weakest": weakest, "unmatched": unmatched}


def _seed_songs(
    charts: pd.DataFrame, tracks: pd.DataFrame, summary: dict[str, Any]
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    chart_songs = aggregate_seed_charts(charts)
    summary["stages"].append(_stage("aggregate_charts_seed", len(charts), len(chart_songs)))
    joined, n_joined = seed_join(tracks, chart_songs)
    summary["stages"].append(_stage("seed_join", len(tracks), n_joined, matched=n_joined))
    summary["stages"].append(_stage("one_per_title", n_joined, len(joined)))
    songs = add_keys(joined)
    songs["song_id"] = (songs["seed_title"] + "|" + songs["seed_artist"]).astype("string")
    songs["charted"] = True
    songs["match_method"] = pd.array(["exact"] * len(songs), dtype="string")
    songs["match_score"] = 100.0
    matched_keys = set(joined["seed_title"] + " " + joined["seed_artist"])
    chart_keys = chart_songs["seed_title"] + " " + chart_songs["seed_artist"]
    covered = int(chart_keys.isin(matched_keys).sum())
    audit = {
        "rule": "seed: exact inner join of name+' '+artists with Song+' '+Performer",
        "per_source": {
            str(source): {
                "tracks": int((tracks["source"] == source).sum()),
                "exact": n_joined,
                "fuzzy": 0,
                "match_rate": round(n_joined / len(tracks), 4) if len(tracks) else 0.0,
            }
            for source in tracks["source"].unique()
        },
        "tracks": len(tracks),
        "tracks_matched": n_joined,
        "chart_songs": len(chart_songs),
        "chart_songs_matched": covered,
        "chart_match_rate": round(covered / len(chart_songs), 4) if len(chart_songs) else 0.0,
        "fuzzy_min_score": None,
    }
    left = chart_songs[~chart_keys.isin(matched_keys)]
    unmatched = left.sample(n=min(50, len(left)), random_state=config.SEED)[
        ["chart_title", "chart_artist", "weeks_on_chart", "best_position"]
    ].sort_values("chart_title")
    weakest = pd.DataFrame(
        columns=["source", "title", "artist", "chart_title", "chart_artist", "match_score"]
    )
    tables = {"chart_songs": chart_songs, "tracks": add_keys(tracks), "songs": songs}
    return tables, {"audit": audit, "weakest": weakest, "unmatched": unmatched}


def _stage(name: str, rows_in: int, rows_out: int, **extra: int) -> dict[str, Any]:
    return {"stage": name, "rows_in": int(rows_in), "rows_out": int(rows_out), **extra}


def build_dataset(
    out_dir: str | os.PathLike[str],
    profile: str = "default",
    label: str | None = None,
    charts: str | os.PathLike[str] | None = None,
    tracks: Sequence[str | os.PathLike[str]] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    weights: dict[str, float] | None = None,
    fuzzy_threshold: float = DEFAULT_THRESHOLD,
    progress: bool = False,
    task: str | None = None,
    era_years: int | None = None,
) -> dict[str, Any]:
    """Read the sources, prepare and label the songs, and write every stage into `out_dir`.

    Args:
        out_dir: output folder (created; files of an earlier build are replaced).
        profile: "default" or "seed" (the original project's rules).
        label: a strategy of `config.LABEL_STRATEGIES`; default "composite", or "spotify" for
            the seed profile (what the original did).
        charts: chart file; default the profile's registry file in the data folder (fetched
            when missing).
        tracks: track files; default every track table of the profile in the data folder.
        data_dir: the data folder (see `config.data_dir`).
        weights: composite label weights (see `songpop.prepare.label.DEFAULT_WEIGHTS`).
        fuzzy_threshold: lowest accepted fuzzy match score, 0..100 (default profile).
        progress: show progress bars on stderr.
        task: "chart-chance": every track with a release year from 1958 on (no chart-derived
            selection; default tracks `CHART_CHANCE_TRACKS`), labelled charted / not charted by
            the build's chart matching, with the artist's Hot 100 history before the release
            year (`prepare.history`); also writes `artist_history.parquet`.
        era_years: cut the levels within release cohorts of this many years (composite and
            spotify labels; `prepare.label.era_levels`).

    Returns:
        The build summary (also written as `build.json`).

    Raises:
        SongpopError: a missing or malformed input, an unknown profile or label strategy.
    """
    _check_out(Path(out_dir))
    if profile not in PROFILES:
        raise SchemaError(f"profile {profile!r}: expected one of {PROFILES}")
    if task is not None and task not in TASKS:
        raise SchemaError(f"task {task!r}: expected one of {TASKS}")
    chance = task == "chart-chance"
    if chance and profile != "default":
        raise SchemaError("--task chart-chance uses songpop's own matching (--profile default)")
    if chance and label not in (None, "charted"):
        raise SchemaError(f"--task chart-chance labels charted / not charted, not {label!r}")
    label = "charted" if chance else (label or DEFAULT_LABEL[profile])
    if label not in config.LABEL_STRATEGIES:
        raise SchemaError(f"label strategy {label!r}: expected one of {config.LABEL_STRATEGIES}")
    started = time.perf_counter()
    folder = config.data_dir(data_dir)
    seed = profile == "seed"
    chart_path = (
        _given(charts) if charts else _default(SEED_CHARTS if seed else DEFAULT_CHARTS, folder)
    )
    if tracks:
        track_paths = [_given(p) for p in tracks]
    else:
        names = SEED_TRACKS if seed else (CHART_CHANCE_TRACKS if chance else DEFAULT_TRACKS)
        track_paths = [_default(name, folder) for name in names]

    with tqdm(total=5, desc="data build", disable=not progress, unit="step", leave=False) as bar:
        summary: dict[str, Any] = {"profile": profile, "label": label, "stages": []}
        if task:
            summary["task"] = task
        bar.set_postfix_str("reading")
        raw_charts, raw_tracks = _read_inputs(chart_path, track_paths, summary)
        bar.update()
        bar.set_postfix_str("cleaning")
        charts_clean, tracks_clean = _clean(raw_charts, raw_tracks, seed, summary)
        bar.update()
        bar.set_postfix_str("aggregating and matching")
        if seed:
            tables, match = _seed_songs(charts_clean.table, tracks_clean.table, summary)
        else:
            tables, match = _default_songs(
                charts_clean.table, tracks_clean.table, fuzzy_threshold, progress, summary
            )
        bar.update()
        if chance:
            tables["artist_history"] = artist_years(charts_clean.table)
            tables["songs"] = _chart_chance_songs(
                tables["songs"], tables["artist_history"], summary
            )
        bar.set_postfix_str("labelling")
        songs = _label(tables["songs"], label, weights, summary, era_years)
        if chance:
            summary["chart_chance"].update(base_rates(songs))
        summary["match"] = match["audit"]
        summary["match_rate"] = {
            source: row["match_rate"] for source, row in match["audit"]["per_source"].items()
        }
        summary["songs"] = len(songs)
        bar.update()
        bar.set_postfix_str("writing")
        tables = {"chart_weeks": charts_clean.table, **tables, "songs": songs}
        _write_outputs(Path(out_dir), tables, match, summary, started)
        bar.update()
    log.info("built %d songs into %s in %.1f s", len(songs), out_dir, summary["seconds"])
    summary["out_dir"] = str(out_dir)
    return summary


def _read_inputs(
    chart_path: Path, track_paths: list[Path], summary: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw_charts = read_charts(chart_path)
    summary["inputs"] = [_input(chart_path, "charts", raw_charts)]
    track_tables = []
    for path in track_paths:
        table = read_tracks(path)
        track_tables.append(table)
        summary["inputs"].append(_input(path, "tracks", table))
    return raw_charts, pd.concat(track_tables, ignore_index=True)


def _input(path: Path, kind: str, table: pd.DataFrame) -> dict[str, Any]:
    return {
        "path": str(path),
        "kind": kind,
        "rows": len(table),
        "layout": table.attrs.get("layout"),
        "sha256": _sha256(path),
    }


def _clean(
    raw_charts: pd.DataFrame, raw_tracks: pd.DataFrame, seed: bool, summary: dict[str, Any]
) -> tuple[Cleaned, Cleaned]:
    if seed:
        cutoff = pd.Timestamp(config.SEED_CHART_CUTOFF)
        cut = raw_charts[raw_charts["chart_date"] <= cutoff]
        summary["stages"].append(_stage("cut_at_seed_date", len(raw_charts), len(cut)))
        summary["seed_chart_cutoff"] = config.SEED_CHART_CUTOFF
    else:
        cut = raw_charts
    charts_clean = clean_charts(cut)
    tracks_clean = clean_tracks(raw_tracks)
    summary["stages"].append(_stage("clean_charts", len(cut), len(charts_clean.table)))
    summary["stages"].append(_stage("clean_tracks", len(raw_tracks), len(tracks_clean.table)))
    summary["cleaning"] = {"charts": charts_clean.report, "tracks": tracks_clean.report}
    summary["out_of_range"] = {
        "tracks_rows_dropped": tracks_clean.report["out_of_range_rows_dropped"],
        "tracks_dropped_by_column": tracks_clean.report["out_of_range_dropped"],
        "tracks_set_na_by_column": tracks_clean.report["out_of_range_set_na"],
        "chart_positions": charts_clean.report["position_out_of_range"],
    }
    return charts_clean, tracks_clean


def _chart_chance_songs(
    songs: pd.DataFrame, history: pd.DataFrame, summary: dict[str, Any]
) -> pd.DataFrame:
    """The tracks a chart chance can be asked of: a release year from 1958 on (the Hot 100's
    first year), with the artist's chart history before that year."""
    years = pd.to_numeric(songs["year"], errors="coerce")
    keep = years.ge(config.FIRST_CHART_YEAR).fillna(False).to_numpy(dtype=bool)
    out = songs[keep].reset_index(drop=True)
    summary["stages"].append(_stage("released_from_1958", len(songs), len(out)))
    # A chart run that began more than a year before the track's release year is the original
    # of a remix, a remaster or a compilation track: not "a new release reached the Hot 100".
    # Those tracks are left out (counted), never labelled as hits.
    debut = pd.to_datetime(out["debut_date"], errors="coerce").dt.year
    early = (out["charted"].astype(bool) & debut.lt(out["year"].astype("float64") - 1)).to_numpy()
    kept = out[~early].reset_index(drop=True)
    summary["stages"].append(_stage("not_charted_before_release", len(out), len(kept)))
    summary["chart_chance"] = {
        "no_year": int(years.isna().sum()),
        "before_1958": int(years.lt(config.FIRST_CHART_YEAR).sum()),
        "charted_before_release_year": int(early.sum()),
    }
    out = kept
    # the song's own chart run never counts as its artist's history, however its matched chart
    # title is spelled
    out["own_chart_title"] = normalize_text(out["chart_title"].astype("string"))
    filled = history_before(out, history)
    out = out.drop(columns=["own_chart_title"])
    for column in config.HISTORY_FEATURES:
        out[column] = filled[column].to_numpy()
    return out


def base_rates(songs: pd.DataFrame) -> dict[str, Any]:
    """The chart-chance table's share of charted tracks, overall, per release year and genre."""
    charted = songs["level"].astype(str).eq("charted")
    year = pd.to_numeric(songs["year"], errors="coerce").astype("Int64")
    per_year = charted.groupby(year).agg(["size", "mean"])
    out: dict[str, Any] = {
        "songs": int(len(songs)),
        "charted": int(charted.sum()),
        "base_rate": round(float(charted.mean()), 4) if len(songs) else None,
        "per_year": {
            str(int(y)): {"songs": int(r["size"]), "rate": round(float(r["mean"]), 4)}
            for y, r in per_year.iterrows()
        },
    }
    if "genre" in songs and songs["genre"].notna().any():
        per_genre = charted.groupby(songs["genre"].astype("string")).agg(["size", "mean"])
        out["per_genre"] = {
            str(g): {"songs": int(r["size"]), "rate": round(float(r["mean"]), 4)}
            for g, r in per_genre.iterrows()
        }
    return out


def _label(
    songs: pd.DataFrame,
    label: str,
    weights: dict[str, float] | None,
    summary: dict[str, Any],
    era_years: int | None = None,
) -> pd.DataFrame:
    if songs.empty:
        stages = "; ".join(
            f"{st['stage']} {st['rows_in']:,} → {st['rows_out']:,}" for st in summary["stages"]
        )
        raise SchemaError(
            f"no song survived cleaning and matching, so there is nothing to label ({stages}); "
            "check the track files' values and that they match the charts"
        )
    labelled, report = label_songs(songs, label, weights, era_years=era_years)
    if labelled["level"].nunique() < 2:
        raise SchemaError(
            f"label strategy {label!r} gives a single class ({labelled['level'].iloc[0]}) on "
            f"these inputs; `hit` needs songs that never charted (e.g. the hit predictor file)"
        )
    summary["stages"].append(_stage("label", len(songs), len(labelled)))
    summary["label_report"] = report
    summary["label_balance"] = report["balance"]
    table = _songs_table(labelled)
    if table["song_id"].duplicated().any():  # a broken invariant, not bad input
        raise AssertionError("song_id is not unique in songs.parquet")
    return table


def _write_outputs(
    out: Path,
    tables: dict[str, pd.DataFrame],
    match: dict[str, Any],
    summary: dict[str, Any],
    started: float,
) -> None:
    """Write every file into a staging folder, then move them all into `out`."""
    with _staging(out) as stage:
        for name, table in tables.items():
            write_parquet_atomic(_parquet_ready(table), stage / f"{name}.parquet")
        write_json_atomic(match["audit"], stage / "match_audit.json")
        write_csv_atomic(match["weakest"], stage / "match_weakest.csv")
        write_csv_atomic(match["unmatched"], stage / "match_unmatched_sample.csv")
        summary["outputs"] = sorted(p.name for p in stage.iterdir()) + ["build.json"]
        summary["seconds"] = round(time.perf_counter() - started, 2)
        write_json_atomic(summary, stage / "build.json")


def load_songs(path: str | Path) -> pd.DataFrame:
    """Read a songs.parquet, with a clear error when it is missing or unreadable.

    Raises:
        DataNotFoundError: no such file.
        LayoutError: not a readable Parquet table, or no `level` column.
    """

    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(
            f"--songs {path}: no such file; build one with `songpop data build --out DIR`"
        )
    try:
        songs = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types on a bad file
        raise LayoutError(f"{path}: not a readable Parquet table ({exc})") from exc
    if config.LABEL_COLUMN not in songs.columns:
        raise LayoutError(
            f"{path}: no {config.LABEL_COLUMN!r} column (the label); columns are "
            f"{', '.join(map(str, songs.columns))}"
        )
    return songs


HIT_PREDICTOR_FILE = registry.get("hit_predictor_dev").filename
"""The hit task's table (`songpop.sources.registry`, where the file is declared once)."""


def hit_predictor_songs(data_dir: str | Path | None = None) -> pd.DataFrame:
    """The Hit Predictor tracks as a song table for the hit task (`level` = hit / not_hit).

    The label is the source's own flag (`target`: on the Hot 100 in that decade or not); the
    primary artist is parsed from the artist field for artist-grouped folds. Rows repeating a
    (title, artist) pair are dropped (first kept).

    Args:
        data_dir: the data folder (see `config.data_dir`).

    Returns:
        The tracks with `primary_artist`, `decade`, the audio and context columns and `level`.

    Raises:
        DataNotFoundError: the file is not in the data folder.
    """

    path = config.data_dir(data_dir) / HIT_PREDICTOR_FILE
    if not path.is_file():
        raise DataNotFoundError(f"{path} not found; the hit task needs {HIT_PREDICTOR_FILE}")
    tracks = read_tracks(path)
    tracks = tracks.drop_duplicates(["title", "artist"]).reset_index(drop=True)
    tracks["primary_artist"] = split_artists(tracks["artist"])["primary_artist"]

    is_hit = tracks["hit_target"].astype("Int64").eq(1).fillna(False).to_numpy(dtype=bool)
    tracks["level"] = np.asarray(hit_levels(is_hit), dtype=object)
    return tracks
