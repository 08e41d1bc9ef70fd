"""The known source layouts, how a file's layout is recognised, and the low-level file readers.

A layout is recognised from its column names (CSV header, JSON keys), never from the file name.
Each layout has *signature* columns that identify it, *excludes* columns that rule it out, and
*required* columns that must be present once it is recognised: a file that shows a layout's
signature but lacks a required column gets an error naming that column and the layout.

Files may be gzip-compressed whatever their name (recognised by the gzip magic bytes). Readers
here only read: they never write anything.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import os
import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from songpop.config import AUDIO_NUMERIC
from songpop.errors import DataNotFoundError, LayoutError, SchemaError

log = logging.getLogger(__name__)

Kind = Literal["charts", "tracks"]
PathLike = str | os.PathLike[str]

_GZIP_MAGIC = b"\x1f\x8b"
_SNIFF_BYTES = 1 << 16


@dataclass(frozen=True)
class Layout:
    """One outside file layout and how its columns map onto a canonical table.

    Attributes:
        name: the layout name; for tracks it is also the canonical `source` value.
        kind: "charts" or "tracks".
        fmt: "csv" or "json".
        signature: columns whose presence identifies the layout.
        required: source columns that must be present.
        columns: canonical column -> candidate source columns (first present wins).
        excludes: columns whose presence rules the layout out.
        text_columns: source columns read as text, never type-inferred ("007" stays "007").
        encodings: encodings tried in order; a second one only where the layout implies it.
        date_formats: accepted formats of the chart-date column, tried in order.
        description: one line for error messages and docs.
    """

    name: str
    kind: Kind
    fmt: Literal["csv", "json"]
    signature: frozenset[str]
    required: tuple[str, ...]
    columns: dict[str, tuple[str, ...]]
    excludes: frozenset[str] = frozenset()
    text_columns: tuple[str, ...] = ()
    encodings: tuple[str, ...] = ("utf-8",)
    date_formats: tuple[str, ...] = ()
    description: str = ""

    def source_column(self, canonical: str, present: Iterable[str]) -> str | None:
        """The source column that feeds `canonical`, or None when the file lacks it."""
        have = set(present)
        for candidate in self.columns.get(canonical, ()):
            if candidate in have:
                return candidate
        return None


def _same(*names: str) -> dict[str, tuple[str, ...]]:
    return {name: (name,) for name in names}


_AUDIO = tuple(AUDIO_NUMERIC) + ("key",)

# --- chart layouts ------------------------------------------------------------------------------
HOT_STUFF = Layout(
    name="hot_stuff",
    kind="charts",
    fmt="csv",
    signature=frozenset({"WeekID", "Week Position"}),
    required=(
        "WeekID",
        "Week Position",
        "Song",
        "Performer",
        "Previous Week Position",
        "Peak Position",
        "Weeks on Chart",
    ),
    columns={
        "chart_date": ("WeekID",),
        "position": ("Week Position",),
        "title": ("Song",),
        "artist": ("Performer",),
        "last_week": ("Previous Week Position",),
        "peak_position": ("Peak Position",),
        "weeks_on_chart": ("Weeks on Chart",),
    },
    text_columns=("WeekID", "Song", "Performer", "url", "SongID"),
    # Older data.world exports of "Hot Stuff.csv" were saved from Excel in Windows-1252.
    encodings=("utf-8", "latin-1"),
    date_formats=("%m/%d/%Y", "%Y-%m-%d"),
    description='data.world / Kaggle "Hot Stuff.csv"',
)
BILLBOARD_TIDYTUESDAY = Layout(
    name="billboard_tidytuesday",
    kind="charts",
    fmt="csv",
    signature=frozenset({"week_id", "week_position"}),
    required=(
        "week_id",
        "week_position",
        "song",
        "performer",
        "previous_week_position",
        "peak_position",
        "weeks_on_chart",
    ),
    columns={
        "chart_date": ("week_id",),
        "position": ("week_position",),
        "title": ("song",),
        "artist": ("performer",),
        "last_week": ("previous_week_position",),
        "peak_position": ("peak_position",),
        "weeks_on_chart": ("weeks_on_chart",),
    },
    text_columns=("week_id", "song", "performer", "url", "song_id"),
    date_formats=("%m/%d/%Y", "%Y-%m-%d"),
    description="TidyTuesday 2021 billboard.csv",
)
HOT100_FLAT_COLUMNS: tuple[str, ...] = (
    "chart_date",
    "this_week",
    "song",
    "artist",
    "last_week",
    "peak_position",
    "weeks_on_chart",
)
"""The header of the flat Hot 100 CSV (also what `songpop data fetch` writes from all.json)."""
_FLAT_COLUMNS = {
    "chart_date": ("chart_date",),
    "position": ("this_week",),
    "title": ("song",),
    "artist": ("artist",),
    "last_week": ("last_week",),
    "peak_position": ("peak_position",),
    "weeks_on_chart": ("weeks_on_chart",),
}
HOT100_FLAT = Layout(
    name="hot100_flat",
    kind="charts",
    fmt="csv",
    signature=frozenset({"chart_date", "this_week"}),
    required=HOT100_FLAT_COLUMNS,
    columns=_FLAT_COLUMNS,
    text_columns=("chart_date", "song", "artist"),
    date_formats=("%Y-%m-%d",),
    description="flat CSV of mhollingshead/billboard-hot-100",
)
HOT100_JSON = Layout(
    name="hot100_json",
    kind="charts",
    fmt="json",
    signature=frozenset({"date", "data"}),
    required=("song", "artist", "this_week", "last_week", "peak_position", "weeks_on_chart"),
    columns=_FLAT_COLUMNS,
    date_formats=("%Y-%m-%d",),
    description="mhollingshead/billboard-hot-100 all.json (array of {date, data: [...]})",
)

# --- track layouts ------------------------------------------------------------------------------
KAGGLE_1921_2020_SEED = Layout(
    name="kaggle_1921_2020_seed",
    kind="tracks",
    fmt="csv",
    signature=frozenset({"artists", "name", "popularity"}),
    excludes=frozenset({"id", "release_date"}),
    required=_AUDIO + ("artists", "name", "popularity", "year"),
    columns={
        "title": ("name",),
        "artist": ("artists",),
        **_same(*_AUDIO, "year", "popularity"),
    },
    text_columns=("name", "artists"),
    description="Spotify 1921-2020, the 15 columns the original report kept (names normalised)",
)
KAGGLE_1921_2020 = Layout(
    name="kaggle_1921_2020",
    kind="tracks",
    fmt="csv",
    signature=frozenset({"artists", "name", "popularity"}),
    required=_AUDIO
    + ("artists", "id", "name", "popularity", "year", "explicit", "mode", "release_date"),
    columns={
        "track_id": ("id",),
        "title": ("name",),
        "artist": ("artists",),
        **_same(*_AUDIO, "mode", "explicit", "year", "popularity"),
    },
    text_columns=("id", "name", "artists", "release_date"),
    description="Kaggle Spotify 1921-2020 data.csv (19 columns)",
)
TIDYTUESDAY_2020 = Layout(
    name="tidytuesday_2020",
    kind="tracks",
    fmt="csv",
    signature=frozenset({"track_id", "track_name", "track_artist"}),
    required=_AUDIO
    + (
        "track_id",
        "track_name",
        "track_artist",
        "track_popularity",
        "track_album_release_date",
        "playlist_genre",
        "mode",
    ),
    columns={
        "track_id": ("track_id",),
        "title": ("track_name",),
        "artist": ("track_artist",),
        "popularity": ("track_popularity",),
        "year": ("track_album_release_date",),
        "genre": ("playlist_genre",),
        **_same(*_AUDIO, "mode"),
    },
    text_columns=(
        "track_id",
        "track_name",
        "track_artist",
        "track_album_id",
        "track_album_name",
        "track_album_release_date",
        "playlist_name",
        "playlist_id",
        "playlist_genre",
        "playlist_subgenre",
    ),
    description="TidyTuesday 2020-01-21 spotify_songs.csv",
)
HIT_PREDICTOR = Layout(
    name="hit_predictor",
    kind="tracks",
    fmt="csv",
    signature=frozenset({"track", "artist", "uri"}),
    required=_AUDIO + ("track", "artist", "uri", "mode", "time_signature", "target"),
    columns={
        "track_id": ("uri",),
        "title": ("track",),
        "artist": ("artist",),
        "hit_target": ("target",),
        "decade": ("decade",),
        **_same(*_AUDIO, "mode", "time_signature"),
    },
    text_columns=("track", "artist", "uri"),
    description="Spotify Hit Predictor dataset-of-XXs.csv (decade from a `decade` column or the "
    "file name)",
)
SPOTIFY_API = Layout(
    name="spotify_api",
    kind="tracks",
    fmt="csv",
    signature=frozenset(_AUDIO),
    required=_AUDIO,
    columns={
        "track_id": ("id", "track_id", "uri"),
        "title": ("title", "name", "track_name", "track", "song"),
        "artist": ("artist", "artists", "track_artist", "performer"),
        **_same(*_AUDIO, "mode", "time_signature", "explicit", "year", "decade", "popularity"),
    },
    text_columns=(
        "id",
        "track_id",
        "uri",
        "title",
        "name",
        "track_name",
        "track",
        "song",
        "artist",
        "artists",
        "track_artist",
        "performer",
        "type",
        "track_href",
        "analysis_url",
    ),
    description="Spotify Web API audio-features objects (JSON list, {'audio_features': [...]}, "
    "or the same fields as CSV columns)",
)

LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        HOT_STUFF,
        BILLBOARD_TIDYTUESDAY,
        HOT100_FLAT,
        HOT100_JSON,
        # Order matters: the first layout whose signature matches wins, so the specific track
        # layouts come before the generic audio-features one.
        KAGGLE_1921_2020_SEED,
        KAGGLE_1921_2020,
        TIDYTUESDAY_2020,
        HIT_PREDICTOR,
        SPOTIFY_API,
    )
}


def layouts_of(kind: Kind | None) -> list[Layout]:
    """The known layouts of one kind (or all), in detection order."""
    return [layout for layout in LAYOUTS.values() if kind is None or layout.kind == kind]


def _known(kind: Kind | None) -> str:
    return "; ".join(f"{lay.name} ({lay.description})" for lay in layouts_of(kind))


def match_layout(columns: Iterable[str], origin: str, kind: Kind | None = None) -> Layout:
    """Pick the layout of a table from its column names and check its required columns.

    Args:
        columns: the column names found.
        origin: the file (or table) name, for error messages.
        kind: restrict to chart or track layouts; None tries both.

    Returns:
        The layout.

    Raises:
        LayoutError: no layout matches (lists the columns found and the layouts known), or the
            layout is recognised but a required column is missing (names it and the layout).
    """
    found = [str(c) for c in columns]
    have = {c.strip() for c in found}
    for layout in layouts_of(kind):
        if layout.fmt == "json" and kind is None:
            continue
        if not layout.signature <= have or layout.excludes & have:
            continue
        missing = [c for c in layout.required if c not in have]
        if missing:
            raise LayoutError(
                f"{origin}: looks like the {layout.name} layout ({layout.description}) but "
                f"column{'s' if len(missing) > 1 else ''} {', '.join(repr(c) for c in missing)} "
                f"{'are' if len(missing) > 1 else 'is'} missing; columns found: {found}"
            )
        return layout
    what = f"{kind} " if kind else ""
    hint = ""
    if kind is not None:
        other = "tracks" if kind == "charts" else "charts"
        for layout in layouts_of(other):  # a chart file given as tracks, or the reverse
            if layout.fmt == "csv" and layout.signature <= have and not layout.excludes & have:
                hint = f" (it looks like a {other} file of the {layout.name} layout)"
                break
    raise LayoutError(
        f"{origin}: unknown {what}layout{hint}; columns found: {found}; known layouts: "
        f"{_known(kind)}"
    )


# --- raw file access ----------------------------------------------------------------------------
def is_gzip(path: PathLike) -> bool:
    """True when the file starts with the gzip magic bytes (whatever its name)."""
    with open(path, "rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


def open_binary(path: PathLike) -> io.BufferedIOBase:
    """Open a file for reading bytes, decompressing gzip transparently."""
    if is_gzip(path):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _file_error(path: PathLike, exc: BaseException) -> SchemaError | None:
    """Turn a low-level read failure into a SchemaError naming the file, or None if unknown."""
    if isinstance(exc, EOFError | zlib.error | gzip.BadGzipFile):
        return SchemaError(
            f"{path}: the gzip data is truncated or corrupt ({exc}); download or copy the file "
            "again"
        )
    return None


def read_head(path: PathLike, size: int = _SNIFF_BYTES) -> bytes:
    """The first `size` uncompressed bytes of a file.

    Raises:
        DataNotFoundError: the file does not exist.
        SchemaError: the file is empty or its gzip data is broken.
    """
    path = Path(path)
    if path.is_dir():
        raise SchemaError(f"{path}: is a folder; expected a file (CSV, JSON or Parquet)")
    if not path.is_file():
        raise DataNotFoundError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise SchemaError(f"{path}: the file is empty (0 bytes); expected a header and rows")
    try:
        with open_binary(path) as handle:
            head = handle.read(size)
    except Exception as exc:  # noqa: BLE001 - re-raised below with the file named
        err = _file_error(path, exc)
        if err is None:
            raise
        raise err from exc
    if not head.strip():
        raise SchemaError(f"{path}: the file is empty (no header, no rows)")
    encoding = _wide_encoding(head)
    if encoding:
        raise SchemaError(
            f"{path}: the text is {encoding}, an encoding songpop does not read; songpop reads "
            "UTF-8 (and latin-1 where a layout allows it): re-save the file as UTF-8"
        )
    return head


def _wide_encoding(head: bytes) -> str | None:
    """'UTF-16' / 'UTF-32' when the bytes look like it (a byte-order mark or NUL bytes)."""
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "UTF-32"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16"
    sample = head[:4096]
    if sample.count(b"\x00") > len(sample) // 4:
        return "UTF-16 or UTF-32 (no byte-order mark)"
    return None


def sniff_format(head: bytes) -> Literal["csv", "json"]:
    """'json' when the content starts with '[' or '{', else 'csv'."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return "json" if text[:1] in (b"[", b"{") else "csv"


MAX_HEADER_BYTES = 64 * 1024 * 1024
"""The longest CSV header line read (a million columns of 60-character names)."""


def csv_header(path: PathLike, head: bytes | None = None) -> list[str]:
    """The column names of a CSV file (first line, however long), decoded leniently.

    Raises:
        SchemaError: the first line is longer than `MAX_HEADER_BYTES`, or not a CSV header.
    """
    head = read_head(path) if head is None else head
    size = max(len(head), _SNIFF_BYTES)
    while b"\n" not in head and len(head) >= size:  # a header longer than what was read
        if size >= MAX_HEADER_BYTES:
            raise SchemaError(
                f"{path}: the header (first line) is longer than {MAX_HEADER_BYTES:,} bytes; "
                "songpop reads headers up to that length"
            )
        size *= 4
        head = read_head(path, min(size, MAX_HEADER_BYTES))
    first = head.split(b"\n", 1)[0].rstrip(b"\r")
    text = first.decode("utf-8", errors="replace").lstrip("\ufeff")
    try:
        return next(csv.reader([text]), [])
    except csv.Error as exc:
        raise SchemaError(f"{path}: the first line is not a CSV header ({exc})") from exc


def json_keys(head: bytes) -> set[str]:
    """Keys seen near the start of a JSON document (enough to recognise its layout)."""
    text = head.decode("utf-8", errors="replace")
    return set(re.findall(r'"([A-Za-z_][A-Za-z0-9_ ]*)"\s*:', text))


def detect_layout(path: PathLike, kind: Kind | None = None) -> str:
    """The name of a file's layout, recognised from its columns or JSON keys.

    Args:
        path: a CSV or JSON file, optionally gzip-compressed.
        kind: "charts" or "tracks" to restrict the search; None tries both.

    Returns:
        A key of `LAYOUTS`.

    Raises:
        LayoutError: unknown layout or a missing required column.
        SchemaError: empty or broken file.
    """
    head = read_head(path)
    if sniff_format(head) == "csv":
        return match_layout(csv_header(path, head), str(path), kind).name
    keys = json_keys(head)
    if kind in (None, "charts") and HOT100_JSON.signature <= keys:
        return HOT100_JSON.name
    if kind in (None, "tracks") and (set(_AUDIO) & keys or "audio_features" in keys):
        return SPOTIFY_API.name
    raise LayoutError(
        f"{path}: unknown JSON layout; keys found near the start: {sorted(keys)[:20]}; known "
        f"layouts: {_known(kind)}"
    )


def load_json(path: PathLike) -> Any:
    """Parse a (possibly gzip-compressed) UTF-8 JSON file.

    Raises:
        SchemaError: empty, truncated, not UTF-8, or not JSON (names the file and the position).
    """
    read_head(path)
    try:
        with open_binary(path) as handle:
            raw = handle.read()
    except Exception as exc:  # noqa: BLE001
        err = _file_error(path, exc)
        if err is None:
            raise
        raise err from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SchemaError(
            f"{path}: not valid UTF-8 at byte {exc.start} (line {line}); JSON files must be "
            "UTF-8 encoded"
        ) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaError(
            f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg} (is the "
            "file truncated?)"
        ) from exc


_TYPES_MAPPER = {
    pa.string(): pd.StringDtype(),
    pa.large_string(): pd.StringDtype(),
    pa.int64(): pd.Int64Dtype(),
}.get


def _arrow_csv(path: PathLike, columns: list[str], text: set[str], encoding: str) -> pd.DataFrame:
    types = {c: pa.string() for c in columns if c in text}
    with open_binary(path) as handle:
        table = pacsv.read_csv(
            handle,
            read_options=pacsv.ReadOptions(encoding=encoding, block_size=1 << 22),
            convert_options=pacsv.ConvertOptions(
                include_columns=columns,
                column_types=types,
                # Only an empty field is missing: a song called "NA" or "None" stays a title.
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    if any(pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type) for f in table.schema):
        # pyarrow types a column with bytes that are not UTF-8 as binary: an encoding problem
        raise pa.ArrowInvalid("invalid UTF8 data in a column")
    return table.to_pandas(types_mapper=_TYPES_MAPPER)


def first_undecodable(path: PathLike, encoding: str, header: list[str]) -> tuple[int, str, bytes]:
    """Find the first line that `encoding` cannot decode.

    Returns:
        (line number, column name or "?", the offending raw field), or (0, "", b"") if none.
    """
    with open_binary(path) as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode(encoding)
            except UnicodeDecodeError:
                text = raw.decode("latin-1").rstrip("\r\n")
                fields = next(csv.reader([text]), [])
                for index, value in enumerate(fields):
                    try:
                        value.encode("latin-1").decode(encoding)
                    except UnicodeDecodeError:
                        name = header[index] if index < len(header) else f"#{index + 1}"
                        return number, name, value.encode("latin-1")
                return number, "?", raw
    return 0, "", b""


def first_ragged_line(path: PathLike, encoding: str, width: int) -> tuple[int, int] | None:
    """(line number, field count) of the first record whose field count differs from the header."""
    with open_binary(path) as handle:
        text = io.TextIOWrapper(handle, encoding=encoding, errors="replace", newline="")
        reader = csv.reader(text)
        for row in reader:
            if row and len(row) != width:
                return reader.line_num, len(row)
    return None


def read_csv_columns(path: PathLike, layout: Layout, header: list[str]) -> pd.DataFrame:
    """Read the columns a layout uses from a CSV file, fast (pyarrow), text columns as strings.

    Numeric columns are type-inferred; a non-numeric value leaves the column as text and the
    caller reports it. Undecodable bytes fall back to the layout's second encoding when it has
    one, else raise.

    Raises:
        SchemaError: truncated gzip, wrong encoding (names line and column), unreadable CSV.
    """
    wanted: list[str] = []
    for candidates in layout.columns.values():
        for name in candidates:
            if name in header and name not in wanted:
                wanted.append(name)
    text = set(layout.text_columns)
    for encoding in layout.encodings:
        try:
            # pyarrow infers each numeric column over the whole file: a stray word turns the
            # column to text, and the caller names the first value that is not a number.
            return _arrow_csv(path, wanted, text, encoding)
        except pa.ArrowInvalid as exc:
            if "invalid UTF8" not in str(exc):
                where = first_ragged_line(path, encoding, len(header))
                at = (
                    f" at line {where[0]} ({where[1]} fields, the header has {len(header)})"
                    if where
                    else ""
                )
                raise SchemaError(f"{path}: cannot be read as a CSV file{at}: {exc}") from exc
            line, column, raw = first_undecodable(path, encoding, header)
            nxt = layout.encodings[layout.encodings.index(encoding) + 1 :]
            if nxt:
                log.warning(
                    "%s: not valid %s at line %d (column %r); reading it as %s as the %s layout "
                    "allows",
                    path,
                    encoding,
                    line,
                    column,
                    nxt[0],
                    layout.name,
                )
                continue
            raise SchemaError(
                f"{path}: not valid {encoding} at line {line}, column {column!r} (bytes {raw!r}); "
                f"the {layout.name} layout is {' or '.join(layout.encodings)} — re-save the file "
                f"as UTF-8"
            ) from exc
        except Exception as exc:  # noqa: BLE001
            err = _file_error(path, exc)
            if err is None:
                raise
            raise err from exc
    raise AssertionError("unreachable")  # pragma: no cover


# --- value conversion shared by the chart and track readers --------------------------------------
RowLabel = Callable[[int], str]


def csv_row_label(position: int) -> str:
    """Data row `position` (0-based) of a CSV file with one header line."""
    return f"line {position + 2}"


def table_row_label(position: int) -> str:
    """Row `position` (0-based) of an in-memory table, 1-based for people."""
    return f"row {position + 1}"


@dataclass
class Problems:
    """Values that could not be converted, collected per column (first few kept per column)."""

    origin: str
    layout: str
    row_label: RowLabel
    records: list[dict[str, Any]] = field(default_factory=list)

    def add(self, column: str, positions: Any, values: Any, expected: str) -> None:
        for position, value in zip(positions, values, strict=True):
            self.records.append(
                {
                    "row": int(position),
                    "where": self.row_label(int(position)),
                    "column": column,
                    "value": value,
                    "expected": expected,
                }
            )

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.records, columns=["row", "where", "column", "value", "expected"])

    def raise_first(self) -> None:
        """Raise a SchemaError for the first bad value, if any."""
        raise_first_problem(self.frame(), self.origin, self.layout)


def raise_first_problem(problems: pd.DataFrame, origin: str, layout: str) -> None:
    """Raise a SchemaError naming the file, column, row and value of the first bad value.

    Args:
        problems: rows of (row, where, column, value, expected), as `Problems.frame()` gives.
        origin: the file or table name.
        layout: the layout name.
    """
    if problems.empty:
        return
    first = problems.sort_values("row", kind="stable").iloc[0]
    more = f" ({len(problems)} bad values in all)" if len(problems) > 1 else ""
    raise SchemaError(
        f"{origin}: column {first['column']!r} ({layout} layout) expects {first['expected']}; "
        f"{first['where']} has {first['value']!r}{more}"
    )


def to_number(
    series: pd.Series, column: str, problems: Problems, integer: bool = False
) -> pd.Series:
    """Convert a column to float64 (or Int64), recording values that are not numbers.

    Bad values become NA and are recorded in `problems`; empty cells are simply NA.
    """
    expected = "an integer" if integer else "a number"
    if pd.api.types.is_bool_dtype(series):
        series = series.astype("Int64")
    if pd.api.types.is_numeric_dtype(series):
        values = series.astype("Float64") if not integer else series
    else:
        text = series.astype("string").str.strip()
        values = pd.to_numeric(text, errors="coerce")
        bad = values.isna() & text.notna() & (text != "")
        if bad.any():
            where = bad.to_numpy().nonzero()[0]
            problems.add(column, where, text[bad].tolist(), expected)
    if integer:
        floats = values.astype("Float64")
        fractional = floats.notna() & (floats != floats.round())
        if fractional.any():
            where = fractional.to_numpy().nonzero()[0]
            problems.add(column, where, floats[fractional].tolist(), expected)
            floats = floats.mask(fractional)
        return floats.round().astype("Int64")
    return values.astype("float64")


def to_text(series: pd.Series) -> pd.Series:
    """A column as pandas' nullable `string` dtype (empty cells NA)."""
    text = series.astype("string")
    return text.mask(text == "")


def to_dates(
    series: pd.Series, column: str, formats: tuple[str, ...], problems: Problems
) -> pd.Series:
    """Parse chart dates with explicit formats (each distinct value parsed once)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.astype("datetime64[ns]")
    codes, uniques = pd.factorize(series.astype("string"), use_na_sentinel=True)
    uniques = pd.Index(uniques, dtype="string")
    best: pd.DatetimeIndex | None = None
    for fmt in formats:
        parsed = pd.to_datetime(uniques, format=fmt, errors="coerce")
        if best is None or parsed.notna().sum() > best.notna().sum():
            best = parsed
        if parsed.notna().all():
            break
    assert best is not None
    bad_unique = best.isna() & uniques.notna()
    if bad_unique.any():
        bad_codes = bad_unique.nonzero()[0]
        where = pd.Series(codes).isin(bad_codes).to_numpy().nonzero()[0]
        problems.add(
            column,
            where,
            series.iloc[where].tolist(),
            f"a date ({' or '.join(formats)})",
        )
    values = best.take(codes, allow_fill=True, fill_value=pd.NaT)
    return pd.Series(values, index=series.index).astype("datetime64[ns]")
