"""Evaluation figures: learning curves, confusion matrices, reliability diagrams, model comparison.

Every figure is a ``matplotlib.figure.Figure`` built without pyplot (so no global state, no GUI
backend and nothing left open: the Agg canvas renders it and it is garbage once saved), written
as PNG and SVG atomically, with a title, axis labels and the colour-blind-safe Okabe–Ito
palette (sequential maps: cividis).
"""

from __future__ import annotations

import functools
import os
import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from songpop import plotting
from songpop.config import FEATURE_SET_LABELS
from songpop.evaluation import metrics as M
from songpop.evaluation.metrics import MetricInputError
from songpop.plotting import save_figure

OKABE_ITO: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)
"""Okabe & Ito's palette, distinguishable under the common colour-vision deficiencies."""

SEQUENTIAL_CMAP = "cividis"
MARKERS: tuple[str, ...] = ("o", "s", "D", "^", "v", "P", "X", "*")

FigurePaths = dict[str, Path]

RC: dict[str, Any] = plotting.RC
"""The report's figure style (``songpop.plotting.RC``), used to draw and to save."""

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _styled(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Draw and save inside the report's rc style, leaving the global rcParams untouched."""

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with matplotlib.rc_context(RC):
            return fn(*args, **kwargs)

    return wrapper


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)  # the Agg canvas, whatever pyplot's backend is
    return fig


@_styled
def plot_learning_curve(
    data: Mapping[str, Any] | Mapping[str, Mapping[str, Any]],
    out: str | os.PathLike[str],
    *,
    title: str = "Learning curve",
    ylabel: str | None = None,
) -> FigurePaths:
    """Training versus cross-validated score against training-set size (report Figs. 5, 7, 9).

    Args:
        data: one :func:`learning_curve_data` result, or ``{model name: result}`` to draw
            several models on one plot.
        out: output path without extension.
        title: figure title.
        ylabel: y-axis label (default: the scoring name).

    Returns:
        ``{"png": Path, "svg": Path}``.
    """
    curves = {"": data} if "train_sizes" in data else dict(data)
    if not curves:
        raise MetricInputError("plot_learning_curve got no curve to draw")
    fig = _new_figure(7, 4.5)
    ax = fig.add_subplot()
    scoring = "score"
    single = len(curves) == 1
    for i, (name, curve) in enumerate(curves.items()):
        sizes = np.asarray(curve["train_sizes"])
        scoring = curve.get("scoring", scoring)
        for part, style, marker in (("train", "--", "o"), ("test", "-", "s")):
            # One model: training orange, cross-validated blue. Several: one colour per model.
            color = OKABE_ITO[(1 if part == "train" else 0) if single else i % len(OKABE_ITO)]
            mean = np.asarray(curve[f"{part}_mean"], dtype=float)
            sd = np.nan_to_num(np.asarray(curve[f"{part}_sd"], dtype=float))
            label = ("training" if part == "train" else "cross-validated") + (
                f" — {name}" if name else ""
            )
            ax.plot(sizes, mean, style, marker=marker, color=color, label=label)
            ax.fill_between(sizes, mean - sd, mean + sd, color=color, alpha=0.15, linewidth=0)
    n_folds = next(iter(curves.values())).get("n_folds")
    ax.text(
        0.01,
        0.01,
        f"shaded: ± 1 sd over {n_folds} folds" if n_folds else "shaded: ± 1 sd over folds",
        transform=ax.transAxes,
        fontsize="x-small",
        color="dimgrey",
    )
    ax.set_title(title)
    ax.set_xlabel("training examples")
    ax.set_ylabel(ylabel or str(scoring).replace("_", " "))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return save_figure(fig, out)


@_styled
def plot_confusion_matrix(
    cm: Sequence[Sequence[int]] | np.ndarray,
    classes: Sequence[Any],
    out: str | os.PathLike[str],
    *,
    title: str = "Confusion matrix",
) -> FigurePaths:
    """Counts and row-normalised percentages side by side (rows: true class, columns: predicted).

    Args:
        cm: square matrix of counts, rows and columns in ``classes`` order (e.g.
            ``classification_metrics(...)["confusion_matrix"]`` with its ``"labels"``).
        classes: the class labels of the rows/columns; shown low → high / not_hit → hit.
        out: output path without extension.
        title: figure title.

    Returns:
        ``{"png": Path, "svg": Path}``.
    """
    matrix = np.asarray(cm, dtype=np.int64)
    labels = list(classes)
    k = len(labels)
    if matrix.shape != (k, k):
        raise MetricInputError(f"cm has shape {matrix.shape}, expected ({k}, {k}) for {labels}")
    order = M.canonical_order(labels)
    perm = [labels.index(c) for c in order]
    matrix = matrix[np.ix_(perm, perm)]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = matrix / matrix.sum(axis=1, keepdims=True)
    share = np.nan_to_num(share)
    names = [str(c) for c in order]
    fig = _new_figure(4.2 * 2 + 1, 4.2)
    panels = (
        ("counts", matrix, "{:d}", "test rows"),
        ("% of true class", 100 * share, "{:.1f}%", "% of the true class's rows"),
    )
    for i, (subtitle, values, fmt, unit) in enumerate(panels):
        ax = fig.add_subplot(1, 2, i + 1)
        vmax = values.max() if values.max() > 0 else 1
        im = ax.imshow(values, cmap=SEQUENTIAL_CMAP, vmin=0, vmax=vmax)
        for r in range(k):
            for c in range(k):
                v = values[r, c]
                text = fmt.format(int(v)) if fmt == "{:d}" else fmt.format(v)
                ax.text(
                    c,
                    r,
                    text,
                    ha="center",
                    va="center",
                    color="black" if v > 0.6 * vmax else "white",
                    fontsize=10,
                )
        ax.set_xticks(range(k), names)
        ax.set_yticks(range(k), names)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title(subtitle)
        fig.colorbar(im, ax=ax, shrink=0.8, label=unit)
    fig.suptitle(title)
    return save_figure(fig, out)


@_styled
def plot_reliability(
    models: Mapping[str, Mapping[str, Any]],
    out: str | os.PathLike[str],
    *,
    title: str = "Reliability diagram",
) -> FigurePaths:
    """Top-label reliability diagram of one or several models, ECE in the title and legend.

    Args:
        models: ``{model name: reliability data}`` where the value is either
            ``classification_metrics(...)`` (its ``"reliability"`` is used) or
            ``reliability_data(...)`` itself.
        out: output path without extension.
        title: figure title; the ECE of each model is appended.

    Returns:
        ``{"png": Path, "svg": Path}``.
    """
    if not models:
        raise MetricInputError("plot_reliability got no model to draw")
    fig = _new_figure(6.5, 7.0)
    ax, hist = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfect calibration")
    eces = []
    n_models = len(models)
    for i, (name, data) in enumerate(models.items()):
        rel = data["reliability"] if "reliability" in data else data
        if "bins" not in rel:
            raise MetricInputError(f"models[{name!r}] has no reliability bins")
        color = OKABE_ITO[i % len(OKABE_ITO)]
        bins = [b for b in rel["bins"] if b["count"] > 0]
        conf = [b["confidence"] for b in bins]
        acc = [b["accuracy"] for b in bins]
        ece = float(rel["ece"])
        eces.append(f"{name} {ece:.3f}")
        ax.plot(
            conf,
            acc,
            "-",
            marker=MARKERS[i % len(MARKERS)],
            color=color,
            label=f"{name} (ECE {ece:.3f})",
        )
        # How many test rows sit in each bin: a point made of 3 rows means little.
        lower = np.array([b["lower"] for b in rel["bins"]])
        width = (np.array([b["upper"] for b in rel["bins"]]) - lower) / n_models
        hist.bar(
            lower + i * width,
            [b["count"] for b in rel["bins"]],
            width=width,
            align="edge",
            color=color,
            label=name,
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("observed accuracy")
    lines = textwrap.wrap("ECE: " + ", ".join(eces), width=70)
    ax.set_title("\n".join([title, *lines]), fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    hist.set_xlabel("mean predicted probability of the predicted class (confidence)")
    hist.set_ylabel("test rows")
    hist.grid(alpha=0.3)
    return save_figure(fig, out)


@_styled
def plot_model_comparison(
    table: pd.DataFrame,
    out: str | os.PathLike[str],
    *,
    title: str = "Model comparison",
    task: str | None = None,
) -> FigurePaths:
    """Accuracy with its 95% interval per model, dummy baseline as a line; feature sets apart.

    One panel per (task, feature set), audio only beside audio + context. Models judged only by
    cross-validation show mean ± sd instead (hollow marker).

    Args:
        table: the output of :func:`comparison_table`.
        out: output path without extension.
        title: figure title.
        task: draw only this task (default: every task in the table, one row of panels each).

    Returns:
        ``{"png": Path, "svg": Path}``.
    """
    if table.empty:
        raise MetricInputError("plot_model_comparison got an empty table")
    if task is not None:
        table = table[table["task"] == task]
        if table.empty:
            raise MetricInputError(f"task {task!r} is not in the comparison table")
    tasks = list(dict.fromkeys(table["task"]))

    feature_sets = [fs for fs in FEATURE_SET_LABELS if fs in set(table["feature_set"])]
    feature_sets += [fs for fs in dict.fromkeys(table["feature_set"]) if fs not in feature_sets]
    n_models = table.groupby(["task", "feature_set"]).size().max()
    # at most two panels side by side: the figure fits the report's column unscaled, so its
    # text reads at 9 pt or more (five panels in a row showed the labels at about 6 px)
    ncols = min(2, len(feature_sets))
    per_task = -(-len(feature_sets) // ncols)
    width = plotting.REPORT_COLUMN_PX / plotting.REPORT_DPI
    fig = _new_figure(width, max(2.3, 0.4 * n_models + 1.3) * per_task * len(tasks) + 0.6)
    axes = fig.subplots(per_task * len(tasks), ncols, squeeze=False)
    used: set[int] = set()
    legend: dict[str, Any] = {}
    for r, t in enumerate(tasks):
        for c, fs in enumerate(feature_sets):
            ax = axes[r * per_task + c // ncols][c % ncols]
            used.add(id(ax))
            if c:  # one accuracy scale per task, as the panels of one row shared before
                ax.sharex(axes[r * per_task][0])
            part = table[(table["task"] == t) & (table["feature_set"] == fs)]
            ax.set_title(f"{t} — {FEATURE_SET_LABELS.get(fs, fs)}", fontsize=10)
            if part.empty:
                ax.text(0.5, 0.5, "not run", ha="center", va="center", transform=ax.transAxes)
                ax.set_yticks([])
                continue
            part = part.iloc[::-1]  # best at the top
            y = np.arange(len(part))
            holdout = part["accuracy"].notna().to_numpy()
            point = part["accuracy"].fillna(part["cv_accuracy_mean"]).to_numpy()
            low = np.where(holdout, part["accuracy_low"], point - part["cv_accuracy_sd"].fillna(0))
            high = np.where(
                holdout, part["accuracy_high"], point + part["cv_accuracy_sd"].fillna(0)
            )
            err = np.vstack([point - low, high - point])
            for mask, face, label in (
                (holdout, OKABE_ITO[0], "test accuracy, 95% CI"),
                (~holdout, "white", "CV accuracy, mean ± sd"),
            ):
                if mask.any():
                    legend[label] = ax.errorbar(
                        point[mask],
                        y[mask],
                        xerr=err[:, mask],
                        fmt="o",
                        color=OKABE_ITO[0],
                        markerfacecolor=face,
                        capsize=3,
                        label=label,
                    )
            dummy_rows = part["dummy_accuracy"].fillna(part["cv_dummy_accuracy"]).to_numpy()
            dummy = pd.Series(dummy_rows).dropna()
            if not dummy.empty and dummy.max() - dummy.min() > 1e-9:
                # Rows judged by different protocols have different dummies: one mark each.
                legend["dummy baseline (most frequent class)"] = ax.plot(
                    dummy_rows, y, "|", color=OKABE_ITO[3], markersize=16, markeredgewidth=2
                )[0]
            elif not dummy.empty:
                level = float(dummy.iloc[0])
                legend["dummy baseline (most frequent class)"] = ax.axvline(
                    level, color=OKABE_ITO[3], linestyle="--"
                )
                ax.text(
                    level,
                    1.0,
                    f" dummy {level:.3f}",
                    transform=ax.get_xaxis_transform(),
                    color=OKABE_ITO[3],
                    fontsize=9,
                    va="top",
                )
            for yi, (p, hi) in enumerate(zip(point, high, strict=True)):
                ax.annotate(
                    f"{p:.3f}",
                    (hi, yi),
                    xytext=(4, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=9,
                )
            ax.set_yticks(y, part["model"].tolist())
            ax.set_ylim(-0.6, len(part) - 0.4)
            ax.set_xlabel("accuracy")
            ax.grid(axis="x", alpha=0.3)
            ax.margins(x=0.08)
    for ax in axes.flat:
        if id(ax) not in used:
            ax.set_visible(False)
    fig.suptitle(title)
    if legend:
        fig.legend(
            list(legend.values()),
            list(legend.keys()),
            loc="outside lower center",
            ncol=min(len(legend), 2),
            fontsize=9,
            frameon=False,
        )
    return save_figure(fig, out)


def figure_entry(paths: Mapping[str, Path], title: str, caption: str = "") -> dict[str, Any]:
    """A ``figures`` entry for ``write_models_section`` from :func:`save_figure`'s paths."""
    return {"title": title, "png": paths["png"], "svg": paths["svg"], "caption": caption}
