"""Read track tables (Spotify audio features) of any known layout into the canonical tracks table.

Canonical columns (docs/architecture.md): source, track_id, title, artist, the ten
`config.AUDIO_NUMERIC` features, key, mode, time_signature, explicit, year, decade, popularity,
hit_target, genre. Columns a source lacks are NA. Values outside `config.FEATURE_RANGES` are
kept (see `songpop.sources.schemas.range_violations`); values of the wrong type are an error.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from songpop.config import AUDIO_NUMERIC
from songpop.errors import LayoutError, SchemaError
from songpop.sources.layouts import (
    HIT_PREDICTOR,
    LAYOUTS,
    SPOTIFY_API,
    TIDYTUESDAY_2020,
    Layout,
    PathLike,
    Problems,
    RowLabel,
    csv_header,
    csv_row_label,
    load_json,
    match_layout,
    raise_first_problem,
    read_csv_columns,
    read_head,
    sniff_format,
    table_row_label,
    to_number,
    to_text,
)
from songpop.sources.schemas import TRACK_COLUMNS_CANONICAL, validate_tracks

log = logging.getLogger(__name__)

_INTEGER = ("key", "mode", "time_signature", "explicit", "hit_target", "decade")
_TEXT = ("title", "artist", "genre")
_DTYPES: dict[str, str] = {
    "source": "string",
    "track_id": "string",
    "title": "string",
    "artist": "string",
    **{name: "float64" for name in AUDIO_NUMERIC},
    "key": "Int64",
    "mode": "Int64",
    "time_signature": "Int64",
    "explicit": "Int64",
    "year": "Int64",
    "decade": "Int64",
    "popularity": "float64",
    "hit_target": "Int64",
    "genre": "string",
}
_DECADE_IN_NAME = re.compile(r"dataset-of-(\d{2})s", re.IGNORECASE)
_SPOTIFY_URI = re.compile(r"^spotify:track:")


def decade_from_filename(path: PathLike) -> int | None:
    """The decade of a Hit Predictor file from its name: dataset-of-90s.csv -> 1990, 00s -> 2000."""
    found = _DECADE_IN_NAME.search(Path(path).name)
    if not found:
        return None
    two = int(found.group(1))
    return (1900 if two >= 50 else 2000) + two


def _year(series: pd.Series, column: str, layout: Layout, problems: Problems) -> pd.Series:
    """Release year: an integer column, or the first four characters of a release date."""
    if layout is TIDYTUESDAY_2020 or column in ("release_date", "track_album_release_date"):
        text = to_text(series).str.strip()
        head = text.str.slice(0, 4)
        ok = head.str.fullmatch(r"\d{4}").fillna(False).astype(bool)
        bad = text.notna() & ~ok
        if bad.any():
            where = bad.to_numpy().nonzero()[0]
            problems.add(column, where, text[bad].tolist(), "a date starting with YYYY")
        return pd.to_numeric(head.where(ok), errors="coerce").astype("Int64")
    return to_number(series, column, problems, integer=True)


def _canonical(
    frame: pd.DataFrame,
    layout: Layout,
    origin: str,
    row_label: RowLabel,
    decade: int | None,
    columns: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, Problems]:
    problems = Problems(origin, layout.name, row_label)
    n = len(frame)
    wanted = _wanted(columns)
    out: dict[str, pd.Series] = {}
    for canon in wanted:
        column = layout.source_column(canon, frame.columns)
        if canon == "source":
            out[canon] = pd.Series([layout.name] * n, dtype="string")
        elif column is None:
            out[canon] = pd.Series([None] * n, dtype=_DTYPES[canon])
        elif canon == "track_id":
            ids = to_text(frame[column]).str.strip()
            out[canon] = ids.str.replace(_SPOTIFY_URI, "", regex=True)
        elif canon in _TEXT:
            out[canon] = to_text(frame[column])
        elif canon == "year":
            out[canon] = _year(frame[column], column, layout, problems)
        elif canon in _INTEGER:
            out[canon] = to_number(frame[column], column, problems, integer=True)
        else:
            out[canon] = to_number(frame[column], column, problems)
    if "decade" in wanted and layout.source_column("decade", frame.columns) is None:
        if decade is not None:
            out["decade"] = pd.Series([decade] * n, dtype="Int64")
        elif layout is not HIT_PREDICTOR:
            # The decade of a release year; Hit Predictor rows have no year, so theirs stays NA.
            out["decade"] = (out["year"] // 10 * 10).astype("Int64")
        else:
            log.warning(
                "%s: Hit Predictor file with no `decade` column and no decade in its name "
                "(dataset-of-XXs.csv); decade left empty",
                origin,
            )
    table = pd.DataFrame({c: out[c].reset_index(drop=True) for c in wanted})
    return table.astype({c: _DTYPES[c] for c in wanted}), problems


def _wanted(columns: Sequence[str] | None) -> tuple[str, ...]:
    """The canonical columns to build, in canonical order: all, or those asked for (the decade
    of a release year needs the year)."""
    if columns is None:
        return TRACK_COLUMNS_CANONICAL
    unknown = sorted(set(columns) - set(TRACK_COLUMNS_CANONICAL))
    if unknown:
        raise SchemaError(f"not canonical track columns: {unknown}")
    asked = set(columns) | ({"year"} if "decade" in columns else set())
    return tuple(c for c in TRACK_COLUMNS_CANONICAL if c in asked)


def canonicalize_tracks_lenient(
    frame: pd.DataFrame,
    source_name: str = "<table>",
    layout: str | None = None,
    decade: int | None = None,
    row_label: RowLabel = table_row_label,
    columns: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Like `canonicalize_tracks`, but values of the wrong type become NA and are returned.

    Meant for prediction batches: score the good rows, report the bad ones. `columns` limits
    the work to the canonical columns a batch needs (a model's features and the ids); values
    of the other columns are then neither converted nor checked.

    Returns:
        (the canonical table, one row per bad value with columns row (0-based position),
        where, column, value, expected).

    Raises:
        LayoutError: unknown layout or missing required column.
    """
    frame = frame.rename(columns=lambda c: str(c).strip())
    chosen = LAYOUTS[layout] if layout else match_layout(frame.columns, source_name, "tracks")
    if chosen.kind != "tracks":
        raise LayoutError(f"{source_name}: {chosen.name} is a chart layout, not a track layout")
    table, problems = _canonical(frame, chosen, source_name, row_label, decade, columns)
    table.attrs.update({"layout": chosen.name, "source_file": source_name})
    return table, problems.frame()


def canonicalize_tracks(
    frame: pd.DataFrame,
    source_name: str = "<table>",
    layout: str | None = None,
    decade: int | None = None,
    row_label: RowLabel = table_row_label,
) -> pd.DataFrame:
    """Turn an already-loaded table of any known track layout into the canonical tracks table.

    A table with just the audio-feature columns (plus optional id/title/artist/mode/...) is
    read as the `spotify_api` layout.

    Args:
        frame: the raw table with its source column names.
        source_name: the file or request it came from, named in error messages.
        layout: force a layout name (see `songpop.sources.layouts.LAYOUTS`); None detects it.
        decade: the decade of every row when the table has no `decade` column (Hit Predictor).
        row_label: how to name a row position in messages.

    Returns:
        The canonical tracks table, schema-validated (`attrs["layout"]` names the layout).

    Raises:
        LayoutError: unknown layout or missing required column (named).
        SchemaError: a value of the wrong type (names column, row and value).
    """
    table, problems = canonicalize_tracks_lenient(frame, source_name, layout, decade, row_label)
    raise_first_problem(problems, source_name, table.attrs["layout"])
    chosen = LAYOUTS[table.attrs["layout"]]
    frame = frame.rename(columns=lambda c: str(c).strip())
    names = {c: chosen.source_column(c, frame.columns) or c for c in TRACK_COLUMNS_CANONICAL}
    table = validate_tracks(table, source_name, row_label, names)
    table.attrs.update({"layout": chosen.name, "source_file": source_name})
    return table


def _api_records(document: Any, origin: str) -> tuple[list[dict[str, Any]], list[int]]:
    """The audio-features objects of a saved Spotify Web API answer, and their positions."""
    if isinstance(document, dict) and "audio_features" in document:
        document = document["audio_features"]
    elif isinstance(document, dict):
        document = [document]
    if not isinstance(document, list):
        raise LayoutError(
            f"{origin}: the {SPOTIFY_API.name} layout is a JSON array of audio-features objects "
            f"or {{'audio_features': [...]}}; found a {type(document).__name__}"
        )
    records, positions = [], []
    for index, item in enumerate(document):
        if item is None:  # the Web API answers null for an unknown id
            log.warning("%s: audio-features entry %d is null; skipped", origin, index)
            continue
        if not isinstance(item, dict):
            raise LayoutError(
                f"{origin}: audio-features entry {index} is a {type(item).__name__}, not an object"
            )
        records.append(item)
        positions.append(index)
    if not records:
        raise SchemaError(f"{origin}: no audio-features objects in the file")
    return records, positions


def read_tracks(path: PathLike) -> pd.DataFrame:
    """Read a track file of any known layout into the canonical tracks table.

    Layouts: Kaggle Spotify 1921-2020 `data.csv` and its 15-column seed variant, TidyTuesday
    2020 `spotify_songs.csv`, Spotify Hit Predictor `dataset-of-XXs.csv` (and the combined file
    with a `decade` column), Spotify Web API audio-features JSON (or CSV). Optionally gzipped.

    Args:
        path: the track file.

    Returns:
        The canonical tracks table.

    Raises:
        LayoutError: unknown layout or missing column (names the file and the column).
        SchemaError: empty, truncated or mis-encoded file, or a value of the wrong type.
        DataNotFoundError: the file does not exist.
    """
    path = Path(path)
    origin = str(path)
    head = read_head(path)
    if sniff_format(head) == "json":
        records, positions = _api_records(load_json(path), origin)
        frame = pd.DataFrame.from_records(records)
        layout = match_layout(frame.columns, origin, "tracks")
        table = canonicalize_tracks(
            frame, origin, layout.name, row_label=lambda i: f"entry {positions[i]}"
        )
    else:
        header = csv_header(path, head)
        layout = match_layout(header, origin, "tracks")
        frame = read_csv_columns(path, layout, header)
        if frame.empty:
            raise SchemaError(f"{origin}: the file has a header but no rows ({layout.name} layout)")
        decade = decade_from_filename(path) if layout is HIT_PREDICTOR else None
        table = canonicalize_tracks(frame, origin, layout.name, decade, csv_row_label)
    log.info("read %d track rows from %s (%s)", len(table), path, table.attrs["layout"])
    return table


def read_tracks_many(paths: Iterable[PathLike]) -> pd.DataFrame:
    """Read several track files (any mix of layouts) and stack them into one canonical table.

    Returns:
        The concatenated table with a fresh index; `attrs["source_files"]` lists the inputs.
    """
    tables = [read_tracks(path) for path in paths]
    if not tables:
        raise SchemaError("read_tracks_many: no track files given")
    table = pd.concat(tables, ignore_index=True)
    table = table.astype(_DTYPES)
    table.attrs = {"source_files": [t.attrs["source_file"] for t in tables]}
    return table
