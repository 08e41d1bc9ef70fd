"""ONNX graphs: made at save time, kept only when they agree with the estimator, used to score."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from songpop.bundle import compiled, load_bundle
from songpop.inference import predict_frame
from songpop.models.registry import MODELS
from support import FEATURES, labelled_songs, save_audio_bundle


@pytest.fixture(scope="module")
def songs():
    return labelled_songs(300, seed=6)


@pytest.mark.parametrize("name", ["logreg", "lgbm"])
def test_a_registry_pipeline_is_scored_through_its_checked_graph(name, songs, tmp_path) -> None:
    X, y = songs
    est = MODELS[name].build(FEATURES, quick=True).fit(X, y)
    bundle = load_bundle(save_audio_bundle(est, tmp_path / name, X, y))
    check = bundle.compiled
    assert check is not None and (tmp_path / name / "estimator.onnx").is_file()
    assert check["rows_checked"] >= 300 and check["max_abs_diff"] <= compiled.TOLERANCE
    assert bundle._estimator is None  # scoring needs no estimator
    new = labelled_songs(50, seed=7)[0]
    got = predict_frame(new, bundle)[[f"proba_{c}" for c in bundle.classes]].to_numpy()
    assert bundle._estimator is None
    np.testing.assert_allclose(got, est.predict_proba(new), atol=1e-5)


def test_a_graph_that_disagrees_is_not_kept(songs, tmp_path: Path, monkeypatch) -> None:
    X, y = songs
    est = MODELS["logreg"].build(FEATURES, quick=True).fit(X, y)
    real = compiled.run
    monkeypatch.setattr(compiled, "run", lambda s, Z: real(s, Z)[:, ::-1])
    bundle = load_bundle(save_audio_bundle(est, tmp_path / "m", X, y))
    monkeypatch.undo()
    assert bundle.compiled is None and not (tmp_path / "m" / "estimator.onnx").exists()
    got = predict_frame(X, bundle)[[f"proba_{c}" for c in bundle.classes]].to_numpy()
    np.testing.assert_allclose(got, est.predict_proba(X), rtol=1e-12)  # the estimator itself


def test_models_without_a_converter_have_no_graph(songs, tmp_path: Path) -> None:
    X, y = songs
    est = MODELS["mlp"].build(FEATURES, quick=True).fit(X, y)
    bundle = load_bundle(save_audio_bundle(est, tmp_path / "mlp", X, y))
    assert bundle.compiled is None
    assert len(predict_frame(X.head(3), bundle)) == 3


def test_a_knn_is_not_converted(songs, monkeypatch) -> None:
    """skl2onnx builds a k-NN graph with a Scan loop, which songpop refuses to load (and with
    distance weights the graph disagrees on rows at distance 0 from a training row): it is left
    to the estimator without spending the conversion (the converter is never called)."""
    from sklearn.base import clone

    X, y = songs
    knn = MODELS["knn"].build(FEATURES, quick=True).fit(X, y)
    assert knn.steps[-1][1].weights == "distance"
    rows = X.to_numpy(dtype=float)[:20]
    called = []
    import skl2onnx

    real = skl2onnx.convert_sklearn
    monkeypatch.setattr(
        skl2onnx, "convert_sklearn", lambda *a, **k: called.append(1) or real(*a, **k)
    )
    assert compiled.to_onnx(knn, FEATURES, rows) is None and called == []
    uniform = clone(knn).set_params(model__weights="uniform").fit(X, y)
    assert compiled.to_onnx(uniform, FEATURES, rows) is None and called == []
