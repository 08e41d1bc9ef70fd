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
    charts = charts.reset_index(drop=True)
    keys = add_keys(charts[["title", "artist"]])
    valid = (keys["norm_title"].fillna("").ne("") & keys["norm_artist"].ne("")).to_numpy()
    charts, keys = charts[valid], keys[valid]
    # One integer code per song (sorted by key), then numeric work only: string columns are
    # slow to sort and take.
    song = keys.groupby(list(SONG_KEY), sort=True).ngroup().to_numpy()
    week = chart_week_index(charts["chart_date"]).to_numpy()
    position = charts["position"].to_numpy(dtype="int64")
    order = np.lexsort((position, week, song))  # per song: by week, then position
    song, week, position = song[order], week[order], position[order]
    prev = pd.to_numeric(charts["last_week"], errors="coerce").to_numpy(dtype="float64")[order]
    dates = charts["chart_date"].to_numpy()[order]
    first = np.flatnonzero(np.r_[True, song[1:] != song[:-1]])
    n_songs = len(first)
    same_song = np.r_[False, song[1:] == song[:-1]]
    new_week = ~(same_song & np.r_[False, week[1:] == week[:-1]])
    new_run = ~(same_song & np.r_[False, week[1:] - week[:-1] <= 1])
    counts = np.bincount(song, minlength=n_songs)
    has_prev = ~np.isnan(prev)
    prev_n = np.bincount(song, weights=has_prev, minlength=n_songs)
    prev_sum = np.bincount(song, weights=np.where(has_prev, prev, 0.0), minlength=n_songs)
    rows = charts.index[order[first]]
    with np.errstate(invalid="ignore", divide="ignore"):
        avg_prev = np.where(prev_n > 0, prev_sum / prev_n, np.nan)
    songs = pd.DataFrame(
        {
            "norm_title": keys.loc[rows, "norm_title"].to_numpy(),
            "norm_artist": keys.loc[rows, "norm_artist"].to_numpy(),
            "norm_lead": keys.loc[rows, "norm_lead"].to_numpy(),
            "chart_title": charts.loc[rows, "title"].to_numpy(),
            "chart_artist": charts.loc[rows, "artist"].to_numpy(),
            "weeks_on_chart": np.bincount(song, weights=new_week, minlength=n_songs).astype(
                "int64"
            ),
            "best_position": np.minimum.reduceat(position, first).astype("int64"),
            "avg_position": np.bincount(song, weights=position, minlength=n_songs) / counts,
            "avg_prev_position": avg_prev.astype("float64"),
            "debut_date": dates[first],
            "n_runs": np.bincount(song, weights=new_run, minlength=n_songs).astype("int64"),
        }
    )
    for column in ("norm_title", "norm_artist", "norm_lead", "chart_title", "chart_artist"):
        songs[column] = songs[column].astype("string")
    return songs


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
