"""Training on the real seed task: beats the dummy, never looks at the test rows, saves bundles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from songpop import config
from songpop.bundle import load_bundle, resolve_model
from songpop.features import feature_matrix, stratified_split
from songpop.reproduce import seed_table
from songpop.train import train_task

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def seed_songs(data_dir: Path) -> pd.DataFrame:
    return seed_table(data_dir)


@pytest.fixture(scope="module")
def trained(seed_songs: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    out = tmp_path_factory.mktemp("models")
    summary = train_task(
        seed_songs,
        out,
        task="seed",
        label_strategy="spotify",
        models=["dummy", "logreg", "lgbm", "ensemble"],
        budget="quick",
        extras=False,
    )
    return summary, out


def test_best_model_beats_the_dummy_baseline(trained: tuple) -> None:
    summary, _ = trained
    for fs, fs_summary in summary["feature_sets"].items():
        best = fs_summary["best"]
        assert best != "dummy"
        entry = fs_summary["models"][best]
        # the whole 95% interval of the best model lies above the dummy's accuracy
        assert entry["accuracy_ci"][0] > entry["dummy_accuracy"] + 0.05, fs
        assert entry["lift"]["low"] > 0


def test_context_with_year_helps_on_the_seed_task(trained: tuple) -> None:
    summary, _ = trained
    fs = summary["feature_sets"]
    assert fs["audio+context"]["features"][-1] == "year"
    assert fs["audio+context"]["best_cv_accuracy"] > fs["audio"]["best_cv_accuracy"]


def test_bundles_index_and_section_are_written(trained: tuple) -> None:
    summary, out = trained
    index = json.loads((out / "index.json").read_text())
    audio = [e for e in index["models"] if e["feature_set"] == "audio" and e["model"] != "dummy"]
    best = max(audio, key=lambda e: e["cv_accuracy"])
    close = best["cv_accuracy"] - config.SERVING_TOLERANCE - 1e-12
    fast = [e for e in audio if e["fast_to_serve"] and e["cv_accuracy"] >= close]
    # the default: the best by cross-validation among the audio models of a family fast to
    # serve, unless that costs more than the tolerance
    assert index["default"] == max(fast or [best], key=lambda e: e["cv_accuracy"])["id"]
    assert index["tasks"]["seed"]["default"] == index["default"]
    assert index["default_reason"].startswith("task 'seed', audio features: best by cross-val")
    assert {e["id"] for e in index["models"]} >= {"seed/audio/lgbm", "seed/audio_context/lgbm"}
    assert resolve_model(out) == out / index["default"]
    section = json.loads((out / "seed" / "section.json").read_text())
    assert section["tables"] and section["figures"]
    for fig in section["figures"]:
        assert (out / "seed" / fig["png"]).is_file()
    assert json.loads((out / "seed" / "timings.json").read_text())["total"] > 0


def test_a_rows_prediction_does_not_depend_on_row_order(
    trained: tuple, seed_songs: pd.DataFrame
) -> None:
    _, out = trained
    bundle = load_bundle(resolve_model(out))
    X = feature_matrix(seed_songs, bundle.feature_names).iloc[:400]
    proba = bundle.estimator.predict_proba(X)
    order = np.random.default_rng(7).permutation(len(X))
    shuffled = bundle.estimator.predict_proba(X.iloc[order])
    np.testing.assert_allclose(shuffled, proba[order], atol=1e-12)
    single = bundle.estimator.predict_proba(X.iloc[[123]])
    np.testing.assert_allclose(single[0], proba[123], atol=1e-9)


def test_model_selection_never_sees_the_test_labels(seed_songs: pd.DataFrame, tmp_path) -> None:
    """Scrambling the test rows' labels changes nothing chosen during training."""
    songs = seed_songs.sample(1000, random_state=3).reset_index(drop=True)
    train, test = stratified_split(songs["level"], test_size=0.2, seed=1)
    scrambled = songs.copy()
    scrambled.loc[test, "level"] = songs.loc[test, "level"].sample(frac=1, random_state=5).values
    runs = []
    for table, name in ((songs, "a"), (scrambled, "b")):
        runs.append(
            train_task(
                table,
                tmp_path / name,
                task="seed",
                label_strategy="spotify",
                models=["logreg", "knn"],
                feature_sets=("audio",),
                budget="quick",
                split=(train, test),
                extras=False,
                save=False,
            )
        )
    a, b = (r["feature_sets"]["audio"] for r in runs)
    assert a["best"] == b["best"]
    for model in ("logreg", "knn"):
        assert a["models"][model]["cv_accuracy"] == b["models"][model]["cv_accuracy"]
        assert a["models"][model]["params"] == b["models"][model]["params"]
    # ...while the test accuracy, computed on the scrambled labels, does change
    assert a["models"]["logreg"]["accuracy"] != b["models"]["logreg"]["accuracy"]
