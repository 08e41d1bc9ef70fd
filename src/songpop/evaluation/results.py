"""Task results, the comparison table, plain-language summaries and the report's models section.

A *result* is a JSON-ready dict describing one (task, feature set, model): built by
:func:`evaluate_classifier` from held-out probabilities, by :func:`result_from_cv` when only
cross-validation was run (e.g. the hit task with artist-grouped folds), or by
:func:`evaluate_regressor` for the popularity score. :func:`comparison_table` turns a list of
results into one row per (task, feature_set, model); :func:`write_models_section` writes the
tables and the ``section.json`` manifest (docs/architecture.md) the HTML report renders.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from songpop import config
from songpop.config import FEATURE_SET_LABELS
from songpop.evaluation import metrics as M
from songpop.evaluation import uncertainty as U
from songpop.evaluation.metrics import MetricInputError

log = logging.getLogger(__name__)

FEATURE_SET_ORDER: tuple[str, ...] = ("audio", "audio+context", "measured")
"""Feature sets, always reported apart and in this order."""

BARELY_MARGIN = 0.03
"""Lift (accuracy − dummy accuracy) whose lower 95% bound is under this is "barely above"."""
CLEAR_MARGIN = 0.10
"""Lift of at least this much (point estimate) is "clearly above" the dummy baseline."""

_INTERVAL_METRICS: tuple[str, ...] = U.CLASSIFICATION_METRICS


# --- building results -------------------------------------------------------------------------


def evaluate_classifier(
    y_test: Any,
    proba: Any,
    classes: Sequence[Any],
    *,
    y_train: Any,
    task: str,
    feature_set: str,
    model: str,
    protocol: str = "holdout",
    cv: Mapping[str, Any] | None = None,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = config.SEED,
    dummy_strategy: str = "most_frequent",
) -> dict[str, Any]:
    """Score held-out probabilities with every metric, intervals and the dummy baseline.

    Args:
        y_test: true test labels.
        proba: ``(n_test, n_classes)`` probabilities in ``classes`` order.
        classes: the estimator's ``classes_``.
        y_train: training labels (the dummy baseline learns from these only).
        task: task name, e.g. ``"seed_levels"`` or ``"hit"``.
        feature_set: ``"audio"`` or ``"audio+context"``.
        model: the registry name of the model.
        protocol: how the test set was made (``"holdout"``, ``"original_split"``...); a
            value starting with ``"temporal"`` files the result under the temporal family
            (see :func:`protocol_family`), reported apart from the task's own test set.
        cv: the :func:`repeated_cv` result for the same model on the training data, if run.
        n_boot: bootstrap resamples.
        alpha: 1 − confidence level.
        seed: bootstrap seed.
        dummy_strategy: the dummy baseline's strategy.

    Returns:
        ``{"kind": "classification", "task", "feature_set", "model", "protocol", "n_train",
        "n_test", "alpha", "metrics" (see ``classification_metrics``), "ci": {metric: [low,
        high]}, "dummy" (see ``dummy_baseline``, without its predictions), "lift": {"point",
        "low", "high"} (paired bootstrap of accuracy − dummy accuracy), "cv"}``.
    """
    classes = list(classes)
    metrics = M.classification_metrics(y_test, proba, classes)
    ci: dict[str, list[float] | None] = {}
    for name in _INTERVAL_METRICS:
        if metrics.get(name) is None:
            ci[name] = None
            continue
        _, low, high = U.bootstrap_ci(y_test, proba, name, n_boot, alpha, seed, classes=classes)
        ci[name] = [low, high]
    dummy = U.dummy_baseline(
        y_train, y_test, dummy_strategy, classes=classes, n_boot=n_boot, alpha=alpha, seed=seed
    )
    dummy_pred = dummy.pop("y_pred")
    pred = np.asarray(classes, dtype=object)[np.asarray(proba).argmax(axis=1)]
    y_arr = np.asarray(y_test, dtype=object)
    point, low, high = U.paired_difference_ci(
        y_arr, pred, np.asarray(dummy_pred, dtype=object), n_boot, alpha, seed
    )
    return {
        "kind": "classification",
        "task": task,
        "feature_set": feature_set,
        "model": model,
        "protocol": protocol,
        "n_train": int(len(y_train)),
        "n_test": int(len(y_arr)),
        "alpha": alpha,
        "metrics": metrics,
        "ci": ci,
        "dummy": dummy,
        "lift": {"point": point, "low": low, "high": high},
        "cv": dict(cv) if cv is not None else None,
    }


def result_from_cv(
    cv: Mapping[str, Any], *, task: str, feature_set: str, model: str
) -> dict[str, Any]:
    """A result for a model judged by cross-validation only (no separate test set).

    Args:
        cv: the :func:`repeated_cv` result.
        task: task name.
        feature_set: ``"audio"`` or ``"audio+context"``.
        model: registry name.

    Returns:
        A classification result with ``metrics`` None and the fold scores under ``cv``.
    """
    return {
        "kind": "classification",
        "task": task,
        "feature_set": feature_set,
        "model": model,
        "protocol": str(cv.get("protocol", "cv")),
        "n_train": int(cv.get("n_rows", 0)),
        "n_test": None,
        "alpha": None,
        "metrics": None,
        "ci": None,
        "dummy": None,
        "lift": None,
        "cv": dict(cv),
    }


def regression_metrics(
    y_true: Any,
    y_pred: Any,
    *,
    y_train: Any = None,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = config.SEED,
) -> dict[str, Any]:
    """MAE, RMSE and R² with bootstrap intervals, for the model and for a mean baseline.

    The baseline is ``DummyRegressor(strategy="mean")`` fitted on ``y_train``; without
    ``y_train`` it falls back to the test mean (whose R² is 0 by construction, which flatters
    the baseline slightly — pass ``y_train``).

    Args:
        y_true: true values (e.g. the popularity score).
        y_pred: the model's predictions.
        y_train: training values for the mean baseline.
        n_boot: bootstrap resamples.
        alpha: 1 − confidence level.
        seed: bootstrap seed.

    Returns:
        ``{"n", "mae", "rmse", "r2" (each {"point", "low", "high"}), "baseline": {same three,
        "strategy"}, "mae_reduction": {"point", "low", "high"}}``; ``mae_reduction`` is the
        paired-bootstrap baseline MAE minus model MAE (positive = the model helps).
    """
    t, p = M.check_regression_inputs(y_true, y_pred)
    if y_train is not None:
        base = U.dummy_regression_baseline(y_train, t)
        strategy = "training mean"
    else:
        log.warning("regression_metrics: no y_train, the mean baseline uses the test mean")
        base = np.full_like(t, t.mean())
        strategy = "test mean"

    def intervals(pred: np.ndarray) -> dict[str, dict[str, float]]:
        out = {}
        for name in U.REGRESSION_METRICS:
            point, low, high = U.bootstrap_ci(t, pred, name, n_boot, alpha, seed)
            out[name] = {"point": point, "low": low, "high": high}
        return out

    gain = np.abs(t - base) - np.abs(t - p)
    idx = U.resample_indices(len(t), n_boot, seed)
    point, low, high = U._interval(float(gain.mean()), gain[idx].mean(axis=1), alpha)
    return {
        "n": int(len(t)),
        **intervals(p),
        "baseline": {**intervals(base), "strategy": strategy},
        "mae_reduction": {"point": point, "low": low, "high": high},
    }


def evaluate_regressor(
    y_test: Any,
    y_pred: Any,
    *,
    y_train: Any,
    task: str,
    feature_set: str,
    model: str,
    protocol: str = "holdout",
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = config.SEED,
) -> dict[str, Any]:
    """A regression result (see :func:`regression_metrics`) with its identifying fields."""
    return {
        "kind": "regression",
        "task": task,
        "feature_set": feature_set,
        "model": model,
        "protocol": protocol,
        "n_train": int(len(y_train)),
        "n_test": int(len(y_test)),
        "alpha": alpha,
        "regression": regression_metrics(
            y_test, y_pred, y_train=y_train, n_boot=n_boot, alpha=alpha, seed=seed
        ),
    }


# --- tables -----------------------------------------------------------------------------------

COMPARISON_COLUMNS: tuple[str, ...] = (
    "task",
    "feature_set",
    "model",
    "protocol",
    "n_test",
    "accuracy",
    "accuracy_low",
    "accuracy_high",
    "macro_f1",
    "balanced_accuracy",
    "qwk",
    "log_loss",
    "brier",
    "ece",
    "roc_auc",
    "cv_protocol",
    "cv_accuracy_mean",
    "cv_accuracy_sd",
    "cv_macro_f1_mean",
    "cv_macro_f1_sd",
    "cv_roc_auc_mean",
    "cv_roc_auc_sd",
    "cv_dummy_accuracy",
    "dummy_accuracy",
    "dummy_low",
    "dummy_high",
    "majority_rate",
    "lift",
    "lift_low",
    "lift_high",
)


def _get(mapping: Mapping[str, Any] | None, *keys: str) -> Any:
    value: Any = mapping
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


PROTOCOL_FAMILIES: tuple[str, ...] = ("main", "cv", "grouped_cv", "temporal")
"""How a result was judged: on the task's own test set (main), by cross-validation only (cv),
by artist-grouped cross-validation only (grouped_cv), or trained on older and tested on newer
songs (temporal). Reported apart, in this order."""


def protocol_family(result: Mapping[str, Any]) -> str:
    """``main``, ``cv``, ``grouped_cv`` or ``temporal`` (see ``PROTOCOL_FAMILIES``)."""
    if result.get("metrics") is None:
        return "grouped_cv" if _get(result.get("cv"), "grouped") else "cv"
    if str(result.get("protocol") or "").startswith("temporal"):
        return "temporal"
    return "main"


def _check_result(result: Mapping[str, Any], position: int) -> None:
    for key in ("task", "feature_set", "model"):
        if not result.get(key):
            raise MetricInputError(f"results[{position}] has no {key!r}")
    if result.get("metrics") is None and result.get("cv") is None:
        raise MetricInputError(
            f"results[{position}] ({result['task']}/{result['feature_set']}/{result['model']}) "
            "has neither test metrics nor cross-validation scores"
        )


def _comparison_row(result: Mapping[str, Any]) -> dict[str, Any]:
    m = result.get("metrics")
    ci = result.get("ci") or {}
    dummy = result.get("dummy")
    lift = result.get("lift")
    cv = result.get("cv")
    acc_ci = ci.get("accuracy") or [None, None]
    return {
        "task": result["task"],
        "feature_set": result["feature_set"],
        "model": result["model"],
        "protocol": result.get("protocol"),
        "n_test": result.get("n_test"),
        "accuracy": _get(m, "accuracy"),
        "accuracy_low": acc_ci[0],
        "accuracy_high": acc_ci[1],
        "macro_f1": _get(m, "macro_f1"),
        "balanced_accuracy": _get(m, "balanced_accuracy"),
        "qwk": _get(m, "qwk"),
        "log_loss": _get(m, "log_loss"),
        "brier": _get(m, "brier"),
        "ece": _get(m, "ece"),
        "roc_auc": _get(m, "roc_auc"),
        "cv_protocol": _get(cv, "protocol"),
        "cv_accuracy_mean": _get(cv, "scores", "accuracy", "mean"),
        "cv_accuracy_sd": _get(cv, "scores", "accuracy", "sd"),
        "cv_macro_f1_mean": _get(cv, "scores", "macro_f1", "mean"),
        "cv_macro_f1_sd": _get(cv, "scores", "macro_f1", "sd"),
        "cv_roc_auc_mean": _get(cv, "scores", "roc_auc", "mean"),
        "cv_roc_auc_sd": _get(cv, "scores", "roc_auc", "sd"),
        "cv_dummy_accuracy": _get(cv, "dummy", "accuracy", "mean"),
        "dummy_accuracy": _get(dummy, "accuracy"),
        "dummy_low": _get(dummy, "ci_low"),
        "dummy_high": _get(dummy, "ci_high"),
        "majority_rate": _get(dummy, "test_majority_share"),
        "lift": _get(lift, "point"),
        "lift_low": _get(lift, "low"),
        "lift_high": _get(lift, "high"),
    }


def comparison_table(results: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per (task, feature_set, model) with every headline number, baseline and interval.

    Args:
        results: classification results (from :func:`evaluate_classifier` or
            :func:`result_from_cv`); regression results are skipped (see
            :func:`regression_table`).

    Returns:
        A DataFrame with ``COMPARISON_COLUMNS``, sorted by task (in the order tasks first
        appear in ``results``, so the caller decides which task leads), feature set (audio
        first), protocol family (``PROTOCOL_FAMILIES``: own test set, CV only, temporal) and
        accuracy (best first; cross-validated accuracy when there is no test set).
        Numbers are floats (NaN where not applicable, e.g. QWK for hit / not_hit).

    Raises:
        MetricInputError: a result lacks its identifiers or any score, or two results share
            the same (task, feature_set, model).
    """
    rows = []
    kept = []
    for i, result in enumerate(results):
        if result.get("kind", "classification") != "classification":
            continue
        _check_result(result, i)
        rows.append(_comparison_row(result))
        kept.append(result)
    table = pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))
    if table.empty:
        return table
    dup = table.duplicated(["task", "feature_set", "model"], keep=False)
    if dup.any():
        first = table.loc[dup, ["task", "feature_set", "model"]].iloc[0].tolist()
        raise MetricInputError(f"results hold (task, feature_set, model) {first} more than once")
    numeric = [
        c
        for c in COMPARISON_COLUMNS
        if c not in ("task", "feature_set", "model", "protocol", "cv_protocol")
    ]
    table[numeric] = table[numeric].apply(pd.to_numeric, errors="coerce").astype("float64")
    rank = table["accuracy"].fillna(table["cv_accuracy_mean"])
    order = {name: i for i, name in enumerate(FEATURE_SET_ORDER)}
    task_order = {name: i for i, name in enumerate(dict.fromkeys(table["task"]))}
    families = [PROTOCOL_FAMILIES.index(protocol_family(r)) for r in kept]
    table = (
        table.assign(
            _task=table["task"].map(task_order),
            _fs=table["feature_set"].map(order).fillna(len(order)),
            _family=families,
            _rank=-rank,
        )
        .sort_values(["_task", "_fs", "_family", "_rank", "model"], kind="stable")
        .drop(columns=["_task", "_fs", "_family", "_rank"])
        .reset_index(drop=True)
    )
    return table


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.{digits}f}"


def format_comparison_table(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison table as a reader sees it: intervals in brackets, ± for CV, no NaN.

    Args:
        table: the output of :func:`comparison_table`.

    Returns:
        A DataFrame of strings with columns task, feature set, model, test accuracy [95% CI],
        macro-F1, balanced accuracy, QWK, log loss, Brier, ECE, ROC-AUC, CV accuracy (mean ±
        sd), CV ROC-AUC (mean ± sd), dummy accuracy [95% CI], lift over dummy [95% CI].
        Columns that are empty for every row (e.g. CV ROC-AUC when no task scored it) are
        dropped.
    """

    def interval(point: Any, low: Any, high: Any) -> str:
        if point is None or (isinstance(point, float) and math.isnan(point)):
            return ""
        return f"{point:.3f} [{low:.3f}, {high:.3f}]"

    def pm(mean: Any, sd: Any) -> str:
        if mean is None or (isinstance(mean, float) and math.isnan(mean)):
            return ""
        return f"{mean:.3f} ± {sd:.3f}" if sd is not None and not math.isnan(sd) else f"{mean:.3f}"

    rows = []
    for r in table.to_dict("records"):
        dummy = interval(r["dummy_accuracy"], r["dummy_low"], r["dummy_high"])
        if not dummy and r["cv_dummy_accuracy"] == r["cv_dummy_accuracy"]:
            dummy = f"{r['cv_dummy_accuracy']:.3f} (CV)"
        rows.append(
            {
                "task": r["task"],
                "feature set": r["feature_set"],
                "model": r["model"],
                "test accuracy [95% CI]": interval(
                    r["accuracy"], r["accuracy_low"], r["accuracy_high"]
                ),
                "macro-F1": _fmt(r["macro_f1"]),
                "balanced accuracy": _fmt(r["balanced_accuracy"]),
                "QWK": _fmt(r["qwk"]),
                "log loss": _fmt(r["log_loss"]),
                "Brier": _fmt(r["brier"]),
                "ECE": _fmt(r["ece"]),
                "ROC-AUC": _fmt(r["roc_auc"]),
                "CV accuracy (mean ± sd)": pm(r["cv_accuracy_mean"], r["cv_accuracy_sd"]),
                "CV macro-F1 (mean ± sd)": pm(r["cv_macro_f1_mean"], r["cv_macro_f1_sd"]),
                "CV ROC-AUC (mean ± sd)": pm(r["cv_roc_auc_mean"], r["cv_roc_auc_sd"]),
                "dummy accuracy [95% CI]": dummy,
                "majority-class rate": _fmt(r["majority_rate"]),
                "lift over dummy [95% CI]": interval(r["lift"], r["lift_low"], r["lift_high"]),
                "note": below_baseline(r["accuracy"], r["dummy_accuracy"], r["majority_rate"]),
            }
        )
    shown = pd.DataFrame(rows)
    always = ["task", "feature set", "model", "test accuracy [95% CI]", "macro-F1",
              "dummy accuracy [95% CI]", "majority-class rate"]  # fmt: skip
    empty = [c for c in shown.columns if c not in always and (shown[c] == "").all()]
    return shown.drop(columns=empty)


def regression_table(results: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per regression result: MAE, RMSE, R² with intervals, and the mean baseline's."""
    rows = []
    for result in results:
        if result.get("kind") != "regression":
            continue
        reg = result["regression"]
        row: dict[str, Any] = {
            "task": result["task"],
            "feature_set": result["feature_set"],
            "model": result["model"],
            "n_test": result.get("n_test"),
        }
        for name in U.REGRESSION_METRICS:
            for part in ("point", "low", "high"):
                suffix = "" if part == "point" else f"_{part}"
                row[f"{name}{suffix}"] = reg[name][part]
                row[f"baseline_{name}{suffix}"] = reg["baseline"][name][part]
        row["mae_reduction"] = reg["mae_reduction"]["point"]
        row["mae_reduction_low"] = reg["mae_reduction"]["low"]
        row["mae_reduction_high"] = reg["mae_reduction"]["high"]
        rows.append(row)
    return pd.DataFrame(rows)


def classification_reports_table(results: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Per-class precision, recall, F1 and support of every result with test metrics."""
    rows = []
    for result in results:
        m = result.get("metrics")
        if result.get("kind", "classification") != "classification" or m is None:
            continue
        for label in m["labels"]:
            entry = m["report"][str(label)]
            rows.append(
                {
                    "task": result["task"],
                    "feature_set": result["feature_set"],
                    "model": result["model"],
                    "class": str(label),
                    "precision": entry["precision"],
                    "recall": entry["recall"],
                    "f1": entry["f1-score"],
                    "support": int(entry["support"]),
                }
            )
    return pd.DataFrame(rows)


# --- plain language ---------------------------------------------------------------------------


def _headline(result: Mapping[str, Any]) -> float:
    acc = _get(result.get("metrics"), "accuracy")
    if acc is None:
        acc = _get(result.get("cv"), "scores", "accuracy", "mean")
    return -math.inf if acc is None else float(acc)


def _selection_key(results: Sequence[Mapping[str, Any]]) -> Any:
    """Pick the best model by cross-validated accuracy when every result has it, so the choice
    never looks at the test set; otherwise by the headline accuracy."""
    if all(_get(r.get("cv"), "scores", "accuracy", "mean") is not None for r in results):
        return lambda r: float(r["cv"]["scores"]["accuracy"]["mean"])
    return _headline


def below_baseline(accuracy: Any, dummy: Any, majority: Any) -> str:
    """Plain words when an accuracy is not above its baselines: "below the majority-class rate
    (75.4%): answering the test set's most common class every time would do better"; "" when
    it is above both (or unknown)."""

    def known(x: Any) -> bool:
        return x is not None and not (isinstance(x, float) and math.isnan(x))

    if not known(accuracy):
        return ""
    if known(majority) and accuracy < majority:
        return (
            f"below the majority-class rate ({majority:.1%}): answering the test set's most "
            "common class every time would do better"
        )
    if known(dummy) and accuracy <= dummy:
        return f"not above the dummy baseline ({dummy:.1%})"
    return ""


def _verdict(lift_low: float, lift_point: float) -> str:
    if lift_low <= 0:
        return "not distinguishable from the dummy baseline"
    if lift_low < BARELY_MARGIN:
        return "barely above chance"
    if lift_point < CLEAR_MARGIN:
        return "modestly above the dummy baseline"
    return "clearly above the dummy baseline"


def describe_predictability(task_result: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> str:
    """Say plainly how far the best model of a task is above its dummy baseline.

    Args:
        task_result: one classification result, or several results of the same task and
            feature set. Only the results of the first protocol family present (own test set,
            else CV only, else temporal; see ``protocol_family``) compete. The best is chosen
            by cross-validated accuracy when every result has one (so the choice never looks
            at the test set), else by test accuracy.

    Returns:
        One or two sentences, e.g. "Seed Levels (audio only): the best model, lightgbm,
        reaches 51.2% accuracy (95% CI 49.2–53.2%) against 35.5% for always predicting the
        most frequent class (medium), 15.7 points above it (95% CI 13.1–18.3): clearly above
        the dummy baseline, yet about 1 song in 2 is still misclassified." The verdict is
        "not distinguishable from the dummy baseline" when the lift's lower bound is ≤ 0,
        "barely above chance" when it is under 3 points, "modestly above" under a 10-point
        lift, else "clearly above". With cross-validation only, the lift's mean − 2·sd over
        folds stands in for the lower bound.
    """
    results = [task_result] if isinstance(task_result, Mapping) else list(task_result)
    results = [r for r in results if r.get("kind", "classification") == "classification"]
    if not results:
        raise MetricInputError("describe_predictability needs at least one classification result")
    # Compare like with like: the task's own test set first, else CV only, else temporal.
    family = min((protocol_family(r) for r in results), key=PROTOCOL_FAMILIES.index)
    results = [r for r in results if protocol_family(r) == family]
    best = max(results, key=_selection_key(results))
    words = _feature_set_words(best) + (", temporal split" if family == "temporal" else "")
    name = f"{str(best['task']).replace('_', ' ').capitalize()} ({words})"
    m = best.get("metrics")
    if m is not None and best.get("dummy") is not None:
        acc, (low, high) = m["accuracy"], best["ci"]["accuracy"]
        dummy, lift = best["dummy"], best["lift"]
        verdict = _verdict(lift["low"], lift["point"])
        share = dummy.get("test_majority_share")
        if share is not None and acc < share and not verdict.startswith("not"):
            verdict = (
                f"yet below the {share:.1%} that always answering the test set's most common "
                f"class ({dummy['test_majority_class']}) would score: no use on these songs"
            )
        errors = 1.0 - acc
        if 0.05 < errors < 0.5:
            wrong = f"about 1 song in {round(1 / errors)} is still misclassified"
        else:
            wrong = f"{errors:.0%} of test songs are still misclassified"
        if dummy.get("strategy", "most_frequent") in ("most_frequent", "prior"):
            baseline = f"always predicting the most frequent class ({dummy['majority_class']})"
        else:
            baseline = f"a {dummy['strategy']} dummy"
        auc = ""
        if m.get("roc_auc") is not None and len(m["classes"]) == 2:
            auc_low, auc_high = best["ci"]["roc_auc"]
            auc = f" ROC-AUC is {m['roc_auc']:.2f} (95% CI {auc_low:.2f}–{auc_high:.2f})."
        shift = ""
        if share is not None and share - dummy["accuracy"] > 0.10:
            shift = (
                f" Caution: the label mix shifted between training and test — the test set's "
                f"most common class ({dummy['test_majority_class']}) makes up {share:.1%} of it"
                + (
                    ", more than this model's accuracy"
                    if share >= acc
                    else ", so part of the lift only reflects the shift"
                )
                + "."
            )
        cv_note = ""
        cv = best.get("cv")
        if _get(cv, "scores", "accuracy", "mean") is not None:
            cv_acc = cv["scores"]["accuracy"]
            cv_note = (
                f" Cross-validated on the training songs it scores {cv_acc['mean']:.1%} ± "
                f"{(cv_acc['sd'] or 0):.1%}."
            )
        return (
            f"{name}: the best model, {best['model']}, reaches {acc:.1%} accuracy "
            f"(95% CI {low:.1%}–{high:.1%}) on {best['n_test']:,} test songs, against "
            f"{dummy['accuracy']:.1%} for {baseline}: {100 * lift['point']:.1f} points above "
            f"it (95% CI {100 * lift['low']:.1f} to {100 * lift['high']:.1f}) — {verdict}"
            f"{'' if verdict.startswith(('not', 'yet')) else ', yet ' + wrong}.{auc}{shift}"
            f"{cv_note}"
        )
    cv = best["cv"]
    acc = cv["scores"]["accuracy"]
    lift = cv.get("lift") or {}
    mean_lift, sd_lift = lift.get("mean") or 0.0, lift.get("sd") or 0.0
    verdict = _verdict(mean_lift - 2 * sd_lift, mean_lift)
    folds = f"{cv['n_repeats']}×{cv['n_splits']}-fold" + (
        " artist-grouped" if cv.get("grouped") else ""
    )
    return (
        f"{name}: the best model, {best['model']}, reaches {acc['mean']:.1%} ± "
        f"{(acc['sd'] or 0):.1%} accuracy over {folds} cross-validation, against "
        f"{cv['dummy']['accuracy']['mean']:.1%} for the most-frequent-class dummy on the same "
        f"folds: {100 * mean_lift:.1f} ± {100 * sd_lift:.1f} points above it — {verdict}."
    )


def describe_regression(result: Mapping[str, Any]) -> str:
    """One sentence on a regression result: MAE and R² with intervals against the mean baseline.

    Args:
        result: a result from :func:`evaluate_regressor`.

    Returns:
        E.g. "Popularity score (audio + context): lgbm_regressor predicts it with a mean
        absolute error of 9.7 (95% CI 9.4–10.0) against 12.8 for always predicting the
        training mean, 3.1 points better (95% CI 2.8–3.4); R² is 0.40 (95% CI 0.36–0.43)."
    """
    if result.get("kind") != "regression":
        raise MetricInputError("describe_regression needs a result from evaluate_regressor")
    reg = result["regression"]
    mae, base, gain, r2 = reg["mae"], reg["baseline"]["mae"], reg["mae_reduction"], reg["r2"]
    name = f"{str(result['task']).replace('_', ' ').capitalize()} ({_feature_set_words(result)})"
    if gain["low"] > 0:
        verdict = f"{gain['point']:.1f} points better (95% CI {gain['low']:.1f}–{gain['high']:.1f})"
    else:
        verdict = (
            f"not distinguishable from it (difference {gain['point']:.1f}, 95% CI "
            f"{gain['low']:.1f} to {gain['high']:.1f})"
        )
    return (
        f"{name}: {result['model']} predicts it with a mean absolute error of "
        f"{mae['point']:.1f} (95% CI {mae['low']:.1f}–{mae['high']:.1f}) against "
        f"{base['point']:.1f} for always predicting the {reg['baseline']['strategy']}, "
        f"{verdict}; R² is {r2['point']:.2f} (95% CI {r2['low']:.2f}–{r2['high']:.2f})."
    )


def _feature_set_words(result: Mapping[str, Any]) -> str:

    return FEATURE_SET_LABELS.get(str(result["feature_set"]), str(result["feature_set"]))


def describe_all(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """:func:`describe_predictability` per (task, feature set, protocol family).

    Tasks come best-predicted first (by the lift of their main protocol), so the report leads
    with what is predictable; within a task, the own-test-set sentences come before the
    CV-only, artist-grouped and temporal ones, audio only before audio + context. A plain
    CV-only sentence is left out where an own-test-set sentence exists (it quotes the CV).
    """
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for r in results:
        if r.get("kind", "classification") == "classification":
            groups.setdefault((r["task"], r["feature_set"], protocol_family(r)), []).append(r)

    def lift_of(rs: list[Mapping[str, Any]]) -> float:
        best = max(rs, key=_headline)
        point = _get(best, "lift", "point")
        if point is None:
            point = _get(best, "cv", "lift", "mean")
        return -math.inf if point is None else float(point)

    def task_lift(task: str) -> float:
        # A task is ranked by its main protocol (temporal lifts can be inflated by label shift).
        for family in PROTOCOL_FAMILIES:
            lifts = [lift_of(rs) for (t, _, f), rs in groups.items() if t == task and f == family]
            if lifts:
                return max(lifts)
        return -math.inf  # pragma: no cover - every task has at least one group

    # The main sentence already quotes the same model's plain cross-validation.
    for task, fs, family in list(groups):
        if family == "cv" and (task, fs, "main") in groups:
            del groups[(task, fs, family)]
    order = {name: i for i, name in enumerate(FEATURE_SET_ORDER)}
    tasks = sorted({t for t, _, _ in groups}, key=lambda t: -task_lift(t))
    keys = sorted(
        groups,
        key=lambda k: (
            tasks.index(k[0]),
            PROTOCOL_FAMILIES.index(k[2]),
            order.get(k[1], len(order)),
        ),
    )
    return [describe_predictability(groups[k]) for k in keys]


# --- the report section -----------------------------------------------------------------------


def _strip_predictions(result: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(result)
    if isinstance(out.get("dummy"), Mapping):
        out["dummy"] = {k: v for k, v in out["dummy"].items() if k != "y_pred"}
    return out


def _figure_entry(figure: Mapping[str, Any], out_dir: Path, position: int) -> dict[str, Any]:
    entry: dict[str, Any] = {"title": figure.get("title") or f"Figure {position + 1}"}
    for kind in ("png", "svg"):
        if not figure.get(kind):
            raise MetricInputError(f"figures[{position}] has no {kind!r} path")
        path = Path(figure[kind])
        full = path if path.is_absolute() else out_dir / path
        if not full.is_file():
            raise MetricInputError(f"figures[{position}] {kind} file {full} does not exist")
        try:
            entry[kind] = full.resolve().relative_to(out_dir.resolve()).as_posix()
        except ValueError as exc:
            raise MetricInputError(
                f"figures[{position}] {kind} file {full} is not inside the section folder "
                f"{out_dir}; save figures below it so the report can find them"
            ) from exc
    entry["caption"] = figure.get("caption", "")
    return entry
