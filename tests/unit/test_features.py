"""Feature sets, the leakage guard, per-family preprocessing, SMOTENC in the pipeline, splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split

from songpop import config
from songpop.errors import LayoutError, SchemaError
from songpop.features import (
    LeakageError,
    check_features,
    context_columns,
    feature_columns,
    feature_matrix,
    labels,
    make_model_pipeline,
    make_preprocessor,
    ordered_split,
    stratified_split,
)


def tiny_songs(n: int = 90, seed: int = 0, **extra: object) -> pd.DataFrame:
    """A small song table with every audio feature, a year, chart columns and a label."""
    rng = np.random.default_rng(seed)
    data = {name: rng.uniform(0, 1, n) for name in config.AUDIO_NUMERIC}
    data["loudness"] = rng.uniform(-30, 0, n)
    data["tempo"] = rng.uniform(60, 200, n)
    data["duration_ms"] = rng.uniform(1e5, 4e5, n)
    data["key"] = pd.array(rng.integers(0, 12, n), dtype="Int64")
    data["year"] = pd.array(rng.integers(1960, 2020, n), dtype="Int64")
    data["weeks_on_chart"] = rng.integers(1, 50, n)
    data["score"] = rng.uniform(0, 100, n)
    data["level"] = pd.array(np.array(["low", "medium", "high"])[np.arange(n) % 3], dtype="string")
    data.update(extra)
    return pd.DataFrame(data)


# --- the leakage guard ----------------------------------------------------------------------


@pytest.mark.parametrize("column", config.CHART_COLUMNS + config.LABEL_COLUMNS)
def test_guard_refuses_every_chart_and_label_column(column: str) -> None:
    with pytest.raises(LeakageError, match=column):
        check_features(["energy", column])


def test_feature_sets_never_pick_chart_columns_present_in_the_table() -> None:
    songs = tiny_songs()
    for fs in ("audio", "audio+context"):
        cols = feature_columns(songs, fs)
        assert not set(cols) & set(config.CHART_COLUMNS + config.LABEL_COLUMNS)


def test_feature_matrix_refuses_a_label_column() -> None:
    with pytest.raises(LeakageError, match="score"):
        feature_matrix(tiny_songs(), [*config.AUDIO_FEATURES, "score"])


def test_preprocessor_refuses_a_chart_column() -> None:
    with pytest.raises(LeakageError, match="best_position"):
        make_preprocessor("tree", ["energy", "best_position"])


# --- feature sets ---------------------------------------------------------------------------


def test_audio_set_is_the_reports_eleven_columns() -> None:
    assert feature_columns(tiny_songs(), "audio") == list(config.AUDIO_FEATURES)


def test_context_adds_year_and_only_filled_columns() -> None:
    n = 90
    songs = tiny_songs(
        n,
        mode=pd.array([1, 0, pd.NA] * (n // 3), dtype="Int64"),  # 1/3 missing: left out
        explicit=pd.array([0, 1] * (n // 2), dtype="Int64"),
    )
    assert feature_columns(songs, "audio+context") == [*config.AUDIO_FEATURES, "year", "explicit"]


def test_decade_stands_in_when_there_is_no_year() -> None:
    songs = tiny_songs().drop(columns="year")
    songs["decade"] = pd.array([1990] * len(songs), dtype="Int64")
    assert context_columns(songs) == ["decade"]
    # with both, the year alone is the time column (the decade would only repeat it)
    songs["year"] = 1994
    assert context_columns(songs) == ["year"]


def test_missing_audio_column_is_named() -> None:
    with pytest.raises(LayoutError, match="tempo"):
        feature_columns(tiny_songs().drop(columns="tempo"), "audio")


def test_unknown_feature_set_is_refused() -> None:
    with pytest.raises(SchemaError, match="lyrics"):
        feature_columns(tiny_songs(), "lyrics")


def test_labels_need_a_level_column_and_two_classes() -> None:
    with pytest.raises(LayoutError, match="level"):
        labels(tiny_songs().drop(columns="level"))
    with pytest.raises(SchemaError, match="single class"):
        labels(tiny_songs().assign(level="low"))
    y = labels(tiny_songs())
    assert y.dtype == object and set(y) == {"low", "medium", "high"}


def test_feature_matrix_is_float_with_nan_for_missing() -> None:
    songs = tiny_songs()
    songs.loc[3, "year"] = pd.NA
    X = feature_matrix(songs, [*config.AUDIO_FEATURES, "year"])
    assert (X.dtypes == "float64").all()
    assert np.isnan(X.loc[3, "year"])
    assert X["key"].dropna().apply(float.is_integer).all()


def test_non_numeric_feature_names_the_row() -> None:
    songs = tiny_songs()
    songs["tempo"] = songs["tempo"].astype(object)
    songs.loc[5, "tempo"] = "fast"
    with pytest.raises(SchemaError, match="row 5"):
        feature_matrix(songs, config.AUDIO_FEATURES)


# --- preprocessing per family ---------------------------------------------------------------


def test_scaled_families_standardise_numbers_and_one_hot_key() -> None:
    songs = tiny_songs()
    X = feature_matrix(songs, config.AUDIO_FEATURES)
    for family in ("linear", "distance", "kernel", "neural"):
        out = make_preprocessor(family, config.AUDIO_FEATURES).fit_transform(X)
        n_keys = songs["key"].nunique()
        assert out.shape == (len(X), len(config.AUDIO_NUMERIC) + n_keys)
        numbers = out[:, : len(config.AUDIO_NUMERIC)]
        np.testing.assert_allclose(numbers.mean(axis=0), 0, atol=1e-9)
        np.testing.assert_allclose(numbers.std(axis=0), 1, atol=1e-9)
        np.testing.assert_array_equal(out[:, len(config.AUDIO_NUMERIC) :].sum(axis=1), 1)


def test_trees_get_unscaled_numbers() -> None:
    X = feature_matrix(tiny_songs(), config.AUDIO_FEATURES)
    for family in ("tree", "boosting"):
        out = make_preprocessor(family, config.AUDIO_FEATURES).fit_transform(X)
        np.testing.assert_allclose(
            out[:, : len(config.AUDIO_NUMERIC)], X[list(config.AUDIO_NUMERIC)]
        )


def test_minmax_scaler_for_the_reports_models() -> None:
    X = feature_matrix(tiny_songs(), config.AUDIO_FEATURES)
    out = make_preprocessor("distance", config.AUDIO_FEATURES, scaler="minmax").fit_transform(X)
    numbers = out[:, : len(config.AUDIO_NUMERIC)]
    np.testing.assert_allclose(numbers.min(axis=0), 0)
    np.testing.assert_allclose(numbers.max(axis=0), 1)


def test_unknown_family_is_refused() -> None:
    with pytest.raises(SchemaError, match="quantum"):
        make_preprocessor("quantum", config.AUDIO_FEATURES)


def test_unseen_key_at_predict_time_is_ignored_not_an_error() -> None:
    songs = tiny_songs()
    X = feature_matrix(songs, config.AUDIO_FEATURES)
    prep = make_preprocessor("linear", config.AUDIO_FEATURES).fit(X[X["key"] != 5])
    out = prep.transform(X[X["key"] == 5])
    assert (out[:, len(config.AUDIO_NUMERIC) :] == 0).all()


# --- SMOTENC only inside the pipeline -------------------------------------------------------


class Recorder(ClassifierMixin, BaseEstimator):
    """Remembers the rows it was fitted on and asked to predict."""

    def fit(self, X, y):
        self.fit_X_ = np.asarray(X)
        self.fit_y_ = np.asarray(y)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        self.predict_X_ = np.asarray(X)
        return np.full(len(X), self.classes_[0])


def test_smotenc_resamples_training_rows_only_and_keeps_key_categorical() -> None:
    songs = tiny_songs(120)
    # imbalanced: 60 low, 40 medium, 20 high
    songs["level"] = ["low"] * 60 + ["medium"] * 40 + ["high"] * 20
    X = feature_matrix(songs, config.AUDIO_FEATURES)
    y = labels(songs)
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.25, random_state=1, stratify=y)
    pipe = make_model_pipeline(
        "tree", config.AUDIO_FEATURES, Recorder(), resample=True, seed=config.SEED
    )
    assert type(pipe.named_steps["resample"]).__name__ == "SMOTENC"
    pipe.fit(X_train, y_train)
    model = pipe.named_steps["model"]
    counts = pd.Series(model.fit_y_).value_counts()
    assert len(model.fit_X_) == 3 * y_train.value_counts().max() > len(X_train)
    assert counts.nunique() == 1  # balanced after resampling
    # Numbers unscaled for trees: every original training row is among the fitted rows, and no
    # test row is (the resampler saw training rows only).
    n_num = len(config.AUDIO_NUMERIC)
    fitted = {tuple(np.round(r[:n_num], 9)) for r in model.fit_X_}
    train_numbers = X_train[list(config.AUDIO_NUMERIC)].to_numpy()
    test_numbers = X_test[list(config.AUDIO_NUMERIC)].to_numpy()
    assert all(tuple(np.round(r, 9)) in fitted for r in train_numbers)
    assert not any(tuple(np.round(r, 9)) in fitted for r in test_numbers)
    # key stays categorical: every synthetic row has exactly one key column set
    key_part = model.fit_X_[:, n_num:]
    np.testing.assert_array_equal(key_part.sum(axis=1), 1)
    # predicting does not resample: the model sees exactly the test rows
    pipe.predict(X_test)
    assert len(model.predict_X_) == len(X_test)


# --- splits ---------------------------------------------------------------------------------


def test_stratified_split_is_disjoint_complete_and_balanced() -> None:
    y = labels(tiny_songs(300))
    train, test = stratified_split(y, test_size=0.2, seed=3)
    assert len(np.intersect1d(train, test)) == 0
    assert len(train) + len(test) == 300
    assert y.iloc[test].value_counts().to_dict() == {"low": 20, "medium": 20, "high": 20}


def test_ordered_split_is_train_test_split_on_positions() -> None:
    train, test = ordered_split(100, test_size=0.25, random_state=50)
    ref_train, ref_test = train_test_split(np.arange(100), test_size=0.25, random_state=50)
    np.testing.assert_array_equal(train, ref_train)
    np.testing.assert_array_equal(test, ref_test)
