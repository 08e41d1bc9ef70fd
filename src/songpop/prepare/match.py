"""Match tracks to chart songs: exact keys first, a fuzzy fallback above a threshold, an audit.

Exact match: a track's (normalised title, normalised primary artist) equals a chart song's key,
or — for band names split by the artist parser — the track's primary or lead artist equals the
chart's lead artist ("['Earth, Wind & Fire']" meets "Earth, Wind & Fire").

Fuzzy fallback, for tracks left over: candidates are the chart songs whose normalised title
starts with the same `block_chars` characters (blocking keeps it fast); the score is
``min(ratio(title, chart title), token_set_ratio(artist, chart artist))`` (rapidfuzz, 0..100),
so both the title and the artist must be close, and the numbers in the two titles must be the
same ("Love Scars 3" is not "Love Scars"); the best candidate is accepted when its score is at
least `threshold`.

One track per chart song (`select_one_per_song`): a single, an album cut and a remaster of one
song all match the same chart song; the kept track is, in order: the exact match over the fuzzy
one, the higher match score, the higher Spotify popularity, the earlier year, the first in input
order.

The original project's join (`seed_join`) is here too: an exact inner join of
``name + " " + artists`` with ``Song + " " + Performer`` on `seed_normalize` keys, then one row
per title (the highest popularity).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from tqdm.auto import tqdm

from songpop.config import CHART_HISTORY_COLUMNS, SEED
from songpop.prepare.normalize import seed_normalize

log = logging.getLogger(__name__)

MATCH_COLUMNS: tuple[str, ...] = ("chart_title", "chart_artist", *CHART_HISTORY_COLUMNS)
DEFAULT_THRESHOLD = 90.0


@dataclass
class Matched:
    """Tracks with their chart match, and the audit of how matching went."""

    table: pd.DataFrame
    audit: dict[str, Any] = field(default_factory=dict)
    weakest: pd.DataFrame = field(default_factory=pd.DataFrame)
    unmatched_sample: pd.DataFrame = field(default_factory=pd.DataFrame)


def _exact(tracks: pd.DataFrame, chart_songs: pd.DataFrame) -> pd.Series:
    """Chart-song row number per track (-1 when no exact key matches)."""
    alias = pd.concat(
        [
            chart_songs[["norm_title", "norm_artist"]].rename(columns={"norm_artist": "akey"}),
            chart_songs[["norm_title", "norm_lead"]].rename(columns={"norm_lead": "akey"}),
        ]
    )
    alias["chart_row"] = np.concatenate([np.arange(len(chart_songs))] * 2)
    # Primary keys come first, so a (title, artist) that is both someone's primary and someone
    # else's lead goes to the primary.
    alias = alias.drop_duplicates(subset=["norm_title", "akey"], keep="first")
    result = pd.Series(-1, index=tracks.index, dtype="int64")
    for column in ("norm_artist", "norm_lead"):
        todo = tracks.index[result.eq(-1)]
        probe = tracks.loc[todo, ["norm_title", column]].rename(columns={column: "akey"})
        hit = probe.reset_index().merge(alias, on=["norm_title", "akey"], how="inner")
        result.loc[hit["index"].to_numpy()] = hit["chart_row"].to_numpy()
    return result


_DIGITS = re.compile(r"\d+")


def title_numbers(title: str) -> tuple[str, ...]:
    """The numbers in a title: "love scars 3" and "love scars" are different songs."""
    return tuple(_DIGITS.findall(title))


def _fuzzy(
    tracks: pd.DataFrame,
    chart_songs: pd.DataFrame,
    threshold: float,
    block_chars: int,
    progress: bool,
) -> tuple[pd.Series, pd.Series]:
    """Best fuzzy chart-song row and score per track (-1 / NaN below the threshold)."""
    rows = pd.Series(-1, index=tracks.index, dtype="int64")
    scores = pd.Series(np.nan, index=tracks.index, dtype="float64")
    queries = tracks[["norm_title", "norm_artist"]].drop_duplicates()
    queries = queries[queries["norm_title"].str.len().ge(1).fillna(False).astype(bool)]
    query_block = queries["norm_title"].str.slice(0, block_chars)
    chart_block = chart_songs["norm_title"].str.slice(0, block_chars)
    chart_groups = chart_songs.groupby(chart_block, sort=False).indices
    best_row: dict[tuple[str, str], tuple[int, float]] = {}
    groups = queries.groupby(query_block, sort=False)
    for block, group in tqdm(groups, desc="fuzzy match", disable=not progress, leave=False):
        candidates = chart_groups.get(block)
        if candidates is None:
            continue
        choices = chart_songs.iloc[candidates]
        # Titles first (fast, vectorised, with a cutoff); the artist is scored only for the
        # few pairs whose title is already close enough.
        title_score = process.cdist(
            group["norm_title"].tolist(),
            choices["norm_title"].tolist(),
            scorer=fuzz.ratio,
            score_cutoff=threshold,
            dtype=np.uint8,
            workers=1,
        )
        query_idx, choice_idx = np.nonzero(title_score)
        if len(query_idx) == 0:
            continue
        query_keys = list(group.itertuples(index=False, name=None))
        choice_titles = choices["norm_title"].to_numpy()
        choice_artists = choices["norm_artist"].to_numpy()
        for q, c in zip(query_idx, choice_idx, strict=True):
            key = query_keys[q]
            if title_numbers(key[0]) != title_numbers(choice_titles[c]):
                continue
            score = min(
                float(title_score[q, c]),
                fuzz.token_set_ratio(key[1], choice_artists[c]),
            )
            if score >= threshold and score > best_row.get(key, (-1, -1.0))[1]:
                best_row[key] = (int(candidates[c]), score)
    if best_row:
        keys = pd.MultiIndex.from_frame(tracks[["norm_title", "norm_artist"]])
        found = pd.Series(list(best_row.values()), index=pd.MultiIndex.from_tuples(best_row))
        looked_up = found.reindex(keys)
        present = looked_up.notna().to_numpy()
        values = looked_up[present].tolist()
        rows.iloc[np.flatnonzero(present)] = [v[0] for v in values]
        scores.iloc[np.flatnonzero(present)] = [v[1] for v in values]
    return rows, scores


def match_tracks(
    tracks: pd.DataFrame,
    chart_songs: pd.DataFrame,
    threshold: float = DEFAULT_THRESHOLD,
    block_chars: int = 2,
    fuzzy: bool = True,
    progress: bool = False,
) -> pd.DataFrame:
    """Attach each track's chart song (exact key, else fuzzy above `threshold`).

    Args:
        tracks: cleaned tracks with match keys (`songpop.prepare.normalize.add_keys`).
        chart_songs: `songpop.prepare.charts.aggregate_chart_songs` output.
        threshold: lowest accepted fuzzy score (0..100).
        block_chars: fuzzy candidates share this many leading title characters.
        fuzzy: False to keep exact matches only.
        progress: show a progress bar over the fuzzy blocks (stderr).

    Returns:
        `tracks` with `charted` (bool), `match_method` (`exact`/`fuzzy`/`none`), `match_score`
        (100 for exact, NaN for none), `chart_row` (row in `chart_songs`, -1 for none) and the
        chart history columns (`MATCH_COLUMNS`, NA when unmatched).
    """
    out = tracks.copy()
    chart_songs = chart_songs.reset_index(drop=True)
    chart_row = _exact(out, chart_songs)
    method = pd.Series(np.where(chart_row.ge(0), "exact", "none"), index=out.index)
    score = pd.Series(np.where(chart_row.ge(0), 100.0, np.nan), index=out.index)
    if fuzzy and chart_row.eq(-1).any():
        left = out[chart_row.eq(-1)]
        fuzzy_row, fuzzy_score = _fuzzy(left, chart_songs, threshold, block_chars, progress)
        accepted = fuzzy_row.ge(0)
        chart_row.loc[accepted[accepted].index] = fuzzy_row[accepted]
        method.loc[accepted[accepted].index] = "fuzzy"
        score.loc[accepted[accepted].index] = fuzzy_score[accepted]
    out["chart_row"] = chart_row
    out["match_method"] = method.astype("string")
    out["match_score"] = score
    out["charted"] = chart_row.ge(0)
    matched = chart_songs.reindex(chart_row.where(chart_row.ge(0)).to_numpy())
    for column in MATCH_COLUMNS:
        out[column] = matched[column].to_numpy()
    for column in ("weeks_on_chart", "best_position", "n_runs"):
        out[column] = pd.array(out[column], dtype="Int64")
    return out


def select_one_per_song(matched: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Keep one track per chart song, and one per song key among uncharted tracks.

    The rule (see the module docstring): exact over fuzzy, higher match score, higher
    popularity, earlier year, first in input order. Uncharted tracks are grouped by their own
    (norm_title, norm_artist) key and the same rule applies.

    Args:
        matched: `match_tracks` output.

    Returns:
        The kept rows with a new unique `song_id` column (``"<norm title>|<norm artist>"``), and
        how many rows were dropped as other versions of a kept song.
    """
    order = matched.assign(
        _exact=matched["match_method"].eq("exact"),
        _score=matched["match_score"].fillna(-1.0),
        _pop=pd.to_numeric(matched.get("popularity"), errors="coerce"),
        _year=pd.to_numeric(matched.get("year"), errors="coerce"),
        _order=np.arange(len(matched)),
    ).sort_values(
        ["_exact", "_score", "_pop", "_year", "_order"],
        ascending=[False, False, False, True, True],
        na_position="last",
        kind="stable",
    )
    charted = order[order["chart_row"].ge(0)].drop_duplicates(subset=["chart_row"])
    uncharted = order[order["chart_row"].lt(0)]
    kept = pd.concat([charted, uncharted])
    kept["song_id"] = (kept["norm_title"] + "|" + kept["norm_artist"]).astype("string")
    kept = kept.drop_duplicates(subset=["song_id"], keep="first")
    kept = kept.sort_values("_order").drop(columns=["_exact", "_score", "_pop", "_year", "_order"])
    return kept.reset_index(drop=True), len(matched) - len(kept)


def match_audit(
    matched: pd.DataFrame,
    chart_songs: pd.DataFrame,
    n_weakest: int = 50,
    n_unmatched: int = 50,
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """Summarise a match: rate per source, the weakest accepted matches, unmatched chart songs.

    Args:
        matched: `match_tracks` output (all tracks, before one-per-song selection).
        chart_songs: the chart songs it was matched against.
        n_weakest: how many of the lowest-scoring accepted fuzzy matches to list.
        n_unmatched: size of the sample of chart songs no track matched (seeded).

    Returns:
        (audit dict, weakest-matches table, unmatched-chart-songs sample). The dict has, per
        source, `tracks`, `exact`, `fuzzy`, `match_rate` (matched tracks / tracks) and
        `chart_songs_covered`; overall `chart_songs`, `chart_songs_matched`,
        `chart_match_rate` (chart songs with at least one track / chart songs).
    """
    per_source: dict[str, Any] = {}
    for source, group in matched.groupby("source", sort=True):
        methods = group["match_method"].value_counts()
        n_matched = int(group["charted"].sum())
        per_source[str(source)] = {
            "tracks": len(group),
            "exact": int(methods.get("exact", 0)),
            "fuzzy": int(methods.get("fuzzy", 0)),
            "match_rate": round(n_matched / len(group), 4) if len(group) else 0.0,
            "chart_songs_covered": int(group.loc[group["charted"], "chart_row"].nunique()),
        }
    covered = matched.loc[matched["charted"], "chart_row"].unique()
    audit = {
        "per_source": per_source,
        "tracks": len(matched),
        "tracks_matched": int(matched["charted"].sum()),
        "chart_songs": len(chart_songs),
        "chart_songs_matched": len(covered),
        "chart_match_rate": round(len(covered) / len(chart_songs), 4) if len(chart_songs) else 0,
    }
    fuzzy_rows = matched[matched["match_method"].eq("fuzzy")]
    weakest = fuzzy_rows.nsmallest(n_weakest, "match_score")[
        ["source", "title", "artist", "chart_title", "chart_artist", "match_score"]
    ]
    audit["fuzzy_min_score"] = float(fuzzy_rows["match_score"].min()) if len(fuzzy_rows) else None
    left = chart_songs.drop(index=chart_songs.index[covered])
    sample = left.sample(n=min(n_unmatched, len(left)), random_state=SEED)
    unmatched = sample[["chart_title", "chart_artist", "weeks_on_chart", "best_position"]]
    return audit, weakest.reset_index(drop=True), unmatched.sort_values("chart_title")


def seed_join(tracks: pd.DataFrame, seed_charts: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The original project's merge and de-duplication (NOTES.md steps 4 and 6), reproduced.

    Args:
        tracks: canonical tracks (the seed's Spotify rows).
        seed_charts: `songpop.prepare.charts.aggregate_seed_charts` output.

    Returns:
        (one row per chart title — the highest popularity, first on ties — with the track
        columns, the chart history columns and `seed_title`/`seed_artist`; the number of rows
        of the inner join before de-duplication).
    """
    key = (
        seed_normalize(tracks["title"].astype("string"))
        + " "
        + seed_normalize(tracks["artist"].astype("string"))
    )
    chart_key = seed_charts["seed_title"] + " " + seed_charts["seed_artist"]
    charts_keyed = seed_charts.assign(_key=chart_key).drop_duplicates(subset=["_key"])
    joined = tracks.assign(_key=key).merge(
        charts_keyed, on="_key", how="inner", validate="many_to_one"
    )
    n_joined = len(joined)
    one = joined.sort_values("popularity", ascending=False, kind="stable").drop_duplicates(
        subset=["seed_title"], keep="first"
    )
    return one.drop(columns=["_key"]).sort_index().reset_index(drop=True), n_joined
