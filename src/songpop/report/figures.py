"""Figures for people: titled, labelled with units, colour-blind-safe, nothing overlapping.

Every function returns a matplotlib `Figure` (Agg backend, constrained layout);
`songpop.plotting.save_figure` writes it as PNG and SVG and closes it. Scatter-like layers are
rasterized inside the SVG so that thousands of songs do not become thousands of vector paths.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from songpop.plotting import RC, REPORT_COLUMN_PX  # noqa: E402
from songpop.vocabulary import axis_label  # noqa: E402

# seaborn's "colorblind" palette (Okabe-Ito based), spelled out: importing seaborn (and scipy
# with it) would cost about a second of every `songpop explore`.
COLORBLIND: tuple[str, ...] = (
    "#0173B2",
    "#DE8F05",
    "#029E73",
    "#D55E00",
    "#CC78BC",
    "#CA9161",
    "#FBAFE4",
    "#949494",
    "#ECE133",
    "#56B4E9",
)
DIVERGING = "RdBu_r"
DPI = 110


COLUMN_INCHES = REPORT_COLUMN_PX / DPI
"""The report column's width in inches at the figures' resolution: a figure no wider is shown
unscaled at 1280 px, so its 9-10 pt text reads at that size (a 16-inch grid read at 6 pt)."""


def _new(width: float, height: float, nrows: int = 1, ncols: int = 1, **kwargs):
    if width > COLUMN_INCHES:  # narrowed to the column, its panels keep their shape
        height *= COLUMN_INCHES / width
        width = COLUMN_INCHES
    with plt.rc_context(RC):
        fig = plt.figure(figsize=(width, height), layout="constrained", dpi=DPI)
        axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    return fig, axes


def correlation_heatmap(corr: pd.DataFrame, title: str) -> Figure:
    """A square correlation matrix as a red-blue heatmap centred on 0, values in the cells."""
    n = len(corr)
    size = max(5.0, 0.62 * n + 2.5)
    fig, axes = _new(size + 0.8, size)
    ax = axes[0, 0]
    labels = [_short(c) for c in corr.columns]
    values = corr.to_numpy(dtype=float)
    cmap = matplotlib.colormaps[DIVERGING]
    with plt.rc_context(RC):
        image = ax.imshow(values, cmap=cmap, vmin=-1, vmax=1, aspect="equal")
        for (row, col), value in np.ndenumerate(values):
            if np.isnan(value):
                continue
            # White text on the dark ends of the scale, black on the pale middle.
            colour = "white" if abs(value) > 0.6 else "black"
            text = f"{value:.2f}".replace("-0.00", "0.00")
            ax.text(col, row, text, ha="center", va="center", fontsize=8, color=colour)
        ax.set_xticks(range(n), labels, rotation=45, ha="right", rotation_mode="anchor")
        ax.set_yticks(range(n), labels)
        ax.set_xticks(np.arange(n + 1) - 0.5, minor=True)
        ax.set_yticks(np.arange(n + 1) - 0.5, minor=True)
        ax.grid(which="minor", color="white", linewidth=0.8)
        ax.tick_params(which="minor", length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_title(title)
        fig.colorbar(image, ax=ax, shrink=0.8, label="correlation coefficient")
    return fig


def _short(column: str) -> str:
    return "duration" if column == "duration_mins" else column.replace("_", " ")


def correlation_bars(table: pd.DataFrame, target: str) -> Figure:
    """Horizontal bars of each feature's Pearson correlation with the target, Spearman as dots.

    Args:
        table: columns feature, pearson, spearman (see `explore.correlation_with_target`).
        target: the popularity column's name, for the axis label.
    """
    data = table.sort_values("pearson", kind="stable")
    fig, axes = _new(7.5, 0.38 * len(data) + 1.6)
    ax = axes[0, 0]
    cmap = matplotlib.colormaps[DIVERGING]
    limit = max(0.05, float(np.nanmax(np.abs(data[["pearson", "spearman"]].to_numpy()))))
    colours = [cmap(0.5 + 0.5 * v / limit * 0.85) for v in data["pearson"]]
    labels = [_short(f) for f in data["feature"]]
    y = np.arange(len(data))
    with plt.rc_context(RC):
        ax.barh(
            y, data["pearson"], color=colours, edgecolor="0.3", linewidth=0.5, label="Pearson r"
        )
        ax.scatter(
            data["spearman"], y, color="black", marker="D", s=18, zorder=3, label="Spearman ρ"
        )
        for yi, v, rho in zip(y, data["pearson"], data["spearman"], strict=True):
            # Write the value beyond whichever mark reaches further, so it never covers one.
            end = max(v, rho) if v >= 0 else min(v, rho)
            ax.annotate(
                f"{v:+.3f}".replace("-", "−"),
                (end, yi),
                xytext=(7 if v >= 0 else -7, 0),
                textcoords="offset points",
                va="center",
                ha="left" if v >= 0 else "right",
                fontsize=8,
            )
        ax.axvline(0, color="0.3", linewidth=0.8)
        ax.set_yticks(y, labels)
        ax.set_xlim(-limit * 1.45, limit * 1.45)
        ax.set_xlabel(f"correlation with {target} (−1 to 1)")
        ax.set_title(f"Correlation of each audio feature with {target}")
        ax.legend(loc="lower right", frameon=False)
        ax.grid(axis="x", alpha=0.3)
    return fig


def _t975(dof: int) -> float:
    """The 97.5% quantile of Student's t (exact from scipy for few points, 1.96 beyond 200)."""
    if dof > 200:
        return 1.96 + 2.4 / dof  # within 0.001 of the exact value
    from scipy import stats  # late: scipy.stats is slow to import and rarely needed

    return float(stats.t.ppf(0.975, dof))


def _fit_band(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, ...]:
    """Least-squares line on `grid` with the 95% confidence band of the mean."""
    n = len(x)
    slope, intercept = np.polyfit(x, y, 1)
    fit = intercept + slope * grid
    resid = y - (intercept + slope * x)
    dof = max(n - 2, 1)
    s = math.sqrt(float(resid @ resid) / dof)
    sxx = float(((x - x.mean()) ** 2).sum()) or 1e-12
    half = _t975(dof) * s * np.sqrt(1.0 / n + (grid - x.mean()) ** 2 / sxx)
    return fit, fit - half, fit + half


def regression_grid(songs: pd.DataFrame, features: Sequence[str], target: str) -> Figure:
    """One panel per feature: the songs as hexagonal bins, a fitted line and its 95% band."""
    ncols = min(3, len(features))
    nrows = math.ceil(len(features) / ncols)
    fig, axes = _new(3.0 * ncols + 0.8, 2.7 * nrows + 0.8, nrows, ncols, sharey=True)
    line_colour = COLORBLIND[3]
    with plt.rc_context(RC):
        for ax, feature in zip(axes.flat, features, strict=False):
            data = songs[[feature, target]].dropna()
            x = data[feature].to_numpy(dtype=float)
            y = data[target].to_numpy(dtype=float)
            if len(x) < 3 or np.ptp(x) == 0:
                ax.set_visible(False)
                continue
            lo, hi = np.nanpercentile(x, [0.5, 99.5])
            if hi <= lo:
                lo, hi = float(x.min()), float(x.max())
            hb = ax.hexbin(
                x,
                y,
                gridsize=28,
                cmap="Blues",
                mincnt=1,
                bins="log",
                extent=(lo, hi, float(y.min()), float(y.max())),
                linewidths=0.1,
            )
            hb.set_rasterized(True)
            grid = np.linspace(lo, hi, 60)
            fit, low, high = _fit_band(x, y, grid)
            ax.fill_between(grid, low, high, color=line_colour, alpha=0.35, linewidth=0)
            ax.plot(grid, fit, color=line_colour, linewidth=2)
            r = float(np.corrcoef(x, y)[0, 1])
            ax.set_title(f"{_short(feature)}  (r = {r:+.2f})".replace("-", "−"))
            ax.set_xlabel(axis_label(feature))
            ax.set_xlim(lo, hi)
        for ax in axes.flat[len(features) :]:
            ax.set_visible(False)
        for row in axes:
            row[0].set_ylabel(axis_label(target))
        n = int(songs[target].notna().sum())
        fig.suptitle(
            f"Audio features against {target} ({n:,} songs; colour = songs per bin, log scale)"
        )
        fig.colorbar(hb, ax=axes, shrink=0.6, label="songs per bin")
    return fig


def class_balance_bars(balance: pd.DataFrame) -> Figure:
    """Songs per label value, with count and share written on the bars."""
    fig, axes = _new(5.5, 3.6)
    ax = axes[0, 0]
    colours = [COLORBLIND[i % len(COLORBLIND)] for i in range(len(balance))]
    with plt.rc_context(RC):
        bars = ax.bar(balance["level"].astype(str), balance["songs"], color=colours)
        for bar, count, share in zip(bars, balance["songs"], balance["share"], strict=True):
            ax.annotate(
                f"{int(count):,}\n({share:.0%})",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=9,
            )
        ax.set_ylim(0, float(balance["songs"].max()) * 1.25 or 1)
        ax.set_xlabel("level")
        ax.set_ylabel("songs (count)")
        ax.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
        ax.set_title("Class balance: songs per label value")
    return fig


def distributions_by_level(
    songs: pd.DataFrame, features: Sequence[str], levels: Sequence[str], level: str = "level"
) -> Figure:
    """A box plot per feature of its distribution in each label value."""
    ncols = min(3, len(features))
    nrows = math.ceil(len(features) / ncols)
    fig, axes = _new(2.9 * ncols, 2.6 * nrows + 0.6, nrows, ncols)
    colours = [COLORBLIND[i % len(COLORBLIND)] for i in range(len(levels))]
    data = songs.dropna(subset=[level])
    labels = data[level].astype(str)
    with plt.rc_context(RC):
        for ax, feature in zip(axes.flat, features, strict=False):
            groups = [data.loc[labels == lv, feature].dropna().to_numpy() for lv in levels]
            box = ax.boxplot(
                groups,
                tick_labels=list(levels),
                showfliers=False,
                patch_artist=True,
                widths=0.6,
                medianprops={"color": "black", "linewidth": 1.5},
            )
            for patch, colour in zip(box["boxes"], colours, strict=True):
                patch.set_facecolor(colour)
                patch.set_alpha(0.8)
            ax.set_title(_short(feature))
            ax.set_ylabel(axis_label(feature))
            ax.grid(axis="y", alpha=0.3)
        for ax in axes.flat[len(features) :]:
            ax.set_visible(False)
        fig.suptitle(f"Audio features per {level} (box = middle 50%, line = median)")
    return fig


def decade_trends(trends: pd.DataFrame, features: Sequence[str]) -> Figure:
    """Mean of each feature per decade with a ±1.96 standard error band, one panel each."""
    present = [f for f in features if f in set(trends["feature"])]
    ncols = min(3, len(present))
    nrows = math.ceil(len(present) / ncols)
    fig, axes = _new(3.4 * ncols, 2.7 * nrows + 0.6, nrows, ncols)
    colour = COLORBLIND[0]
    span = float(trends["decade"].max() - trends["decade"].min())
    step = 10 if span <= 40 else 20 if span <= 80 else 30
    with plt.rc_context(RC):
        for ax, feature in zip(axes.flat, present, strict=False):
            part = trends[trends["feature"] == feature].sort_values("decade")
            x = part["decade"].to_numpy()
            mean = part["mean"].to_numpy(dtype=float)
            sem = part["sem"].fillna(0).to_numpy(dtype=float)
            ax.fill_between(
                x, mean - 1.96 * sem, mean + 1.96 * sem, color=colour, alpha=0.25, linewidth=0
            )
            ax.plot(x, mean, marker="o", markersize=3.5, color=colour)
            ax.set_title(_short(feature))
            ax.set_ylabel(axis_label(feature))
            ax.grid(alpha=0.3)
            ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:.0f}s"))
            ax.xaxis.set_major_locator(matplotlib.ticker.MultipleLocator(step))
            ax.set_xlabel("release decade")
        for ax in axes.flat[len(present) :]:
            ax.set_visible(False)
        fig.suptitle("Mean audio features by release decade (band: 95% confidence interval)")
    return fig
