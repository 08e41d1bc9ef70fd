"""Unit tests: label orientation (rank 1 is best), weights, levels and the hit strategy."""

from __future__ import annotations

import pandas as pd
import pytest

from songpop.config import HIT_CLASSES, LEVELS
from songpop.errors import SchemaError
from songpop.prepare.label import (
    chart_components,
    composite_score,
    label_songs,
    quantile_levels,
)


def _songs(**columns: list) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    base = {
        "weeks_on_chart": [pd.NA] * n,
        "best_position": [pd.NA] * n,
        "avg_position": [pd.NA] * n,
        "avg_prev_position": [pd.NA] * n,
        "popularity": [float("nan")] * n,
        "charted": [False] * n,
        "hit_target": [pd.NA] * n,
    }
    base.update(columns)
    return pd.DataFrame(base)


def test_number_one_for_20_weeks_beats_number_90_for_one_week() -> None:
    songs = _songs(
        weeks_on_chart=[1, 20],
        best_position=[90, 1],
        avg_position=[90.0, 4.0],
        avg_prev_position=[pd.NA, 3.0],
        popularity=[50.0, 50.0],
        charted=[True, True],
    )
    score = composite_score(songs)
    assert score[1] > score[0]
    # Also without popularity, and whatever single chart component is used.
    for weights in ({"weeks": 1}, {"best": 1}, {"avg_prev": 1}):
        score = composite_score(songs.drop(columns="popularity"), weights)
        assert score[1] > score[0], weights


def test_components_are_oriented_higher_is_better() -> None:
    songs = _songs(
        weeks_on_chart=[10, 10, pd.NA],
        best_position=[1, 100, pd.NA],
        avg_position=[1.0, 100.0, pd.NA],
        avg_prev_position=[1.0, 100.0, pd.NA],
    )
    parts = chart_components(songs)
    assert parts.loc[0, "best_score"] == pytest.approx(1.0)
    assert parts.loc[1, "best_score"] == pytest.approx(0.01)
    assert parts.loc[0, "avg_prev_score"] > parts.loc[1, "avg_prev_score"]
    assert parts.loc[2].tolist() == [0.0, 0.0, 0.0]  # never charted: nothing


def test_popularity_weight_only_where_the_source_has_it() -> None:
    songs = _songs(
        weeks_on_chart=[52, 52],
        best_position=[1, 1],
        avg_position=[1.0, 1.0],
        avg_prev_position=[1.0, 1.0],
        popularity=[0.0, float("nan")],
        charted=[True, True],
    )
    score = composite_score(songs)
    assert score[1] == pytest.approx(1.0)  # weights re-normalised over the chart parts
    assert score[0] == pytest.approx(0.75)  # popularity 0 counts as 0


def test_bad_weights_are_refused() -> None:
    with pytest.raises(SchemaError, match="weights"):
        composite_score(_songs(popularity=[1.0]), {"weeks": -1})
    with pytest.raises(SchemaError, match="weights"):
        composite_score(_songs(popularity=[1.0]), {"loudness": 1})


def test_quantile_levels_low_to_high_and_tie_fallback() -> None:
    levels = quantile_levels(pd.Series([5.0, 1.0, 9.0, 3.0, 7.0, 8.0]))
    assert levels.tolist() == ["medium", "low", "high", "low", "medium", "high"]
    tied = quantile_levels(pd.Series([0.0] * 6 + [1.0, 2.0, 3.0]))
    assert tied.value_counts().to_dict() == {"low": 3, "medium": 3, "high": 3}


def test_spotify_strategy_is_popularity() -> None:
    songs = _songs(popularity=[10.0, 90.0, 50.0, float("nan")])
    out, report = label_songs(songs, "spotify")
    assert out["score"].tolist() == [10.0, 90.0, 50.0]
    assert out["level"].tolist() == ["low", "high", "medium"]
    assert report["dropped_no_popularity"] == 1
    assert set(report["balance"]) == set(LEVELS)


def test_hit_strategy_uses_the_source_flag_and_reports_agreement() -> None:
    songs = _songs(
        charted=[True, False, True, False],
        hit_target=pd.array([0, 1, pd.NA, pd.NA], dtype="Int64"),
    )
    out, report = label_songs(songs, "hit")
    assert out["level"].tolist() == ["not_hit", "hit", "hit", "not_hit"]
    assert set(out["level"].unique()) <= set(HIT_CLASSES)
    assert report["agreement"]["rows"] == 2
    assert report["agreement"]["agreement"] == 0.0


def test_unknown_strategy() -> None:
    with pytest.raises(SchemaError, match="expected one of"):
        label_songs(_songs(popularity=[1.0]), "loudest")
