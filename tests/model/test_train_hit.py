"""The hit task on the Hit Predictor file: artist-grouped folds, accuracy and ROC-AUC, the decade
standing in for the year."""

from __future__ import annotations

from pathlib import Path

import pytest

from songpop import config
from songpop.build import hit_predictor_songs
from songpop.train import train_task

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def hit_songs(data_dir: Path):
    songs = hit_predictor_songs(data_dir)
    return songs.sample(3000, random_state=0).reset_index(drop=True)


def test_hit_table_has_labels_artists_and_decade(hit_songs) -> None:
    assert set(hit_songs["level"]) == set(config.HIT_CLASSES)
    assert hit_songs["primary_artist"].notna().all()
    assert hit_songs["decade"].notna().all() and hit_songs["year"].isna().all()


def test_train_task_handles_the_hit_label(hit_songs, tmp_path) -> None:
    summary = train_task(
        hit_songs,
        tmp_path,
        task="hit",
        label_strategy="hit",
        models=["dummy", "logreg"],
        feature_sets=("audio", "audio+context"),
        budget="quick",
        save=False,
    )
    fs = summary["feature_sets"]["audio"]
    assert summary["classes"] == ["hit", "not_hit"]
    assert fs["models"]["logreg"]["roc_auc"] > 0.7
    assert fs["models"]["logreg"]["accuracy"] > fs["models"]["dummy"]["accuracy"] + 0.1
    assert fs["grouped_cv"]["grouped"] and "roc_auc" in fs["grouped_cv"]["scores"]
    # no year in this source: the decade stands in for it
    context = summary["feature_sets"]["audio+context"]["features"]
    assert "decade" in context and "year" not in context
    assert summary["regression"].get("skipped")  # a 0/1 score is not a regression target
