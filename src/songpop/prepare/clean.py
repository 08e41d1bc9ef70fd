"""Clean the canonical tables: unused columns, missing values, out-of-range values, duplicates.

Nothing is dropped silently: every function returns the cleaned table *and* a report of what it
removed and why, which the build writes to `build.json` and prints.

The rules, in order:

Tracks
1. Unused columns: anything outside the canonical track columns is dropped (listed).
2. Missing values: a row without a title, an artist or any audio feature
   (`config.AUDIO_FEATURES`) cannot be matched or modelled and is dropped (counted per column).
   Missing context (year, mode, popularity, ...) is kept as NA.
3. Out-of-range values (`songpop.sources.schemas.range_violations`, i.e. `config.FEATURE_RANGES`):
   a row with an audio feature out of range is a bad measurement and is dropped; an
   out-of-range *context* value (year, mode, time_signature, explicit) is set to NA and the row
   kept. Both are counted per column.
4. Duplicates: exact duplicate rows are dropped; then, per source, rows repeating a known
   `track_id` (TidyTuesday lists a track once per playlist) keep their first occurrence.

Charts
1. Rows without a date, position, title or artist are dropped; positions outside 1..100 too.
2. Exact duplicate rows are dropped; a second row for the same (chart_date, position) keeps the
   first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from songpop.config import AUDIO_FEATURES, CONTEXT_FEATURES, FEATURE_RANGES
from songpop.sources.schemas import (
    CHART_COLUMNS_CANONICAL,
    TRACK_COLUMNS_CANONICAL,
    range_violations,
)

log = logging.getLogger(__name__)

# clean reads the canonical tables that the sources write
TRACK_COLUMNS: tuple[str, ...] = TRACK_COLUMNS_CANONICAL
CHART_COLUMNS_IN: tuple[str, ...] = CHART_COLUMNS_CANONICAL


@dataclass
class Cleaned:
    """A cleaned table and what cleaning did to it."""

    table: pd.DataFrame
    report: dict[str, Any] = field(default_factory=dict)


def _out_of_range(tracks: pd.DataFrame) -> pd.DataFrame:
    """Boolean frame (same index, the ranged columns): True where a value is out of range."""
    columns = [c for c in FEATURE_RANGES if c in tracks.columns]
    flags = pd.DataFrame(False, index=tracks.index, columns=columns)
    bad = range_violations(tracks)
    for column, rows in bad.groupby("column", sort=False)["row"]:
        flags.loc[rows.to_numpy(), column] = True
    return flags


def clean_tracks(tracks: pd.DataFrame) -> Cleaned:
    """Clean a canonical tracks table (see the module docstring for the rules).

    Args:
        tracks: canonical tracks, possibly from several sources.

    Returns:
        `Cleaned(table, report)`; the report holds `rows_in`, `rows_out`,
        `dropped_columns`, `missing` (column → rows dropped), `out_of_range_dropped`,
        `out_of_range_set_na` (column → count), `duplicates`, `duplicate_track_ids`.
    """
    report: dict[str, Any] = {"rows_in": len(tracks)}
    unused = [c for c in tracks.columns if c not in TRACK_COLUMNS]
    table = tracks.drop(columns=unused)
    report["dropped_columns"] = unused

    required = [c for c in ("title", "artist", *AUDIO_FEATURES) if c in table]
    missing = table[required].isna()
    missing["title"] = missing["title"] | table["title"].astype("string").str.strip().eq("")
    report["missing"] = {c: int(n) for c, n in missing.sum().items() if n}
    table = table[~missing.any(axis=1)]

    flags = _out_of_range(table)
    audio = [c for c in AUDIO_FEATURES if c in flags]
    bad_audio = flags[audio].any(axis=1)
    report["out_of_range_dropped"] = {c: int(n) for c, n in flags[audio].sum().items() if n}
    report["out_of_range_rows_dropped"] = int(bad_audio.sum())
    table = table[~bad_audio].copy()
    flags = flags.loc[table.index]
    report["out_of_range_set_na"] = {}
    for column in CONTEXT_FEATURES:
        if column in table and flags[column].any():
            report["out_of_range_set_na"][column] = int(flags[column].sum())
            table.loc[flags[column], column] = pd.NA

    before = len(table)
    table = table.drop_duplicates()
    report["duplicates"] = before - len(table)
    before = len(table)
    if "track_id" in table:
        known = table["track_id"].notna()
        repeat = known & table.duplicated(subset=["source", "track_id"], keep="first")
        table = table[~repeat]
    report["duplicate_track_ids"] = before - len(table)
    report["rows_out"] = len(table)
    log.info("tracks cleaned: %s", report)
    return Cleaned(table.reset_index(drop=True), report)


def clean_charts(charts: pd.DataFrame) -> Cleaned:
    """Clean a canonical chart-weeks table (see the module docstring for the rules).

    Args:
        charts: canonical chart weeks.

    Returns:
        `Cleaned(table, report)`; the report holds `rows_in`, `rows_out`, `dropped_columns`,
        `missing`, `position_out_of_range`, `duplicates`, `duplicate_positions`.
    """
    report: dict[str, Any] = {"rows_in": len(charts)}
    unused = [c for c in charts.columns if c not in CHART_COLUMNS_IN]
    table = charts.drop(columns=unused)
    report["dropped_columns"] = unused
    required = ["chart_date", "position", "title", "artist"]
    missing = table[required].isna()
    report["missing"] = {c: int(n) for c, n in missing.sum().items() if n}
    table = table[~missing.any(axis=1)]
    bad_position = ~table["position"].between(1, 100)
    report["position_out_of_range"] = int(bad_position.sum())
    table = table[~bad_position]
    before = len(table)
    table = table.drop_duplicates()
    report["duplicates"] = before - len(table)
    before = len(table)
    table = table[~table.duplicated(subset=["chart_date", "position"], keep="first")]
    report["duplicate_positions"] = before - len(table)
    report["rows_out"] = len(table)
    log.info("charts cleaned: %s", report)
    return Cleaned(table.reset_index(drop=True), report)
