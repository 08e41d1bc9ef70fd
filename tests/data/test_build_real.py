"""Data tests: `build_dataset` on the real files in $SONGPOP_DATA_DIR.

Each profile is built once per session (session-scoped fixtures) into a temporary folder.
The floors below were measured on the shared data (2026-11-24): seed profile 9,505 songs
(original: 9,516), match rate seed 99.9%; default profile match rates hit_predictor 49.5%,
kaggle_1921_2020_seed 99.3%, tidytuesday_2020 21.1%.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from songpop.build import SONG_COLUMNS, build_dataset
from songpop.config import AUDIO_FEATURES, HIT_CLASSES, LEVELS

pytestmark = pytest.mark.data

ORIGINAL_SONGS = 9_516


@pytest.fixture(scope="session")
def seed_build(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("seed_build")
    summary = build_dataset(out, profile="seed", data_dir=data_dir)
    return {"summary": summary, "out": out, "songs": pd.read_parquet(out / "songs.parquet")}


@pytest.fixture(scope="session")
def default_build(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("default_build")
    summary = build_dataset(out, data_dir=data_dir)
    return {"summary": summary, "out": out, "songs": pd.read_parquet(out / "songs.parquet")}


def test_seed_reproduces_the_original_song_count(seed_build: dict[str, Any]) -> None:
    songs = seed_build["songs"]
    assert abs(len(songs) - ORIGINAL_SONGS) <= 0.01 * ORIGINAL_SONGS
    assert songs["song_id"].is_unique
    assert (
        seed_build["summary"]["match"]["per_source"]["kaggle_1921_2020_seed"]["match_rate"] >= 0.99
    )


def test_seed_labels_are_popularity_terciles(seed_build: dict[str, Any]) -> None:
    songs = seed_build["songs"]
    assert set(songs["level"]) == set(LEVELS)
    assert (songs["score"] == songs["popularity"]).all()
    share = songs["level"].value_counts(normalize=True)
    assert share.between(0.30, 0.37).all(), share.to_dict()
    # Orientation: every "high" song is at least as popular as every "low" one.
    by_level = songs.groupby("level")["popularity"]
    assert by_level.min()["high"] >= by_level.max()["low"]
    assert seed_build["summary"]["label_balance"] == songs["level"].value_counts().to_dict()


def test_seed_songs_follow_the_column_contract(seed_build: dict[str, Any]) -> None:
    songs = seed_build["songs"]
    assert list(songs.columns) == list(SONG_COLUMNS)
    assert songs[list(AUDIO_FEATURES) + ["year", "popularity"]].notna().all().all()
    assert songs["best_position"].between(1, 100).all()
    assert (songs["weeks_on_chart"] >= 1).all()
    assert songs["charted"].all()


def test_seed_chart_history_agrees_with_the_original_table(
    seed_build: dict[str, Any], data_dir: Path
) -> None:
    """The original Billboard aggregate (made from the real Hot Stuff.csv) as a cross-check."""
    original = pd.read_csv(data_dir / "seed" / "billboard_aggregated_d76b880.csv")
    original["song_id"] = original["Song"].astype(str) + "|" + original["Performer"].astype(str)
    ours = pd.read_parquet(seed_build["out"] / "chart_songs.parquet")
    ours["song_id"] = ours["seed_title"] + "|" + ours["seed_artist"]
    both = ours.merge(original, on="song_id")
    assert len(both) >= 0.98 * len(original)
    same_weeks = (both["weeks_on_chart"] == both["Weeks on Chart"]).mean()
    same_prev = (both["avg_prev_position"] == both["Average Previous Week Position"]).mean()
    assert same_weeks >= 0.98 and same_prev >= 0.98, (same_weeks, same_prev)


def test_build_writes_every_stage_and_the_audit(seed_build: dict[str, Any]) -> None:
    out: Path = seed_build["out"]
    for name in ("chart_weeks", "chart_songs", "tracks", "songs"):
        assert (out / f"{name}.parquet").is_file(), name
    build = json.loads((out / "build.json").read_text())
    assert all(len(item["sha256"]) == 64 for item in build["inputs"])
    assert build["stages"][0] == {
        "stage": "cut_at_seed_date",
        "rows_in": 354_887,
        "rows_out": 327_787,
    }
    assert (out / "match_audit.json").is_file() and (out / "match_unmatched_sample.csv").is_file()
    assert not list(out.glob(".build-*"))  # no staging folder left behind


MATCH_RATE_FLOORS = {"hit_predictor": 0.45, "kaggle_1921_2020_seed": 0.97, "tidytuesday_2020": 0.18}


def test_default_match_rate_per_source(default_build: dict[str, Any]) -> None:
    rates = default_build["summary"]["match_rate"]
    assert set(rates) == set(MATCH_RATE_FLOORS)
    for source, floor in MATCH_RATE_FLOORS.items():
        assert rates[source] >= floor, (source, rates[source])
    weakest = pd.read_csv(default_build["out"] / "match_weakest.csv")
    assert (weakest["match_score"] >= 90).all()


def test_default_songs_unique_and_composite_balanced(default_build: dict[str, Any]) -> None:
    songs = default_build["songs"]
    assert songs["song_id"].is_unique
    assert set(songs["level"]) == set(LEVELS)
    share = songs["level"].value_counts(normalize=True)
    assert share.between(0.30, 0.37).all(), share.to_dict()
    assert set(songs["source"]) == set(MATCH_RATE_FLOORS)
    assert songs[list(AUDIO_FEATURES)].notna().all().all()


def test_default_composite_is_oriented_on_real_data(default_build: dict[str, Any]) -> None:
    charted = default_build["songs"][default_build["songs"]["charted"]]
    by_level = charted.groupby("level")
    assert by_level["best_position"].median()["high"] < by_level["best_position"].median()["low"]
    assert by_level["weeks_on_chart"].median()["high"] > by_level["weeks_on_chart"].median()["low"]
    # Uncharted songs never outrank a number-one song that charted for 20 weeks or more.
    top = charted[(charted["best_position"] == 1) & (charted["weeks_on_chart"] >= 20)]
    uncharted = default_build["songs"][~default_build["songs"]["charted"]]
    assert top["score"].min() > uncharted["score"].max()


def test_hit_label_uses_the_hit_predictor_target(data_dir: Path, tmp_path: Path) -> None:
    summary = build_dataset(
        tmp_path,
        label="hit",
        tracks=[data_dir / "tracks" / "hit_predictor_dev.csv.gz"],
        data_dir=data_dir,
    )
    songs = pd.read_parquet(tmp_path / "songs.parquet")
    assert set(songs["level"]) == set(HIT_CLASSES)
    agreement = summary["label_report"]["agreement"]
    assert agreement["rows"] == len(songs)
    assert agreement["agreement"] >= 0.95
    assert (songs["level"].eq("hit") == songs["hit_target"].eq(1)).all()
