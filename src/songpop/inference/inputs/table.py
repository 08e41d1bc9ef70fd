"""Tables in: a CSV or Parquet file of songs, in any track layout songpop knows, in chunks.

`TableReader(path, feature_names)` detects the file's layout from its header (Kaggle,
TidyTuesday, Hit Predictor, Spotify API fields) or takes plain feature columns, reads only the
columns a model and the ids need, and yields `Chunk`s: the chunk's rows in canonical column
names, where each row is in the file (its line or row), and the problems found before any
check (a value the layout could not convert; a CSV record with the wrong number of fields).

CSV files are read with pyarrow's streaming reader, every column as text first and then cast to
numbers where every value is one (else the column stays text and the value is reported). A
record whose field count differs from the header's (a decimal comma, a stray or missing
separator) is never scored: it becomes a row of its own with that problem, at its real line.
Blank lines are skipped and counted in the line numbers, and so are the extra lines of a
quoted value holding newlines: a row's line is the line its record starts on. Records number
from 1 in file order. A header of any length is read whole (up to
`sources.layouts.MAX_HEADER_BYTES`, else refused as too long).
"""

from __future__ import annotations

import bisect
import contextlib
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from songpop.errors import LayoutError, SchemaError
from songpop.inference.inputs.saved import is_saved_answer, saved_records
from songpop.inference.validate import ID_FIELDS, PROBLEM_COLUMNS, WHOLE_ROW

DEFAULT_CHUNKSIZE = 100_000


_NA_TOKENS = ("NA", "N/A", "NaN", "nan", "null", "NULL", "None", "none")
"""Text read as a missing number in a numeric column (as pandas reads CSV files)."""


@dataclass
class Chunk:
    """Part of a table, in file order.

    Attributes:
        start: the 0-based record number of the chunk's first row.
        table: the rows, in canonical column names.
        places: where each row is in the file: its 1-based line (CSV) or row (Parquet).
        unit: "line" or "row", the unit of `places`.
        problems: problems found while reading (row: 0-based position in `table`, field, value,
            expected, reason), or None.
    """

    start: int
    table: pd.DataFrame
    places: np.ndarray
    unit: str
    problems: pd.DataFrame | None

    def where(self, position: int) -> str:
        """Where the row at `position` is in the file, for people: "line 8", "row 3"."""
        return f"{self.unit} {int(self.places[position])}"


class TableReader:
    """Yield the `Chunk`s of a CSV or Parquet file, in canonical column names.

    Attributes:
        layout_name: the detected layout, or "plain" for plain feature columns.
        id_columns: the canonical identifying columns the file holds (track_id, title, artist).
    """

    def __init__(
        self, path: Path, feature_names: Sequence[str], chunksize: int = DEFAULT_CHUNKSIZE
    ) -> None:
        from songpop.sources import layouts as lay  # late: loads pandera (start-up)

        self.path = path
        self.origin = str(path)
        self.features = list(feature_names)
        self.chunksize = max(1, int(chunksize))
        self.parquet = path.suffix.lower() in (".parquet", ".pq")
        self.saved: pd.DataFrame | None = None
        if not self.parquet and lay.sniff_format(lay.read_head(path)) == "json":
            self.saved = _saved_answer(path)
            header = list(self.saved.columns)
        elif self.parquet:
            import pyarrow.parquet as pq

            with _parse_errors(path, "Parquet"):
                self._pq = pq.ParquetFile(path)
            header = list(self._pq.schema_arrow.names)
        if self.saved is None and not self.parquet:
            header = lay.csv_header(path)
        self.header = header
        self.layout = None
        counts = Counter(str(c).strip() for c in header)  # linear: headers may be 100k wide
        repeated = sorted(name for name, n in counts.items() if n > 1)
        if repeated:
            raise LayoutError(
                f"{self.origin}: column(s) {', '.join(repr(c) for c in repeated)} appear more than "
                "once in the header; give each column one name"
            )
        try:
            self.layout = lay.match_layout(header, self.origin, "tracks")
        except LayoutError as exc:
            missing = [f for f in self.features if f not in header]
            if missing:
                raise LayoutError(
                    f"{exc}; nor does it have the plain feature column(s) "
                    f"{', '.join(repr(m) for m in missing)} the model needs"
                ) from exc
        if self.layout is not None:
            absent = [f for f in self.features if self.layout.source_column(f, header) is None]
            if absent:
                raise LayoutError(
                    f"{self.origin}: the {self.layout.name} layout has no "
                    f"{', '.join(repr(a) for a in absent)}, which model needs; use a model of "
                    "the audio feature set"
                )
            self.layout_name = self.layout.name
            self.feature_sources = {
                f: self.layout.source_column(f, header) or f for f in self.features
            }
            self.id_columns = [
                c
                for c in ("track_id", "title", "artist")
                if self.layout.source_column(c, header) is not None
            ]
        else:
            self.layout_name = "plain"
            self.feature_sources = {f: f for f in self.features}
            self.id_columns = [c for c in ID_FIELDS if c in header]
        self.decade = None
        if self.layout is not None and self.layout.name == "hit_predictor":
            # late: loads pandera (start-up)
            from songpop.sources.tracks import decade_from_filename

            self.decade = decade_from_filename(path)
        self.columns = [*self.features, *self.id_columns]  # the canonical columns a batch needs
        self.read_columns = self._read_columns()

    def _read_columns(self) -> set[str]:
        """The file's columns the batch needs (by stripped name): features and ids only."""
        wanted = list(self.columns)
        if self.layout is None:
            return set(wanted)
        if "decade" in wanted:
            wanted.append("year")  # a decade may be derived from the release year
        found = (self.layout.source_column(c, self.header) for c in wanted)
        return {str(c).strip() for c in found if c is not None}

    def __iter__(self) -> Iterator[Chunk]:
        if self.saved is not None:
            raw_chunks: Any = self._saved_chunks()
            unit = "entry"
        else:
            raw_chunks = self._parquet_chunks() if self.parquet else self._csv_chunks()
            unit = "row" if self.parquet else "line"
        for start, raw, places, read_problems in raw_chunks:
            raw = raw.reset_index(drop=True)
            problems = [read_problems] if read_problems is not None else []
            if self.layout is not None:
                # late: loads pandera (start-up)
                from songpop.sources.tracks import canonicalize_tracks_lenient

                table, conversion = canonicalize_tracks_lenient(
                    raw,
                    self.origin,
                    self.layout.name,
                    self.decade,
                    columns=self.columns,
                )
                found = self._as_problems(conversion)
                if found is not None:
                    problems.append(found)
            else:
                table = raw
            merged = pd.concat(problems, ignore_index=True) if problems else None
            yield Chunk(start, table, places, unit, merged)

    def _saved_chunks(self) -> Iterator[tuple[int, pd.DataFrame, np.ndarray, None]]:
        frame = self.saved
        assert frame is not None
        for start in range(0, len(frame), self.chunksize):
            part = frame.iloc[start : start + self.chunksize]
            yield start, part.drop(columns="_entry"), part["_entry"].to_numpy(), None

    def _parquet_chunks(self) -> Iterator[tuple[int, pd.DataFrame, np.ndarray, None]]:
        columns = [c for c in self.header if str(c).strip() in self.read_columns]
        start = 0
        batches = self._pq.iter_batches(batch_size=self.chunksize, columns=columns)
        while True:
            with _parse_errors(self.path, "Parquet"):
                batch = next(batches, None)
                if batch is None:
                    return
                frame = batch.to_pandas()  # text that is not UTF-8 fails here
            yield start, frame, np.arange(start + 1, start + len(frame) + 1), None
            start += len(frame)

    def _csv_chunks(self) -> Iterator[tuple[int, pd.DataFrame, np.ndarray, pd.DataFrame | None]]:
        """Chunks of a CSV file with each row's line, records of the wrong width as problems."""
        import pyarrow as pa
        import pyarrow.csv as pv

        from songpop.sources.layouts import open_binary  # late: loads pandera (start-up)

        columns = [c for c in self.header if str(c).strip() in self.read_columns]
        text_columns = set(self.layout.text_columns) if self.layout else set(ID_FIELDS)
        skipped: list[tuple[int, str]] = []  # (0-based physical line, text) of refused records

        def refuse(row: Any) -> str:
            skipped.append((int(row.number) if row.number is not None else -1, row.text or ""))
            return "skip"

        lines = _Lines(width=len(self.header), blank=_blank_lines(self.path))
        # a block must hold the header and a whole record: wide files get larger blocks
        block = max(1 << 22, 4 * sum(len(str(c)) + 3 for c in self.header))
        with open_binary(self.path) as handle, _parse_errors(self.path):
            reader = pv.open_csv(
                handle,
                read_options=pv.ReadOptions(use_threads=False, block_size=block),
                parse_options=pv.ParseOptions(invalid_row_handler=refuse, ignore_empty_lines=True),
                convert_options=pv.ConvertOptions(
                    include_columns=columns,
                    column_types={c: pa.string() for c in columns},
                    null_values=[""],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                ),
            )
            for batch in _batches(reader, self.path):
                lines.skip(skipped)
                skipped.clear()
                for lo in range(0, batch.num_rows, self.chunksize):
                    part = batch.slice(lo, self.chunksize)
                    yield lines.take(_to_frame(part, text_columns))
            lines.skip(skipped)
            skipped.clear()
            rest = lines.take(None)
            if len(rest[1]):
                yield rest

    def _as_problems(self, conversion: pd.DataFrame | None) -> pd.DataFrame | None:
        """The layout's conversion problems (by source column) as problems by feature."""
        if conversion is None or conversion.empty:
            return None
        to_feature = {src: feat for feat, src in self.feature_sources.items()}
        frame = pd.DataFrame(
            {
                "row": conversion["row"].astype("int64"),
                "field": conversion["column"].map(lambda c: to_feature.get(c, c)),
                "value": conversion["value"],
                "expected": conversion["expected"],
                "reason": "not " + conversion["expected"].astype(str),
            }
        )
        return frame[list(PROBLEM_COLUMNS)]


def _saved_answer(path: Path) -> pd.DataFrame:
    """A saved Spotify / ReccoBeats answer as a table (`_entry`: each row's place in it)."""
    from songpop.sources.layouts import load_json  # late: loads pandera (start-up)

    document = load_json(path)
    if not is_saved_answer(document):
        raise LayoutError(
            f"{path}: a JSON file, but not a saved Spotify answer ({{'audio_features': [...]}} "
            "or audio-features objects) nor a ReccoBeats one ({'content': [...]})"
        )
    records, positions, _ = saved_records(document, str(path))
    frame = pd.DataFrame.from_records(records)
    frame["_entry"] = positions
    return frame


@contextlib.contextmanager
def _parse_errors(path: Path, kind: str = "UTF-8 CSV") -> Iterator[None]:
    """pyarrow's and gzip's failures to read a file, as a SchemaError naming it."""
    import pyarrow as pa

    try:
        yield
    except (pa.ArrowException, OSError, UnicodeDecodeError, EOFError, zlib.error) as exc:
        raise SchemaError(f"{path}: cannot be read as a {kind} file ({exc})") from exc


def _batches(reader: Any, path: Path) -> Iterator[Any]:
    """The reader's record batches; a file pyarrow cannot parse is a SchemaError naming it."""
    import pyarrow as pa

    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except (pa.ArrowInvalid, UnicodeDecodeError, OSError, EOFError) as exc:
            raise SchemaError(f"{path}: cannot be read as a UTF-8 CSV file ({exc})") from exc
        yield batch


def _to_frame(batch: Any, text_columns: set[str]) -> pd.DataFrame:
    """A batch of text columns as a DataFrame: numbers where a column holds only numbers."""
    import pyarrow as pa
    import pyarrow.compute as pc

    data: dict[str, Any] = {}
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if name in text_columns:
            data[name] = column.to_pandas(types_mapper=pd.ArrowDtype).astype("string")
            continue
        try:
            data[name] = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
            continue
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        missing = pc.is_in(pc.utf8_trim_whitespace(column), pa.array(_NA_TOKENS))
        cleaned = pc.if_else(missing, pa.scalar(None, pa.string()), column)
        try:
            data[name] = pc.cast(cleaned, pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            # some value is not a number: keep the text so that the check can name it
            data[name] = cleaned.to_pandas().astype(object)
    return pd.DataFrame(data)


class _Lines:
    """Which line of a CSV file each parsed row comes from, and rows for refused records.

    pyarrow skips a record whose field count differs from the header's and says which record
    it was; it skips empty lines silently. `_blank_lines` finds first every line on which no
    record starts (empty lines, and the extra lines of quoted values holding newlines), so that
    each record is placed on the line it starts on.
    """

    def __init__(self, width: int, blank: list[int]) -> None:
        self.width = width
        self.refused: list[int] = list(blank)  # sorted 0-based lines that hold no parsed row
        blank_at = np.asarray(blank, dtype=np.int64)
        self._blank_before = blank_at - np.arange(len(blank_at))  # non-empty lines before each
        self.pending: list[tuple[int, str]] = []  # ragged records not yet emitted
        self.parsed = 0  # rows parsed so far
        self.record = 0  # records emitted so far (rows and ragged records)

    def skip(self, skipped: list[tuple[int, str]]) -> None:
        for number, text in skipped:
            # pyarrow numbers a refused record among the non-empty lines, from 1 (the header)
            k = number - 1
            line = k + int(np.searchsorted(self._blank_before, k, side="right"))
            bisect.insort(self.refused, line)
            if text.strip():
                self.pending.append((line, text))

    def _lines_of(self, n: int) -> np.ndarray:
        """0-based physical lines of the next `n` parsed rows (the header is line 0)."""
        g = np.arange(self.parsed, self.parsed + n)
        refused = np.asarray(self.refused, dtype=np.int64)
        before = refused - 1 - np.arange(len(refused))  # parsed rows before each refused line
        return g + 1 + np.searchsorted(before, g, side="right")

    def take(
        self, frame: pd.DataFrame | None
    ) -> tuple[int, pd.DataFrame, np.ndarray, pd.DataFrame | None]:
        """The next chunk: `frame`'s rows with the ragged records that come before its last."""
        n = 0 if frame is None else len(frame)
        lines = self._lines_of(n)
        self.parsed += n
        last = int(lines[-1]) if n else np.iinfo(np.int64).max
        ragged = [(line, text) for line, text in self.pending if line < last]
        self.pending = [(line, text) for line, text in self.pending if line >= last]
        if frame is None:
            frame = pd.DataFrame()
        if ragged:
            extra = pd.DataFrame(index=range(len(ragged)), columns=frame.columns)
            frame = pd.concat([frame, extra], ignore_index=True)
            lines = np.concatenate([lines, [line for line, _ in ragged]])
        order = np.argsort(lines, kind="stable")
        frame = frame.iloc[order].reset_index(drop=True)
        lines = lines[order]
        problems = None
        if ragged:
            texts = dict(ragged)
            rows = [i for i, line in enumerate(lines) if int(line) in texts]
            problems = pd.DataFrame(
                {
                    "row": np.asarray(rows, dtype=np.int64),
                    "field": WHOLE_ROW,
                    "value": [_short(texts[int(lines[i])]) for i in rows],
                    "expected": f"{self.width} fields, as the header",
                    "reason": [
                        f"{_fields(texts[int(lines[i])])} fields where the header has "
                        f"{self.width} (a decimal comma or a stray separator?)"
                        for i in rows
                    ],
                }
            )
        start = self.record
        self.record += len(frame)
        return start, frame, lines + 1, problems


def _blank_lines(path: Path, block: int = 1 << 24) -> list[int]:
    """0-based numbers of the lines of a (possibly gzip) CSV file on which no record starts:
    empty lines, and the lines that continue a quoted value holding a newline. Read in blocks.

    A quote opens or closes a quoted value when a delimiter, a line end or another quote is
    beside it; a quote with ordinary characters on both sides (`5"5`) is text and is not
    counted.
    """
    from songpop.sources.layouts import open_binary  # late: loads pandera (start-up)

    found: list[np.ndarray] = []
    line = 0  # the number of the line the block starts in
    carry = 0  # bytes of that line read before the block
    quoted = False  # whether the block starts inside a quoted value
    before = 10  # the byte before the block (a line start at the file's beginning)
    with open_binary(path) as handle:
        while chunk := handle.read(block):
            data = np.frombuffer(chunk, dtype=np.uint8)
            prev = np.concatenate([[before], data[:-1]])
            nxt = np.concatenate([data[1:], [10]])  # the block's last byte: see the next block
            boundary = (44, 10, 13, 34)
            quotes = (data == 34) & (np.isin(prev, boundary) | np.isin(nxt, boundary))
            inside = (np.cumsum(quotes) + quoted) % 2 == 1  # after each byte
            ends = np.flatnonzero(data == 10)
            if len(ends):
                lengths = np.diff(ends, prepend=-1) - 1
                lengths[0] += carry
                lengths -= (ends > 0) & (data[np.maximum(ends - 1, 0)] == 13)  # "\r\n"
                continued = inside[ends]  # the line after this newline continues a value
                found.append(line + np.flatnonzero(lengths == 0))
                found.append(line + 1 + np.flatnonzero(continued))
                line += len(ends)
                carry = len(data) - int(ends[-1]) - 1
            else:
                carry += len(data)
            quoted = bool(inside[-1])
            before = int(data[-1])
    if not found:
        return []
    return np.unique(np.concatenate(found)).tolist()


def _fields(text: str) -> int:
    import csv

    return len(next(csv.reader([text]), []))


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
