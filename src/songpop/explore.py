"""Exploration: what moves with popularity in a song table (the report's Figures 1-3 and more).

The core is pure DataFrame -> DataFrame functions (correlations, class balance, distributions
per level, trends by decade, the match audit as a table). `run_explore` is the I/O edge: it reads
`songs.parquet` (and, when present, the `build.json` and match audit files beside it), draws the
figures, and writes CSVs plus two report manifests: the exploration (order 20) and the data
(order 10).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from songpop import config
from songpop.errors import DataNotFoundError, LayoutError, SchemaError
from songpop.report.manifest import SectionWriter

if TYPE_CHECKING:
    from songpop.report.manifest import SectionWriter

log = logging.getLogger(__name__)


# Correlations use duration in minutes, as the report did (correlation is scale-invariant).
DURATION_MINS = "duration_mins"
CORR_FEATURES: tuple[str, ...] = tuple(
    DURATION_MINS if f == "duration_ms" else f for f in config.AUDIO_FEATURES
)
NUMERIC_FEATURES: tuple[str, ...] = tuple(
    DURATION_MINS if f == "duration_ms" else f for f in config.AUDIO_NUMERIC
)
TARGET_CANDIDATES: tuple[str, ...] = ("popularity", "score")
TREND_FEATURES: tuple[str, ...] = (
    "loudness",
    "acousticness",
    DURATION_MINS,
    "energy",
    "danceability",
    "valence",
    "speechiness",
    "tempo",
)
MIN_SONGS_PER_DECADE = 30
"""Decades with fewer songs are kept in the CSV but left out of the trend figure (too noisy)."""

# --- pure computations ---------------------------------------------------------------------------


def target_column(songs: pd.DataFrame) -> str:
    """The popularity column to correlate with: `popularity` where present, else `score`.

    Raises:
        LayoutError: when neither column exists or both are empty.
    """
    for name in TARGET_CANDIDATES:
        if name in songs.columns and songs[name].notna().any():
            return name
    raise LayoutError(
        "songs table has no usable popularity column: expected 'popularity' or 'score' "
        f"with values; columns are {list(songs.columns)}"
    )


def prepare_songs(songs: pd.DataFrame, source: str = "songs table") -> pd.DataFrame:
    """Check the columns exploration needs and add `duration_mins`; the input is not modified.

    Args:
        songs: one row per song with `config.AUDIO_FEATURES` and `popularity` or `score`.
        source: the file name, for error messages.

    Returns:
        A copy with float audio features, `duration_mins`, and the target as float.

    Raises:
        LayoutError: a required column is missing (the message names it and `source`).
    """
    missing = [c for c in config.AUDIO_FEATURES if c not in songs.columns]
    if missing:
        raise LayoutError(
            f"{source}: missing required column(s) {', '.join(missing)}; "
            f"expected the audio features {', '.join(config.AUDIO_FEATURES)}"
        )
    try:
        target = target_column(songs)
    except LayoutError as exc:
        raise LayoutError(f"{source}: {exc}") from None
    out = songs.copy()
    for col in (*config.AUDIO_FEATURES, target):
        try:
            out[col] = pd.to_numeric(out[col], errors="raise").astype("float64")
        except (TypeError, ValueError) as exc:
            raise SchemaError(f"{source}: column '{col}' is not numeric ({exc})") from None
    out[DURATION_MINS] = out["duration_ms"] / 60_000.0
    if len(out) < 3:
        raise SchemaError(f"{source}: needs at least 3 songs to explore, found {len(out)}")
    return out


def correlation_matrix(songs: pd.DataFrame, target: str, method: str = "pearson") -> pd.DataFrame:
    """Correlations between the audio features (duration in minutes) and the target.

    Args:
        songs: a prepared table (see `prepare_songs`).
        target: the popularity column.
        method: "pearson" or "spearman".

    Returns:
        A square DataFrame indexed and labelled by feature names, the target last.
    """
    cols = [*CORR_FEATURES, target]
    return songs[cols].corr(method=method)


def correlation_with_target(songs: pd.DataFrame, target: str) -> pd.DataFrame:
    """Each feature's Pearson and Spearman correlation with the target, sorted by Pearson.

    Returns:
        Columns feature, pearson, spearman, n (rows with both values), highest Pearson first.
    """
    pearson = correlation_matrix(songs, target, "pearson")[target].drop(target)
    spearman = correlation_matrix(songs, target, "spearman")[target].drop(target)
    counts = {f: int(songs[[f, target]].dropna().shape[0]) for f in CORR_FEATURES}
    table = pd.DataFrame(
        {
            "feature": list(pearson.index),
            "pearson": pearson.to_numpy(),
            "spearman": spearman.reindex(pearson.index).to_numpy(),
            "n": [counts[f] for f in pearson.index],
        }
    )
    return table.sort_values("pearson", ascending=False, kind="stable").reset_index(drop=True)


def label_score_differs(songs: pd.DataFrame, target: str) -> bool:
    """Whether the label's `score` is a different quantity from the correlation target."""
    if target == "score" or "score" not in songs.columns:
        return False
    both = songs[[target, "score"]].dropna()
    return bool(songs["score"].notna().any()) and not np.allclose(both[target], both["score"])


def level_order(levels: pd.Series) -> list[str]:
    """The label values in their natural order (low < medium < high, not_hit < hit)."""
    present = [str(v) for v in levels.dropna().unique()]
    for known in (config.LEVELS, config.HIT_CLASSES):
        if set(present) <= set(known):
            return [v for v in known if v in present]
    return sorted(present)


def class_balance(songs: pd.DataFrame, level: str = "level") -> pd.DataFrame:
    """Songs per label value.

    Returns:
        Columns level, songs, share (0-1), in label order; empty when there is no label column.
    """
    if level not in songs.columns:
        return pd.DataFrame({"level": [], "songs": [], "share": []})
    values = songs[level].dropna().astype(str)
    order = level_order(values)
    counts = values.value_counts().reindex(order, fill_value=0)
    total = int(counts.sum())
    return pd.DataFrame(
        {
            "level": order,
            "songs": counts.to_numpy().astype("int64"),
            "share": counts.to_numpy() / total if total else 0.0,
        }
    )


def distribution_by_level(songs: pd.DataFrame, level: str = "level") -> pd.DataFrame:
    """Summary of each numeric feature per label value (long format).

    Returns:
        Columns feature, level, n, mean, std, q25, median, q75.
    """
    if level not in songs.columns:
        return pd.DataFrame(
            columns=["feature", "level", "n", "mean", "std", "q25", "median", "q75"]
        )
    order = level_order(songs[level])
    data = songs.dropna(subset=[level]).assign(**{level: lambda d: d[level].astype(str)})
    rows = []
    for feature in NUMERIC_FEATURES:
        grouped = data.groupby(level, observed=True)[feature]
        stats = pd.DataFrame(
            {
                "n": grouped.count(),
                "mean": grouped.mean(),
                "std": grouped.std(),
                "q25": grouped.quantile(0.25),
                "median": grouped.median(),
                "q75": grouped.quantile(0.75),
            }
        ).reindex(order)
        stats.insert(0, "level", order)
        stats.insert(0, "feature", feature)
        rows.append(stats.reset_index(drop=True))
    out = pd.concat(rows, ignore_index=True)
    out["n"] = out["n"].fillna(0).astype("int64")
    return out


def decade_of(songs: pd.DataFrame) -> pd.Series:
    """The decade of each song: the `decade` column, else derived from `year` (NA when unknown)."""
    if "decade" in songs.columns and songs["decade"].notna().any():
        return pd.to_numeric(songs["decade"], errors="coerce").astype("Int64")
    if "year" in songs.columns:
        year = pd.to_numeric(songs["year"], errors="coerce")
        return (year // 10 * 10).astype("Int64")
    return pd.Series(pd.NA, index=songs.index, dtype="Int64")


def trends_by_decade(
    songs: pd.DataFrame, features: Sequence[str] = TREND_FEATURES, target: str | None = None
) -> pd.DataFrame:
    """Mean of each feature per decade, with its standard error, in decade order (long format).

    Args:
        songs: a prepared table.
        features: the columns to follow.
        target: also follow this column (e.g. popularity), if given.

    Returns:
        Columns decade, feature, n, mean, sem; empty when no song has a year or decade.
    """
    decade = decade_of(songs)
    columns = [f for f in (*features, *([target] if target else [])) if f in songs.columns]
    data = songs[columns].assign(decade=decade).dropna(subset=["decade"])
    if data.empty:
        return pd.DataFrame(columns=["decade", "feature", "n", "mean", "sem"])
    grouped = data.groupby("decade")
    parts = []
    for feature in columns:
        g = grouped[feature]
        parts.append(
            pd.DataFrame(
                {"feature": feature, "n": g.count(), "mean": g.mean(), "sem": g.sem()}
            ).reset_index()
        )
    out = pd.concat(parts, ignore_index=True)
    out["decade"] = out["decade"].astype("int64")
    out["n"] = out["n"].astype("int64")
    return out.sort_values(["feature", "decade"], kind="stable").reset_index(drop=True)


def flatten(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Flatten nested dicts into (dotted key, scalar) pairs; lists of scalars become one string."""
    pairs: list[tuple[str, Any]] = []
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            pairs += flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(obj, list) and all(not isinstance(v, (Mapping, list)) for v in obj):
        pairs.append((prefix, ", ".join(str(v) for v in obj)))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            pairs += flatten(value, f"{prefix}[{i}]")
    else:
        pairs.append((prefix, obj))
    return pairs


def match_audit_table(audit: Mapping[str, Any]) -> pd.DataFrame:
    """The match audit's headline figures (`match_audit.json`) as a two-column table.

    Per-source figures are left to `match_rate_table`.

    Returns:
        Columns item, value: one row per scalar of the audit, nested keys dotted.
    """
    rest = {k: v for k, v in audit.items() if k != "per_source"}
    return pd.DataFrame(flatten(rest), columns=["item", "value"]).astype({"value": "string"})


def match_rate_table(audit: Mapping[str, Any]) -> pd.DataFrame:
    """Tracks matched to a chart song, per track source (the audit's `per_source`).

    Returns:
        One row per source with its counts and `match_rate`; empty when the audit has none.
    """
    per_source = audit.get("per_source")
    if not isinstance(per_source, Mapping) or not per_source:
        return pd.DataFrame()
    rows = [
        {"source": name, **(dict(flatten(v)) if isinstance(v, Mapping) else {"match_rate": v})}
        for name, v in per_source.items()
    ]
    return pd.DataFrame(rows)


def build_tables(build: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """The data section's tables from `build.json` (written by `songpop data build`).

    Reads the keys `inputs`, `stages`, `label_balance` and the scalar settings; any that is
    missing is left out, so a partial record still renders.

    Returns:
        Any of "settings", "sources", "stages", "label_balance".
    """
    tables: dict[str, pd.DataFrame] = {}
    settings = [(k, v) for k, v in build.items() if not isinstance(v, (Mapping, list))]
    params = build.get("label_report", {})
    if isinstance(params, Mapping) and isinstance(params.get("parameters"), Mapping):
        settings += flatten(params["parameters"], "label parameter")
    settings = [(k, v) for k, v in settings if k not in ("out_dir",)]
    if settings:
        tables["settings"] = pd.DataFrame(settings, columns=["item", "value"]).astype(
            {"value": "string"}
        )
    inputs = build.get("inputs")
    if isinstance(inputs, list) and inputs and all(isinstance(v, Mapping) for v in inputs):
        frame = pd.DataFrame([dict(flatten(v)) for v in inputs])
        if "path" in frame.columns:
            frame.insert(0, "file", frame.pop("path").map(lambda p: Path(str(p)).name))
        if "sha256" in frame.columns:
            frame["sha256"] = frame["sha256"].astype("string").str.slice(0, 12)
        tables["sources"] = frame
    stages = build.get("stages")
    if isinstance(stages, list) and stages and all(isinstance(v, Mapping) for v in stages):
        tables["stages"] = pd.DataFrame([dict(flatten(v)) for v in stages])
    elif isinstance(stages, Mapping) and stages:
        tables["stages"] = pd.DataFrame(
            [
                {"stage": k, **(dict(flatten(v)) if isinstance(v, Mapping) else {"rows": v})}
                for k, v in stages.items()
            ]
        )
    balance = build.get("label_balance")
    if isinstance(balance, Mapping) and balance:
        counts = pd.Series(balance, dtype="float64")
        tables["label_balance"] = pd.DataFrame(
            {
                "level": [str(k) for k in counts.index],
                "songs": counts.to_numpy().astype("int64"),
                "share": (counts / counts.sum()).to_numpy() if counts.sum() else 0.0,
            }
        )
    return tables


# --- the I/O edge --------------------------------------------------------------------------------


@dataclass
class ExploreResult:
    """What `run_explore` wrote and the headline figures."""

    out_dir: Path
    correlations: pd.DataFrame
    target: str
    n_songs: int
    files: list[Path] = field(default_factory=list)
    sections: list[Path] = field(default_factory=list)
    writer: Any = None
    """The `songpop.report.manifest.SectionWriter` holding the tables and figures to show."""
    paragraphs: list[str] = field(default_factory=list)
    songs: pd.DataFrame | None = None
    """The songs table as read (for the data section's label balance)."""


def read_songs(path: Path) -> pd.DataFrame:
    """Read a songs table (Parquet; CSV also accepted) with a clear error when it is unusable.

    Raises:
        DataNotFoundError: the file does not exist.
        LayoutError: the file cannot be read as a table.
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(
            f"songs table {path} not found; build it with `songpop data build --out DIR` "
            "and pass --songs DIR/songs.parquet"
        )
    try:
        if path.suffix.lower() in (".csv", ".gz"):
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise LayoutError(f"{path}: cannot be read as a Parquet table ({exc})") from None


def run_explore(songs_path: Path, out_dir: Path, progress: bool = False) -> ExploreResult:
    """Explore a songs table: write its CSVs and figures (PNG + SVG) and say what they show.

    The report's sections are written from the result by `songpop.report.sections`
    (`explore_sections` does both).

    Args:
        songs_path: `DIR/songs.parquet`.
        out_dir: where to write (created).
        progress: show a progress bar over the figures on stderr.

    Returns:
        The written files, the tables and figures to show, the paragraphs and the
        correlation-with-popularity table.
    """
    from tqdm.auto import tqdm

    songs_path, out_dir = Path(songs_path), Path(out_dir)
    raw = read_songs(songs_path)
    songs = prepare_songs(raw, source=str(songs_path))
    target = target_column(songs)
    log.info("exploring %d songs from %s (target %s)", len(songs), songs_path, target)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tqdm(total=7, desc="explore figures", unit="fig", disable=not progress) as bar:
        writer = SectionWriter(out_dir, on_figure=bar.update)
        with_target = _write_correlations(writer, songs, target)
        _write_levels(writer, songs)
        trends = trends_by_decade(songs, target=target)
        _write_trends(writer, trends, target)
    paragraphs = [
        f"{len(songs):,} songs from {songs_path.name}; popularity column: {target}.",
        _correlation_sentence(with_target, target),
    ]
    decade_text = _decade_sentence(trends, target) if not trends.empty else ""
    if decade_text:
        paragraphs.append(decade_text)
    log.info("exploration written to %s (%d files)", out_dir, len(writer.files))
    return ExploreResult(
        out_dir, with_target, target, len(songs), writer.files, [], writer, paragraphs, raw
    )


def _write_correlations(writer: SectionWriter, songs: pd.DataFrame, target: str) -> pd.DataFrame:
    """The report's Figures 1-3: correlation matrices, the sorted table, the regression panels."""
    from songpop.report import figures  # late: loads matplotlib (start-up)

    corr_p = correlation_matrix(songs, target, "pearson")
    corr_s = correlation_matrix(songs, target, "spearman")
    with_target = correlation_with_target(songs, target)
    n, n_target = len(songs), int(songs[target].notna().sum())
    scope = f"{n:,} songs" if n_target == n else f"the {n_target:,} of {n:,} songs that have it"
    caption = (
        f"Pearson and Spearman correlation of each audio feature with {target} over {scope}, "
        "highest Pearson first (the original report's Figure 3). Duration is in minutes; "
        "key is the pitch class read as a number, as in the report."
    )
    shown = with_target
    if label_score_differs(songs, target):
        by_score = correlation_with_target(songs, "score").set_index("feature")
        shown = with_target.assign(
            pearson_score=with_target["feature"].map(by_score["pearson"]),
            spearman_score=with_target["feature"].map(by_score["spearman"]),
        )
        caption += (
            " The *_score columns correlate with the label's own score (the level is a "
            "quantile of it), over every song."
        )
    writer.table(shown, "correlations.csv", f"Correlation with {target}", caption)
    writer.csv(corr_p.rename_axis("feature").reset_index(), "corr_pearson.csv")
    writer.csv(corr_s.rename_axis("feature").reset_index(), "corr_spearman.csv")
    writer.figure(
        figures.correlation_heatmap(corr_p, f"Pearson correlation of audio features and {target}"),
        "heatmap_pearson",
        "Correlation matrix (Pearson)",
        "Red: positive correlation, blue: negative, white: none; the value is in each cell "
        "(the report's Figure 1).",
    )
    writer.figure(
        figures.correlation_heatmap(corr_s, f"Spearman correlation of audio features and {target}"),
        "heatmap_spearman",
        "Correlation matrix (Spearman)",
        "Rank correlation: robust to skewed features such as speechiness and instrumentalness.",
    )
    writer.figure(
        figures.correlation_bars(with_target, target),
        "correlation_with_popularity",
        f"Correlation with {target}",
        f"Each feature's Pearson correlation with {target} (bars) and Spearman (dots).",
    )
    writer.figure(
        figures.regression_grid(songs, NUMERIC_FEATURES, target),
        "regressions",
        f"Each feature against {target}",
        "Hexagonal bins show where the songs are (darker = more songs); the line is a "
        "least-squares fit with its 95% confidence band; r is Pearson's correlation "
        "(the report's Figure 2).",
    )
    return with_target


def _write_levels(writer: SectionWriter, songs: pd.DataFrame) -> None:
    """Class balance and each feature's distribution per level (when the table has labels)."""
    from songpop.report import figures  # late: loads matplotlib (start-up)

    balance = class_balance(songs)
    if balance.empty:
        writer.skip(2)
        return
    writer.table(
        balance,
        "class_balance.csv",
        "Songs per level",
        "How many songs carry each label value, and their share.",
    )
    writer.figure(
        figures.class_balance_bars(balance), "class_balance", "Class balance", "Songs per level."
    )
    writer.csv(distribution_by_level(songs), "distributions_by_level.csv")
    writer.figure(
        figures.distributions_by_level(songs, NUMERIC_FEATURES, level_order(songs["level"])),
        "distributions_by_level",
        "Feature distributions per level",
        "Box: middle half of the songs, line: median, whiskers: 1.5 × IQR; outliers hidden. "
        "Summary figures per level are in distributions_by_level.csv.",
    )


def _write_trends(writer: SectionWriter, trends: pd.DataFrame, target: str) -> None:
    """Feature means by release decade (when the table has years or decades)."""
    from songpop.report import figures  # late: loads matplotlib (start-up)

    if trends.empty:
        writer.skip()
        return
    writer.csv(trends, "trends_by_decade.csv")
    shown = trends[trends["n"] >= MIN_SONGS_PER_DECADE]
    if shown.empty:
        writer.skip()
        return
    writer.figure(
        figures.decade_trends(shown, [*TREND_FEATURES, target]),
        "trends_by_decade",
        "How the sound changed by decade",
        f"Mean per release decade with a 95% band (±1.96 standard errors); decades with fewer "
        f"than {MIN_SONGS_PER_DECADE} songs are left out (all are in trends_by_decade.csv).",
    )


def _correlation_sentence(table: pd.DataFrame, target: str) -> str:
    top, bottom = table.iloc[0], table.iloc[-1]
    return (
        f"{top['feature']} has the highest correlation with {target} "
        f"(Pearson r = {top['pearson']:+.3f}), {bottom['feature']} the lowest "
        f"(r = {bottom['pearson']:+.3f}). " + _strength_sentence(table)
    )


def _strength_sentence(table: pd.DataFrame) -> str:
    strongest = float(table["pearson"].abs().max())
    if math.isnan(strongest):
        return ""
    share = strongest**2
    sentence = f"The strongest feature on its own explains {share:.0%} of the variance (r²)"
    if share < 0.2:
        return sentence + ": audio features alone are weak predictors of popularity."
    return sentence + "."


def _decade_sentence(trends: pd.DataFrame, target: str) -> str:
    """How the target moved between the first and last well-populated decades."""
    part = trends[(trends["feature"] == target) & (trends["n"] >= MIN_SONGS_PER_DECADE)]
    if len(part) < 2:
        return ""
    first, last = part.iloc[0], part.iloc[-1]
    return (
        f"Mean {target} goes from {first['mean']:.1f} in the {first['decade']}s to "
        f"{last['mean']:.1f} in the {last['decade']}s, so a feature that also changed over "
        "time (loudness, acousticness) correlates with it partly through the release decade."
    )


__all__ = [
    "CORR_FEATURES",
    "ExploreResult",
    "class_balance",
    "correlation_matrix",
    "correlation_with_target",
    "distribution_by_level",
    "match_audit_table",
    "match_rate_table",
    "prepare_songs",
    "run_explore",
    "trends_by_decade",
]
