"""The predict path on the registry's real pipelines fitted on real songs.

Checks behaviour that must hold for every saved model: the predict path gives the
pipeline's own probabilities, single records and batches agree, a row's prediction does not
depend on row order or on its neighbours, and explanations add up.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from songpop import config
from songpop.bundle import Bundle, load_bundle
from songpop.bundle.compiled import TOLERANCE
from songpop.inference import predict, predict_frame
from support import FEATURES, save_audio_bundle

pytestmark = pytest.mark.data


def same(bundle: Bundle) -> float:
    """How far two computations of one probability may differ: ONNX Runtime works in float32
    and its batch kernels sum in another order than its single-row ones."""
    return 1e-6 if bundle.compiled is not None else 1e-12


@pytest.fixture(scope="module")
def real_songs(data_dir) -> tuple[pd.DataFrame, pd.Series]:
    table = pd.read_csv(data_dir / "tracks" / "spotify_1921-2020_seed_matched.csv.gz")
    table = table.sample(n=900, random_state=config.SEED).reset_index(drop=True)
    level = pd.qcut(table["popularity"].rank(method="first"), 3, labels=list(config.LEVELS))
    table["level"] = level.astype(str)
    return table, table["level"]


@pytest.fixture(scope="module", params=["logreg", "lgbm", "ensemble"])
def bundle(request, real_songs, tmp_path_factory) -> Bundle:
    from songpop.models.registry import MODELS

    table, y = real_songs
    train = table.iloc[:600]
    est = MODELS[request.param].build(FEATURES, quick=True)
    est.fit(train[FEATURES], y.iloc[:600])
    folder = tmp_path_factory.mktemp("real") / request.param
    path = save_audio_bundle(est, folder, train[FEATURES], y.iloc[:600], task="seed")
    return load_bundle(path)


def test_the_predict_path_gives_the_pipelines_probabilities(bundle, real_songs):
    """Through its ONNX graph where it has one, within the difference its check recorded."""
    table, _ = real_songs
    held_out = table.iloc[600:]
    expected = bundle.estimator.predict_proba(held_out[FEATURES])
    scored = predict_frame(held_out, bundle)
    got = scored[[f"proba_{c}" for c in bundle.classes]].to_numpy()
    if bundle.compiled is None:
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
        return
    assert bundle.compiled["max_abs_diff"] <= TOLERANCE
    # float32 arithmetic agrees to about 1e-7; a row whose value lies within float32 rounding
    # of a tree's split takes the other branch there (compiled.py): rare, and one leaf apart
    diff = np.abs(got - expected)
    assert np.quantile(diff, 0.99) <= 1e-5, np.quantile(diff, 0.99)
    assert (diff > TOLERANCE).mean() <= 0.01, np.sort(diff.ravel())[-5:]
    assert diff.max() <= 5 * TOLERANCE, diff.max()  # a leaf or two apart, never more
    # the level changes only where the estimator's two likeliest classes are within reach
    top2 = np.sort(expected, axis=1)[:, -2:]
    changed = got.argmax(axis=1) != expected.argmax(axis=1)
    assert (top2[changed, 1] - top2[changed, 0] <= 2 * TOLERANCE).all()


def test_the_registry_pipelines_compile(bundle):
    # logreg, LightGBM and the registry's ensemble of logreg + forest + LightGBM
    assert bundle.compiled is not None, bundle.model_id
    assert bundle.compiled["rows_checked"] > 200


def test_single_records_agree_with_the_batch(bundle, real_songs):
    table, _ = real_songs
    rows = table.iloc[600:620]
    batch = predict_frame(rows, bundle)
    for i, record in enumerate(rows[FEATURES].to_dict("records")):
        (p,) = predict(record, bundle)
        assert p.level == batch["level"].iloc[i]
        for c in bundle.classes:
            assert p.probabilities[c] == pytest.approx(
                batch[f"proba_{c}"].iloc[i], abs=same(bundle)
            )


def test_prediction_does_not_depend_on_row_order(bundle, real_songs):
    table, _ = real_songs
    rows = table.iloc[600:].assign(song_id=lambda d: d.index.astype(str))
    forward = predict_frame(rows, bundle).set_index("song_id").sort_index()
    backward = predict_frame(rows.iloc[::-1], bundle).set_index("song_id").sort_index()
    pd.testing.assert_frame_equal(forward, backward)


def test_explanations_add_up(bundle, real_songs):
    table, _ = real_songs
    records = table.iloc[600:603][FEATURES].to_dict("records")
    for p in predict(records, bundle, explain=True):
        e = p.explanation
        assert e.base_value + sum(c.contribution for c in e) == pytest.approx(e.output_value)
        if e.unit == "probability":
            assert e.output_value == pytest.approx(p.probabilities[p.level], abs=same(bundle))
        assert len(e.contributions) == len(FEATURES)
        assert all(c.text.endswith(f"the chance of {p.words}") for c in e)
        # placed among the training songs: a share, or "near the middle" of them
        assert all("%" in c.text or "near the middle" in c.text for c in e)
