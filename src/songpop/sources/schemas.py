"""Pandera schemas of the two canonical source tables, and the audio-range report.

The schemas check columns, order, dtypes and nullability strictly. Audio values outside
`config.FEATURE_RANGES` are NOT a schema failure: real sources hold a few (e.g. a tempo of 0),
so `range_violations` lists them for the prepare/clean step to count and report.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaError as PanderaSchemaError
from pandera.errors import SchemaErrors as PanderaSchemaErrors

from songpop.config import AUDIO_NUMERIC, FEATURE_RANGES
from songpop.errors import SchemaError
from songpop.vocabulary import check_values

CHART_COLUMNS_CANONICAL: tuple[str, ...] = (
    "chart_date",
    "position",
    "title",
    "artist",
    "last_week",
    "peak_position",
    "weeks_on_chart",
)

TRACK_COLUMNS_CANONICAL: tuple[str, ...] = (
    "source",
    "track_id",
    "title",
    "artist",
    *AUDIO_NUMERIC,
    "key",
    "mode",
    "time_signature",
    "explicit",
    "year",
    "decade",
    "popularity",
    "hit_target",
    "genre",
)

TRACK_SOURCES: tuple[str, ...] = (
    "kaggle_1921_2020",
    "kaggle_1921_2020_seed",
    "tidytuesday_2020",
    "hit_predictor",
    "spotify_api",
)

_POSITION = pa.Check.in_range(1, 100)

CHARTS_SCHEMA = pa.DataFrameSchema(
    {
        "chart_date": pa.Column("datetime64[ns]", nullable=False),
        "position": pa.Column("int64", _POSITION, nullable=False),
        "title": pa.Column("string", nullable=False),
        "artist": pa.Column("string", nullable=False),
        "last_week": pa.Column("Int64", _POSITION, nullable=True),
        "peak_position": pa.Column("Int64", _POSITION, nullable=True),
        "weeks_on_chart": pa.Column("Int64", pa.Check.ge(1), nullable=True),
    },
    strict=True,
    ordered=True,
    name="chart weeks",
)

_TRACK_COLUMNS: dict[str, pa.Column] = {
    "source": pa.Column("string", pa.Check.isin(TRACK_SOURCES), nullable=False),
    "track_id": pa.Column("string", nullable=True),
    "title": pa.Column("string", nullable=True),
    "artist": pa.Column("string", nullable=True),
}
# Audio values may be missing or out of range here; the clean step counts and reports both.
_TRACK_COLUMNS.update({name: pa.Column("float64", nullable=True) for name in AUDIO_NUMERIC})
_TRACK_COLUMNS.update(
    {
        name: pa.Column("Int64", nullable=True)
        for name in ("key", "mode", "time_signature", "explicit", "year", "decade")
    }
)
_TRACK_COLUMNS.update(
    {
        "popularity": pa.Column("float64", nullable=True),
        "hit_target": pa.Column("Int64", pa.Check.isin([0, 1]), nullable=True),
        "genre": pa.Column("string", nullable=True),
    }
)
TRACKS_SCHEMA = pa.DataFrameSchema(_TRACK_COLUMNS, strict=True, ordered=True, name="tracks")


def _validate(
    schema: pa.DataFrameSchema,
    table: pd.DataFrame,
    origin: str,
    row_label: Callable[[int], str] | None,
    source_columns: dict[str, str] | None = None,
) -> pd.DataFrame:
    try:
        return schema.validate(table, lazy=True)
    except PanderaSchemaErrors as exc:
        cases = exc.failure_cases
        first = cases.iloc[0]
        detail = _describe(first, row_label, source_columns or {})
        more = f" ({len(cases)} failures in all)" if len(cases) > 1 else ""
        raise SchemaError(f"{origin}: {schema.name} table: {detail}{more}") from exc
    except PanderaSchemaError as exc:  # pragma: no cover - lazy=True raises SchemaErrors
        raise SchemaError(f"{origin}: {schema.name} table: {exc}") from exc


def _describe(
    case: pd.Series, row_label: Callable[[int], str] | None, source_columns: dict[str, str]
) -> str:
    column = case.get("column")
    check = case.get("check")
    value = case.get("failure_case")
    value = value.item() if hasattr(value, "item") else value
    index = case.get("index")
    where = ""
    if index is not None and not pd.isna(index):
        where = f" at {row_label(int(index)) if row_label else f'row {int(index) + 1}'}"
    if column is None or pd.isna(column):
        return f"{check}: {value}"
    source = source_columns.get(column)
    named = f"{column!r} (file column {source!r})" if source and source != column else repr(column)
    return f"column {named} fails {check}{where} (value {value!r})"


def validate_charts(
    table: pd.DataFrame,
    origin: str = "<charts>",
    row_label: Callable[[int], str] | None = None,
    source_columns: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Check a canonical chart-weeks table against `CHARTS_SCHEMA`.

    Args:
        table: the canonical table.
        origin: the file it came from, for messages.
        row_label: names a row position (e.g. "line 5"); default "row N".
        source_columns: canonical column -> the file's own column name, for messages.

    Raises:
        SchemaError: names the file, the column, the first failing row and its value.
    """
    return _validate(CHARTS_SCHEMA, table, origin, row_label, source_columns)


def validate_tracks(
    table: pd.DataFrame,
    origin: str = "<tracks>",
    row_label: Callable[[int], str] | None = None,
    source_columns: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Check a canonical tracks table against `TRACKS_SCHEMA` (types, not audio ranges).

    Args:
        table: the canonical table.
        origin: the file it came from, for messages.
        row_label: names a row position (e.g. "line 5"); default "row N".
        source_columns: canonical column -> the file's own column name, for messages.

    Raises:
        SchemaError: names the file, the column, the first failing row and its value.
    """
    return _validate(TRACKS_SCHEMA, table, origin, row_label, source_columns)


def range_violations(tracks: pd.DataFrame) -> pd.DataFrame:
    """List every value outside its vocabulary range (inclusive bounds); NA is not a violation.

    Args:
        tracks: a canonical tracks table (or any table with some of the ranged columns).

    Returns:
        One row per bad cell: `row` (the table's index label), `column`, `value`, `low`, `high`,
        `allowed` (e.g. "0.0..1.0"), ordered by column then row. Empty when all values are valid.
    """
    parts: list[pd.DataFrame] = []
    for column, (low, high) in FEATURE_RANGES.items():
        if column not in tracks.columns:
            continue
        values = pd.to_numeric(tracks[column], errors="coerce").astype("float64")
        out, _ = check_values(column, values.to_numpy(na_value=np.nan))
        bad = pd.Series(out, index=values.index)
        if bad.any():
            parts.append(
                pd.DataFrame(
                    {
                        "row": tracks.index[bad.to_numpy()],
                        "column": column,
                        "value": values[bad].to_numpy(),
                        "low": float(low),
                        "high": float(high),
                        "allowed": f"{low}..{high}",
                    }
                )
            )
    if not parts:
        return pd.DataFrame(
            {
                "row": pd.Series(dtype="int64"),
                "column": pd.Series(dtype="string"),
                "value": pd.Series(dtype="float64"),
                "low": pd.Series(dtype="float64"),
                "high": pd.Series(dtype="float64"),
                "allowed": pd.Series(dtype="string"),
            }
        )
    return pd.concat(parts, ignore_index=True)
