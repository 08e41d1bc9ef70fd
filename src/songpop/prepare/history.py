"""An artist's Hot 100 record before a song's release year, from the weekly charts.

What a label or a manager knows on release day: how many songs the artist already put on the
Hot 100, for how many weeks, and how high the best of them went. It is a feature (unlike the
song's own chart columns, `config.CHART_COLUMNS`), because it only counts chart weeks dated
*before* the song's release year, and never the song's own title (a re-release, a remaster or a
compilation often carries a later year than the song's own chart run).

Two pure steps:

* `artist_years(chart_weeks)`: one row per (normalised primary artist, normalised title, year)
  with that year's chart weeks and best position: a small table a model bundle can carry.
* `history_before(songs, table)`: per song, the artist's entries, weeks and best position
  strictly before the song's `year`, without the song's own title
  (`vocabulary.HISTORY_FEATURES`).

Artists are matched by the build's name rules (`prepare.normalize`: the normalised primary
artist, `norm_artist`), the same key the chart matching uses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from songpop.config import HISTORY_FEATURES
from songpop.prepare.normalize import add_keys, normalize_text, split_artists

NO_ENTRY_BEST = 101
"""`artist_prior_best` of an artist with no earlier entry (positions run 1..100)."""

YEAR_COLUMNS: tuple[str, ...] = ("norm_artist", "norm_title", "year", "weeks", "best")


def artist_years(chart_weeks: pd.DataFrame) -> pd.DataFrame:
    """One row per (primary artist, title, calendar year) of the weekly charts.

    Args:
        chart_weeks: canonical chart weeks (`chart_date`, `position`, `title`, `artist`).

    Returns:
        `norm_artist`, `norm_title`, `year` (of the chart week), `weeks` (distinct chart weeks
        that year) and `best` (best position that year; 1 = best), sorted by artist and year.
    """
    if chart_weeks.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64") for c in YEAR_COLUMNS})
    keys = add_keys(chart_weeks[["title", "artist"]].reset_index(drop=True))
    frame = pd.DataFrame(
        {
            "norm_artist": keys["norm_artist"].astype("string"),
            "norm_title": keys["norm_title"].astype("string"),
            "year": pd.to_datetime(chart_weeks["chart_date"]).dt.year.to_numpy(),
            "date": pd.to_datetime(chart_weeks["chart_date"]).to_numpy(),
            "position": pd.to_numeric(chart_weeks["position"]).to_numpy(),
        }
    )
    frame = frame[frame["norm_artist"].fillna("").ne("") & frame["norm_title"].fillna("").ne("")]
    grouped = frame.groupby(["norm_artist", "norm_title", "year"], sort=True)
    out = grouped.agg(weeks=("date", "nunique"), best=("position", "min")).reset_index()
    out["year"] = out["year"].astype("int64")
    out["weeks"] = out["weeks"].astype("int64")
    out["best"] = out["best"].astype("int64")
    return out[list(YEAR_COLUMNS)]


def history_before(songs: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Each song's artist history strictly before its release year, its own title left out.

    Args:
        songs: rows with `year` (NaN where unknown) and either `norm_artist` + `norm_title`
            or raw `artist` + `title` (normalised here by the build's rules); an optional
            `own_chart_title` (the normalised title of the song's own chart match) is left out
            too.
        table: `artist_years` of the weekly charts.

    Returns:
        A frame with the index of `songs` and the `vocabulary.HISTORY_FEATURES` columns:
        `artist_prior_entries` (distinct earlier titles on the Hot 100), `artist_prior_weeks`
        (their chart weeks before the year) and `artist_prior_best` (best position before the
        year; `NO_ENTRY_BEST` when none). NaN for a song without a year.
    """
    keys = _song_keys(songs)
    years = pd.to_numeric(songs["year"], errors="coerce").to_numpy(dtype="float64")
    out = pd.DataFrame(
        {
            "artist_prior_entries": np.zeros(len(songs)),
            "artist_prior_weeks": np.zeros(len(songs)),
            "artist_prior_best": np.full(len(songs), float(NO_ENTRY_BEST)),
        },
        index=songs.index,
    )
    if len(songs) and len(table):
        left = pd.DataFrame(
            {
                "_pos": np.arange(len(songs)),
                "norm_artist": keys["norm_artist"].to_numpy(),
                "_title": keys["norm_title"].to_numpy(),
                "_own": (
                    songs["own_chart_title"].astype("string").fillna("").to_numpy()
                    if "own_chart_title" in songs
                    else np.full(len(songs), "")
                ),
                "_year": years,
            }
        )
        left = left[left["norm_artist"].notna() & ~np.isnan(years)]
        joined = left.merge(table, on="norm_artist", how="inner")
        before = joined[
            (joined["year"] < joined["_year"])
            & (joined["norm_title"] != joined["_title"])
            & (joined["norm_title"] != joined["_own"])
        ]
        if len(before):
            agg = before.groupby("_pos").agg(
                entries=("norm_title", "nunique"), weeks=("weeks", "sum"), best=("best", "min")
            )
            pos = agg.index.to_numpy()
            out.iloc[pos, 0] = agg["entries"].to_numpy(dtype="float64")
            out.iloc[pos, 1] = agg["weeks"].to_numpy(dtype="float64")
            out.iloc[pos, 2] = agg["best"].to_numpy(dtype="float64")
    out.loc[np.isnan(years)] = np.nan
    return out[list(HISTORY_FEATURES)]


def _song_keys(songs: pd.DataFrame) -> pd.DataFrame:
    """`norm_artist` and `norm_title` of each song: given, or made by the build's rules."""
    if {"norm_artist", "norm_title"} <= set(songs.columns):
        return songs[["norm_artist", "norm_title"]].astype("string").reset_index(drop=True)
    titles = songs["title"].astype("string").reset_index(drop=True)
    artists = split_artists(songs["artist"].astype("string").reset_index(drop=True))
    return pd.DataFrame(
        {
            "norm_artist": normalize_text(artists["primary_artist"]),
            "norm_title": normalize_text(titles),
        }
    )


def describe_history(values: dict[str, float]) -> str:
    """An artist's earlier record in words: "3 earlier Hot 100 entries, best #12"."""
    entries = values.get("artist_prior_entries")
    if entries is None or np.isnan(entries):
        return "chart history unknown (no release year)"
    if entries <= 0:
        return "no earlier Hot 100 entry"
    best = int(values.get("artist_prior_best", NO_ENTRY_BEST))
    weeks = int(values.get("artist_prior_weeks", 0))
    noun = "entry" if entries == 1 else "entries"
    return f"{int(entries)} earlier Hot 100 {noun} ({weeks} weeks), best #{best}"
