"""Model tests: the evaluation protocols on a real subset of the Hit Predictor tracks.

A scaled logistic regression on the audio features must beat the most-frequent-class dummy under
artist-grouped repeated cross-validation and on a held-out part; the temporal split must put
every test decade after every training decade.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupShuffleSplit
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from songpop import config
from songpop.evaluation import (
    dummy_baseline,
    evaluate_classifier,
    learning_curve_data,
    repeated_cv,
    temporal_split,
)

pytestmark = pytest.mark.data

FEATURES = list(config.AUDIO_FEATURES)


@pytest.fixture(scope="module")
def hits(data_dir: Path) -> pd.DataFrame:
    """2,000 real rows: audio features, artist, decade and the hit / not_hit label."""
    df = pd.read_csv(data_dir / "tracks" / "hit_predictor_dev.csv.gz")
    df = df.sample(n=2000, random_state=config.SEED).reset_index(drop=True)
    df["level"] = np.where(df["target"] == 1, "hit", "not_hit")
    return df


def make_logreg() -> Pipeline:
    prep = make_column_transformer(
        (StandardScaler(), list(config.AUDIO_NUMERIC)),
        (OneHotEncoder(handle_unknown="ignore"), list(config.AUDIO_CATEGORICAL)),
    )
    return make_pipeline(prep, LogisticRegression(max_iter=1000))


def test_logreg_beats_the_dummy_under_artist_grouped_cv(hits: pd.DataFrame) -> None:
    cv = repeated_cv(
        make_logreg,
        hits[FEATURES],
        hits["level"],
        n_splits=5,
        n_repeats=2,
        groups=hits["artist"],
        scoring=("accuracy", "roc_auc", "balanced_accuracy"),
    )
    assert cv["grouped"] and cv["n_folds"] == 10
    acc = cv["scores"]["accuracy"]
    dummy = cv["dummy"]["accuracy"]
    # The dummy is near the class share; audio alone carries a real signal for hits.
    assert abs(dummy["mean"] - (hits["level"] == "not_hit").mean()) < 0.05
    assert acc["mean"] > dummy["mean"] + 0.10
    assert all(lift > 0 for lift in cv["lift"]["values"])
    assert cv["scores"]["roc_auc"]["mean"] > 0.7


def test_holdout_result_beats_its_dummy_with_an_interval(hits: pd.DataFrame) -> None:
    # Artists never straddle the split, as in the grouped protocol.
    split = GroupShuffleSplit(n_splits=1, test_size=0.25, random_state=config.SEED)
    train_idx, test_idx = next(split.split(hits, groups=hits["artist"]))
    train, test = hits.iloc[train_idx], hits.iloc[test_idx]
    model = make_logreg().fit(train[FEATURES], train["level"])
    r = evaluate_classifier(
        test["level"],
        model.predict_proba(test[FEATURES]),
        model.classes_,
        y_train=train["level"],
        task="hit",
        feature_set="audio",
        model="logreg",
        n_boot=500,
    )
    dummy = dummy_baseline(train["level"], test["level"])
    assert r["dummy"]["accuracy"] == pytest.approx(dummy["accuracy"])
    assert r["ci"]["accuracy"][0] > dummy["ci_high"]
    assert r["lift"]["low"] > 0.05
    assert r["metrics"]["qwk"] is None  # hit / not_hit is not ordinal


def test_temporal_split_trains_on_older_decades(hits: pd.DataFrame) -> None:
    train, test = temporal_split(hits, "decade", test_fraction=0.2)
    assert train["decade"].max() < test["decade"].min()
    assert len(train) + len(test) == len(hits)
    assert 0.05 < len(test) / len(hits) < 0.4


def test_learning_curve_has_one_point_per_size(hits: pd.DataFrame) -> None:
    lc = learning_curve_data(
        make_logreg, hits[FEATURES], hits["level"], cv=3, train_sizes=[0.2, 0.6, 1.0]
    )
    assert len(lc["train_sizes"]) == 3
    assert lc["train_sizes"] == sorted(lc["train_sizes"])
    # Logistic regression hardly over-fits: the two curves end close together.
    assert abs(lc["train_mean"][-1] - lc["test_mean"][-1]) < 0.1
    assert lc["test_mean"][-1] > 0.6
