"""Turn chart history and Spotify popularity into a popularity score and a label.

Orientation, explicitly: chart positions are ranks (1 = best). Every *component* below is a
"higher is better" number in 0..1:

* ``weeks_score      = min(weeks_on_chart, weeks_cap) / weeks_cap``
* ``best_score       = (101 - best_position) / 100``      (#1 → 1.00, #100 → 0.01)
* ``avg_prev_score   = (101 - avg_prev_position) / 100``  (falls back to `avg_position` for a
  song that never had a previous-week position, e.g. one week on the chart)
* ``popularity_score = popularity / 100``                 (Spotify, 0..100)

A song that never charted has 0 for the three chart components.

Strategies (`config.LABEL_STRATEGIES`):

* ``composite`` (default): `score` = weighted mean of the components (weights are parameters);
  where a source has no popularity, its weight is left out and the others are re-normalised.
  Three levels by quantile (`config.LEVELS`).
* ``spotify``: `score` = Spotify popularity, three levels by quantile (what the original code
  did). Rows without popularity cannot be labelled and are dropped (counted).
* ``hit``: classes `hit` / `not_hit` (`config.HIT_CLASSES`): the source's own flag
  (`hit_target`, the Hit Predictor's `target`) where it has one, else whether the song charted.
  `score` is 1.0 for hits, 0.0 otherwise. The agreement of the source flag with the chart match
  is reported.
* ``charted``: classes `charted` / `not_charted` (`config.CHART_CLASSES`): whether the build's
  own chart matching found the track on the Hot 100, whatever the source says (the chart-chance
  task, whose tracks were not chosen by their chart history).

Levels within an era (`era_years`, composite and spotify): the same score cut into thirds
*inside* each release cohort of `era_years` years (1990-1994, 1995-1999, ...), so "high" means
the top third of the songs released in the same five years, not "recent". Songs without a year
are counted and left out, never guessed; so are the songs of a cohort too small to cut.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from songpop.config import CHART_CLASSES, ERA_YEARS, HIT_CLASSES, LABEL_STRATEGIES, LEVELS
from songpop.errors import SchemaError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelSpec:
    """A label's classes, in their natural order, and how they are made.

    Attributes:
        name: "levels" (three popularity levels) or "hit".
        classes: the class names from least to most popular.
        ordinal: whether the order is a ranking (levels) rather than two sides (hit).
        how: how the labels are made, in one sentence.
        words: each class in plain words ("high popularity", "a hit", "not a hit").
    """

    name: str
    classes: tuple[str, ...]
    ordinal: bool
    how: str
    words: tuple[str, ...] = ()

    @property
    def top(self) -> str:
        """The most popular class ("high", "hit"): explanations and binary metrics use it."""
        return self.classes[-1]

    def order(self, classes: Sequence[Any]) -> list[Any]:
        """`classes` (any order, e.g. an estimator's `classes_`) in this label's order."""
        as_str = [str(c) for c in classes]
        return [list(classes)[as_str.index(name)] for name in self.classes]


LEVELS_SPEC = LabelSpec(
    "levels",
    tuple(LEVELS),
    ordinal=True,
    how="a popularity score cut into three equal-count levels (quantiles), lowest first",
    words=("low popularity", "medium popularity", "high popularity"),
)
HIT_SPEC = LabelSpec(
    "hit",
    tuple(HIT_CLASSES),
    ordinal=False,
    how="the source's own hit flag where it has one, else whether the song charted",
    words=("not a hit", "a hit"),
)
CHART_SPEC = LabelSpec(
    "charted",
    tuple(CHART_CLASSES),
    ordinal=False,
    how="whether the track reached the Billboard Hot 100 (songpop's own chart matching)",
    words=("no Hot 100 entry", "a Hot 100 entry"),
)
SPECS: tuple[LabelSpec, ...] = (LEVELS_SPEC, HIT_SPEC, CHART_SPEC)
STRATEGY_SPECS: dict[str, LabelSpec] = {
    "composite": LEVELS_SPEC,
    "spotify": LEVELS_SPEC,
    "hit": HIT_SPEC,
    "charted": CHART_SPEC,
}
ERA_MIN_SONGS = 30
"""A release cohort with fewer songs is left out of the era-relative levels (and counted)."""


def spec_of(classes: Sequence[Any]) -> LabelSpec | None:
    """The label whose classes are exactly `classes` (in any order), or None."""
    names = sorted(str(c) for c in classes)
    return next((spec for spec in SPECS if sorted(spec.classes) == names), None)


def natural_order(classes: Sequence[Any]) -> list[Any]:
    """low < medium < high, not_hit < hit; classes of no known label stay as given."""
    spec = spec_of(classes)
    return spec.order(classes) if spec is not None else list(classes)


def class_words(name: Any) -> str:
    """A class in plain words: "high" → "high popularity", "not_hit" → "not a hit"; a class of
    no known label comes back as it is."""
    for spec in SPECS:
        if str(name) in spec.classes and spec.words:
            return spec.words[spec.classes.index(str(name))]
    return str(name)


SCORE_WORDS: dict[str, str] = {
    "spotify": "Spotify popularity (0-100)",
    "composite": "composite chart score (0-1: weeks on the Billboard Hot 100, best and average "
    "position, Spotify popularity)",
}
"""What the `score` of each quantile strategy is, for the meaning of its levels."""


def describe_levels(
    songs: pd.DataFrame, strategy: str, era_years: int | None = None
) -> dict[str, Any]:
    """What each class of a labelled table means: its songs, years and score range.

    Args:
        songs: labelled songs (`level`, `score`, and `year` or `decade` where present).
        strategy: the label strategy that made the classes.
        era_years: the levels were cut within release cohorts this many years wide; each
            class then also gets its score range in the newest cohort (`latest_era`).

    Returns:
        A JSON-safe dict: `how` (the label in one sentence), `score` (what the score is, for
        the quantile strategies), and `classes`: per class in natural order, `words`, `songs`,
        `share`, the score range `score_min`/`score_max` (quantile strategies), and the
        `years` covered (first, last) when the table has a year or decade.
    """
    spec = STRATEGY_SPECS.get(strategy)
    level = songs["level"].astype(str)
    time = next((c for c in ("year", "decade") if c in songs and songs[c].notna().any()), None)
    out: dict[str, Any] = {
        "strategy": strategy,
        "how": spec.how if spec else strategy,
        "score": SCORE_WORDS.get(strategy) if "score" in songs else None,
        "n": int(len(songs)),
        "classes": [],
    }
    latest = None
    if era_years and time is not None and len(songs):
        out["era_years"] = int(era_years)
        out["how"] = (
            f"{SCORE_WORDS.get(strategy, 'the score')} cut into thirds within each "
            f"{era_years}-year release cohort: each level is a third of the songs released in "
            "the same years"
        )
        cohort = cohort_of(pd.to_numeric(songs[time], errors="coerce"), era_years)
        start = int(cohort.max())
        latest = cohort == start
        out["latest_era"] = [start, start + era_years - 1]
    for name in natural_order(sorted(level.unique())):
        rows = songs[level == name]
        entry: dict[str, Any] = {
            "name": name,
            "words": class_words(name),
            "songs": int(len(rows)),
            "share": round(len(rows) / max(len(songs), 1), 4),
        }
        if strategy in SCORE_WORDS and "score" in rows:
            score = pd.to_numeric(rows["score"], errors="coerce")
            entry["score_min"] = float(round(score.min(), 4))
            entry["score_max"] = float(round(score.max(), 4))
        if time is not None:
            years = pd.to_numeric(rows[time], errors="coerce").dropna()
            if len(years):
                entry["years"] = [
                    int(years.min()),
                    int(years.max()) + (9 if time == "decade" else 0),
                ]
        if latest is not None and "score" in songs:
            newest = pd.to_numeric(songs.loc[latest & (level == name), "score"], errors="coerce")
            if len(newest.dropna()):
                entry["latest_era_score"] = [float(newest.min()), float(newest.max())]
        out["classes"].append(entry)
    return out


def cohort_of(years: pd.Series, era_years: int = ERA_YEARS) -> pd.Series:
    """Each year's release cohort, as its first year (1992 → 1990 for 5-year cohorts); NaN
    stays NaN."""
    values = pd.to_numeric(years, errors="coerce").astype("float64")
    return (values // era_years) * era_years


def era_levels(
    score: pd.Series,
    years: pd.Series,
    era_years: int = ERA_YEARS,
    labels: tuple[str, ...] = LEVELS,
    min_songs: int = ERA_MIN_SONGS,
) -> tuple[pd.Series, dict[str, Any]]:
    """Levels cut within release cohorts: the same quantile rule as `quantile_levels`, applied
    to the songs of each `era_years`-wide cohort apart.

    Args:
        score: the continuous score (higher = more popular).
        years: each song's release year (NaN where unknown).
        era_years: cohort width in years (5: 1990-1994, 1995-1999, ...).
        labels: level names from low to high.
        min_songs: a cohort with fewer songs (or a single score value) is not cut.

    Returns:
        (levels: an ordered categorical with NA for songs left out, the report: `era_years`,
        `no_year` (songs without a year), `small_cohorts` ({first year: songs} left out) and
        `cohorts` ({first year: songs labelled})).

    Raises:
        SchemaError: `era_years` below 1, or no cohort could be cut.
    """
    if era_years < 1:
        raise SchemaError(f"era_years {era_years}: expected a whole number of years, 1 or more")
    cohort = cohort_of(years, era_years)
    out = pd.Series(pd.NA, index=score.index, dtype=pd.CategoricalDtype(list(labels), True))
    report: dict[str, Any] = {
        "era_years": int(era_years),
        "no_year": int(cohort.isna().sum()),
        "small_cohorts": {},
        "cohorts": {},
    }
    for start, idx in score.groupby(cohort, dropna=True).groups.items():
        part = score.loc[idx]
        if len(part.dropna()) < min_songs or part.dropna().nunique() < 2:
            report["small_cohorts"][str(int(start))] = int(len(part))
            continue
        out.loc[idx] = quantile_levels(part, labels, what=f"the score of {int(start)}").astype(
            object
        )
        report["cohorts"][str(int(start))] = int(len(part))
    if not report["cohorts"]:
        raise SchemaError(
            f"no release cohort of {era_years} years holds {min_songs} songs with a year and "
            "two scores; era-relative levels need more songs (or a smaller --era-years)"
        )
    return out, report


def top_class(classes: Sequence[Any]) -> Any:
    """The most popular of `classes` ("high", "hit"); for an unknown label, the last one."""
    spec = spec_of(classes)
    labels = list(classes)
    if spec is None:
        return labels[-1]
    return labels[[str(c) for c in labels].index(spec.top)]


def hit_levels(is_hit: Any) -> pd.Categorical:
    """`hit` / `not_hit` from a boolean array (the hit label's one way to name its classes)."""
    flags = np.asarray(is_hit, dtype=bool)
    return pd.Categorical(
        np.where(flags, HIT_SPEC.top, HIT_SPEC.classes[0]), categories=list(HIT_SPEC.classes)
    )


DEFAULT_WEIGHTS: dict[str, float] = {
    "weeks": 0.25,
    "avg_prev": 0.25,
    "best": 0.25,
    "popularity": 0.25,
}
DEFAULT_WEEKS_CAP = 52


def chart_components(songs: pd.DataFrame, weeks_cap: int = DEFAULT_WEEKS_CAP) -> pd.DataFrame:
    """The three chart components, each 0..1 and higher = more successful (0 if never charted).

    Args:
        songs: a table with `weeks_on_chart`, `best_position`, `avg_prev_position` and
            `avg_position` (NA for songs that never charted).
        weeks_cap: weeks on chart at which `weeks_score` reaches 1.

    Returns:
        A float DataFrame with `weeks_score`, `best_score`, `avg_prev_score`.
    """
    weeks = pd.to_numeric(songs["weeks_on_chart"], errors="coerce").astype("float64")
    best = pd.to_numeric(songs["best_position"], errors="coerce").astype("float64")
    prev = pd.to_numeric(songs["avg_prev_position"], errors="coerce").astype("float64")
    if "avg_position" in songs:
        prev = prev.fillna(pd.to_numeric(songs["avg_position"], errors="coerce").astype("float64"))
    prev = prev.fillna(best)
    return pd.DataFrame(
        {
            "weeks_score": (weeks.clip(upper=weeks_cap) / weeks_cap).fillna(0.0),
            "best_score": ((101.0 - best) / 100.0).clip(0.0, 1.0).fillna(0.0),
            "avg_prev_score": ((101.0 - prev) / 100.0).clip(0.0, 1.0).fillna(0.0),
        },
        index=songs.index,
    )


def composite_score(
    songs: pd.DataFrame,
    weights: dict[str, float] | None = None,
    weeks_cap: int = DEFAULT_WEEKS_CAP,
) -> pd.Series:
    """Weighted blend of the chart components and Spotify popularity (higher = more popular).

    Args:
        songs: chart history columns, and `popularity` (0..100) where the source has it.
        weights: keys `weeks`, `avg_prev`, `best`, `popularity` (non-negative; missing keys
            are 0). Defaults to `DEFAULT_WEIGHTS`.
        weeks_cap: see `chart_components`.

    Returns:
        The score in 0..1, one per row.

    Raises:
        SchemaError: a weight is unknown or negative, or all are 0.
    """
    weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
    unknown = set(weights) - set(DEFAULT_WEIGHTS)
    if unknown or any(w < 0 for w in weights.values()) or not any(weights.values()):
        raise SchemaError(
            f"composite weights {weights}: expected non-negative weights for "
            f"{sorted(DEFAULT_WEIGHTS)}, not all zero"
        )
    parts = chart_components(songs, weeks_cap)
    if "popularity" in songs:
        popularity = pd.to_numeric(songs["popularity"], errors="coerce").astype("float64")
    else:
        popularity = pd.Series(np.nan, index=songs.index)
    parts["popularity_score"] = (popularity / 100.0).clip(0.0, 1.0)
    w = pd.DataFrame(
        {
            "weeks_score": weights.get("weeks", 0.0),
            "best_score": weights.get("best", 0.0),
            "avg_prev_score": weights.get("avg_prev", 0.0),
            "popularity_score": np.where(popularity.notna(), weights.get("popularity", 0.0), 0.0),
        },
        index=songs.index,
    )
    total = w.sum(axis=1)
    return ((parts.fillna(0.0) * w).sum(axis=1) / total.replace(0.0, np.nan)).fillna(0.0)


def quantile_levels(
    score: pd.Series, labels: tuple[str, ...] = LEVELS, what: str = "the score"
) -> pd.Series:
    """Cut a score into equal-count levels (`pd.qcut`), lowest first.

    When ties make the quantile edges collide (e.g. many uncharted songs scoring 0), the cut is
    made on the rank instead (ties broken by row order) and a warning is logged.

    Args:
        score: the continuous score.
        labels: level names from low to high.
        what: how to name the score in an error ("the composite score").

    Returns:
        An ordered categorical Series of `labels`.

    Raises:
        SchemaError: no song to label, or every song has the same score (levels would be cut
            by row order alone, and mean nothing).
    """
    known = score.dropna()
    if known.empty:
        raise SchemaError(f"no song to label: {what} is missing for every song (0 songs left)")
    if known.nunique() < 2:
        raise SchemaError(
            f"every one of the {len(known):,} songs has the same {what} ({known.iloc[0]:g}); "
            "levels cut from it would mean nothing"
        )
    try:
        levels = pd.qcut(score, len(labels), labels=list(labels))
    except ValueError:
        log.warning("score has too many ties for %d quantiles; cutting on rank", len(labels))
        levels = pd.qcut(score.rank(method="first"), len(labels), labels=list(labels))
    return levels.astype(pd.CategoricalDtype(list(labels), ordered=True))


def relabel_among(
    songs: pd.DataFrame, keep: pd.Series, era_years: int | None = None
) -> pd.DataFrame:
    """The songs where `keep` holds, their `score` cut into levels again among them alone
    (within release cohorts of `era_years` years when given; songs left out of every cohort
    are dropped).

    Used for "how big a hit" among charted songs: across all songs the composite level mostly
    says "charted or not".
    """
    kept = songs[keep.to_numpy(dtype=bool)].reset_index(drop=True)
    if not era_years:
        return kept.assign(level=quantile_levels(kept["score"]).astype(str))
    levels, _ = era_levels(kept["score"], kept["year"], era_years)
    kept = kept.assign(level=levels.astype(object))
    return (
        kept[levels.notna().to_numpy()]
        .reset_index(drop=True)
        .assign(level=lambda t: t["level"].astype(str))
    )


def hit_agreement(songs: pd.DataFrame) -> dict[str, Any]:
    """How the source's own hit flag agrees with "the song matched a chart song".

    Args:
        songs: `hit_target` (NA where the source has none) and `charted`.

    Returns:
        `rows` (with a flag), `agreement` (share equal), and the 2x2 counts.
    """
    has = songs["hit_target"].notna() if "hit_target" in songs else pd.Series(False, songs.index)
    if not has.any():
        return {"rows": 0}
    target = songs.loc[has, "hit_target"].astype("int64").eq(1)
    charted = songs.loc[has, "charted"].astype(bool)
    return {
        "rows": int(has.sum()),
        "agreement": round(float((target == charted).mean()), 4),
        "target_hit_charted": int((target & charted).sum()),
        "target_hit_not_charted": int((target & ~charted).sum()),
        "target_flop_charted": int((~target & charted).sum()),
        "target_flop_not_charted": int((~target & ~charted).sum()),
    }


def label_songs(
    songs: pd.DataFrame,
    strategy: str = "composite",
    weights: dict[str, float] | None = None,
    weeks_cap: int = DEFAULT_WEEKS_CAP,
    era_years: int | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Add `score` and `level` by the chosen strategy (see the module docstring).

    Args:
        songs: one row per song with chart history, `charted`, `popularity`, `hit_target`.
        strategy: one of `config.LABEL_STRATEGIES`.
        weights: composite weights (composite only).
        weeks_cap: see `chart_components` (composite only).
        era_years: cut the levels within release cohorts of this many years (composite and
            spotify); songs without a year, or in a cohort too small to cut, are left out and
            counted (`report["era"]`).

    Returns:
        (labelled songs, report with `strategy`, `parameters`, `rows_in`, `rows_out`,
        `balance` and, for `hit`, `agreement`).

    Raises:
        SchemaError: unknown strategy, or no row can be labelled.
    """
    if strategy not in LABEL_STRATEGIES:
        raise SchemaError(f"label strategy {strategy!r}: expected one of {LABEL_STRATEGIES}")
    if songs.empty:
        raise SchemaError(
            f"label strategy {strategy!r}: no song left to label (every track was dropped "
            "before labelling; see the rows per stage in build.json)"
        )
    out = songs.copy()
    report: dict[str, Any] = {"strategy": strategy, "rows_in": len(out), "parameters": {}}
    if strategy == "composite":
        used = dict(DEFAULT_WEIGHTS if weights is None else weights)
        out["score"] = composite_score(out, used, weeks_cap)
        out["level"] = quantile_levels(
            out["score"],
            what="composite score (no song matched a chart song and none has a popularity?)",
        )
        report["parameters"] = {"weights": used, "weeks_cap": weeks_cap}
    elif strategy == "spotify":
        popularity = pd.to_numeric(out.get("popularity"), errors="coerce")
        if popularity is None or popularity.notna().sum() == 0:
            raise SchemaError(
                "label strategy 'spotify' needs column 'popularity', and no track source "
                "given has it (use --label composite or hit)"
            )
        report["dropped_no_popularity"] = int(popularity.isna().sum())
        out = out[popularity.notna()].copy()
        out["score"] = popularity[popularity.notna()].astype("float64")
        out["level"] = quantile_levels(out["score"], what="Spotify popularity")
    elif strategy == "charted":
        charted = out["charted"].fillna(False).astype(bool).to_numpy()
        out["score"] = charted.astype("float64")
        out["level"] = pd.Categorical(
            np.where(charted, CHART_SPEC.top, CHART_SPEC.classes[0]),
            categories=list(CHART_SPEC.classes),
        )
    else:
        target = out["hit_target"] if "hit_target" in out else pd.Series(pd.NA, index=out.index)
        is_hit = target.astype("Int64").eq(1).fillna(out["charted"].astype(bool)).astype(bool)
        out["score"] = is_hit.astype("float64")
        out["level"] = hit_levels(is_hit)
        report["agreement"] = hit_agreement(out)
    if era_years:
        if strategy not in ("composite", "spotify"):
            raise SchemaError(
                f"levels within an era are for the composite and spotify labels, not {strategy!r}"
            )
        years = out["year"] if "year" in out else pd.Series(np.nan, index=out.index)
        levels, era = era_levels(out["score"], years, era_years)
        out["level"] = levels
        out = out[levels.notna().to_numpy()].copy()
        out["level"] = out["level"].astype(pd.CategoricalDtype(list(LEVELS), ordered=True))
        report["era"] = era
    if out.empty:
        raise SchemaError(f"label strategy {strategy!r}: no song left to label")
    report["rows_out"] = len(out)
    report["balance"] = {str(k): int(v) for k, v in out["level"].value_counts(sort=False).items()}
    return out, report
