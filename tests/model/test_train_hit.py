"""The hit task on the Hit Predictor file: artist-grouped folds, accuracy and ROC-AUC."""

from __future__ import annotations

from pathlib import Path

import pytest

from songpop import config
from songpop.train import hit_predictor_songs, hit_task_cv, train_task

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def hit_songs(data_dir: Path):
    songs = hit_predictor_songs(data_dir)
    return songs.sample(3000, random_state=0).reset_index(drop=True)


def test_hit_table_has_labels_artists_and_decade(hit_songs) -> None:
    assert set(hit_songs["level"]) == set(config.HIT_CLASSES)
    assert hit_songs["primary_artist"].notna().all()
    assert hit_songs["decade"].notna().all() and hit_songs["year"].isna().all()


def test_hit_task_grouped_cv_is_well_above_chance(hit_songs) -> None:
    result = hit_task_cv(hit_songs, models=("dummy", "lgbm"), n_splits=3, quick=True)
    audio = result["feature_sets"]["audio"]
    context = result["feature_sets"]["audio+context"]
    # no year in this source: the decade stands in, with mode and time signature
    assert context["features"][len(config.AUDIO_FEATURES)] == "decade"
    assert "year" not in context["features"]
    lgbm = audio["models"]["lgbm"]
    assert lgbm["roc_auc"]["mean"] > 0.75
    assert lgbm["accuracy"]["mean"] > audio["models"]["dummy"]["accuracy"]["mean"] + 0.15
    assert all(r["cv"]["grouped"] for r in result["results"])


def test_train_task_handles_the_hit_label(hit_songs, tmp_path) -> None:
    summary = train_task(
        hit_songs,
        tmp_path,
        task="hit",
        label_strategy="hit",
        models=["dummy", "logreg"],
        feature_sets=("audio",),
        budget="quick",
        save=False,
    )
    fs = summary["feature_sets"]["audio"]
    assert summary["classes"] == ["hit", "not_hit"]
    assert fs["models"]["logreg"]["roc_auc"] > 0.7
    assert fs["grouped_cv"]["grouped"] and "roc_auc" in fs["grouped_cv"]["scores"]
    assert summary["regression"].get("skipped")  # a 0/1 score is not a regression target
