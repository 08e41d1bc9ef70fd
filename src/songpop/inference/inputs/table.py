"""Tables in: a CSV or Parquet file of songs, in any track layout songpop knows, in chunks.

`TableReader(path, feature_names)` detects the file's layout from its header (Kaggle,
TidyTuesday, Hit Predictor, Spotify API fields) or takes plain feature columns, reads only the
columns a model and the ids need, and yields `(start, rows, known_problems)`: the 0-based
position of the chunk's first data row, the chunk in canonical column names, and the values the
layout's conversion refused (as problems: row, field, value, expected, reason).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pandas as pd

from songpop.errors import LayoutError
from songpop.inference.validate import ID_FIELDS, PROBLEM_COLUMNS

DEFAULT_CHUNKSIZE = 100_000


class TableReader:
    """Yield (start row, canonical chunk, conversion problems) from a CSV or Parquet file.

    Attributes:
        layout_name: the detected layout, or "plain" for plain feature columns.
        id_columns: the canonical identifying columns the file holds (track_id, title, artist).
        row_word: turns a 0-based data row into where it is in the file ("line 5", "row 4").
    """

    def __init__(
        self, path: Path, feature_names: Sequence[str], chunksize: int = DEFAULT_CHUNKSIZE
    ) -> None:
        from songpop.sources import layouts as lay

        self.path = path
        self.origin = str(path)
        self.features = list(feature_names)
        self.chunksize = max(1, int(chunksize))
        self.parquet = path.suffix.lower() in (".parquet", ".pq")
        self.row_word: Callable[[int], str]
        if self.parquet:
            import pyarrow.parquet as pq

            self._pq = pq.ParquetFile(path)
            header = list(self._pq.schema_arrow.names)
            self.row_word = lay.table_row_label
        else:
            header = lay.csv_header(path)
            self.row_word = lay.csv_row_label
        self.header = header
        self.layout = None
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

    def _raw_chunks(self) -> Iterator[pd.DataFrame]:
        if self.parquet:
            columns = [c for c in self.header if str(c).strip() in self.read_columns]
            for batch in self._pq.iter_batches(batch_size=self.chunksize, columns=columns):
                yield batch.to_pandas()
            return
        from songpop.sources.layouts import is_gzip

        text_columns = set(self.layout.text_columns) if self.layout else set(ID_FIELDS)
        dtype = {c: "string" for c in self.header if c in text_columns}
        yield from pd.read_csv(
            self.path,
            chunksize=self.chunksize,
            usecols=lambda c: str(c).strip() in self.read_columns,
            dtype=dtype,
            compression="gzip" if is_gzip(self.path) else None,
            keep_default_na=True,
            skipinitialspace=False,
        )

    def __iter__(self) -> Iterator[tuple[int, pd.DataFrame, pd.DataFrame | None]]:
        start = 0
        for raw in self._raw_chunks():
            raw = raw.reset_index(drop=True)
            if self.layout is not None:
                from songpop.sources.tracks import canonicalize_tracks_lenient

                table, conversion = canonicalize_tracks_lenient(
                    raw,
                    self.origin,
                    self.layout.name,
                    self.decade,
                    columns=self.columns,
                )
                problems = self._as_problems(conversion)
            else:
                table, problems = raw, None
            yield start, table, problems
            start += len(raw)

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
