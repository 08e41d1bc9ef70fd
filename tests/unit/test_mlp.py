"""TorchMLPClassifier behaves as a scikit-learn estimator, is deterministic and round-trips."""

from __future__ import annotations

import io
import json
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from torch import nn

from songpop.models.mlp import (
    TorchMLPClassifier,
    mlp_baseline,
    mlp_finetuned,
    mlp_report_finetuned,
    plot_training_curves,
)

LEVELS = np.array(["low", "medium", "high"])


def _blobs(n: int = 240, n_features: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three separable classes with string labels."""
    rng = np.random.default_rng(seed)
    codes = np.arange(n) % 3
    centres = rng.normal(0, 3, size=(3, n_features))
    X = centres[codes] + rng.normal(0, 1, size=(n, n_features))
    return X.astype(np.float64), LEVELS[codes]


def _small(**kw) -> TorchMLPClassifier:
    params = {"hidden_layer_sizes": (16,), "max_epochs": 15, "batch_size": 64, "random_state": 0}
    params.update(kw)
    return TorchMLPClassifier(**params)


@parametrize_with_checks([TorchMLPClassifier(max_epochs=5, random_state=0)])
def test_passes_scikit_learns_estimator_checks(estimator, check):
    check(estimator)


def test_fit_gives_sorted_string_classes_and_probabilities_in_that_order():
    X, y = _blobs()
    est = _small(lr=0.05, max_epochs=40).fit(X, y)
    assert list(est.classes_) == ["high", "low", "medium"]
    assert est.n_features_in_ == X.shape[1]
    proba = est.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert (proba >= 0).all()
    pred = est.predict(X)
    np.testing.assert_array_equal(pred, est.classes_[proba.argmax(axis=1)])
    # separable blobs: column j must really be class classes_[j]
    assert (pred == y).mean() > 0.9


def test_integer_labels_keep_their_values():
    X, y = _blobs()
    y_int = np.array([10, 20, 30])[np.searchsorted(LEVELS, y, sorter=np.argsort(LEVELS))]
    est = _small().fit(X, y_int)
    assert list(est.classes_) == [10, 20, 30]
    assert set(est.predict(X)) <= {10, 20, 30}


def test_same_seed_identical_predictions_and_other_seed_differs():
    X, y = _blobs()
    a = _small(random_state=7, dropout=0.3).fit(X, y).predict_proba(X)
    b = _small(random_state=7, dropout=0.3).fit(X, y).predict_proba(X)
    c = _small(random_state=8, dropout=0.3).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_fit_does_not_change_the_callers_torch_random_state():
    X, y = _blobs(n=60)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _small(max_epochs=2).fit(X, y)
    np.testing.assert_array_equal(torch.rand(3).numpy(), expected.numpy())


def test_early_stopping_stops_and_keeps_the_best_epoch():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 5))
    y = LEVELS[rng.integers(0, 3, size=300)]  # pure noise: validation loss soon rises
    est = _small(hidden_layer_sizes=(64,), lr=0.05, max_epochs=300, patience=5, dropout=0.0)
    est.fit(X, y)
    assert est.n_epochs_ < 300
    assert est.n_epochs_ == est.best_epoch_ + 5
    val = [row["val_loss"] for row in est.history_]
    assert min(val) == val[est.best_epoch_ - 1]


def test_history_has_train_and_validation_curves():
    X, y = _blobs()
    est = _small(max_epochs=4, patience=100).fit(X, y)
    assert [row["epoch"] for row in est.history_] == [1, 2, 3, 4]
    assert set(est.history_[0]) == {
        "epoch",
        "train_loss",
        "train_accuracy",
        "val_loss",
        "val_accuracy",
    }
    assert pd.DataFrame(est.history_).shape == (4, 5)


def test_without_validation_trains_all_epochs_and_keeps_last_weights():
    X, y = _blobs()
    est = _small(max_epochs=6, validation_fraction=None).fit(X, y)
    assert est.n_epochs_ == 6 and est.best_epoch_ == 6
    assert "val_loss" not in est.history_[0]


def test_full_batch_and_batch_norm_with_a_one_row_remainder():
    X, y = _blobs(n=129)
    est = _small(hidden_layer_sizes=(8, 4), batch_norm=True, batch_size=128, validation_fraction=0)
    est.fit(X, y)  # 129 rows → a last batch of one row, which BatchNorm cannot train on
    assert est.predict_proba(X).shape == (129, 3)
    full = _small(batch_size=None, max_epochs=3).fit(X, y)
    assert full.n_epochs_ == 3


def test_class_weight_balanced_and_mapping_are_accepted_and_unknown_class_rejected():
    X, y = _blobs()
    _small(class_weight="balanced", max_epochs=2).fit(X, y)
    _small(class_weight={"high": 2.0}, max_epochs=2).fit(X, y)
    with pytest.raises(ValueError, match="class_weight names classes not in y"):
        _small(class_weight={"huge": 2.0}, max_epochs=2).fit(X, y)


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("dropout", 1.5),
        ("hidden_layer_sizes", (0,)),
        ("lr", 0.0),
        ("batch_size", 1),
        ("validation_fraction", 1.0),
    ],
)
def test_bad_parameter_is_named_in_the_error(param, value):
    X, y = _blobs(n=30)
    with pytest.raises(ValueError, match=param):
        _small(**{param: value}).fit(X, y)


def test_unfitted_and_wrong_width_inputs_raise_clear_errors():
    X, y = _blobs()
    with pytest.raises(NotFittedError):
        _small().predict(X)
    est = _small(max_epochs=2).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        est.predict(X[:, :3])


def test_presets_build_the_reports_architectures():
    base = mlp_baseline(random_state=0).fit(*_blobs(n=60, n_features=22))
    linears = [m for m in base.module_ if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(22, 64), (64, 3)]
    assert [m.p for m in base.module_ if isinstance(m, nn.Dropout)] == [0.01]
    assert base.lr == 0.03

    fine = mlp_finetuned(random_state=0, max_epochs=2).fit(*_blobs(n=60, n_features=22))
    layers = [type(m).__name__ for m in fine.module_]
    assert layers == ["Linear", "BatchNorm1d", "ReLU", "Dropout"] * 3 + ["Linear"]
    linears = [m for m in fine.module_ if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linears] == [128, 64, 32, 3]
    assert {m.p for m in fine.module_ if isinstance(m, nn.Dropout)} == {0.45}
    assert fine.batch_size == 512 and fine.validation_fraction == 0.1
    assert mlp_finetuned(lr=1e-3).lr == 1e-3  # overrides win
    original = mlp_report_finetuned()
    assert (original.lr, original.max_epochs, original.batch_size) == (1e-4, 5000, None)
    assert original.validation_fraction is None
    assert original.hidden_layer_sizes == fine.hidden_layer_sizes


def test_export_state_round_trip_through_torch_save_and_json_is_identical():
    X, y = _blobs()
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    est = _small(hidden_layer_sizes=(8, 4), batch_norm=True, class_weight={"low": 2.0})
    est.fit(frame, y)
    state = est.export_state()
    weights = state.pop("state_dict")
    buffer = io.BytesIO()
    torch.save(weights, buffer)
    buffer.seek(0)
    rebuilt_state = json.loads(json.dumps(state))
    rebuilt_state["state_dict"] = torch.load(buffer, weights_only=True)

    back = TorchMLPClassifier.from_state(rebuilt_state)
    np.testing.assert_array_equal(back.predict_proba(frame), est.predict_proba(frame))
    np.testing.assert_array_equal(back.predict(frame), est.predict(frame))
    assert list(back.classes_) == list(est.classes_)
    assert list(back.feature_names_in_) == list(frame.columns)
    assert back.get_params() == est.get_params()
    assert back.history_ == est.history_


def test_from_state_rejects_a_foreign_or_mismatched_state():
    X, y = _blobs()
    state = _small(max_epochs=2).fit(X, y).export_state()
    with pytest.raises(ValueError, match="format"):
        TorchMLPClassifier.from_state({**state, "format": "something.else"})
    with pytest.raises(ValueError, match="architecture"):
        TorchMLPClassifier.from_state(
            {**state, "params": {**state["params"], "hidden_layer_sizes": [5]}}
        )


def test_pickle_and_clone():
    X, y = _blobs()
    est = _small(verbose=True, max_epochs=3).fit(X, y)
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
    fresh = clone(est)
    assert fresh.get_params() == est.get_params()
    assert not hasattr(fresh, "module_")


def test_in_a_pipeline_after_a_column_transformer_with_a_dataframe():
    X, y = _blobs(n=240, n_features=3)
    frame = pd.DataFrame(X, columns=["energy", "tempo", "valence"])
    frame["key"] = np.arange(len(frame)) % 12
    labels = pd.Series(y, dtype="string")  # pandas' string dtype, the project default
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), ["energy", "tempo", "valence"]),
            ("key", OneHotEncoder(handle_unknown="ignore"), ["key"]),
        ],
        sparse_threshold=0.0,
    )
    pipe = Pipeline([("prep", prep), ("mlp", _small(lr=0.05, max_epochs=30))])
    pipe.fit(frame, labels)
    assert pipe.named_steps["mlp"].n_features_in_ == 3 + 12
    assert list(pipe.classes_) == ["high", "low", "medium"]
    assert pipe.predict_proba(frame).shape == (len(frame), 3)
    scores = cross_val_score(pipe, frame, labels, cv=3)
    assert scores.shape == (3,)
    assert scores.mean() > 0.8


def test_sparse_input_gives_the_same_predictions_as_dense():
    from scipy import sparse

    X, y = _blobs()
    X[X < 0.5] = 0.0
    dense = _small(max_epochs=3).fit(X, y)
    sparse_fit = _small(max_epochs=3).fit(sparse.csr_matrix(X), y)
    np.testing.assert_array_equal(
        sparse_fit.predict_proba(sparse.csr_matrix(X)), dense.predict_proba(X)
    )


def test_progress_bar_shows_losses_and_accuracies(capsys):
    X, y = _blobs(n=60)
    _small(max_epochs=2, verbose=True).fit(X, y)
    err = capsys.readouterr().err
    for label in ("Training Loss", "Validation Loss", "Training Accuracy", "Validation Accuracy"):
        assert label in err
    _small(max_epochs=2).fit(X, y)
    assert "Training Loss" not in capsys.readouterr().err


def test_plot_training_curves_writes_png_and_svg(tmp_path):
    X, y = _blobs(n=90)
    est = _small(max_epochs=5, patience=100).fit(X, y)
    written = plot_training_curves(
        est.history_, tmp_path / "c.png", tmp_path / "c.svg", best_epoch=est.best_epoch_
    )
    assert written == [tmp_path / "c.png", tmp_path / "c.svg"]
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = (tmp_path / "c.svg").read_text()
    assert "<svg" in svg and "Epoch" in svg
    with pytest.raises(ValueError, match="empty"):
        plot_training_curves([], tmp_path / "e.png")
