"""Aggregate weekly chart rows into one history row per chart song.

Orientation: chart positions are ranks, **1 is the best** and 100 the worst, everywhere in this
module. `best_position` is therefore the *minimum* position a song reached; a lower
`avg_position` / `avg_prev_position` means a more successful song. Nothing here flips them; the
label step (`songpop.prepare.label`) turns them into "higher is better" scores, explicitly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from songpop.prepare.normalize import add_keys, seed_normalize

SONG_KEY: tuple[str, str] = ("norm_title", "norm_artist")
"""A chart song is a normalised title + normalised primary artist."""

CHART_HISTORY_COLUMNS: tuple[str, ...] = (
    "weeks_on_chart",
    "best_position",
    "avg_position",
    "avg_prev_position",
    "debut_date",
    "n_runs",
)


def chart_week_index(dates: pd.Series) -> pd.Series:
    """Number each distinct chart date 0, 1, 2, ... in date order (consecutive charts differ by 1).

    Args:
        dates: the `chart_date` column.

    Returns:
        An int64 Series with the same index.
    """
    return dates.rank(method="dense").astype("int64") - 1


def count_runs(keys: pd.DataFrame, week_index: pd.Series) -> pd.Series:
    """Count chart runs per song: a run is a stretch of consecutive chart weeks.

    A gap of one chart or more starts a new run (a re-entry). Two rows of one song in the same
    week (two spellings that normalise to one key) do not.

    Args:
        keys: the song key columns, one row per chart row.
        week_index: `chart_week_index` of each row.

    Returns:
        The number of runs per song key (indexed by the key columns).
    """
    frame = keys.copy()
    frame["_week"] = week_index.to_numpy()
    frame = frame.drop_duplicates().sort_values([*keys.columns, "_week"], kind="stable")
    same_song = (frame[list(keys.columns)] == frame[list(keys.columns)].shift()).all(axis=1)
    consecutive = frame["_week"].diff().eq(1)
    frame["_new_run"] = ~(same_song & consecutive)
    return frame.groupby(list(keys.columns), sort=False)["_new_run"].sum().astype("int64")


def aggregate_chart_songs(charts: pd.DataFrame) -> pd.DataFrame:
    """One row per chart song (normalised title + primary artist) with its chart history.

    Args:
        charts: canonical chart weeks (`chart_date`, `position`, `title`, `artist`,
            `last_week`, ...), one row per (week, position).

    Returns:
        One row per song key: `norm_title`, `norm_artist`, `norm_lead`, `chart_title`,
        `chart_artist` (the spelling of its first week), `weeks_on_chart` (distinct chart weeks
        it appeared in), `best_position` (min; 1 = best), `avg_position`, `avg_prev_position`
        (mean of Billboard's last-week position over the weeks that have one; NA if none),
        `debut_date`, `n_runs`.
    """
    keyed = add_keys(charts.reset_index(drop=True))
    keyed = keyed[keyed["norm_title"].fillna("").ne("") & keyed["norm_artist"].ne("")]
    keyed = keyed.sort_values(["chart_date", "position"], kind="stable")
    key = list(SONG_KEY)
    week = chart_week_index(keyed["chart_date"])
    grouped = keyed.assign(_week=week).groupby(key, sort=True)
    songs = grouped.agg(
        norm_lead=("norm_lead", "first"),
        chart_title=("title", "first"),
        chart_artist=("artist", "first"),
        weeks_on_chart=("_week", "nunique"),
        best_position=("position", "min"),
        avg_position=("position", "mean"),
        avg_prev_position=("last_week", "mean"),
        debut_date=("chart_date", "min"),
    )
    songs["n_runs"] = count_runs(keyed[key], week).reindex(songs.index)
    songs["weeks_on_chart"] = songs["weeks_on_chart"].astype("int64")
    songs["best_position"] = songs["best_position"].astype("int64")
    songs["avg_position"] = songs["avg_position"].astype("float64")
    songs["avg_prev_position"] = songs["avg_prev_position"].astype("Float64").astype("float64")
    return songs.reset_index()


def aggregate_seed_charts(charts: pd.DataFrame) -> pd.DataFrame:
    """The original project's Billboard aggregation (NOTES.md, step 3), reproduced.

    Titles and performers are keyed with `seed_normalize`; rows whose previous-week position
    is empty are dropped (every debut and re-entry week); then per (Song, Performer):
    `weeks_on_chart` = max of Billboard's weeks-on-chart, `avg_prev_position` = rounded mean
    previous-week position, `best_position` = min position (1 = best; the original's later
    "max" variant is not reproduced), `avg_position` = mean position of the kept rows,
    `debut_date` = first kept week and `n_runs` = runs over the kept weeks.

    Args:
        charts: canonical chart weeks, already cut at the seed's last chart date.

    Returns:
        One row per (`seed_title`, `seed_artist`) with `chart_title`, `chart_artist` and the
        chart history columns.
    """
    charts = charts.reset_index(drop=True)
    kept = charts[charts["last_week"].notna()].sort_values(["chart_date", "position"])
    kept = kept.assign(
        seed_title=seed_normalize(kept["title"].astype("string")),
        seed_artist=seed_normalize(kept["artist"].astype("string")),
    )
    key = ["seed_title", "seed_artist"]
    week = chart_week_index(charts["chart_date"]).loc[kept.index]
    songs = kept.groupby(key, sort=True).agg(
        chart_title=("title", "first"),
        chart_artist=("artist", "first"),
        weeks_on_chart=("weeks_on_chart", "max"),
        best_position=("position", "min"),
        avg_position=("position", "mean"),
        avg_prev_position=("last_week", "mean"),
        debut_date=("chart_date", "min"),
    )
    # Python's round() halves to even, as the original's pandas .round() did.
    songs["avg_prev_position"] = np.round(songs["avg_prev_position"].astype("float64"))
    songs["n_runs"] = count_runs(kept[key], week).reindex(songs.index)
    songs["weeks_on_chart"] = songs["weeks_on_chart"].astype("int64")
    songs["best_position"] = songs["best_position"].astype("int64")
    songs["avg_position"] = songs["avg_position"].astype("float64")
    return songs.reset_index()
