"""Unit tests: exact and fuzzy matching, one track per song, the audit, the seed join."""

from __future__ import annotations

import pandas as pd

from songpop.prepare.charts import aggregate_chart_songs, aggregate_seed_charts
from songpop.prepare.match import match_audit, match_tracks, seed_join, select_one_per_song
from songpop.prepare.normalize import add_keys


def _charts(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    """rows: (title, artist, position), all on one week."""
    n = len(rows)
    return pd.DataFrame(
        {
            "chart_date": pd.to_datetime(["2000-01-01"] * n),
            "position": [r[2] for r in rows],
            "title": pd.array([r[0] for r in rows], dtype="string"),
            "artist": pd.array([r[1] for r in rows], dtype="string"),
            "last_week": pd.array([r[2] for r in rows], dtype="Int64"),
            "peak_position": pd.array([r[2] for r in rows], dtype="Int64"),
            "weeks_on_chart": pd.array([3] * n, dtype="Int64"),
        }
    )


def _tracks(rows: list[tuple[str, str, str, float, int]]) -> pd.DataFrame:
    """rows: (source, title, artist, popularity, year)."""
    return add_keys(
        pd.DataFrame(
            {
                "source": pd.array([r[0] for r in rows], dtype="string"),
                "title": pd.array([r[1] for r in rows], dtype="string"),
                "artist": pd.array([r[2] for r in rows], dtype="string"),
                "popularity": [r[3] for r in rows],
                "year": pd.array([r[4] for r in rows], dtype="Int64"),
            }
        )
    )


CHARTS = _charts(
    [
        ("Umbrella", "Rihanna Featuring Jay-Z", 1),
        ("September", "Earth, Wind & Fire", 8),
        ("Don't Stop 'Til You Get Enough", "Michael Jackson", 1),
        ("Love Scars 3", "Trippie Redd", 50),
        ("Never Matched", "Nobody", 99),
    ]
)


def test_exact_then_fuzzy_then_none() -> None:
    songs = aggregate_chart_songs(CHARTS)
    tracks = _tracks(
        [
            ("a", "Umbrella", "['Rihanna', 'JAY-Z']", 80.0, 2007),  # exact on primary
            ("a", "September", "['Earth, Wind & Fire']", 70.0, 1978),  # exact on the lead
            ("b", "Dont Stop Til You Get Enuff", "Michael Jackson", 60.0, 1979),  # fuzzy
            ("b", "Love Scars", "Trippie Redd", 60.0, 2017),  # numbers differ: no
            ("b", "Umbrellas", "Someone Else", 10.0, 2001),  # artist differs: no
        ]
    )
    matched = match_tracks(tracks, songs, threshold=85)
    assert matched["match_method"].tolist() == ["exact", "exact", "fuzzy", "none", "none"]
    assert matched["match_score"].iloc[0] == 100.0
    assert 85 <= matched["match_score"].iloc[2] < 100
    assert matched["best_position"].iloc[2] == 1
    assert matched["charted"].tolist() == [True, True, True, False, False]
    assert pd.isna(matched["weeks_on_chart"].iloc[3])
    # A stricter threshold turns the fuzzy match down; fuzzy=False turns it off.
    strict = match_tracks(tracks, songs, threshold=99)
    assert strict["match_method"].iloc[2] == "none"
    assert match_tracks(tracks, songs, fuzzy=False)["match_method"].iloc[2] == "none"


def test_one_track_per_song_by_popularity_then_year() -> None:
    songs = aggregate_chart_songs(CHARTS)
    tracks = _tracks(
        [
            ("a", "Umbrella - Remastered 2015", "Rihanna", 40.0, 2015),
            ("a", "Umbrella", "Rihanna", 80.0, 2008),
            ("a", "Umbrella (Album Version)", "Rihanna", 80.0, 2007),
            ("a", "Umbrelaa", "Rihanna", 99.0, 2007),  # fuzzy: loses to any exact match
            ("b", "Quiet Song", "Nobody Famous", 5.0, 2001),
            ("b", "Quiet Song", "Nobody Famous", 7.0, 2002),
        ]
    )
    matched = match_tracks(tracks, songs, threshold=85)
    kept, dropped = select_one_per_song(matched)
    assert dropped == 4
    umbrella = kept[kept["charted"]]
    assert len(umbrella) == 1 and umbrella["year"].iloc[0] == 2007  # tie on 80: earlier year
    quiet = kept[~kept["charted"]]
    assert quiet["popularity"].tolist() == [7.0]
    assert kept["song_id"].is_unique


def test_audit_reports_rate_per_source_weakest_and_unmatched() -> None:
    songs = aggregate_chart_songs(CHARTS)
    tracks = _tracks(
        [
            ("a", "Umbrella", "Rihanna", 80.0, 2007),
            ("a", "Nothing", "Nobody Else", 1.0, 2007),
            ("b", "Dont Stop Til You Get Enuff", "Michael Jackson", 60.0, 1979),
        ]
    )
    matched = match_tracks(tracks, songs, threshold=85)
    audit, weakest, unmatched = match_audit(matched, songs)
    assert audit["per_source"]["a"]["match_rate"] == 0.5
    assert audit["per_source"]["b"] == {
        "tracks": 1,
        "exact": 0,
        "fuzzy": 1,
        "match_rate": 1.0,
        "chart_songs_covered": 1,
    }
    assert audit["chart_songs_matched"] == 2 and audit["chart_songs"] == 5
    assert weakest["title"].tolist() == ["Dont Stop Til You Get Enuff"]
    assert "Never Matched" in unmatched["chart_title"].tolist()
    assert "Umbrella" not in unmatched["chart_title"].tolist()


def test_seed_join_is_exact_on_the_joined_string_and_keeps_one_per_title() -> None:
    charts = _charts([("Hello", "Adele", 1), ("Hello", "Lionel Richie", 2)])
    charts = pd.concat([charts, charts.assign(chart_date=pd.Timestamp("2000-01-08"))])
    seed = aggregate_seed_charts(charts)
    tracks = pd.DataFrame(
        {
            "title": ["hello", "hello", "hello", "Héllo"],
            "artist": ["adele", "['Lionel Richie']", "adele featuring x", "adele"],
            "popularity": [70.0, 75.0, 99.0, 99.0],
        }
    )
    one, n_joined = seed_join(tracks, seed)
    assert n_joined == 2  # "featuring" and the accent break the exact key, as they did
    assert one["artist"].tolist() == ["['Lionel Richie']"]  # one per title: highest popularity
