"""Pure metric functions: classification (with calibration) and regression, on arrays in memory.

Nothing here fits a model or touches disk. Probabilities are always given as an
``(n_rows, n_classes)`` matrix whose columns follow ``classes`` (the estimator's ``classes_``,
which scikit-learn sorts alphabetically: ``["high", "low", "medium"]``). Ordered metrics
(quadratic weighted kappa) re-order the classes with :func:`canonical_order`, so the caller never
has to.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from songpop.errors import SchemaError
from songpop.prepare.label import natural_order, spec_of, top_class

log = logging.getLogger(__name__)

DEFAULT_ECE_BINS = 15
"""Equal-width confidence bins for the expected calibration error (10–15 is customary)."""

_EPS = 1e-15

CLASSIFICATION_METRICS: tuple[str, ...] = (
    "accuracy",
    "macro_f1",
    "balanced_accuracy",
    "qwk",
    "log_loss",
    "brier",
    "roc_auc",
)
"""The classification scores known by name to cross-validation, bootstrap intervals and the
results table (probability-based ones need probabilities; ``qwk`` and those need ``classes``)."""


class MetricInputError(SchemaError, ValueError):
    """Arrays given to a metric do not fit together (length, shape, unknown label, bad value)."""


# --- input checks -----------------------------------------------------------------------------


def _as_1d(name: str, values: Any) -> np.ndarray:
    """Turn a list/Series/array into a 1-D numpy array, or say which argument is wrong."""
    arr = np.asarray(values.to_numpy() if isinstance(values, pd.Series | pd.Index) else values)
    if arr.ndim != 1:
        raise MetricInputError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise MetricInputError(f"{name} is empty: a metric needs at least one row")
    return arr


def check_same_length(**arrays: Any) -> int:
    """Check that every named array has the same number of rows.

    Args:
        **arrays: the arrays, by the argument name the caller knows them by.

    Returns:
        The common number of rows.

    Raises:
        MetricInputError: naming the argument whose length differs from the first one.
    """
    items = [(name, len(values)) for name, values in arrays.items()]
    first_name, first_len = items[0]
    for name, length in items[1:]:
        if length != first_len:
            raise MetricInputError(
                f"{name} has {length} rows but {first_name} has {first_len}; "
                "they must describe the same rows"
            )
    return first_len


def canonical_order(classes: Sequence[Any]) -> list[Any]:
    """The natural order of a label set: low < medium < high, not_hit < hit, else as given.

    Args:
        classes: the class labels in any order (e.g. an estimator's ``classes_``).

    Returns:
        The same labels, in the order a reader expects them in tables and figures.
    """

    return natural_order(classes)


def is_ordinal(classes: Sequence[Any]) -> bool:
    """True when the classes are an ordered label (the popularity levels)."""

    spec = spec_of(classes)
    return spec is not None and spec.ordinal


def encode_labels(name: str, y: Any, classes: Sequence[Any]) -> np.ndarray:
    """Map labels to their column index in ``classes``; refuse labels outside ``classes``.

    Args:
        name: the argument name, for the error message.
        y: the labels.
        classes: the known classes, in probability-column order.

    Returns:
        Integer codes, ``classes[codes[i]] == y[i]``.
    """
    arr = _as_1d(name, y)
    index = pd.Index(list(classes))
    if index.has_duplicates:
        raise MetricInputError(f"classes has duplicate labels: {list(classes)}")
    codes = index.get_indexer(arr)
    if (codes < 0).any():
        unknown = sorted({str(v) for v in arr[codes < 0]})[:5]
        raise MetricInputError(
            f"{name} has labels not in classes {list(classes)}: {unknown} "
            f"({int((codes < 0).sum())} rows)"
        )
    return codes.astype(np.int64)


def check_proba(name: str, proba: Any, n_classes: int) -> np.ndarray:
    """Check a probability matrix: 2-D, one column per class, finite, in [0, 1].

    A binary problem may pass a 1-D array of positive-class probabilities; it becomes two
    columns. Rows are renormalised when they are off by rounding only.

    Args:
        name: the argument name, for the error message.
        proba: the probabilities.
        n_classes: the expected number of columns.

    Returns:
        A float64 ``(n_rows, n_classes)`` matrix.
    """
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim == 1 and n_classes == 2:
        p = np.column_stack([1.0 - p, p])
    if p.ndim != 2 or p.shape[1] != n_classes:
        raise MetricInputError(
            f"{name} must have shape (n_rows, {n_classes}) — one column per class — got {p.shape}"
        )
    if p.shape[0] == 0:
        raise MetricInputError(f"{name} is empty: a metric needs at least one row")
    if not np.isfinite(p).all():
        bad = int(np.flatnonzero(~np.isfinite(p).all(axis=1))[0])
        raise MetricInputError(f"{name} has a non-finite probability at row {bad}")
    if (p < -1e-9).any() or (p > 1 + 1e-9).any():
        bad = int(np.flatnonzero(((p < -1e-9) | (p > 1 + 1e-9)).any(axis=1))[0])
        raise MetricInputError(f"{name} has a probability outside [0, 1] at row {bad}")
    sums = p.sum(axis=1)
    off = np.abs(sums - 1.0) > 1e-3
    if off.any():
        bad = int(np.flatnonzero(off)[0])
        raise MetricInputError(
            f"{name} row {bad} sums to {sums[bad]:.4f}, expected 1 (are these probabilities?)"
        )
    return np.clip(p, 0.0, 1.0) / np.clip(p, 0.0, 1.0).sum(axis=1, keepdims=True)


# --- classification ---------------------------------------------------------------------------


def brier_multiclass(y_codes: np.ndarray, proba: np.ndarray) -> float:
    """Multiclass Brier score: mean over rows of the sum over classes of (p − one-hot)².

    0 is perfect; uniform guessing over k classes scores 1 − 1/k; the binary Brier score is half
    of this value for two classes.
    """
    onehot = np.eye(proba.shape[1])[y_codes]
    return float(((proba - onehot) ** 2).sum(axis=1).mean())


def per_row_log_loss(y_codes: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """−log p(true class) for each row, with probabilities clipped away from 0."""
    return -np.log(np.clip(proba[np.arange(len(y_codes)), y_codes], _EPS, 1.0))


def reliability_data(
    y_codes: np.ndarray, proba: np.ndarray, n_bins: int = DEFAULT_ECE_BINS
) -> dict[str, Any]:
    """Top-label reliability: per confidence bin, mean confidence against observed accuracy.

    Args:
        y_codes: true class codes (column indices of ``proba``).
        proba: the probability matrix.
        n_bins: equal-width bins over [0, 1].

    Returns:
        ``{"ece": float, "n_bins": int, "bins": [{"lower", "upper", "count",
        "confidence", "accuracy"}, ...]}``; empty bins have ``count`` 0 and NaN means
        (kept so every model's bins line up).
    """
    confidence = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y_codes).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Right-closed bins, with 0 in the first: a confidence of exactly 1 falls in the last bin.
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    counts = np.bincount(which, minlength=n_bins)
    conf_sum = np.bincount(which, weights=confidence, minlength=n_bins)
    acc_sum = np.bincount(which, weights=correct, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf_mean = conf_sum / counts
        acc_mean = acc_sum / counts
    gaps = np.where(counts > 0, np.abs(acc_mean - conf_mean), 0.0)
    ece = float((gaps * counts).sum() / counts.sum())
    bins = [
        {
            "lower": float(edges[b]),
            "upper": float(edges[b + 1]),
            "count": int(counts[b]),
            "confidence": None if counts[b] == 0 else float(conf_mean[b]),
            "accuracy": None if counts[b] == 0 else float(acc_mean[b]),
        }
        for b in range(n_bins)
    ]
    return {"ece": ece, "n_bins": n_bins, "bins": bins}


def expected_calibration_error(
    y_true: Any, proba: Any, classes: Sequence[Any], n_bins: int = DEFAULT_ECE_BINS
) -> float:
    """Top-label expected calibration error: Σ_bins (n_b / n)·|accuracy_b − confidence_b|.

    Args:
        y_true: true labels.
        proba: ``(n_rows, n_classes)`` probabilities in ``classes`` order.
        classes: the labels of the probability columns.
        n_bins: equal-width confidence bins.

    Returns:
        The ECE in [0, 1]; 0 for perfectly calibrated predictions.
    """
    codes = encode_labels("y_true", y_true, classes)
    p = check_proba("proba", proba, len(classes))
    check_same_length(y_true=codes, proba=p)
    return reliability_data(codes, p, n_bins)["ece"]


def quadratic_weighted_kappa(y_true: Any, y_pred: Any, classes: Sequence[Any]) -> float:
    """Cohen's kappa with quadratic weights, the classes taken in ``canonical_order``.

    Confusing low with high costs four times as much as confusing low with medium.

    Args:
        y_true: true labels.
        y_pred: predicted labels.
        classes: the label set (any order; low < medium < high is applied).

    Returns:
        Kappa in [−1, 1]: 1 is perfect agreement, 0 is chance level.
    """
    ordered = canonical_order(classes)
    t = encode_labels("y_true", y_true, ordered)
    p = encode_labels("y_pred", y_pred, ordered)
    check_same_length(y_true=t, y_pred=p)
    return _qwk_from_confusion(_confusion(t, p, len(ordered))[None, ...])[0]


def _confusion(t: np.ndarray, p: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)


def _qwk_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Quadratic weighted kappa for a stack of confusion matrices ``(b, k, k)``."""
    cm = cm.astype(np.float64)
    k = cm.shape[-1]
    idx = np.arange(k)
    weights = (idx[:, None] - idx[None, :]) ** 2 / max((k - 1) ** 2, 1)
    n = cm.sum(axis=(1, 2))
    expected = cm.sum(axis=2)[:, :, None] * cm.sum(axis=1)[:, None, :] / n[:, None, None]
    observed_cost = (weights * cm).sum(axis=(1, 2))
    expected_cost = (weights * expected).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = 1.0 - observed_cost / expected_cost
    # Every row in one class and every prediction right: agreement is perfect.
    return np.where(expected_cost == 0, np.where(observed_cost == 0, 1.0, 0.0), kappa)


def _macro_f1_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Macro-F1 over the classes present in truth or prediction, for a stack ``(b, k, k)``."""
    cm = cm.astype(np.float64)
    tp = np.diagonal(cm, axis1=1, axis2=2)
    support = cm.sum(axis=2)
    predicted = cm.sum(axis=1)
    denom = support + predicted
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(denom > 0, 2 * tp / denom, 0.0)
    present = denom > 0
    return (f1 * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1)


def _balanced_accuracy_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Mean recall over the classes present in the truth, for a stack ``(b, k, k)``."""
    cm = cm.astype(np.float64)
    tp = np.diagonal(cm, axis1=1, axis2=2)
    support = cm.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, tp / support, 0.0)
    present = support > 0
    return (recall * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1)


def positive_class(classes: Sequence[Any]) -> Any:
    """The positive class of a binary problem: ``hit`` if present, else the second class."""
    labels = list(classes)
    if len(labels) != 2:
        raise MetricInputError(f"a binary metric needs two classes, got {labels}")

    as_str = [str(c) for c in labels]
    if spec_of(labels) is not None:
        return top_class(labels)
    if sorted(as_str) == ["0", "1"]:
        return labels[as_str.index("1")]
    return labels[1]


def _roc_auc(codes: np.ndarray, p: np.ndarray, classes: Sequence[Any]) -> float | None:
    """Binary ROC-AUC (positive class per :func:`positive_class`) or macro one-vs-rest."""
    present = np.unique(codes)
    if len(present) < 2:
        return None  # undefined with one class in the truth
    if len(classes) == 2:
        pos = list(classes).index(positive_class(classes))
        return float(skm.roc_auc_score(codes == pos, p[:, pos]))
    if len(present) < len(classes):
        # One-vs-rest needs every class in the truth; average over those present.
        aucs = [skm.roc_auc_score(codes == c, p[:, c]) for c in present]
        return float(np.mean(aucs))
    return float(skm.roc_auc_score(codes, p, multi_class="ovr", average="macro"))


def _pr_auc(codes: np.ndarray, p: np.ndarray, classes: Sequence[Any]) -> float | None:
    """Binary precision-recall AUC (average precision) of the positive class; None with one
    class in the truth. Its baseline is the positive class's share, not 0.5."""
    pos = list(classes).index(positive_class(classes))
    truth = codes == pos
    if truth.all() or not truth.any():
        return None
    return float(skm.average_precision_score(truth, p[:, pos]))


def classification_metrics(
    y_true: Any,
    proba: Any,
    classes: Sequence[Any],
    *,
    ordered: bool = True,
    n_bins: int = DEFAULT_ECE_BINS,
) -> dict[str, Any]:
    """Every classification metric songpop reports, from true labels and class probabilities.

    The prediction is the most probable class. Ties go to the first column, as in
    scikit-learn's ``predict`` for most estimators.

    Args:
        y_true: true labels, ``n_rows`` long.
        proba: ``(n_rows, n_classes)`` probabilities whose columns follow ``classes``.
        classes: the labels of the probability columns (an estimator's ``classes_``).
        ordered: compute the quadratic weighted kappa when the classes are the ordered
            levels (low < medium < high, ``config.LEVELS``). Never computed for other label
            sets such as hit / not_hit.
        n_bins: confidence bins for the expected calibration error.

    Returns:
        A JSON-ready dict: ``n``, ``classes`` (as given), ``labels`` (reading order used by the
        confusion matrix and report), ``accuracy``, ``macro_f1``, ``balanced_accuracy``,
        ``qwk`` (None when not ordinal), ``log_loss``, ``brier`` (multiclass definition),
        ``brier_binary`` (binary only, else None), ``ece``, ``reliability`` (see
        :func:`reliability_data`), ``roc_auc`` (binary, or macro one-vs-rest; None when the
        truth holds a single class), ``pr_auc`` (binary: average precision),
        ``positive_class`` (binary only), ``confusion_matrix``
        (list of lists, rows = true, columns = predicted, both in ``labels`` order) and
        ``report`` (scikit-learn's classification report as a dict).

    Raises:
        MetricInputError: mismatched lengths, bad probabilities or unknown labels, naming the
            argument.
    """
    classes = list(classes)
    if len(classes) < 2:
        raise MetricInputError(f"classes must hold at least two labels, got {classes}")
    codes = encode_labels("y_true", y_true, classes)
    p = check_proba("proba", proba, len(classes))
    check_same_length(y_true=codes, proba=p)
    k = len(classes)
    pred = p.argmax(axis=1)

    labels = canonical_order(classes)
    reorder = np.array([classes.index(c) for c in labels])
    inverse = np.argsort(reorder)  # code in `classes` order -> code in `labels` order
    cm = _confusion(inverse[codes], inverse[pred], k)

    qwk = None
    if ordered and is_ordinal(classes):
        qwk = float(_qwk_from_confusion(cm[None, ...])[0])

    names = [str(c) for c in labels]
    report = skm.classification_report(
        inverse[codes],
        inverse[pred],
        labels=list(range(k)),
        target_names=names,
        output_dict=True,
        zero_division=0,
    )
    binary = k == 2
    pos = positive_class(classes) if binary else None
    brier = brier_multiclass(codes, p)
    rel = reliability_data(codes, p, n_bins)
    return {
        "n": int(len(codes)),
        "classes": [_jsonable(c) for c in classes],
        "labels": [_jsonable(c) for c in labels],
        "accuracy": float((pred == codes).mean()),
        "macro_f1": float(_macro_f1_from_confusion(cm[None, ...])[0]),
        "balanced_accuracy": float(_balanced_accuracy_from_confusion(cm[None, ...])[0]),
        "qwk": qwk,
        "log_loss": float(per_row_log_loss(codes, p).mean()),
        "brier": brier,
        "brier_binary": brier / 2.0 if binary else None,
        "ece": rel["ece"],
        "reliability": rel,
        "roc_auc": _roc_auc(codes, p, classes),
        "pr_auc": _pr_auc(codes, p, classes) if binary else None,
        "positive_class": _jsonable(pos) if binary else None,
        "confusion_matrix": cm.tolist(),
        "report": report,
    }


def _jsonable(value: Any) -> Any:
    """numpy scalars become Python scalars so the dict can be written as JSON."""
    return value.item() if isinstance(value, np.generic) else value


# --- regression -------------------------------------------------------------------------------


def check_regression_inputs(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """Two finite float arrays of the same length, or an error naming the argument."""
    t = _as_1d("y_true", y_true).astype(np.float64)
    p = _as_1d("y_pred", y_pred).astype(np.float64)
    check_same_length(y_true=t, y_pred=p)
    for name, arr in (("y_true", t), ("y_pred", p)):
        if not np.isfinite(arr).all():
            bad = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise MetricInputError(f"{name} has a missing or infinite value at row {bad}")
    return t, p


def regression_point_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    """MAE, RMSE and R² of continuous predictions (no intervals; see ``regression_metrics``)."""
    t, p = check_regression_inputs(y_true, y_pred)
    err = t - p
    ss_tot = float(((t - t.mean()) ** 2).sum())
    r2 = 1.0 - float((err**2).sum()) / ss_tot if ss_tot > 0 else float("nan")
    return {
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "r2": r2,
    }
