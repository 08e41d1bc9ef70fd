"""Uncertainty around a score: bootstrap intervals on a test set, and dummy baselines.

The bootstrap draws every resample at once as an ``(n_boot, n_rows)`` index matrix, and turns it
into the matrix of how many times each row is drawn in each resample. Metrics that decompose into
per-row terms or into a confusion matrix are then one matrix product for all resamples, ROC-AUC
one sort of the scores; the resamples of a test set are drawn once and shared by every metric and
model scored on it (the same seed gives the same resamples, so the cache changes no interval).
Any other callable falls back to a loop over the same resamples.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.dummy import DummyClassifier, DummyRegressor

from songpop import config
from songpop.evaluation import metrics as M
from songpop.evaluation.metrics import MetricInputError

log = logging.getLogger(__name__)

MetricFn = Callable[[np.ndarray, np.ndarray], float]

CLASSIFICATION_METRICS: tuple[str, ...] = M.CLASSIFICATION_METRICS
"""Metric names ``bootstrap_ci`` understands for labels or probabilities (``classes`` needed
for the probability-based ones and for ``qwk``)."""

REGRESSION_METRICS: tuple[str, ...] = ("mae", "rmse", "r2")
"""Metric names ``bootstrap_ci`` understands for continuous predictions."""

DUMMY_STRATEGIES: tuple[str, ...] = ("most_frequent", "stratified", "prior", "uniform")


def resample_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    """An ``(n_boot, n)`` matrix of row indices drawn with replacement.

    Args:
        n: rows in the data.
        n_boot: resamples.
        seed: random seed.

    Returns:
        int32 indices (int32 halves the memory of a 1,000 × 10,000 matrix).
    """
    return _indices(n, n_boot, seed).copy()


@functools.lru_cache(maxsize=2)
def _indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    """`resample_indices`, kept for the next metric scored on the same rows (read-only)."""
    if n_boot < 1:
        raise MetricInputError(f"n_boot must be at least 1, got {n_boot}")
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n), dtype=np.int32)
    idx.flags.writeable = False
    return idx


@functools.lru_cache(maxsize=2)
def _counts(n: int, n_boot: int, seed: int) -> np.ndarray:
    """How many times each row is drawn in each resample of `_indices`: ``(n_boot, n)``
    float64 (read-only), so that a per-row mean over every resample is one matrix product."""
    idx = _indices(n, n_boot, seed)
    cells = (idx + (np.arange(n_boot, dtype=np.int64) * n)[:, None]).ravel()
    counts = np.bincount(cells, minlength=n_boot * n).reshape(n_boot, n).astype(np.float64)
    counts.flags.writeable = False
    return counts


@functools.lru_cache(maxsize=2)
def _counts32(n: int, n_boot: int, seed: int) -> np.ndarray:
    """`_counts` in float32, for the ROC-AUC resamples (`_binary_auc_resampled`); exact, as
    every count and running sum of counts, plus half a count, is exact below 2**23 rows."""
    counts = _counts(n, n_boot, seed).astype(np.float32)
    counts.flags.writeable = False
    return counts


def _resampled_mean(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The mean of per-row `values` in every resample (``values[idx].mean(axis=1)``)."""
    return counts @ values.astype(np.float64) / counts.shape[1]


def _interval(point: float, values: np.ndarray, alpha: float) -> tuple[float, float, float]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float(point), float("nan"), float("nan")
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(point), float(low), float(high)


def _stacked_confusion(t: np.ndarray, p: np.ndarray, counts: np.ndarray, k: int) -> np.ndarray:
    """Confusion matrices of every resample, ``(n_boot, k, k)``: the draw counts summed per
    (true, predicted) cell, one matrix product."""
    cell = np.zeros((len(t), k * k))
    cell[np.arange(len(t)), t * k + p] = 1.0
    return np.rint(counts @ cell).astype(np.int64).reshape(-1, k, k)


_AUC_BLOCK_CELLS = 4_000_000
"""Resamples are scored in blocks of about this many (resample, row) cells to bound memory."""


def _binary_auc_resampled(pos: np.ndarray, score: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """ROC-AUC of every resample, ties counted half: the rows sorted by score once, each
    resample's positive and negative draw counts summed per distinct score, the negatives below
    each score a running sum.

    `counts` may be float32 (`_counts32`), which halves the memory this streams through (0.14 s
    -> 0.08 s per call on 6,300 rows and 1,000 resamples): the draw counts, their running sums
    and those plus half a count are exact in float32 below 2**23 rows (the caller's guard); a
    product of two of them beyond 2**23 (many tied scores) rounds at the 7th significant digit,
    and the products are summed in float64.
    """
    order = np.argsort(score, kind="stable")
    ordered = score[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    is_pos = pos[order]
    block = max(1, _AUC_BLOCK_CELLS // counts.shape[1])
    out = []
    for first in range(0, counts.shape[0], block):
        drawn = counts[first : first + block][:, order]
        pos_w = drawn * is_pos
        neg_w = drawn - pos_w
        if len(starts) < len(order):  # tied scores: one column per distinct score
            pos_w = np.add.reduceat(pos_w, starts, axis=1)
            neg_w = np.add.reduceat(neg_w, starts, axis=1)
        neg_below = np.cumsum(neg_w, axis=1) - neg_w
        n_pos, n_neg = pos_w.sum(axis=1), neg_w.sum(axis=1)
        n_pos, n_neg = n_pos.astype(np.float64), n_neg.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            hits = (pos_w * (neg_below + 0.5 * neg_w)).sum(axis=1, dtype=np.float64)
            auc = hits / (n_pos * n_neg)
        out.append(np.where((n_pos > 0) & (n_neg > 0), auc, np.nan))
    return np.concatenate(out)


def _classification_resampled(
    name: str, y_true: Any, pred_or_proba: Any, classes: Sequence[Any] | None, counts: np.ndarray
) -> tuple[float, np.ndarray]:
    arr = np.asarray(pred_or_proba)
    is_proba = arr.ndim == 2
    if classes is None:
        if is_proba:
            raise MetricInputError(
                f"metric {name!r} on probabilities needs classes= (the probability columns)"
            )
        classes = sorted(set(np.asarray(y_true).tolist()) | set(arr.tolist()), key=str)
    classes = list(classes)
    k = len(classes)
    t = M.encode_labels("y_true", y_true, classes)
    if is_proba:
        p = M.check_proba("y_pred_or_proba", arr, k)
        M.check_same_length(y_true=t, y_pred_or_proba=p)
        pred = p.argmax(axis=1)
    else:
        if name in ("log_loss", "brier", "roc_auc"):
            raise MetricInputError(
                f"metric {name!r} needs probabilities (n_rows, n_classes), got 1-D labels"
            )
        pred = M.encode_labels("y_pred_or_proba", arr, classes)
        M.check_same_length(y_true=t, y_pred_or_proba=pred)
        p = None
    if name == "accuracy":
        correct = (pred == t).astype(np.float64)
        return float(correct.mean()), _resampled_mean(correct, counts)
    if name == "log_loss":
        loss = M.per_row_log_loss(t, p)
        return float(loss.mean()), _resampled_mean(loss, counts)
    if name == "brier":
        row = ((p - np.eye(k)[t]) ** 2).sum(axis=1)
        return float(row.mean()), _resampled_mean(row, counts)
    if name == "roc_auc":
        point = M._roc_auc(t, p, classes)
        if k == 2:
            pos = classes.index(M.positive_class(classes))
            boot = _binary_auc_resampled(t == pos, p[:, pos], counts)
        else:
            boot = np.nanmean(
                np.stack([_binary_auc_resampled(t == c, p[:, c], counts) for c in range(k)]),
                axis=0,
            )
        return (np.nan if point is None else point), boot
    if name in ("macro_f1", "balanced_accuracy", "qwk"):
        if name == "qwk":
            if not M.is_ordinal(classes):
                raise MetricInputError(f"qwk needs the ordered levels {config.LEVELS}")
            order = M.canonical_order(classes)
            remap = np.array([order.index(c) for c in classes])
            t, pred = remap[t], remap[pred]
        fn = {
            "macro_f1": M._macro_f1_from_confusion,
            "balanced_accuracy": M._balanced_accuracy_from_confusion,
            "qwk": M._qwk_from_confusion,
        }[name]
        point = float(fn(M._confusion(t, pred, k)[None, ...])[0])
        return point, fn(_stacked_confusion(t, pred, counts, k))
    raise AssertionError(name)  # pragma: no cover - names are checked by the caller


def _regression_resampled(
    name: str, y_true: Any, y_pred: Any, idx: np.ndarray
) -> tuple[float, np.ndarray]:
    t, p = M.check_regression_inputs(y_true, y_pred)
    point = M.regression_point_metrics(t, p)[name]
    err = t - p
    if name == "mae":
        return point, np.abs(err)[idx].mean(axis=1)
    if name == "rmse":
        return point, np.sqrt((err**2)[idx].mean(axis=1))
    tb = t[idx]
    ss_res = (err**2)[idx].sum(axis=1)
    ss_tot = ((tb - tb.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return point, np.where(ss_tot > 0, 1.0 - ss_res / ss_tot, np.nan)


def bootstrap_ci(
    y_true: Any,
    y_pred_or_proba: Any,
    metric: str | MetricFn = "accuracy",
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = config.SEED,
    *,
    classes: Sequence[Any] | None = None,
) -> tuple[float, float, float]:
    """Percentile bootstrap interval of a metric on a test set.

    Args:
        y_true: true labels (or values for regression metrics).
        y_pred_or_proba: predicted labels, or an ``(n_rows, n_classes)`` probability matrix in
            ``classes`` order, or predicted values for regression metrics.
        metric: a name from ``CLASSIFICATION_METRICS`` or ``REGRESSION_METRICS`` (vectorised),
            or any ``f(y_true, y_pred) -> float`` (evaluated once per resample, slower).
        n_boot: number of resamples.
        alpha: 1 − confidence level (0.05 gives a 95% interval).
        seed: random seed for the resampling.
        classes: the probability columns' labels; needed for probability input and for
            ``log_loss``, ``brier``, ``roc_auc`` and ``qwk``.

    Returns:
        ``(point, low, high)``: the metric on the full test set and the interval bounds.
        Resamples where the metric is undefined (e.g. AUC with one class) are left out.

    Raises:
        MetricInputError: mismatched lengths, unknown metric, bad alpha, naming the argument.
    """
    if not 0.0 < alpha < 1.0:
        raise MetricInputError(f"alpha must be in (0, 1), got {alpha}")
    y_arr = np.asarray(y_true.to_numpy() if hasattr(y_true, "to_numpy") else y_true)
    pred_arr = np.asarray(
        y_pred_or_proba.to_numpy() if hasattr(y_pred_or_proba, "to_numpy") else y_pred_or_proba
    )
    M.check_same_length(y_true=y_arr, y_pred_or_proba=pred_arr)
    if len(y_arr) == 0:
        raise MetricInputError("y_true is empty: a metric needs at least one row")
    if callable(metric):
        point = float(metric(y_arr, pred_arr))
        idx = _indices(len(y_arr), n_boot, seed)
        values = np.array([metric(y_arr[i], pred_arr[i]) for i in idx], dtype=np.float64)
        return _interval(point, values, alpha)
    if metric in REGRESSION_METRICS:
        point, values = _regression_resampled(
            metric, y_arr, pred_arr, _indices(len(y_arr), n_boot, seed)
        )
    elif metric in CLASSIFICATION_METRICS:
        # ROC-AUC streams the counts through several passes: float32 halves that memory
        narrow = metric == "roc_auc" and len(y_arr) < 1 << 23
        counts = (_counts32 if narrow else _counts)(len(y_arr), n_boot, seed)
        point, values = _classification_resampled(metric, y_arr, pred_arr, classes, counts)
    else:
        known = ", ".join(CLASSIFICATION_METRICS + REGRESSION_METRICS)
        raise MetricInputError(f"metric {metric!r} is not known; use one of {known} or a function")
    return _interval(point, values, alpha)


def paired_difference_ci(
    y_true: Any,
    pred_a: Any,
    pred_b: Any,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = config.SEED,
) -> tuple[float, float, float]:
    """Bootstrap interval of accuracy(a) − accuracy(b) on the same test rows (paired).

    Use it for "how far above the dummy baseline": pairing removes the test-set luck both
    predictions share, so the interval is narrower than comparing two separate intervals.

    Args:
        y_true: true labels.
        pred_a: predicted labels of model a.
        pred_b: predicted labels of model b (e.g. the dummy baseline).
        n_boot: resamples.
        alpha: 1 − confidence level.
        seed: random seed.

    Returns:
        ``(point, low, high)`` of the accuracy difference.
    """
    t = M._as_1d("y_true", y_true)
    a = M._as_1d("pred_a", pred_a)
    b = M._as_1d("pred_b", pred_b)
    M.check_same_length(y_true=t, pred_a=a, pred_b=b)
    diff = (a == t).astype(np.float64) - (b == t).astype(np.float64)
    return _interval(
        float(diff.mean()), _resampled_mean(diff, _counts(len(t), n_boot, seed)), alpha
    )


def dummy_baseline(
    y_train: Any,
    y_test: Any,
    strategy: str = "most_frequent",
    *,
    classes: Sequence[Any] | None = None,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = config.SEED,
) -> dict[str, Any]:
    """Score scikit-learn's ``DummyClassifier`` fitted on the training labels only.

    Args:
        y_train: training labels (the dummy learns class frequencies from these alone).
        y_test: test labels.
        strategy: ``most_frequent`` (always the majority class), ``stratified`` (random labels
            in training proportions), ``prior`` (majority label, training frequencies as
            probabilities) or ``uniform``.
        classes: probability-column order for log loss and Brier (default: the dummy's
            ``classes_``, i.e. sorted training labels).
        n_boot: bootstrap resamples for the interval.
        alpha: 1 − confidence level.
        seed: seed for the ``stratified``/``uniform`` draws and for the bootstrap.

    Returns:
        ``{"strategy", "accuracy", "ci_low", "ci_high", "macro_f1", "balanced_accuracy",
        "log_loss", "brier", "majority_class", "test_majority_class", "test_majority_share",
        "y_pred"}``; ``y_pred`` (a list) lets a caller pair the dummy with a model on the same
        rows. ``test_majority_share`` is the share of the test set's most common class: not a
        fair baseline (it looks at the test labels) but the tell-tale of a shift in the label
        mix between training and test.
    """
    if strategy not in DUMMY_STRATEGIES:
        raise MetricInputError(
            f"strategy must be one of {', '.join(DUMMY_STRATEGIES)}, got {strategy!r}"
        )
    train = M._as_1d("y_train", y_train)
    test = M._as_1d("y_test", y_test)
    dummy = DummyClassifier(strategy=strategy, random_state=seed)
    dummy.fit(np.zeros((len(train), 1)), train)
    X_test = np.zeros((len(test), 1))
    pred = dummy.predict(X_test)
    fitted = list(dummy.classes_)
    cols = list(classes) if classes is not None else fitted
    unseen = [c for c in set(test.tolist()) if c not in cols]
    if unseen:
        raise MetricInputError(
            f"y_test has labels never seen in y_train: {sorted(map(str, unseen))}"
        )
    proba_fitted = dummy.predict_proba(X_test)
    proba = np.zeros((len(test), len(cols)))
    for j, c in enumerate(fitted):
        if c in cols:
            proba[:, cols.index(c)] = proba_fitted[:, j]
    point, low, high = bootstrap_ci(test, pred, "accuracy", n_boot, alpha, seed, classes=cols)
    codes = M.encode_labels("y_test", test, cols)
    pred_codes = M.encode_labels("y_pred", pred, cols)
    cm = M._confusion(codes, pred_codes, len(cols))[None, ...]
    # The prior's probabilities; a stratified dummy's 0/1 rows would give an infinite log loss.
    prior = np.tile(
        np.bincount(M.encode_labels("y_train", train, cols), minlength=len(cols)) / len(train),
        (len(test), 1),
    )
    values, counts = np.unique(train, return_counts=True)
    test_values, test_counts = np.unique(test, return_counts=True)
    return {
        "strategy": strategy,
        "accuracy": point,
        "ci_low": low,
        "ci_high": high,
        "macro_f1": float(M._macro_f1_from_confusion(cm)[0]),
        "balanced_accuracy": float(M._balanced_accuracy_from_confusion(cm)[0]),
        "log_loss": float(M.per_row_log_loss(codes, prior).mean()),
        "brier": M.brier_multiclass(codes, prior),
        "majority_class": M._jsonable(values[np.argmax(counts)]),
        # Not a baseline (it peeks at the test labels): what a constant guess would reach if it
        # knew the test mix. Far above `accuracy`, it reveals a label shift (temporal split).
        "test_majority_class": M._jsonable(test_values[np.argmax(test_counts)]),
        "test_majority_share": float(test_counts.max() / len(test)),
        "y_pred": [M._jsonable(v) for v in pred],
    }


def dummy_regression_baseline(y_train: Any, y_test: Any) -> np.ndarray:
    """Predictions of ``DummyRegressor(strategy="mean")`` fitted on the training values."""
    train = M._as_1d("y_train", y_train).astype(np.float64)
    test = M._as_1d("y_test", y_test)
    dummy = DummyRegressor(strategy="mean").fit(np.zeros((len(train), 1)), train)
    return dummy.predict(np.zeros((len(test), 1)))
