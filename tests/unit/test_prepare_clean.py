"""Unit tests: cleaning counts and reports what it drops."""

from __future__ import annotations

import pandas as pd

from songpop.config import AUDIO_NUMERIC
from songpop.prepare.clean import clean_charts, clean_tracks


def _tracks(n: int) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "source": ["s"] * n,
            "track_id": [f"id{i}" for i in range(n)],
            "title": [f"Song {i}" for i in range(n)],
            "artist": ["A"] * n,
            **{c: [0.5] * n for c in AUDIO_NUMERIC},
            "key": pd.array([1] * n, dtype="Int64"),
            "year": pd.array([2000] * n, dtype="Int64"),
            "unused": ["x"] * n,
        }
    )
    table["loudness"] = -5.0
    table["tempo"] = 120.0
    table["duration_ms"] = 200_000.0
    return table


def test_clean_tracks_reports_every_drop() -> None:
    table = _tracks(7)
    table.loc[1, "danceability"] = None  # missing audio feature: dropped
    table.loc[2, "energy"] = 1.5  # out of range audio: dropped
    table.loc[3, "year"] = 1800  # out of range context: set NA, kept
    table.loc[4, "track_id"] = "id0"  # same track again (another playlist): dropped
    table.loc[4, "title"] = "Song 0"
    table.loc[4, "loudness"] = -6.0  # same id, not an exact duplicate
    table.loc[6] = table.loc[5]  # exact duplicate: dropped
    out = clean_tracks(table)
    report = out.report
    assert report["dropped_columns"] == ["unused"]
    assert report["missing"] == {"danceability": 1}
    assert report["out_of_range_dropped"] == {"energy": 1}
    assert report["out_of_range_set_na"] == {"year": 1}
    assert report["duplicates"] == 1
    assert report["duplicate_track_ids"] == 1
    assert (report["rows_in"], report["rows_out"]) == (7, 3)
    assert out.table["title"].tolist() == ["Song 0", "Song 3", "Song 5"]
    assert pd.isna(out.table["year"].iloc[1])


def test_clean_charts_drops_missing_and_duplicate_positions() -> None:
    charts = pd.DataFrame(
        {
            "chart_date": pd.to_datetime(["2000-01-01"] * 4),
            "position": [1, 1, 2, 101],
            "title": pd.array(["A", "B", None, "C"], dtype="string"),
            "artist": pd.array(["X", "Y", "Z", "W"], dtype="string"),
            "last_week": pd.array([None] * 4, dtype="Int64"),
        }
    )
    out = clean_charts(charts)
    assert out.report["missing"] == {"title": 1}
    assert out.report["position_out_of_range"] == 1
    assert out.report["duplicate_positions"] == 1
    assert out.table["title"].tolist() == ["A"]
