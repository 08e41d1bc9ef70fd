"""Evaluation protocols: repeated (grouped) cross-validation, the temporal split, learning curves.

Each protocol takes an estimator *factory* (``make_estimator() -> unfitted estimator``, as the
model registry gives them) or an unfitted estimator (cloned for every fold), so nothing fitted
in one fold leaks into another. Preprocessing and resampling belong inside the estimator's
pipeline; these functions only split, fit on the training part and score the held-out part.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import (
    BaseCrossValidator,
    RepeatedStratifiedKFold,
    StratifiedGroupKFold,
    StratifiedKFold,
)
from sklearn.model_selection import learning_curve as _sk_learning_curve
from tqdm.auto import tqdm

from songpop import config
from songpop.evaluation import metrics as M
from songpop.evaluation.metrics import MetricInputError

log = logging.getLogger(__name__)

EstimatorFactory = Callable[[], Any]

CV_METRICS: tuple[str, ...] = M.CLASSIFICATION_METRICS
"""Scores ``repeated_cv`` can report per fold (probability-based ones need ``predict_proba``)."""

DEFAULT_CV_SCORING: tuple[str, ...] = ("accuracy", "macro_f1", "balanced_accuracy")

SCORING_ALIASES: dict[str, str] = {
    "f1_macro": "macro_f1",
    "roc_auc_ovr": "roc_auc",
    "neg_log_loss": "log_loss",
    "neg_brier_score": "brier",
    "kappa_quadratic": "qwk",
}
"""scikit-learn scoring names accepted by ``repeated_cv``, reported under songpop's names
(losses are reported as losses, lower is better, never negated)."""


def _new_estimator(make_estimator: EstimatorFactory | Any) -> Any:
    """A fresh unfitted estimator from a factory, or a clone of an estimator."""
    if hasattr(make_estimator, "fit"):
        return clone(make_estimator)
    if callable(make_estimator):
        return make_estimator()
    raise MetricInputError(
        "make_estimator must be a function returning an unfitted estimator, or an estimator; "
        f"got {type(make_estimator).__name__}"
    )


def _rows(X: Any, index: np.ndarray) -> Any:
    return X.iloc[index] if isinstance(X, pd.DataFrame | pd.Series) else np.asarray(X)[index]


def _labels(y: Any) -> np.ndarray:
    return np.asarray(y.to_numpy() if isinstance(y, pd.Series) else y)


def cv_splits(
    y: Any,
    *,
    n_splits: int = 5,
    n_repeats: int = 3,
    groups: Any = None,
    seed: int = config.SEED,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (train, test) index pairs of repeated stratified k-fold, grouped when asked.

    Args:
        y: labels (stratification target).
        n_splits: folds per repeat.
        n_repeats: repeats, each with a different shuffle.
        groups: one group id per row (e.g. the primary artist); when given, no group is ever
            split between training and test (``StratifiedGroupKFold``, reshuffled per repeat).
        seed: random seed; repeat r uses ``seed + r`` for the grouped splitter.

    Returns:
        ``n_splits * n_repeats`` pairs of integer index arrays.
    """
    labels = _labels(y)
    if len(labels) < n_splits:
        raise MetricInputError(f"y has {len(labels)} rows, fewer than n_splits={n_splits}")
    X_dummy = np.zeros((len(labels), 1))
    if groups is None:
        splitter = RepeatedStratifiedKFold(
            n_splits=n_splits, n_repeats=n_repeats, random_state=seed
        )
        return list(splitter.split(X_dummy, labels))
    group_arr = _labels(groups)
    M.check_same_length(y=labels, groups=group_arr)
    if pd.isna(group_arr).any():
        bad = int(np.flatnonzero(pd.isna(group_arr))[0])
        raise MetricInputError(f"groups has a missing value at row {bad}")
    n_groups = len(pd.unique(group_arr))
    if n_groups < n_splits:
        raise MetricInputError(
            f"groups has {n_groups} distinct values, fewer than {n_splits} folds"
        )
    splits: list[tuple[np.ndarray, np.ndarray]] = []
    for r in range(n_repeats):
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed + r)
        splits.extend(splitter.split(X_dummy, labels, group_arr))
    return splits


def _score_fold(
    make_estimator: EstimatorFactory | Any,
    X: Any,
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    scoring: Sequence[str],
) -> dict[str, float]:
    """Fit on one training fold, score the held-out fold, and score a dummy on the same split."""
    est = _new_estimator(make_estimator)
    start = time.perf_counter()
    est.fit(_rows(X, train), y[train])
    fit_seconds = time.perf_counter() - start
    X_test, y_test = _rows(X, test), y[test]
    out: dict[str, float] = {"fit_seconds": fit_seconds}
    if hasattr(est, "predict_proba"):
        classes = list(est.classes_)
        proba = est.predict_proba(X_test)
        if set(y_test.tolist()) - set(classes):
            raise MetricInputError("a test fold holds a class the training fold never saw")
        m = M.classification_metrics(y_test, proba, classes)
        for name in scoring:
            out[name] = np.nan if m[name] is None else float(m[name])
    else:
        pred = est.predict(X_test)
        classes = M.canonical_order(sorted(set(y.tolist()), key=str))
        codes_t = M.encode_labels("y", y_test, classes)
        codes_p = M.encode_labels("prediction", pred, classes)
        cm = M._confusion(codes_t, codes_p, len(classes))[None, ...]
        label_only = {
            "accuracy": float((codes_t == codes_p).mean()),
            "macro_f1": float(M._macro_f1_from_confusion(cm)[0]),
            "balanced_accuracy": float(M._balanced_accuracy_from_confusion(cm)[0]),
            "qwk": float(M._qwk_from_confusion(cm)[0]) if M.is_ordinal(classes) else np.nan,
        }
        for name in scoring:
            out[name] = label_only.get(name, np.nan)
    dummy = DummyClassifier(strategy="most_frequent").fit(np.zeros((len(train), 1)), y[train])
    out["dummy_accuracy"] = float((dummy.predict(np.zeros((len(test), 1))) == y_test).mean())
    return out


def _summary(values: Sequence[float]) -> dict[str, Any]:
    arr = np.asarray(values, dtype=np.float64)
    finite = arr[np.isfinite(arr)]
    return {
        "mean": float(finite.mean()) if finite.size else None,
        "sd": float(finite.std(ddof=1)) if finite.size > 1 else None,
        "values": [None if not np.isfinite(v) else float(v) for v in arr],
    }


def repeated_cv(
    make_estimator: EstimatorFactory | Any,
    X: Any,
    y: Any,
    *,
    n_splits: int = 5,
    n_repeats: int = 3,
    groups: Any = None,
    seed: int = config.SEED,
    scoring: Sequence[str] = DEFAULT_CV_SCORING,
    n_jobs: int | None = None,
    progress: bool = False,
    desc: str = "cross-validation",
) -> dict[str, Any]:
    """Mean ± sd of scores over repeated stratified k-fold (grouped by artist when asked).

    Every fold also scores a most-frequent-class dummy on the same split, so the result always
    carries its baseline.

    Args:
        make_estimator: a factory returning an unfitted estimator (or an estimator, cloned).
        X: feature table (DataFrame or array), rows aligned with ``y``.
        y: labels.
        n_splits: folds per repeat.
        n_repeats: repeats.
        groups: group id per row (e.g. primary artist) → ``StratifiedGroupKFold`` per repeat,
            so an artist's songs never sit on both sides of a split.
        seed: random seed.
        scoring: names from ``CV_METRICS`` (or their scikit-learn names in
            ``SCORING_ALIASES``).
        n_jobs: folds fitted in parallel (joblib); None = 1.
        progress: show a progress bar over the folds (on stderr).
        desc: the progress bar's label, e.g. the model name.

    Returns:
        ``{"protocol", "grouped", "n_splits", "n_repeats", "n_folds", "n_rows", "n_groups",
        "seed", "scores": {metric: {"mean", "sd", "values"}}, "dummy": {"accuracy": {...}},
        "lift": {"mean", "sd", "values"}, "fit_seconds": {...}}`` where ``lift`` is the
        per-fold accuracy minus the dummy's accuracy.
    """
    scoring = [SCORING_ALIASES.get(s, s) for s in scoring]
    unknown = [s for s in scoring if s not in CV_METRICS]
    if unknown:
        raise MetricInputError(f"scoring has unknown metrics {unknown}; use {CV_METRICS}")
    labels = _labels(y)
    M.check_same_length(X=X, y=labels)
    splits = cv_splits(labels, n_splits=n_splits, n_repeats=n_repeats, groups=groups, seed=seed)
    log.info("repeated_cv: %d folds on %d rows", len(splits), len(labels))
    jobs = (
        delayed(_score_fold)(make_estimator, X, labels, tr, te, list(scoring)) for tr, te in splits
    )
    runner = Parallel(n_jobs=n_jobs, return_as="generator")
    folds = list(
        tqdm(runner(jobs), total=len(splits), desc=desc, unit="fold", disable=not progress)
    )
    frame = pd.DataFrame(folds)
    acc = frame["accuracy"] if "accuracy" in frame else None
    result: dict[str, Any] = {
        "protocol": "repeated_stratified_group_kfold"
        if groups is not None
        else "repeated_stratified_kfold",
        "grouped": groups is not None,
        "n_splits": n_splits,
        "n_repeats": n_repeats,
        "n_folds": len(splits),
        "n_rows": int(len(labels)),
        "n_groups": None if groups is None else int(len(pd.unique(_labels(groups)))),
        "seed": seed,
        "scores": {name: _summary(frame[name]) for name in scoring},
        "dummy": {"accuracy": _summary(frame["dummy_accuracy"])},
        "fit_seconds": _summary(frame["fit_seconds"]),
    }
    if acc is not None:
        result["lift"] = _summary(acc - frame["dummy_accuracy"])
    return result


def temporal_cutoff(years: Any, test_fraction: float = 0.2) -> int:
    """The first year of the test period so that about ``test_fraction`` of rows are test rows.

    Args:
        years: the release year (or decade) per row; missing values are ignored.
        test_fraction: the wanted share of test rows, in (0, 1).

    Returns:
        The cutoff: rows with year ≥ cutoff are test, the others training. Both sides hold at
        least one distinct year; among the admissible cutoffs the one whose test share is
        closest to ``test_fraction`` wins.
    """
    if not 0.0 < test_fraction < 1.0:
        raise MetricInputError(f"test_fraction must be in (0, 1), got {test_fraction}")
    values = pd.Series(years).dropna().to_numpy(dtype=np.float64)
    distinct = np.unique(values)
    if len(distinct) < 2:
        raise MetricInputError(
            f"a temporal split needs at least two distinct years, got {distinct.tolist()}"
        )
    shares = np.array([(values >= c).mean() for c in distinct[1:]])
    best = int(np.argmin(np.abs(shares - test_fraction)))
    return int(distinct[1:][best])


def temporal_split(
    df: pd.DataFrame, year_col: str, test_fraction: float = 0.2
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train on older songs, test on newer ones: every test year comes after every train year.

    Rows without a year are left out of both parts (logged), since they cannot be placed in
    time.

    Args:
        df: the table (e.g. songs.parquet), any columns.
        year_col: the column holding the release year (or decade).
        test_fraction: the wanted share of test rows; the split falls between two years, so
            the real share is the closest one reachable.

    Returns:
        ``(train, test)`` DataFrames with their original index; ``test.attrs`` carries
        ``temporal_cutoff`` (the first test year) and ``dropped_missing_year``.

    Raises:
        MetricInputError: when the column is missing or holds fewer than two distinct years.
    """
    if year_col not in df.columns:
        raise MetricInputError(
            f"column {year_col!r} is not in the table; columns are {list(df.columns)}"
        )
    years = pd.to_numeric(df[year_col], errors="coerce")
    missing = int(years.isna().sum())
    if missing:
        log.warning("temporal_split: %d rows without %s are left out", missing, year_col)
    cutoff = temporal_cutoff(years, test_fraction)
    known = years.notna()
    is_test = known & (years >= cutoff)
    train = df[known & ~is_test].copy()
    test = df[is_test].copy()
    for part in (train, test):
        part.attrs.update({"temporal_cutoff": cutoff, "dropped_missing_year": missing})
    log.info(
        "temporal_split on %s: train %d rows (< %d), test %d rows (>= %d)",
        year_col,
        len(train),
        cutoff,
        len(test),
        cutoff,
    )
    return train, test


def learning_curve_data(
    make_estimator: EstimatorFactory | Any,
    X: Any,
    y: Any,
    cv: int | BaseCrossValidator | Iterator[Any] = 5,
    train_sizes: Sequence[float] | np.ndarray = (0.1, 0.25, 0.5, 0.75, 1.0),
    seed: int = config.SEED,
    *,
    groups: Any = None,
    scoring: str = "accuracy",
    n_jobs: int | None = None,
    measured: tuple[int, Sequence[float], Sequence[float]] | None = None,
) -> dict[str, Any]:
    """Training versus cross-validated score as the training set grows.

    A wide gap between the two curves means over-fitting (the report's KNN with k = 2); two
    low curves that meet mean the features do not carry more signal for this model.

    Args:
        make_estimator: factory of an unfitted estimator (or an estimator, cloned).
        X: feature table.
        y: labels.
        cv: number of folds (stratified and shuffled with ``seed``; grouped when ``groups`` is
            given) or a scikit-learn splitter.
        train_sizes: fractions (≤ 1) or absolute sizes of the training part.
        seed: random seed for the folds and the subsets.
        groups: group id per row for grouped folds.
        scoring: a scikit-learn scoring name.
        n_jobs: parallel jobs.
        measured: ``(size, train scores, test scores)`` of one more point, one score per fold,
            already measured on the same folds (a model search's final round: the whole
            training part of each fold), appended as the curve's last point instead of being
            fitted again. Its folds must be ``cv``'s.

    Returns:
        ``{"train_sizes": [int], "train_mean", "train_sd", "test_mean", "test_sd" (lists),
        "scoring", "n_folds"}``.
    """
    labels = _labels(y)
    M.check_same_length(X=X, y=labels)
    if isinstance(cv, int):
        cv = (
            StratifiedGroupKFold(n_splits=cv, shuffle=True, random_state=seed)
            if groups is not None
            else StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
        )
    sizes, train_scores, test_scores = _sk_learning_curve(
        _new_estimator(make_estimator),
        X,
        labels,
        groups=None if groups is None else _labels(groups),
        cv=cv,
        train_sizes=np.asarray(train_sizes),
        scoring=scoring,
        shuffle=True,
        random_state=seed,
        n_jobs=n_jobs,
        error_score="raise",
    )
    if measured is not None:
        size, seen, held_out = measured
        if len(seen) != train_scores.shape[1] or len(held_out) != test_scores.shape[1]:
            raise ValueError(
                f"measured: {len(seen)} and {len(held_out)} scores for "
                f"{train_scores.shape[1]} folds; one score per fold of the same folds"
            )
        sizes = np.append(sizes, size)
        train_scores = np.vstack([train_scores, np.asarray(seen, dtype=float)])
        test_scores = np.vstack([test_scores, np.asarray(held_out, dtype=float)])
    return {
        "train_sizes": [int(s) for s in sizes],
        "train_mean": train_scores.mean(axis=1).tolist(),
        "train_sd": train_scores.std(axis=1, ddof=1).tolist(),
        "test_mean": test_scores.mean(axis=1).tolist(),
        "test_sd": test_scores.std(axis=1, ddof=1).tolist(),
        "scoring": scoring,
        "n_folds": int(train_scores.shape[1]),
    }
