"""Data tests: the chart-chance build on the real files (issue 20).

Measured on the shared data (2026-12-06): the TidyTuesday 2020 playlists give 24,772 tracks
released from 1958 on (one per song); 509 of them matched a chart run that began more than a
year before their release year (remixes, remasters, compilations) and are left out, leaving
24,263, of which 3,493 (14.4%) reached the Hot 100 by songpop's own chart matching; the share
falls for the newest releases (2019: 3.8%).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from songpop.build import build_dataset
from songpop.config import CHART_CLASSES, HISTORY_FEATURES

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def chance(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("chart_chance")
    summary = build_dataset(out, task="chart-chance", data_dir=data_dir)
    return {
        "summary": summary,
        "songs": pd.read_parquet(out / "songs.parquet"),
        "history": pd.read_parquet(out / "artist_history.parquet"),
        "build": json.loads((out / "build.json").read_text()),
    }


def test_counts_and_base_rates(chance: dict[str, Any]) -> None:
    songs, cc = chance["songs"], chance["build"]["chart_chance"]
    assert len(songs) == cc["songs"] == 24_263
    assert cc["charted_before_release_year"] == 509
    assert cc["charted"] == int((songs["level"] == "charted").sum()) == 3_493
    assert cc["base_rate"] == pytest.approx(0.1440, abs=1e-4)
    assert set(songs["level"]) == set(CHART_CLASSES)
    # every track has a release year from 1958 on, and its genre
    assert songs["year"].notna().all() and songs["year"].min() >= 1958
    assert songs["genre"].notna().all()
    per_year = cc["per_year"]
    assert sum(v["songs"] for v in per_year.values()) == len(songs)
    assert per_year["2019"]["rate"] == pytest.approx(0.0384, abs=1e-4)
    # the newest releases chart less often than those of the 2000s (the base rate drifts)
    assert per_year["2019"]["rate"] < per_year["2005"]["rate"]


def test_label_is_the_builds_own_chart_match(chance: dict[str, Any]) -> None:
    songs = chance["songs"]
    assert (songs["level"].eq("charted") == songs["charted"].astype(bool)).all()
    # chart-derived columns are present for the audit but are never features
    from songpop.features import feature_columns

    for fs in ("audio", "audio+context", "history", "year"):
        cols = feature_columns(songs, fs)
        assert not {"charted", "weeks_on_chart", "best_position", "score", "level"} & set(cols)
    assert feature_columns(songs, "history")[-3:] == list(HISTORY_FEATURES)


def test_artist_history_is_before_the_release_year(chance: dict[str, Any]) -> None:
    from songpop.prepare.normalize import normalize_text

    songs, table = chance["songs"], chance["history"]
    assert songs[list(HISTORY_FEATURES)].notna().all(axis=None)
    # a charted song's chart run starts no earlier than the year before its release
    charted = songs[songs["charted"]]
    debut = pd.to_datetime(charted["debut_date"]).dt.year
    assert (debut >= charted["year"] - 1).all()
    own = normalize_text(songs["chart_title"].astype("string")).fillna("")
    # a sample of songs recomputed by hand from the per-year table
    for i, song in songs.sample(200, random_state=0).iterrows():
        mine = table[
            (table["norm_artist"] == song["norm_artist"])
            & (table["year"] < song["year"])
            & (table["norm_title"] != song["norm_title"])
            & (table["norm_title"] != own[i])
        ]
        assert song["artist_prior_entries"] == mine["norm_title"].nunique()
        assert song["artist_prior_weeks"] == mine["weeks"].sum()
        best = mine["best"].min() if len(mine) else 101
        assert song["artist_prior_best"] == best
    # most tracks come from artists with no earlier Hot 100 entry
    assert np.mean(songs["artist_prior_entries"] == 0) > 0.5
