"""Unit tests of the exploration computations on tiny hand-made song tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from songpop import config, explore
from songpop.errors import LayoutError, SchemaError
from songpop.report import sections


def tiny_songs(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """A small songs table: loudness rises with popularity, acousticness falls with it."""
    rng = np.random.default_rng(seed)
    popularity = np.linspace(0, 90, n)
    songs = pd.DataFrame(
        {
            "acousticness": np.clip(1 - popularity / 100 + rng.normal(0, 0.05, n), 0, 1),
            "danceability": rng.uniform(0.2, 0.9, n),
            "duration_ms": rng.uniform(120_000, 300_000, n),
            "energy": rng.uniform(0, 1, n),
            "instrumentalness": rng.uniform(0, 0.1, n),
            "liveness": rng.uniform(0, 0.5, n),
            "loudness": -20 + popularity / 6 + rng.normal(0, 0.5, n),
            "speechiness": rng.uniform(0, 0.3, n),
            "tempo": rng.uniform(70, 180, n),
            "valence": rng.uniform(0, 1, n),
            "key": rng.integers(-1, 12, n),
            "year": np.repeat([1961, 1975, 1988], n // 3 + 1)[:n],
            "popularity": popularity,
        }
    )
    songs["level"] = pd.qcut(songs["popularity"], 3, labels=list(config.LEVELS)).astype(str)
    return songs


def test_correlation_orientation_and_order() -> None:
    songs = explore.prepare_songs(tiny_songs())
    table = explore.correlation_with_target(songs, "popularity")
    by_feature = table.set_index("feature")
    assert by_feature.loc["loudness", "pearson"] > 0.9
    assert by_feature.loc["acousticness", "pearson"] < -0.9
    assert by_feature.loc["loudness", "spearman"] > 0.9
    assert table["feature"].iloc[0] == "loudness"
    assert table["feature"].iloc[-1] == "acousticness"
    assert table["pearson"].is_monotonic_decreasing
    assert set(table["feature"]) == set(explore.CORR_FEATURES)
    assert "popularity" not in set(table["feature"])
    assert (table["n"] == len(songs)).all()


def test_duration_is_in_minutes_and_correlation_is_scale_invariant() -> None:
    raw = tiny_songs()
    songs = explore.prepare_songs(raw)
    assert songs["duration_mins"].iloc[0] == pytest.approx(raw["duration_ms"].iloc[0] / 60_000)
    matrix = explore.correlation_matrix(songs, "popularity")
    assert "duration_mins" in matrix.columns and "duration_ms" not in matrix.columns
    in_ms = np.corrcoef(raw["duration_ms"], raw["popularity"])[0, 1]
    assert matrix.loc["duration_mins", "popularity"] == pytest.approx(in_ms)
    assert np.allclose(np.diag(matrix), 1.0)
    assert np.allclose(matrix, matrix.T)


def test_target_falls_back_to_score() -> None:
    raw = tiny_songs().rename(columns={"popularity": "score"})
    songs = explore.prepare_songs(raw)
    assert explore.target_column(songs) == "score"
    table = explore.correlation_with_target(songs, "score")
    assert table["feature"].iloc[0] == "loudness"


def test_missing_column_is_named() -> None:
    raw = tiny_songs().drop(columns=["tempo"])
    with pytest.raises(LayoutError, match=r"songs\.parquet.*tempo"):
        explore.prepare_songs(raw, source="songs.parquet")
    no_target = tiny_songs().drop(columns=["popularity"])
    with pytest.raises(LayoutError, match="popularity.*score"):
        explore.prepare_songs(no_target, source="songs.parquet")


def test_non_numeric_feature_is_named() -> None:
    raw = tiny_songs()
    raw["energy"] = raw["energy"].astype(str)
    raw.loc[3, "energy"] = "loud"
    with pytest.raises(SchemaError, match="energy"):
        explore.prepare_songs(raw, source="x.parquet")


def test_trends_by_decade_from_year() -> None:
    songs = pd.DataFrame(
        {
            "year": [1961, 1965, 1969, 1972, 1978, pd.NA],
            "loudness": [-12.0, -10.0, -8.0, -6.0, -4.0, 0.0],
        }
    )
    trends = explore.trends_by_decade(songs, features=["loudness"])
    assert list(trends["decade"]) == [1960, 1970]
    assert list(trends["n"]) == [3, 2]
    assert list(trends["mean"]) == pytest.approx([-10.0, -5.0])
    assert trends["sem"].iloc[0] == pytest.approx(np.std([-12, -10, -8], ddof=1) / np.sqrt(3))


def test_trends_prefer_decade_column_and_handle_no_dates() -> None:
    songs = pd.DataFrame({"decade": [1990, 1990, 2000], "year": [1, 2, 3], "energy": [0.2, 0.4, 1]})
    trends = explore.trends_by_decade(songs, features=["energy"])
    assert dict(zip(trends["decade"], trends["mean"], strict=True)) == pytest.approx(
        {1990: 0.3, 2000: 1.0}
    )
    assert explore.trends_by_decade(pd.DataFrame({"energy": [0.1]}), ["energy"]).empty


def test_class_balance_in_label_order() -> None:
    songs = pd.DataFrame({"level": ["high", "low", "low", "medium", "low", None]})
    balance = explore.class_balance(songs)
    assert list(balance["level"]) == ["low", "medium", "high"]
    assert list(balance["songs"]) == [3, 1, 1]
    assert balance["share"].sum() == pytest.approx(1.0)
    hits = explore.class_balance(pd.DataFrame({"level": ["hit", "not_hit", "not_hit"]}))
    assert list(hits["level"]) == ["not_hit", "hit"]
    assert explore.class_balance(pd.DataFrame({"x": [1]})).empty


def test_distribution_by_level() -> None:
    songs = explore.prepare_songs(tiny_songs())
    dist = explore.distribution_by_level(songs)
    loud = dist[dist["feature"] == "loudness"].set_index("level")
    assert list(loud.index) == ["low", "medium", "high"]
    assert loud.loc["low", "median"] < loud.loc["medium", "median"] < loud.loc["high", "median"]
    assert loud["n"].sum() == len(songs)
    assert set(dist["feature"]) == set(explore.NUMERIC_FEATURES)


def test_build_tables_read_the_build_record() -> None:
    build = {
        "profile": "seed",
        "label": "spotify",
        "stages": [{"stage": "clean", "rows_in": 10, "rows_out": 8}],
        "inputs": [{"path": "/data/tracks/a.csv.gz", "kind": "tracks", "sha256": "ab" * 32}],
        "label_balance": {"low": 2, "medium": 3, "high": 3},
        "label_report": {"parameters": {"weights": {"weeks": 0.5}}},
    }
    tables = explore.build_tables(build)
    assert list(tables["stages"]["rows_out"]) == [8]
    assert tables["sources"]["file"].iloc[0] == "a.csv.gz"
    assert tables["sources"]["sha256"].iloc[0] == "ab" * 6
    assert list(tables["label_balance"]["songs"]) == [2, 3, 3]
    settings = dict(zip(tables["settings"]["item"], tables["settings"]["value"], strict=True))
    assert settings["profile"] == "seed"
    assert settings["label parameter.weights.weeks"] == "0.5"
    assert explore.build_tables({}) == {}


def test_write_data_section(tmp_path) -> None:
    build_dir = tmp_path / "build"
    build_dir.mkdir()
    (build_dir / "build.json").write_text(
        json.dumps({"profile": "seed", "label": "spotify", "songs": 3}), encoding="utf-8"
    )
    audit = {
        "rule": "exact",
        "per_source": {"kaggle": {"tracks": 10, "exact": 9, "match_rate": 0.9}},
        "chart_songs": 20,
        "chart_songs_matched": 9,
        "chart_match_rate": 0.45,
    }
    (build_dir / "match_audit.json").write_text(json.dumps(audit), encoding="utf-8")
    (build_dir / "match_weakest.csv").write_text("title,match_score\n", encoding="utf-8")
    (build_dir / "match_unmatched_sample.csv").write_text(
        "chart_title,chart_artist\nA,B\n", encoding="utf-8"
    )
    songs = pd.DataFrame({"level": ["low", "high", "high"]})
    manifest = sections.write_data_section(build_dir, tmp_path / "out", songs=songs)
    section = json.loads(manifest.read_text(encoding="utf-8"))
    assert section["order"] == sections.DATA_ORDER
    csvs = [t["csv"] for t in section["tables"]]
    assert "match_rate.csv" in csvs and "label_balance.csv" in csvs
    assert "match_weakest.csv" not in csvs  # empty: said in a paragraph instead
    assert any("45.0% of the chart songs (9 of 20)" in p for p in section["paragraphs"])
    assert any("match_weakest.csv is empty" in p for p in section["paragraphs"])
    for name in csvs:
        assert (tmp_path / "out" / name).is_file()
    rates = pd.read_csv(tmp_path / "out" / "match_rate.csv")
    assert rates.loc[0, "source"] == "kaggle" and rates.loc[0, "match_rate"] == 0.9
    assert sections.write_data_section(tmp_path / "nothing", tmp_path / "o2") is None


def test_bad_build_json_is_named(tmp_path) -> None:
    (tmp_path / "build.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(SchemaError, match="build.json"):
        sections.write_data_section(tmp_path, tmp_path / "out")


def test_label_score_differs() -> None:
    songs = tiny_songs()
    assert not explore.label_score_differs(songs, "popularity")  # no score column
    assert not explore.label_score_differs(songs.assign(score=songs["popularity"]), "popularity")
    composite = songs.assign(score=songs["popularity"].to_numpy()[::-1])
    assert explore.label_score_differs(composite, "popularity")
    assert not explore.label_score_differs(composite, "score")
