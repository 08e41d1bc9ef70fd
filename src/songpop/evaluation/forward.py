"""Forward in time: what a model trained on older releases says about newer ones.

A claim about a *new* song is measured the way a deployed model meets one: trained on the songs
released before a year Y, tested on those released from Y to Y + 4 (`rolling_origins`), for Y
in `config.FORWARD_ORIGINS` where both sides hold enough songs. A task's headline is its latest
origin: "for a song released now".

Level labels that are quantiles of a score across every song (the seed and chart tasks) would
let the test years' scores move the cut points; here the training years' cut points label both
sides (`levels_by_cutpoints`), as a model fitted then would have had to. Labels that are fixed
per song (hit / not hit, charted or not, levels cut within a release cohort) stay as they are.

Every origin scores each feature set with the same model settings, beside a model that knows
only the release year ("year"), whose forward skill is the yardstick: a row that does not beat
it says so in plain words (`forward_note`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from songpop import config
from songpop.config import FEATURE_SET_LABELS
from songpop.evaluation import metrics as M
from songpop.evaluation import uncertainty as U
from songpop.plotting import save_figure

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Origin:
    """One rolling origin: train on `train` (released before `year`), test on `test`
    (released `year` .. `last`); positions into the table."""

    year: int
    last: int
    train: np.ndarray
    test: np.ndarray

    @property
    def label(self) -> str:
        """ "before 2015 → 2015-2019"."""
        return f"before {self.year} → {self.year}-{self.last}"


def rolling_origins(
    years: Any,
    origins: Sequence[int] = config.FORWARD_ORIGINS,
    horizon: int = config.FORWARD_HORIZON,
    min_train: int = config.FORWARD_MIN_TRAIN,
    min_test: int = config.FORWARD_MIN_TEST,
) -> list[Origin]:
    """The origins a table allows: each trains strictly before its year and tests on the next
    `horizon` years; origins with fewer than `min_train` / `min_test` songs are left out.

    Rows without a year are in neither part. A table that knows only the decade (1990 = the
    1990s) works the same way: the decade's first year stands for its songs.

    Args:
        years: release year (or decade) per row.
        origins: the candidate first test years.
        horizon: test years per origin.
        min_train: fewest training songs.
        min_test: fewest test songs.

    Returns:
        The usable origins, oldest first.
    """
    values = pd.to_numeric(pd.Series(years), errors="coerce").to_numpy(dtype="float64")
    known = ~np.isnan(values)
    out = []
    for year in origins:
        last = year + horizon - 1
        with np.errstate(invalid="ignore"):
            train = np.flatnonzero(known & (values < year))
            test = np.flatnonzero(known & (values >= year) & (values <= last))
        if len(train) >= min_train and len(test) >= min_test:
            out.append(Origin(int(year), int(last), train, test))
    return out


def levels_by_cutpoints(
    train_score: Any, score: Any, labels: Sequence[str] = config.LEVELS
) -> np.ndarray:
    """Levels of `score` cut at the training scores' quantiles (thirds for three levels).

    Args:
        train_score: the scores the cut points are learned from.
        score: the scores to label (training or test songs).
        labels: level names, lowest first.

    Returns:
        An object array of level names.
    """
    train = pd.to_numeric(pd.Series(train_score), errors="coerce").dropna().to_numpy()
    qs = np.quantile(train, np.arange(1, len(labels)) / len(labels))
    values = pd.to_numeric(pd.Series(score), errors="coerce").to_numpy(dtype="float64")
    codes = np.searchsorted(qs, values, side="right")
    return np.asarray(labels, dtype=object)[codes]


def _aligned(proba: np.ndarray, fitted: Sequence[Any], classes: Sequence[Any]) -> np.ndarray:
    """`proba` with one column per `classes` (0 for a class the model never saw)."""
    out = np.zeros((len(proba), len(classes)))
    where = {str(c): k for k, c in enumerate(fitted)}
    for j, c in enumerate(classes):
        if str(c) in where:
            out[:, j] = proba[:, where[str(c)]]
    return out


def forward_protocol(
    songs: pd.DataFrame,
    y: pd.Series,
    feature_sets: Mapping[str, pd.DataFrame],
    make_estimator: Callable[[str], Any],
    *,
    time_column: str,
    relabel: bool,
    classes: Sequence[str],
    origins: Sequence[int] = config.FORWARD_ORIGINS,
    horizon: int = config.FORWARD_HORIZON,
    n_boot: int = 200,
    seed: int = config.SEED,
    subgroups: Mapping[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Score every feature set at every rolling origin.

    Args:
        songs: the task's songs (`score` is read when `relabel`).
        y: their labels.
        feature_sets: feature-set name → its feature matrix (rows as `songs`); "year" is the
            yardstick.
        make_estimator: feature-set name → an unfitted estimator (fitted once per origin).
        time_column: "year" or "decade".
        relabel: cut the levels again at the training years' score quantiles.
        classes: the task's classes, in their natural order.
        origins: candidate first test years.
        horizon: test years per origin.
        n_boot: bootstrap resamples for the intervals.
        seed: bootstrap seed.
        subgroups: name → a boolean mask over `songs` (e.g. "new_artists": no earlier chart
            entry); each row then also scores the test songs of each subgroup (two classes:
            `n`, `roc_auc`, `base_rate`).

    Returns:
        `{"time_column", "relabel", "origins": [{"year", "last", "n_train", "n_test"}],
        "rows": [...], "latest": year}`; a row holds `origin`, `feature_set`, `n_train`,
        `n_test`, `accuracy` with `accuracy_ci`, `macro_f1`, `roc_auc` (with `roc_auc_ci` for
        two classes), `pr_auc` and `brier` (two classes), `base_rate` (two classes: the test
        years' share of the top class), `dummy_accuracy` (the training years' commonest class)
        and `majority_rate` (the test years' commonest class share).
    """
    years = pd.to_numeric(songs[time_column], errors="coerce")
    found = rolling_origins(years, origins, horizon)
    out: dict[str, Any] = {
        "time_column": time_column,
        "relabel": relabel,
        "origins": [],
        "rows": [],
        "latest": None,
    }
    truth = y.to_numpy(dtype=object)
    binary = len(classes) == 2
    top = classes[-1]
    for origin in found:
        if relabel:
            train_score = songs["score"].iloc[origin.train]
            y_train = levels_by_cutpoints(train_score, train_score, classes)
            y_test = levels_by_cutpoints(train_score, songs["score"].iloc[origin.test], classes)
        else:
            y_train, y_test = truth[origin.train], truth[origin.test]
        if len(set(y_train)) < 2:
            log.info("forward %s: one class in the training years; skipped", origin.label)
            continue
        out["origins"].append(
            {"year": origin.year, "last": origin.last, "n_train": int(len(origin.train)),
             "n_test": int(len(origin.test))}
        )  # fmt: skip
        out["latest"] = origin.year
        values, counts = np.unique(y_train, return_counts=True)
        commonest = values[np.argmax(counts)]
        test_values, test_counts = np.unique(y_test, return_counts=True)
        for fs, X in feature_sets.items():
            estimator = make_estimator(fs).fit(X.iloc[origin.train], y_train)
            proba = _aligned(
                estimator.predict_proba(X.iloc[origin.test]), estimator.classes_, classes
            )
            m = M.classification_metrics(y_test, proba, list(classes))
            _, low, high = U.bootstrap_ci(
                y_test, proba, "accuracy", n_boot, 0.05, seed, classes=list(classes)
            )
            row: dict[str, Any] = {
                "origin": origin.year,
                "last": origin.last,
                "feature_set": fs,
                "n_train": int(len(origin.train)),
                "n_test": int(len(origin.test)),
                "accuracy": m["accuracy"],
                "accuracy_ci": [low, high],
                "macro_f1": m["macro_f1"],
                "roc_auc": m["roc_auc"],
                "dummy_accuracy": float(np.mean(y_test == commonest)),
                "majority_rate": float(test_counts.max() / test_counts.sum()),
            }
            if binary:
                row["base_rate"] = float(np.mean(y_test == top))
                row["pr_auc"] = m.get("pr_auc")
                row["brier"] = m["brier_binary"]
                if m["roc_auc"] is not None:
                    _, a_low, a_high = U.bootstrap_ci(
                        y_test, proba, "roc_auc", n_boot, 0.05, seed, classes=list(classes)
                    )
                    row["roc_auc_ci"] = [a_low, a_high]
                row["subgroups"] = {
                    name: _subgroup(y_test, proba, mask[origin.test], classes)
                    for name, mask in (subgroups or {}).items()
                }
            out["rows"].append(row)
    _add_notes(out["rows"], binary)
    return out


def _subgroup(
    y_test: np.ndarray, proba: np.ndarray, mask: np.ndarray, classes: Sequence[str]
) -> dict[str, Any]:
    """A two-class row's figures on the test songs of one subgroup."""
    y_sub = np.asarray(y_test, dtype=object)[mask]
    positive = np.asarray(y_sub == classes[-1])
    entry: dict[str, Any] = {"n": int(mask.sum()), "roc_auc": None, "base_rate": None}
    if len(y_sub):
        entry["base_rate"] = float(positive.mean())
    if 0 < positive.sum() < len(y_sub):
        from sklearn.metrics import roc_auc_score

        entry["roc_auc"] = float(roc_auc_score(positive, proba[mask][:, len(classes) - 1]))
    return entry


def _add_notes(rows: list[dict[str, Any]], binary: bool) -> None:
    """Each row's plain-words note against the year-only row of its origin."""
    by_origin = {r["origin"]: r for r in rows if r["feature_set"] == "year"}
    for row in rows:
        row["note"] = forward_note(row, by_origin.get(row["origin"]), binary)


def forward_note(row: Mapping[str, Any], year_row: Mapping[str, Any] | None, binary: bool) -> str:
    """Plain words when a forward row does not beat what it must: the year-only model, the
    base rate (ROC-AUC 0.5) or the test years' majority-class rate; "" otherwise."""
    if binary:
        if row["feature_set"] == "year":
            if row.get("roc_auc") is None or row["roc_auc"] <= 0.5 + 1e-9:
                return "knowing only the year ranks no new release above another (ROC-AUC 0.5)"
            return ""
        auc, year_auc = row.get("roc_auc"), (year_row or {}).get("roc_auc")
        if auc is not None and year_auc is not None and auc <= year_auc:
            return f"does not beat the year-only model (ROC-AUC {year_auc:.3f})"
        return ""
    if row["accuracy"] < row["majority_rate"]:
        return (
            f"below the majority-class rate ({row['majority_rate']:.1%}) of the test years: "
            "answering their most common level every time would do better"
        )
    if row["accuracy"] <= row["dummy_accuracy"]:
        return (
            f"not above the dummy ({row['dummy_accuracy']:.1%}: the training years' commonest "
            "level)"
        )
    if row["feature_set"] == "year":
        return ""
    if year_row is not None and row["accuracy"] <= year_row["accuracy"]:
        return f"does not beat the year-only model ({year_row['accuracy']:.1%})"
    return ""


def headline(forward: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of the latest origin: what the task says about a song released now."""
    latest = forward.get("latest")
    return [r for r in forward.get("rows", []) if r["origin"] == latest]


def within_group_auc(
    y: Sequence[Any], p: np.ndarray, groups: Sequence[Any], positive: Any, min_rows: int = 50
) -> dict[str, Any]:
    """ROC-AUC inside each group (a release year, a genre) and their mean weighted by rows:
    how well a model ranks songs that share the group, so the group's own base rate cannot
    carry it.

    Args:
        y: true labels.
        p: the positive class's probabilities.
        groups: each row's group.
        positive: the positive label.
        min_rows: fewest rows (with both classes) for a group's AUC.

    Returns:
        `{"mean": weighted mean or None, "groups": {group: {"n", "auc"}}}`.
    """
    from sklearn.metrics import roc_auc_score

    frame = pd.DataFrame({"y": np.asarray(y, dtype=object) == positive, "p": p, "g": groups})
    per: dict[str, Any] = {}
    for g, part in frame.groupby("g", sort=True):
        if len(part) >= min_rows and part["y"].nunique() == 2:
            per[str(g)] = {"n": int(len(part)), "auc": float(roc_auc_score(part["y"], part["p"]))}
    if not per:
        return {"mean": None, "groups": {}}
    n = np.array([v["n"] for v in per.values()], dtype=float)
    auc = np.array([v["auc"] for v in per.values()])
    return {"mean": float((n * auc).sum() / n.sum()), "groups": per}


def forward_table(forward: Mapping[str, Any]) -> pd.DataFrame:
    """Every origin and feature set of `forward_protocol`, for reading."""

    def r3(x: Any) -> Any:
        return None if x is None else round(float(x), 3)

    rows = []
    decades = forward.get("time_column") == "decade"
    for r in forward.get("rows", []):
        rows.append(
            {
                "trained on": f"the decades before the {r['origin']}s"
                if decades
                else f"released before {r['origin']}",
                "tested on": f"the {r['origin']}s" if decades else f"{r['origin']}–{r['last']}",
                "features": FEATURE_SET_LABELS.get(r["feature_set"], r["feature_set"]),
                "songs (train / test)": f"{r['n_train']:,} / {r['n_test']:,}",
                "accuracy": r3(r["accuracy"]),
                "95% CI": f"{r['accuracy_ci'][0]:.3f}–{r['accuracy_ci'][1]:.3f}",
                "macro-F1": r3(r["macro_f1"]),
                "majority-class rate": r3(r["majority_rate"]),
                "ROC-AUC": r3(r.get("roc_auc")),
                "PR-AUC": r3(r.get("pr_auc")),
                "base rate": r3(r.get("base_rate")),
                "Brier": r3(r.get("brier")),
                "new artists' ROC-AUC": r3(
                    ((r.get("subgroups") or {}).get("new_artists") or {}).get("roc_auc")
                ),
                "note": r.get("note", ""),
            }
        )
    table = pd.DataFrame(rows)
    return table.dropna(axis=1, how="all") if len(table) else table


def plot_forward(forward: Mapping[str, Any], out: Any, title: str) -> dict[str, Any]:
    """One line per feature set across the rolling origins: ROC-AUC for two classes (the base
    rate's 0.5 marked), else accuracy with the test years' majority-class rate dashed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = forward.get("rows", [])
    binary = any(r.get("base_rate") is not None for r in rows)
    metric = "roc_auc" if binary else "accuracy"
    fig = Figure(figsize=(7.5, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for fs in dict.fromkeys(r["feature_set"] for r in rows):
        mine = [r for r in rows if r["feature_set"] == fs and r.get(metric) is not None]
        style = {"color": "#9aa0a6", "ls": "--"} if fs == "year" else {}
        ax.plot([r["origin"] for r in mine], [r[metric] for r in mine], marker="o",
                label=FEATURE_SET_LABELS.get(fs, fs), **style)  # fmt: skip
    origins = sorted({r["origin"] for r in rows})
    if binary:
        ax.axhline(0.5, color="#555", lw=1)
        ax.set_ylabel("ROC-AUC on the next five years' releases", fontsize=10)
    else:
        majority = {r["origin"]: r["majority_rate"] for r in rows}
        ax.plot(origins, [majority[o] for o in origins], color="#111", ls=":",
                label="majority-class rate of the test years")  # fmt: skip
        ax.set_ylabel("accuracy on the next five years' releases", fontsize=10)
    decades = forward.get("time_column") == "decade"
    ticks = [f"before the {o}s\n→ the {o}s" if decades else f"before {o}\n→ {o}–{o + 4}"
             for o in origins]  # fmt: skip
    ax.set_xticks(origins, ticks, fontsize=9)
    ax.set_title(title, fontsize=11)
    ax.legend(fontsize=8, frameon=False)
    return save_figure(fig, out)
