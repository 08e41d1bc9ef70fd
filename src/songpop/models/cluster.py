"""The report's k-means analysis, measured: k chosen by silhouette, PCA map, clusters vs levels.

The report clustered the standardised audio features with k = 3 and drew them on two principal
components (its Figure 10), saying the algorithm "identified natural groupings". This module
measures how natural they are: the silhouette for each k, the k it prefers, how the clusters line
up with the popularity levels (cross-table, adjusted Rand index, normalised mutual information),
and the cluster centres in the features' own units.

`kmeans_analysis()` is pure (DataFrame in, `ClusterResult` out); `write_cluster_section()` writes
the figures, CSV tables and the report's `section.json`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from songpop import config
from songpop.errors import SchemaError
from songpop.plotting import save_figure

logger = logging.getLogger(__name__)

REPORT_K = 3
"""The report's k."""

SILHOUETTE_SAMPLE = 4000
"""Rows used for each silhouette score (the full score is quadratic in the rows)."""

# Okabe-Ito palette (colour-blind safe), black last.
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
)


@dataclass
class ClusterFit:
    """One k-means fit.

    Attributes:
        k: number of clusters.
        silhouette: silhouette score (on the sample, standardised features).
        labels: cluster of each row (0..k-1), aligned with the input rows.
        crosstab: clusters × popularity levels, row counts (with totals).
        centres: cluster centres in feature units (one row per cluster, plus its size).
        centres_std: the same centres in standard deviations from the mean song.
        adjusted_rand: agreement between clusters and levels, 0 = chance, 1 = identical.
        nmi: normalised mutual information between clusters and levels, 0..1.
    """

    k: int
    silhouette: float
    labels: np.ndarray
    crosstab: pd.DataFrame
    centres: pd.DataFrame
    centres_std: pd.DataFrame
    adjusted_rand: float
    nmi: float


@dataclass
class ClusterResult:
    """What `kmeans_analysis` measured.

    Attributes:
        features: the columns clustered, in order.
        n_rows: rows clustered.
        silhouette: one row per k tried: `k`, `silhouette`, `inertia`.
        best_k: the k with the highest silhouette.
        fits: the detailed fits, for `best_k` and for the report's k = 3.
        pca: `pc1`, `pc2` coordinates of every row (standardised features).
        explained_variance: share of variance of PC1 and PC2.
        silhouette_sample: rows used per silhouette score (n_rows when all).
        seed: the random seed used.
    """

    features: list[str]
    n_rows: int
    silhouette: pd.DataFrame
    best_k: int
    fits: dict[int, ClusterFit]
    pca: pd.DataFrame
    explained_variance: tuple[float, float]
    silhouette_sample: int
    seed: int
    levels: pd.Series = field(repr=False)

    @property
    def best(self) -> ClusterFit:
        """The fit at the silhouette's preferred k."""
        return self.fits[self.best_k]


def kmeans_analysis(
    X: pd.DataFrame,
    levels: pd.Series,
    k_range: Iterable[int] = range(2, 9),
    seed: int = config.SEED,
    features: Sequence[str] | None = None,
    silhouette_sample: int | None = SILHOUETTE_SAMPLE,
    progress: bool = False,
) -> ClusterResult:
    """Cluster the standardised audio features with k-means and compare clusters with levels.

    Args:
        X: one row per song with the audio feature columns.
        levels: the popularity level of each row (same length and order as `X`).
        k_range: the k values tried; k = 3 (the report's) is always fitted too.
        seed: random seed for k-means, the silhouette sample and PCA.
        features: columns to cluster. Default: the numeric audio features
            (`config.AUDIO_NUMERIC`) present in `X`; `key` is left out because a pitch class is
            not a quantity whose distances mean anything.
        silhouette_sample: rows drawn (the same rows for every k) to score the silhouette;
            `None` scores all rows.
        progress: show a progress bar over k.

    Returns:
        The `ClusterResult`.

    Raises:
        SchemaError: a feature column is missing, not numeric or has missing values, or
            `levels` does not match `X`.
    """
    cols = _feature_columns(X, features)
    if len(levels) != len(X):
        raise SchemaError(f"levels has {len(levels)} rows but X has {len(X)}; they must match")
    if pd.isna(levels).any():
        row = int(np.flatnonzero(pd.isna(np.asarray(levels)))[0])
        raise SchemaError(f"levels has missing values (first at row {row}); every song needs one")
    data = X[cols].to_numpy(dtype=np.float64)
    ks = sorted({int(k) for k in k_range} | {REPORT_K})
    if ks[0] < 2 or ks[-1] >= len(data):
        raise SchemaError(f"k must be in 2..{len(data) - 1} for {len(data)} rows; got {ks}")

    scaled = StandardScaler().fit_transform(data)
    rng = np.random.default_rng(seed)
    if silhouette_sample is not None and silhouette_sample < len(data):
        sample = np.sort(rng.choice(len(data), size=silhouette_sample, replace=False))
    else:
        sample = np.arange(len(data))

    rows, pipes = [], {}
    for k in tqdm(ks, desc="k-means", disable=not progress):
        # One OpenMP thread: on a busy 2-core machine k-means' threads mostly wait on each other.
        with threadpool_limits(limits=1, user_api="openmp"):
            pipe = _kmeans_pipeline(k, seed).fit(data)
        labels = pipe.named_steps["kmeans"].labels_
        score = float(silhouette_score(scaled[sample], labels[sample]))
        rows.append({"k": k, "silhouette": score, "inertia": float(pipe[-1].inertia_)})
        pipes[k] = pipe
        logger.info("k-means k=%d silhouette %.3f", k, score)
    table = pd.DataFrame(rows)
    best_k = int(table.loc[table["silhouette"].idxmax(), "k"])

    lv = pd.Series(np.asarray(levels), name="level")
    fits = {
        k: _describe_fit(pipes[k], cols, lv, float(table.set_index("k").at[k, "silhouette"]))
        for k in sorted({best_k, REPORT_K})
    }
    pca = PCA(n_components=2, random_state=seed).fit(scaled)
    coords = pd.DataFrame(pca.transform(scaled), columns=["pc1", "pc2"])
    return ClusterResult(
        features=cols,
        n_rows=len(data),
        silhouette=table,
        best_k=best_k,
        fits=fits,
        pca=coords,
        explained_variance=(
            float(pca.explained_variance_ratio_[0]),
            float(pca.explained_variance_ratio_[1]),
        ),
        silhouette_sample=len(sample),
        seed=seed,
        levels=lv,
    )


def plot_pca_clusters(
    result: ClusterResult,
    k: int,
    path_png: str | os.PathLike[str],
    path_svg: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Scatter of the two principal components, coloured by the k-means cluster.

    Args:
        result: from `kmeans_analysis`.
        k: which fit to draw (one of `result.fits`).
        path_png: where the PNG goes.
        path_svg: where the SVG goes, if wanted.

    Returns:
        The paths written.
    """
    from matplotlib.figure import Figure

    fit = result.fits[k]
    ev1, ev2 = result.explained_variance
    fig = Figure(figsize=(7, 5.5), constrained_layout=True)
    ax = fig.subplots()
    sizes = np.bincount(fit.labels, minlength=k)
    for c in np.argsort(-sizes, kind="stable"):  # small clusters drawn last, so they stay visible
        mask = fit.labels == c
        ax.scatter(
            result.pca.loc[mask, "pc1"],
            result.pca.loc[mask, "pc2"],
            s=6,
            # translucent dots for thousands of points; small clusters more opaque to stay visible
            alpha=float(np.clip(400 / max(int(mask.sum()), 1), 0.15, 0.8)),
            color=PALETTE[c % len(PALETTE)],
            label=f"cluster {c} ({int(mask.sum()):,} songs)",
            linewidths=0,
            rasterized=True,
        )
    ax.set_xlabel(f"PC1 ({ev1:.1%} of variance)")
    ax.set_ylabel(f"PC2 ({ev2:.1%} of variance)")
    ax.set_title(
        f"k-means, k = {k}, on {len(result.features)} standardised audio features "
        f"(silhouette {fit.silhouette:.2f})"
    )
    handles, names = ax.get_legend_handles_labels()
    by_cluster = sorted(zip(names, handles, strict=True), key=lambda pair: int(pair[0].split()[1]))
    legend = ax.legend(
        [h for _, h in by_cluster],
        [n for n, _ in by_cluster],
        markerscale=3,
        loc="best",
        fontsize="small",
    )
    for handle in legend.legend_handles:
        handle.set_alpha(1.0)
    ax.grid(alpha=0.3)
    return _save(fig, path_png, path_svg)


def plot_silhouette(
    result: ClusterResult,
    path_png: str | os.PathLike[str],
    path_svg: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Silhouette score against k, marking the chosen k and the report's k = 3."""
    from matplotlib.figure import Figure

    table = result.silhouette
    fig = Figure(figsize=(6, 4), constrained_layout=True)
    ax = fig.subplots()
    ax.plot(table["k"], table["silhouette"], marker="o", color=PALETTE[0])
    best = table.set_index("k").loc[result.best_k, "silhouette"]
    ax.scatter(
        [result.best_k], [best], s=140, facecolors="none", edgecolors=PALETTE[5], linewidths=2,
        label=f"best k = {result.best_k}", zorder=3,
    )  # fmt: skip
    if REPORT_K in set(table["k"]):
        ax.axvline(REPORT_K, color="#555555", linestyle=":", label="the report's k = 3")
    ax.set_xlabel("Number of clusters k")
    ax.set_ylabel("Silhouette score (-1..1, higher = better separated)")
    ax.set_title("How well k-means separates the songs")
    ax.set_xticks(list(table["k"]))
    # Start at 0 and leave headroom: a zoomed axis would make 0.15 vs 0.19 look like a big gap.
    low, high = float(table["silhouette"].min()), float(table["silhouette"].max())
    ax.set_ylim(min(0.0, low - 0.05), max(0.5, high + 0.1))
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path_png, path_svg)


def cluster_paragraphs(result: ClusterResult) -> list[str]:
    """Plain-language findings, written from the measured numbers."""
    k3 = result.fits[REPORT_K]
    best = result.best
    if result.best_k == REPORT_K:
        at_k3 = "the report's k"
    else:
        at_k3 = f"and at the report's k = 3 it is {k3.silhouette:.2f}"
    paragraphs = [
        f"K-means grouped {result.n_rows:,} songs by their {len(result.features)} standardised "
        f"numeric audio features ({', '.join(result.features)}). Tried k = "
        f"{int(result.silhouette['k'].min())} to {int(result.silhouette['k'].max())}; the "
        f"silhouette score is highest at k = {result.best_k} ({best.silhouette:.2f}), {at_k3} "
        f"(the original code reported 0.12 at k = 3). " + _silhouette_words(best.silhouette),
        f"With k = {result.best_k}: " + _describe_clusters(best),
    ]
    if result.best_k != REPORT_K:
        paragraphs.append("With the report's k = 3: " + _describe_clusters(k3))
    agreement = (
        f"At k = 3 the adjusted Rand index between clusters and popularity levels is "
        f"{k3.adjusted_rand:.3f} and the normalised mutual information {k3.nmi:.3f} (both 0 when "
        f"unrelated, 1 when identical). "
    )
    if k3.nmi < 0.05:
        agreement += "The clusters barely line up with popularity. "
    paragraphs.append(agreement + _level_spread(k3))
    paragraphs.append(
        f"The map uses the first two principal components, which keep "
        f"{result.explained_variance[0]:.0%} and {result.explained_variance[1]:.0%} of the "
        f"variance; clusters that overlap on it may still be apart in the other dimensions."
    )
    return paragraphs


# --- helpers ------------------------------------------------------------------------------------


def _feature_columns(X: pd.DataFrame, features: Sequence[str] | None) -> list[str]:
    if not isinstance(X, pd.DataFrame):
        raise SchemaError(f"X must be a pandas DataFrame; got {type(X).__name__}")
    cols = (
        list(features)
        if features is not None
        else [c for c in config.AUDIO_NUMERIC if c in X.columns]
    )
    if not cols:
        raise SchemaError(
            f"X has none of the audio feature columns {list(config.AUDIO_NUMERIC)}; "
            f"it has {list(X.columns)}"
        )
    missing = [c for c in cols if c not in X.columns]
    if missing:
        raise SchemaError(f"X is missing feature column(s) {missing}")
    for c in cols:
        if not pd.api.types.is_numeric_dtype(X[c]):
            raise SchemaError(f"column {c!r} must be numeric; it has dtype {X[c].dtype}")
        if X[c].isna().any():
            row = int(np.flatnonzero(X[c].isna().to_numpy())[0])
            raise SchemaError(
                f"column {c!r} has {int(X[c].isna().sum())} missing value(s) (first at row "
                f"{row}); k-means needs complete rows"
            )
    return cols


def _kmeans_pipeline(k: int, seed: int) -> Pipeline:
    return Pipeline(
        [
            ("scale", StandardScaler()),
            ("kmeans", KMeans(n_clusters=k, n_init=10, random_state=seed)),
        ]
    )


def _describe_fit(pipe: Pipeline, cols: list[str], levels: pd.Series, score: float) -> ClusterFit:
    km = pipe.named_steps["kmeans"]
    labels = km.labels_.astype(int)
    centres = pd.DataFrame(
        pipe.named_steps["scale"].inverse_transform(km.cluster_centers_), columns=cols
    )
    centres.index = pd.Index(range(km.n_clusters), name="cluster")
    centres.insert(0, "songs", np.bincount(labels, minlength=km.n_clusters))
    level_order = [lv for lv in config.LEVELS if lv in set(levels)] or sorted(set(levels))
    level_order += sorted(set(levels) - set(level_order), key=str)
    crosstab = pd.crosstab(
        pd.Series(labels, name="cluster"),
        pd.Categorical(levels, categories=level_order, ordered=False),
        margins=True,
        margins_name="total",
        dropna=False,
    )
    crosstab.columns = [str(c) for c in crosstab.columns]
    crosstab.columns.name = None
    return ClusterFit(
        k=km.n_clusters,
        silhouette=score,
        labels=labels,
        crosstab=crosstab,
        centres=centres,
        centres_std=pd.DataFrame(km.cluster_centers_, columns=cols, index=centres.index),
        adjusted_rand=float(adjusted_rand_score(levels, labels)),
        nmi=float(normalized_mutual_info_score(levels, labels)),
    )


def _fit_name(result: ClusterResult, k: int) -> str:
    names = []
    if k == result.best_k:
        names.append("best silhouette")
    if k == REPORT_K:
        names.append("the report's k")
    return ", ".join(names)


def _silhouette_words(score: float) -> str:
    if score < 0.25:
        return (
            "That is low: the songs do not fall into well-separated groups; k-means cuts a "
            "continuous cloud into regions."
        )
    if score < 0.5:
        return "That is a weak-to-moderate structure: the groups overlap considerably."
    return "That indicates clearly separated groups."


def _describe_clusters(fit: ClusterFit) -> str:
    """Name each cluster by the two features whose centre is furthest from the mean song."""
    parts = []
    centres = fit.centres.drop(columns="songs")
    for cluster, z in fit.centres_std.iterrows():
        row = centres.loc[cluster]
        top = z.abs().sort_values(ascending=False).index[:2]
        traits = " and ".join(
            f"{'high' if z[f] > 0 else 'low'} {f} ({_fmt(f, row[f])}, {z[f]:+.1f} sd)" for f in top
        )
        parts.append(
            f"cluster {cluster} ({int(fit.centres.at[cluster, 'songs']):,} songs): {traits}"
        )
    return "; ".join(parts) + "."


def _level_spread(fit: ClusterFit) -> str:
    table = fit.crosstab.drop(index="total", columns="total")
    shares = table.div(table.sum(axis=1), axis=0)
    high = "high" if "high" in shares.columns else shares.columns[-1]
    lo, hi = shares[high].idxmin(), shares[high].idxmax()
    overall = table[high].sum() / table.to_numpy().sum()
    return (
        f"The share of '{high}' songs ranges from {shares.at[lo, high]:.0%} in cluster {lo} to "
        f"{shares.at[hi, high]:.0%} in cluster {hi}, against {overall:.0%} among all songs."
    )


def _fmt(feature: str, value: float) -> str:
    unit = config.FEATURE_UNITS.get(feature)
    if feature == "duration_ms":
        return f"{value / 60000:.1f} min"
    if unit:
        return f"{value:.1f} {unit}"
    return f"{value:.2f}"


def _save(fig, path_png, path_svg) -> list[Path]:
    return list(save_figure(fig, {"png": path_png, "svg": path_svg}).values())
