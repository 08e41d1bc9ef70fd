"""Unit tests: chart history aggregation on a hand-made chart with a re-entry."""

from __future__ import annotations

import pandas as pd
import pytest

from songpop.prepare.charts import aggregate_chart_songs, aggregate_seed_charts

WEEKS = pd.to_datetime(["2020-01-04", "2020-01-11", "2020-01-18", "2020-01-25", "2020-02-01"])


def _chart(rows: list[tuple[int, int, str, str, int | None, int]]) -> pd.DataFrame:
    """rows: (week number, position, title, artist, last_week, billboard weeks_on_chart)."""
    return pd.DataFrame(
        {
            "chart_date": [WEEKS[w] for w, *_ in rows],
            "position": [r[1] for r in rows],
            "title": pd.array([r[2] for r in rows], dtype="string"),
            "artist": pd.array([r[3] for r in rows], dtype="string"),
            "last_week": pd.array([r[4] for r in rows], dtype="Int64"),
            "peak_position": pd.array([None] * len(rows), dtype="Int64"),
            "weeks_on_chart": pd.array([r[5] for r in rows], dtype="Int64"),
        }
    )


@pytest.fixture()
def chart() -> pd.DataFrame:
    # "Hit" debuts at 5, climbs to 1, drops off in week 3, re-enters at 9 in week 4.
    # "Blip" charts once at 90. "Hit" also appears as "HIT (feat. Guest)" once: same song key.
    return _chart(
        [
            (0, 5, "Hit", "Star", None, 1),
            (0, 90, "Blip", "Nobody", None, 1),
            (1, 1, "Hit", "Star Featuring Guest", 5, 2),
            (2, 3, "HIT (feat. Guest)", "Star", 1, 3),
            (3, 1, "Other", "Band", None, 1),
            (4, 9, "Hit", "Star", None, 4),
        ]
    )


def test_aggregate_counts_weeks_runs_and_best_position(chart: pd.DataFrame) -> None:
    songs = aggregate_chart_songs(chart).set_index("norm_title")
    assert len(songs) == 3
    hit = songs.loc["hit"]
    assert hit["norm_artist"] == "star"
    assert hit["weeks_on_chart"] == 4
    assert hit["best_position"] == 1  # rank 1 is best: the minimum, not the maximum
    assert hit["avg_position"] == pytest.approx((5 + 1 + 3 + 9) / 4)
    assert hit["avg_prev_position"] == pytest.approx((5 + 1) / 2)  # NA weeks left out
    assert hit["debut_date"] == WEEKS[0]
    assert hit["n_runs"] == 2  # the gap in week 3 starts a second run
    assert hit["chart_title"] == "Hit"
    blip = songs.loc["blip"]
    assert (blip["weeks_on_chart"], blip["best_position"], blip["n_runs"]) == (1, 90, 1)
    assert pd.isna(blip["avg_prev_position"])


def test_runs_follow_chart_weeks_not_calendar_days() -> None:
    # Two consecutive charts of the source, whatever the days between them, are one run.
    chart = _chart([(0, 1, "A", "X", None, 1), (1, 2, "A", "X", 1, 2), (1, 3, "B", "Y", None, 1)])
    chart.loc[1, "chart_date"] = pd.Timestamp("2020-03-01")
    chart.loc[2, "chart_date"] = pd.Timestamp("2020-03-01")
    songs = aggregate_chart_songs(chart).set_index("norm_title")
    assert songs.loc["a", "n_runs"] == 1


def test_seed_aggregation_follows_the_original_rules(chart: pd.DataFrame) -> None:
    songs = aggregate_seed_charts(chart)
    # Debut and re-entry rows (no previous position) are dropped; keys are the seed rule's.
    assert set(zip(songs["seed_title"], songs["seed_artist"], strict=True)) == {
        ("hit", "star featuring guest"),
        ("hit feat guest", "star"),
    }  # "Other" only ever debuted, so it has no row
    row = songs.set_index("seed_artist").loc["star featuring guest"]
    assert row["weeks_on_chart"] == 2  # max of Billboard's weeks-on-chart
    assert row["avg_prev_position"] == 5
    assert row["best_position"] == 1
