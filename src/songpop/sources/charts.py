"""Read weekly Billboard Hot 100 charts of any known layout into the canonical chart-weeks table.

Canonical columns (docs/architecture.md): chart_date, position, title, artist, last_week,
peak_position, weeks_on_chart. One row per (chart week, position).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from songpop.errors import LayoutError, SchemaError
from songpop.sources.layouts import (
    HOT100_JSON,
    Layout,
    PathLike,
    Problems,
    RowLabel,
    csv_header,
    csv_row_label,
    load_json,
    match_layout,
    read_csv_columns,
    read_head,
    sniff_format,
    table_row_label,
    to_dates,
    to_number,
    to_text,
)
from songpop.sources.schemas import CHART_COLUMNS_CANONICAL, validate_charts

log = logging.getLogger(__name__)

_INTEGER = ("position", "last_week", "peak_position", "weeks_on_chart")


def canonicalize_charts(
    frame: pd.DataFrame,
    layout: Layout,
    origin: str,
    row_label: RowLabel = table_row_label,
) -> pd.DataFrame:
    """Map a raw chart table of a known layout onto the canonical chart-weeks table.

    Args:
        frame: the raw table, with the layout's source column names.
        layout: its layout (see `songpop.sources.layouts.LAYOUTS`).
        origin: the file name, for error messages.
        row_label: how to name a row position in error messages.

    Returns:
        The canonical table, validated.

    Raises:
        SchemaError: a value of the wrong type (names column, row and value) or a schema breach.
    """
    problems = Problems(origin, layout.name, row_label)
    src = {canon: layout.source_column(canon, frame.columns) for canon in CHART_COLUMNS_CANONICAL}
    out: dict[str, pd.Series] = {}
    out["chart_date"] = to_dates(
        frame[src["chart_date"]], src["chart_date"], layout.date_formats, problems
    )
    for canon in _INTEGER:
        series = to_number(frame[src[canon]], src[canon], problems, integer=True)
        if canon == "position" and not series.hasnans:
            series = series.astype("int64")
        out[canon] = series
    out["title"] = to_text(frame[src["title"]])
    out["artist"] = to_text(frame[src["artist"]])
    problems.raise_first()
    table = pd.DataFrame(out, index=pd.RangeIndex(len(frame)))[list(CHART_COLUMNS_CANONICAL)]
    table = validate_charts(table, origin, row_label, {k: v for k, v in src.items() if v})
    table.attrs.update({"layout": layout.name, "source_file": origin})
    return table


def _flatten_json(charts: Any, origin: str) -> tuple[pd.DataFrame, list[str]]:
    """Turn mhollingshead's [{date, data: [...]}, ...] into one flat table and row labels."""
    if not isinstance(charts, list):
        raise LayoutError(
            f"{origin}: the {HOT100_JSON.name} layout is a JSON array of chart objects; found a "
            f"{type(charts).__name__}"
        )
    rows: list[dict[str, Any]] = []
    labels: list[str] = []
    for number, chart in enumerate(charts):
        if not isinstance(chart, dict) or "date" not in chart or "data" not in chart:
            keys = sorted(chart) if isinstance(chart, dict) else type(chart).__name__
            raise LayoutError(
                f"{origin}: chart {number} ({HOT100_JSON.name} layout) must have 'date' and "
                f"'data'; found {keys}"
            )
        entries = chart["data"]
        if not isinstance(entries, list):
            raise LayoutError(f"{origin}: chart {number} ({chart['date']}): 'data' is not a list")
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise LayoutError(f"{origin}: chart {chart['date']} entry {index} is not an object")
            missing = [c for c in HOT100_JSON.required if c not in entry]
            if missing:
                raise LayoutError(
                    f"{origin}: chart {chart['date']} entry {index} ({HOT100_JSON.name} layout) "
                    f"lacks {', '.join(repr(m) for m in missing)}; found {sorted(entry)}"
                )
            row = dict(entry)
            row["chart_date"] = chart["date"]
            rows.append(row)
            labels.append(f"chart {chart['date']} entry {index}")
    if not rows:
        raise SchemaError(f"{origin}: no chart entries (an empty {HOT100_JSON.name} file)")
    columns = ["chart_date", *HOT100_JSON.required]
    frame = pd.DataFrame.from_records(rows, columns=columns)
    return frame, labels


def read_charts(path: PathLike) -> pd.DataFrame:
    """Read a chart file of any known layout into the canonical chart-weeks table.

    Layouts: data.world/Kaggle "Hot Stuff.csv", TidyTuesday 2021 `billboard.csv`,
    mhollingshead `all.json` and its flat CSV; each optionally gzip-compressed. The layout is
    recognised from the columns, not the file name.

    Args:
        path: the chart file.

    Returns:
        The canonical chart-weeks table (`attrs["layout"]` names the layout found).

    Raises:
        LayoutError: unknown layout or missing column (names the file and the column).
        SchemaError: empty, truncated or mis-encoded file, or a value of the wrong type.
        DataNotFoundError: the file does not exist.
    """
    path = Path(path)
    origin = str(path)
    head = read_head(path)
    if sniff_format(head) == "json":
        frame, labels = _flatten_json(load_json(path), origin)
        table = canonicalize_charts(frame, HOT100_JSON, origin, labels.__getitem__)
    else:
        header = csv_header(path, head)
        layout = match_layout(header, origin, "charts")
        frame = read_csv_columns(path, layout, header)
        if frame.empty:
            raise SchemaError(f"{origin}: the file has a header but no rows ({layout.name} layout)")
        table = canonicalize_charts(frame, layout, origin, csv_row_label)
    log.info("read %d chart rows from %s (%s)", len(table), path, table.attrs["layout"])
    return table
