"""Unit tests: bootstrap intervals, dummy baselines, the temporal split and grouped folds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression, RidgeClassifier

from songpop.evaluation import (
    MetricInputError,
    bootstrap_ci,
    cv_splits,
    dummy_baseline,
    paired_difference_ci,
    repeated_cv,
    temporal_cutoff,
    temporal_split,
    uncertainty,
)

SK_LEVELS = ["high", "low", "medium"]


def noisy_labels(n: int, accuracy: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Truth and a prediction that is right for exactly round(accuracy * n) rows."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(np.array(SK_LEVELS), n)
    pred = truth.copy()
    wrong = rng.permutation(n)[: n - round(accuracy * n)]
    shift = {"high": "low", "low": "medium", "medium": "high"}
    pred[wrong] = [shift[v] for v in truth[wrong]]
    return truth, pred


def test_bootstrap_interval_contains_the_point_and_narrows_with_n() -> None:
    widths = []
    for n in (200, 5000):
        truth, pred = noisy_labels(n, 0.6, seed=n)
        point, low, high = bootstrap_ci(truth, pred, "accuracy", n_boot=1000, seed=0)
        assert point == pytest.approx(0.6)
        assert low < point < high
        widths.append(high - low)
    # Width shrinks roughly as 1/sqrt(n): 25 times the rows, about a fifth of the width.
    assert widths[1] < widths[0] / 3


def test_bootstrap_is_reproducible_for_a_seed() -> None:
    truth, pred = noisy_labels(300, 0.5, seed=1)
    assert bootstrap_ci(truth, pred, seed=7) == bootstrap_ci(truth, pred, seed=7)
    assert bootstrap_ci(truth, pred, seed=7) != bootstrap_ci(truth, pred, seed=8)


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("accuracy", skm.accuracy_score),
        ("macro_f1", lambda t, p: skm.f1_score(t, p, average="macro", zero_division=0)),
        ("balanced_accuracy", skm.balanced_accuracy_score),
        (
            "qwk",
            lambda t, p: skm.cohen_kappa_score(
                t, p, labels=["low", "medium", "high"], weights="quadratic"
            ),
        ),
    ],
)
def test_vectorised_label_metrics_match_a_plain_loop(name, reference) -> None:
    # Same seed → same resamples, so the vectorised path must reproduce the loop exactly.
    truth, pred = noisy_labels(150, 0.55, seed=2)
    fast = bootstrap_ci(truth, pred, name, n_boot=200, seed=3, classes=SK_LEVELS)
    slow = bootstrap_ci(truth, pred, reference, n_boot=200, seed=3)
    assert fast == pytest.approx(slow)


def test_vectorised_probability_metrics_match_a_plain_loop(monkeypatch) -> None:
    # Small AUC blocks, so the block-wise path is exercised too.
    monkeypatch.setattr(uncertainty, "_AUC_BLOCK_CELLS", 1000)
    rng = np.random.default_rng(4)
    classes = ["hit", "not_hit"]
    truth = rng.choice(np.array(classes), 200)
    # Rounded scores create ties, which the vectorised AUC must count as halves.
    p_hit = np.round(np.clip(0.5 + 0.3 * (truth == "hit") + rng.normal(0, 0.3, 200), 0, 1), 1)
    proba = np.column_stack([p_hit, 1 - p_hit])
    cases = {
        "roc_auc": lambda t, p: skm.roc_auc_score(t == "hit", p[:, 0]),
        "log_loss": lambda t, p: skm.log_loss(t, np.clip(p, 1e-15, 1), labels=classes),
        "brier": lambda t, p: 2 * skm.brier_score_loss(t == "hit", p[:, 0]),
    }
    for name, reference in cases.items():
        fast = bootstrap_ci(truth, proba, name, n_boot=150, seed=5, classes=classes)
        slow = bootstrap_ci(truth, proba, reference, n_boot=150, seed=5)
        assert fast == pytest.approx(slow), name


def test_vectorised_r2_matches_a_plain_loop() -> None:
    rng = np.random.default_rng(6)
    y = rng.normal(0, 1, 120)
    pred = y + rng.normal(0, 0.8, 120)
    assert bootstrap_ci(y, pred, "r2", n_boot=200, seed=1) == pytest.approx(
        bootstrap_ci(y, pred, skm.r2_score, n_boot=200, seed=1)
    )


def test_bootstrap_rejects_bad_arguments() -> None:
    with pytest.raises(MetricInputError, match="y_pred_or_proba has 2 rows but y_true has 3"):
        bootstrap_ci(["low", "high", "low"], ["low", "high"])
    with pytest.raises(MetricInputError, match="not known"):
        bootstrap_ci(["low"], ["low"], "precision@k")
    with pytest.raises(MetricInputError, match="needs classes="):
        bootstrap_ci(["low", "high"], np.full((2, 3), 1 / 3), "log_loss")
    with pytest.raises(MetricInputError, match="alpha"):
        bootstrap_ci(["low"], ["low"], alpha=1.5)


def test_dummy_baseline_learns_from_training_labels_only() -> None:
    y_train = ["low"] * 6 + ["high"] * 4
    y_test = ["high"] * 7 + ["low"] * 3  # the test majority differs from the training one
    d = dummy_baseline(y_train, y_test, "most_frequent", n_boot=300)
    assert d["majority_class"] == "low"
    assert d["accuracy"] == pytest.approx(0.3)
    assert d["ci_low"] <= 0.3 <= d["ci_high"]
    assert d["y_pred"] == ["low"] * 10
    assert d["test_majority_class"] == "high" and d["test_majority_share"] == pytest.approx(0.7)
    # The prior's probabilities: 0.6 low, 0.4 high.
    expected_ll = -(7 * np.log(0.4) + 3 * np.log(0.6)) / 10
    assert d["log_loss"] == pytest.approx(expected_ll)
    strat = dummy_baseline(y_train, y_test, "stratified", seed=0)
    assert 0.0 <= strat["accuracy"] <= 1.0
    with pytest.raises(MetricInputError, match="strategy"):
        dummy_baseline(y_train, y_test, "mode")
    with pytest.raises(MetricInputError, match="never seen in y_train"):
        dummy_baseline(["low", "high"], ["medium"])


def test_paired_difference_of_accuracies() -> None:
    truth, pred = noisy_labels(400, 0.6, seed=9)
    baseline = np.full(400, "low")
    point, low, high = paired_difference_ci(truth, pred, baseline, seed=0)
    assert point == pytest.approx((pred == truth).mean() - (baseline == truth).mean())
    assert low < point < high


def test_temporal_split_puts_every_test_year_after_every_train_year() -> None:
    df = pd.DataFrame(
        {
            "year": pd.array([1990, 1991, 1991, 1995, 2000, 2001, 2005, None, 2010, 1980], "Int64"),
            "x": range(10),
        }
    )
    train, test = temporal_split(df, "year", test_fraction=0.3)
    assert train["year"].max() < test["year"].min()
    assert len(train) + len(test) == 9  # the row without a year is left out
    assert test.attrs["dropped_missing_year"] == 1
    assert test.attrs["temporal_cutoff"] == test["year"].min()
    assert temporal_cutoff([2000, 2000, 2010, 2010], 0.2) == 2010
    with pytest.raises(MetricInputError, match="two distinct years"):
        temporal_split(pd.DataFrame({"year": [2000, 2000]}), "year")
    with pytest.raises(MetricInputError, match="'release_year' is not in the table"):
        temporal_split(df, "release_year")


def test_grouped_folds_never_split_an_artist() -> None:
    rng = np.random.default_rng(10)
    artists = np.repeat([f"artist{i}" for i in range(30)], 4)
    y = rng.choice(["hit", "not_hit"], len(artists))
    splits = cv_splits(y, n_splits=5, n_repeats=2, groups=artists, seed=0)
    assert len(splits) == 10
    for train, test in splits:
        assert not set(artists[train]) & set(artists[test])
        assert len(train) + len(test) == len(y)
    # Each repeat reshuffles the groups.
    assert any(not np.array_equal(splits[i][1], splits[i + 5][1]) for i in range(5))
    with pytest.raises(MetricInputError, match="groups has 2 rows but y has 120"):
        cv_splits(y, groups=["a", "b"])


def test_repeated_cv_scores_folds_and_their_dummy() -> None:
    rng = np.random.default_rng(11)
    x = rng.normal(size=(120, 2))
    y = np.where(x[:, 0] > 0.3, "hit", "not_hit")  # separable on the first column
    cv = repeated_cv(
        LogisticRegression(C=100.0),
        x,
        y,
        n_splits=3,
        n_repeats=2,
        scoring=("accuracy", "f1_macro", "roc_auc"),
    )
    assert cv["n_folds"] == 6 and not cv["grouped"]
    assert set(cv["scores"]) == {"accuracy", "macro_f1", "roc_auc"}  # sklearn alias mapped
    assert len(cv["scores"]["accuracy"]["values"]) == 6
    assert cv["scores"]["accuracy"]["mean"] > 0.9
    share = max((y == "hit").mean(), (y == "not_hit").mean())
    assert cv["dummy"]["accuracy"]["mean"] == pytest.approx(share, abs=0.03)
    assert cv["lift"]["mean"] == pytest.approx(
        cv["scores"]["accuracy"]["mean"] - cv["dummy"]["accuracy"]["mean"]
    )
    # A factory works as well as an estimator; without predict_proba only label metrics exist.
    labels_only = repeated_cv(
        lambda: RidgeClassifier(), x, y, n_splits=3, n_repeats=1, scoring=("accuracy", "roc_auc")
    )
    assert labels_only["scores"]["accuracy"]["mean"] > 0.8
    assert labels_only["scores"]["roc_auc"]["mean"] is None
    with pytest.raises(MetricInputError, match="unknown metrics"):
        repeated_cv(LogisticRegression(), x, y, scoring=("precision",))
    with pytest.raises(MetricInputError, match="make_estimator must be"):
        repeated_cv("logreg", x, y, n_splits=3, n_repeats=1)
