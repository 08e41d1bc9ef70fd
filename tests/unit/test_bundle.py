"""Saved model bundles: round trips, hashes, the type allow-list, finding the default model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMClassifier
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from songpop import config
from songpop.bundle import list_bundles, load_bundle, read_meta, resolve_model, save_bundle
from songpop.bundle.store import PERCENTILES
from songpop.errors import BundleError
from songpop.prepare.label import top_class
from support import FEATURES, audio_pipeline, labelled_songs, save_audio_bundle


def save(estimator, folder: Path, X: pd.DataFrame, y: pd.Series, model_id: str = "m") -> Path:
    metrics = {"accuracy": np.float64(0.5), "ci": (0.4, 0.6)}
    return save_audio_bundle(
        estimator, folder, X, y, model_id=model_id, metrics=metrics, task="seed"
    )


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    return labelled_songs()


@pytest.fixture(scope="module")
def lgbm(data) -> Pipeline:
    X, y = data
    model = LGBMClassifier(
        n_estimators=30, num_leaves=8, n_jobs=1, random_state=config.SEED, verbose=-1
    )
    return audio_pipeline(model, scale=False).fit(X, y)


@pytest.mark.parametrize("kind", ["lightgbm", "logreg"])
def test_round_trip_gives_identical_predictions(tmp_path, data, lgbm, kind):
    X, y = data
    est = (
        lgbm
        if kind == "lightgbm"
        else audio_pipeline(LogisticRegression(max_iter=300), scale=True).fit(X, y)
    )
    path = save(est, tmp_path / kind, X, y, model_id=kind)
    bundle = load_bundle(path)
    np.testing.assert_array_equal(bundle.estimator.predict_proba(X), est.predict_proba(X))
    assert bundle.model_id == kind
    assert bundle.feature_names == FEATURES
    assert bundle.classes == ["high", "low", "medium"]
    meta = bundle.meta
    assert meta["task"] == "seed" and meta["label_strategy"] == "spotify"
    assert meta["metrics"] == {"accuracy": 0.5, "ci": [0.4, 0.6]}
    assert meta["library_versions"]["scikit-learn"] and meta["library_versions"]["numpy"]
    assert set(meta["files"]) == {"estimator.skops", "reference_sample.parquet"}
    assert all(len(h) == 64 for h in meta["files"].values())
    # no temporary folders left next to the bundle
    assert [p.name for p in tmp_path.iterdir()] == [kind]


def test_torch_mlp_round_trip_in_pipeline_and_ensemble(tmp_path, data):
    from sklearn.ensemble import VotingClassifier

    from songpop.models.mlp import TorchMLPClassifier

    X, y = data
    mlp = TorchMLPClassifier((8,), max_epochs=5, validation_fraction=None, random_state=0)
    est = audio_pipeline(mlp, scale=True).fit(X, y)
    path = save(est, tmp_path / "mlp", X, y)
    files = set(read_meta(path)["files"])
    assert {"estimator.skops", "torch_0_state.pt", "torch_0.json"} <= files
    assert isinstance(est.steps[-1][1], TorchMLPClassifier)  # the caller's pipeline untouched
    bundle = load_bundle(path)
    np.testing.assert_allclose(bundle.estimator.predict_proba(X), est.predict_proba(X), atol=1e-6)
    assert [name for name, _ in bundle.estimator.steps] == ["pre", "model"]
    assert isinstance(bundle.estimator.steps[-1][1], TorchMLPClassifier)
    # an ensemble with an MLP member (skops alone cannot store torch tensors)
    vote = VotingClassifier(
        [
            ("mlp", audio_pipeline(mlp, scale=True)),
            ("lr", audio_pipeline(LogisticRegression(), scale=True)),
        ],
        voting="soft",
    ).fit(X, y)
    loaded = load_bundle(save(vote, tmp_path / "vote", X, y)).estimator
    np.testing.assert_allclose(loaded.predict_proba(X), vote.predict_proba(X), atol=1e-6)
    assert loaded.named_estimators_["mlp"] is loaded.estimators_[0]


def test_reference_statistics(tmp_path, data, lgbm):
    X, y = data
    ref = load_bundle(save(lgbm, tmp_path / "b", X, y)).reference
    assert ref["top_class"] == "high" and ref["n_rows"] == len(X)
    assert ref["n_top"] == int((y == "high").sum())
    loud = ref["percentiles"]["top"]["loudness"]
    assert len(loud) == len(PERCENTILES)
    assert loud[50] == pytest.approx(X.loc[y == "high", "loudness"].median(), rel=1e-5)
    # high songs are louder in this table, so their median is above the overall one
    assert loud[50] > ref["percentiles"]["overall"]["loudness"][50]
    # key is a category: shares, not percentiles
    assert "key" not in ref["percentiles"]["overall"]
    assert sum(ref["categories"]["overall"]["key"].values()) == pytest.approx(1.0)
    assert ref["typical"]["danceability"] == pytest.approx(X["danceability"].median())


def test_tampered_file_is_refused_naming_it(tmp_path, data, lgbm):
    X, y = data
    path = save(lgbm, tmp_path / "b", X, y)
    target = path / "estimator.skops"
    blob = bytearray(target.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    target.write_bytes(bytes(blob))
    with pytest.raises(BundleError, match=r"estimator\.skops.*sha256"):
        load_bundle(path)


def test_missing_file_is_refused(tmp_path, data, lgbm):
    X, y = data
    path = save(lgbm, tmp_path / "b", X, y)
    (path / "reference_sample.parquet").unlink()
    with pytest.raises(BundleError, match="reference_sample.parquet.*missing"):
        load_bundle(path)


class Shady(TransformerMixin, BaseEstimator):
    """A transformer from outside the allow-list (it lives in a test module)."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X


def test_unknown_type_is_refused(tmp_path, data):
    X, y = data
    est = Pipeline([("shady", Shady()), ("model", LogisticRegression(max_iter=50))])
    est.fit(X[["danceability", "loudness"]] * [1, 0.1], y)
    path = save(est, tmp_path / "b", X, y)
    with pytest.raises(BundleError, match=r"estimator\.skops.*Shady"):
        load_bundle(path)


def test_failed_save_leaves_nothing_and_keeps_old_bundle(tmp_path, data, lgbm):
    X, y = data
    path = save(lgbm, tmp_path / "b", X, y)
    before = read_meta(path)["files"]
    with pytest.raises(BundleError, match="reference_X lacks"):
        save(lgbm, tmp_path / "b", X.drop(columns=["tempo"]), y)
    assert read_meta(path)["files"] == before
    assert [p.name for p in tmp_path.iterdir()] == ["b"]


def test_classes_must_match_estimator(tmp_path, data, lgbm):
    X, _ = data
    with pytest.raises(BundleError, match="classes"):
        save_bundle(
            lgbm,
            tmp_path / "b",
            model_id="m",
            feature_names=FEATURES,
            classes=["low", "medium", "high"],
            label_strategy="spotify",
            feature_set="audio",
            metrics={},
            train_table_sha256="x",
        )


def test_not_a_bundle(tmp_path):
    with pytest.raises(BundleError, match="bundle.json not found"):
        load_bundle(tmp_path)


def test_resolve_model_and_list(tmp_path, monkeypatch, data, lgbm):
    X, y = data
    runs = tmp_path / "runs"
    monkeypatch.setenv(config.RUNS_DIR_ENV, str(runs))
    with pytest.raises(BundleError, match="make run"):
        resolve_model(None)
    models = runs / "r1" / "models"
    save(lgbm, models / "lightgbm", X, y, model_id="lightgbm")
    save(lgbm, models / "other", X, y, model_id="other")
    (runs / "LATEST").write_text("r1\n")
    with pytest.raises(BundleError, match="index.json"):
        resolve_model(None)
    (models / "index.json").write_text(json.dumps({"default": "lightgbm", "models": []}))
    assert resolve_model(None) == models / "lightgbm"
    assert resolve_model(models / "other") == models / "other"
    assert resolve_model(runs / "r1") == models / "lightgbm"
    with pytest.raises(BundleError, match="no bundle.json"):
        resolve_model(tmp_path / "nowhere")
    listed = list_bundles(models)
    assert [(b["model_id"], b["default"]) for b in listed] == [("lightgbm", True), ("other", False)]


def test_top_class():
    assert top_class(["high", "low", "medium"]) == "high"
    assert top_class(["hit", "not_hit"]) == "hit"
    assert top_class(["a", "b"]) == "b"


def test_a_loaded_bundle_pickles_before_and_after_predictions(tmp_path: Path) -> None:
    """So that it can be shipped to Dask workers: no compiled closure or session in its state."""
    import pickle

    from songpop.inference import predict_frame
    from songpop.models.registry import MODELS

    X, y = labelled_songs(200, seed=2)
    for name in ("logreg", "knn"):  # one scored through its ONNX graph, one by the estimator
        est = MODELS[name].build(FEATURES, quick=True).fit(X, y)
        bundle = load_bundle(save_audio_bundle(est, tmp_path / name, X, y))
        assert (bundle.compiled is not None) == (name == "logreg")
        before = pickle.loads(pickle.dumps(bundle))
        scored = predict_frame(X, bundle)
        after = pickle.loads(pickle.dumps(bundle))
        for copy in (before, after):
            pd.testing.assert_frame_equal(predict_frame(X, copy), scored)


def test_a_bundle_folder_has_the_usual_mode_as_its_files(tmp_path: Path) -> None:
    import os
    import stat

    X, y = labelled_songs(60)
    est = audio_pipeline(LogisticRegression(max_iter=200), scale=True).fit(X, y)
    path = save_audio_bundle(est, tmp_path / "b", X, y, compile=False)
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o777 & ~mask
    assert stat.S_IMODE((path / "bundle.json").stat().st_mode) == 0o666 & ~mask
