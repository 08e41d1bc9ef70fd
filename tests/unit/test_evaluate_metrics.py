"""Unit tests: classification and regression metrics on tiny arrays whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from songpop.evaluation import (
    MetricInputError,
    canonical_order,
    classification_metrics,
    expected_calibration_error,
    quadratic_weighted_kappa,
    regression_metrics,
    reliability_data,
)

# scikit-learn sorts string classes: this is the column order of predict_proba.
SK_LEVELS = ["high", "low", "medium"]


def onehot(labels: list[str], classes: list[str]) -> np.ndarray:
    return np.eye(len(classes))[[classes.index(c) for c in labels]]


def test_perfect_predictions_score_perfectly() -> None:
    y = ["low", "medium", "high", "low", "high", "medium"]
    m = classification_metrics(y, onehot(y, SK_LEVELS), SK_LEVELS)
    assert m["accuracy"] == 1.0
    assert m["macro_f1"] == 1.0
    assert m["balanced_accuracy"] == 1.0
    assert m["qwk"] == pytest.approx(1.0)
    assert m["ece"] == 0.0
    assert m["brier"] == 0.0
    assert m["log_loss"] == pytest.approx(0.0, abs=1e-12)
    assert m["roc_auc"] == pytest.approx(1.0)
    # Confusion matrix in reading order low, medium, high, whatever the column order.
    assert m["labels"] == ["low", "medium", "high"]
    assert m["confusion_matrix"] == [[2, 0, 0], [0, 2, 0], [0, 0, 2]]


def test_brier_of_uniform_probabilities() -> None:
    y = ["low", "medium", "high", "high"]
    m = classification_metrics(y, np.full((4, 3), 1 / 3), SK_LEVELS)
    # Each row: (1 - 1/3)² + 2 · (1/3)² = 2/3.
    assert m["brier"] == pytest.approx(2 / 3)
    assert m["brier_binary"] is None
    assert m["log_loss"] == pytest.approx(np.log(3))

    yb = ["hit", "not_hit", "hit", "not_hit"]
    mb = classification_metrics(yb, np.full((4, 2), 0.5), ["hit", "not_hit"])
    assert mb["brier"] == pytest.approx(0.5)
    assert mb["brier_binary"] == pytest.approx(0.25)


def test_qwk_penalises_low_high_more_than_low_medium() -> None:
    truth = ["low"] * 4 + ["medium"] * 4 + ["high"] * 4
    near = list(truth)
    near[0] = "medium"  # one low read as medium
    far = list(truth)
    far[0] = "high"  # one low read as high
    k_near = quadratic_weighted_kappa(truth, near, SK_LEVELS)
    k_far = quadratic_weighted_kappa(truth, far, SK_LEVELS)
    assert k_far < k_near < 1.0
    # Same accuracy, so only the ordinal metric tells them apart.
    m_near = classification_metrics(truth, onehot(near, SK_LEVELS), SK_LEVELS)
    m_far = classification_metrics(truth, onehot(far, SK_LEVELS), SK_LEVELS)
    assert m_near["accuracy"] == m_far["accuracy"]
    assert m_far["qwk"] < m_near["qwk"]


def test_qwk_matches_scikit_learn_on_ordered_codes() -> None:
    rng = np.random.default_rng(1)
    levels = ["low", "medium", "high"]
    t = rng.choice(levels, 300)
    p = rng.choice(levels, 300)
    expected = skm.cohen_kappa_score(t, p, labels=levels, weights="quadratic")
    assert quadratic_weighted_kappa(t, p, SK_LEVELS) == pytest.approx(expected)


def test_qwk_is_skipped_for_hit_classes_and_when_not_ordered() -> None:
    yb = ["hit", "not_hit", "hit"]
    assert (
        classification_metrics(yb, onehot(yb, ["hit", "not_hit"]), ["hit", "not_hit"])["qwk"]
        is None
    )
    y = ["low", "high", "medium"]
    assert classification_metrics(y, onehot(y, SK_LEVELS), SK_LEVELS, ordered=False)["qwk"] is None


def test_label_metrics_agree_with_scikit_learn() -> None:
    rng = np.random.default_rng(2)
    y = rng.choice(SK_LEVELS, 500, p=[0.2, 0.5, 0.3])
    proba = rng.dirichlet([2, 2, 2], 500)
    pred = np.array(SK_LEVELS)[proba.argmax(axis=1)]
    m = classification_metrics(y, proba, SK_LEVELS)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=SK_LEVELS))
    assert m["roc_auc"] == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=SK_LEVELS)
    )
    assert m["report"]["macro avg"]["f1-score"] == pytest.approx(m["macro_f1"])
    cm = skm.confusion_matrix(y, pred, labels=["low", "medium", "high"])
    assert m["confusion_matrix"] == cm.tolist()


def test_binary_roc_auc_uses_the_hit_class_as_positive() -> None:
    classes = ["hit", "not_hit"]  # scikit-learn's order: hit is column 0
    y = np.array(["hit", "hit", "not_hit", "not_hit", "hit"])
    proba_hit = np.array([0.9, 0.6, 0.2, 0.7, 0.4])
    proba = np.column_stack([proba_hit, 1 - proba_hit])
    m = classification_metrics(y, proba, classes)
    assert m["positive_class"] == "hit"
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y == "hit", proba_hit))
    assert m["labels"] == ["not_hit", "hit"]


def test_ece_of_a_known_overconfident_model() -> None:
    # Always 80% sure, right half the time: ECE = |0.5 - 0.8| = 0.3.
    y = ["a", "b"] * 10
    proba = np.tile([0.8, 0.2], (20, 1))
    assert expected_calibration_error(y, proba, ["a", "b"]) == pytest.approx(0.3)
    rel = reliability_data(np.array([0, 1] * 10), proba, n_bins=10)
    filled = [b for b in rel["bins"] if b["count"]]
    assert len(filled) == 1
    assert filled[0]["count"] == 20
    assert filled[0]["confidence"] == pytest.approx(0.8)
    assert filled[0]["accuracy"] == pytest.approx(0.5)
    assert filled[0]["lower"] < 0.8 <= filled[0]["upper"]


def test_mismatched_lengths_name_the_argument() -> None:
    with pytest.raises(MetricInputError, match="proba"):
        classification_metrics(["low", "high"], np.full((3, 3), 1 / 3), SK_LEVELS)
    with pytest.raises(MetricInputError, match="y_pred"):
        regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(MetricInputError, match="y_pred"):
        quadratic_weighted_kappa(["low"], ["low", "high"], SK_LEVELS)


def test_bad_inputs_are_explained() -> None:
    with pytest.raises(MetricInputError, match=r"y_true has labels not in classes.*'loud'"):
        classification_metrics(["low", "loud"], np.full((2, 3), 1 / 3), SK_LEVELS)
    with pytest.raises(MetricInputError, match="row 1 sums to"):
        classification_metrics(["low", "high"], [[0.2, 0.3, 0.5], [0.5, 0.5, 0.5]], SK_LEVELS)
    with pytest.raises(MetricInputError, match=r"shape \(n_rows, 3\)"):
        classification_metrics(["low", "high"], np.full((2, 2), 0.5), SK_LEVELS)
    with pytest.raises(MetricInputError, match="y_true is empty"):
        classification_metrics([], np.zeros((0, 3)), SK_LEVELS)
    with pytest.raises(MetricInputError, match="y_pred has a missing"):
        regression_metrics([1.0, 2.0], [1.0, np.nan])


def test_canonical_order() -> None:
    assert canonical_order(SK_LEVELS) == ["low", "medium", "high"]
    assert canonical_order(["hit", "not_hit"]) == ["not_hit", "hit"]
    assert canonical_order([2, 0, 1]) == [2, 0, 1]


def test_regression_metrics_against_a_mean_baseline() -> None:
    rng = np.random.default_rng(3)
    y_train = rng.normal(50, 10, 400)
    y_test = rng.normal(50, 10, 300)
    perfect = regression_metrics(y_test, y_test, y_train=y_train, n_boot=200)
    assert perfect["mae"]["point"] == 0.0
    assert perfect["r2"]["point"] == 1.0
    assert perfect["baseline"]["strategy"] == "training mean"
    # The training mean is not the test mean, so the baseline's R² is at most 0.
    assert perfect["baseline"]["r2"]["point"] <= 0.0
    assert perfect["mae_reduction"]["low"] > 0

    noisy = y_test + rng.normal(0, 5, 300)
    m = regression_metrics(y_test, noisy, y_train=y_train, n_boot=500)
    assert m["mae"]["point"] == pytest.approx(np.abs(y_test - noisy).mean())
    assert m["rmse"]["point"] == pytest.approx(np.sqrt(((y_test - noisy) ** 2).mean()))
    assert m["r2"]["point"] == pytest.approx(skm.r2_score(y_test, noisy))
    for name in ("mae", "rmse", "r2"):
        assert m[name]["low"] <= m[name]["point"] <= m[name]["high"]
    assert m["mae"]["point"] < m["baseline"]["mae"]["point"]
