"""`songpop data build` through Typer's CliRunner, on tiny files written by the tests."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from songpop.cli import app
from support import refuse_downloads

runner = CliRunner()

CHART_HEADER = "chart_date,this_week,song,artist,last_week,peak_position,weeks_on_chart\n"
CHART_ROWS = [
    ("2000-01-01", 1, "Big Hit", "Star Featuring Guest", "", 1, 1),
    ("2000-01-01", 2, "Small Hit", "Band", "", 2, 1),
    ("2000-01-08", 1, "Big Hit", "Star Featuring Guest", 1, 1, 2),
    ("2000-01-08", 2, "Other Song", "Singer", "", 2, 1),
    ("2000-01-15", 1, "Big Hit", "Star Featuring Guest", 1, 1, 3),
    ("2000-01-15", 3, "Small Hit", "Band", 2, 2, 2),
]
SEED_TRACK_HEADER = (
    "acousticness,artists,danceability,duration_ms,energy,instrumentalness,key,liveness,"
    "loudness,name,popularity,speechiness,tempo,valence,year\n"
)
SEED_TRACK_ROWS = [
    "0.1,star featuring guest,0.5,200000,0.6,0.0,1,0.1,-5.0,big hit,80,0.05,120.0,0.5,2000",
    "0.2,band,0.6,210000,0.7,0.0,2,0.1,-6.0,small hit,50,0.05,110.0,0.4,2000",
    "0.3,band,0.6,210000,0.7,0.0,2,0.1,-6.0,small hit,40,0.05,110.0,0.4,1999",
    "0.3,nobody,0.4,190000,0.5,0.0,3,0.1,-7.0,never charted,10,0.05,100.0,0.3,2001",
]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_downloads(monkeypatch)


@pytest.fixture()
def tiny(tmp_path: Path) -> dict[str, Path]:
    charts = tmp_path / "charts.csv"
    charts.write_text(CHART_HEADER + "".join(",".join(map(str, r)) + "\n" for r in CHART_ROWS))
    tracks = tmp_path / "tracks.csv.gz"
    with gzip.open(tracks, "wt") as handle:
        handle.write(SEED_TRACK_HEADER + "\n".join(SEED_TRACK_ROWS) + "\n")
    return {"charts": charts, "tracks": tracks}


def test_build_help_lists_every_option() -> None:
    result = runner.invoke(app, ["data", "build", "--help"])
    assert result.exit_code == 0
    for option in ("--profile", "--label", "--charts", "--tracks", "--data-dir", "--out"):
        assert option in result.output
    assert "songs.parquet" in result.output


def test_build_on_tiny_files_writes_songs_and_prints_the_summary(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = ["data", "build", "--charts", str(tiny["charts"]), "--tracks", str(tiny["tracks"])]
    result = runner.invoke(app, [*args, "--label", "spotify", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "match rate" in result.output and "label balance" in result.output
    songs = pd.read_parquet(out / "songs.parquet")
    assert songs["song_id"].is_unique
    # "small hit" by "band" twice (two versions): one kept, the more popular.
    assert sorted(songs["title"]) == ["big hit", "never charted", "small hit"]
    assert songs.set_index("title").loc["small hit", "popularity"] == 50
    assert songs.set_index("title").loc["big hit", "weeks_on_chart"] == 3
    build = json.loads((out / "build.json").read_text())
    assert build["label"] == "spotify" and build["songs"] == 3


def test_seed_profile_on_tiny_files(tiny: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "seed"
    result = runner.invoke(
        app,
        [
            "data",
            "build",
            "--profile",
            "seed",
            "--charts",
            str(tiny["charts"]),
            "--tracks",
            str(tiny["tracks"]),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    songs = pd.read_parquet(out / "songs.parquet")
    # Seed rules: debut weeks dropped, exact key, one row per title (highest popularity).
    assert sorted(songs["title"]) == ["big hit", "small hit"]
    assert (songs["score"] == songs["popularity"]).all()


def test_bad_chart_file_names_the_file_and_column_and_writes_nothing(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    bad = tmp_path / "bad_charts.csv"
    bad.write_text("chart_date,this_week,song,last_week,peak_position,weeks_on_chart\n")
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        ["data", "build", "--charts", str(bad), "--tracks", str(tiny["tracks"]), "--out", str(out)],
    )
    assert result.exit_code != 0
    assert "bad_charts.csv" in result.output
    assert "artist" in result.output
    assert not (out / "songs.parquet").exists()


def test_missing_input_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.csv"
    result = runner.invoke(
        app, ["data", "build", "--charts", str(missing), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code != 0
    assert "nowhere.csv" in result.output


def test_unknown_label_and_profile_are_refused(tiny: dict[str, Path], tmp_path: Path) -> None:
    base = ["data", "build", "--charts", str(tiny["charts"]), "--tracks", str(tiny["tracks"])]
    result = runner.invoke(app, [*base, "--label", "loudest", "--out", str(tmp_path / "a")])
    assert result.exit_code != 0 and "loudest" in result.output
    result = runner.invoke(app, [*base, "--profile", "old", "--out", str(tmp_path / "b")])
    assert result.exit_code != 0 and "old" in result.output


def test_failed_build_keeps_the_previous_output(tiny: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    base = ["data", "build", "--charts", str(tiny["charts"]), "--tracks", str(tiny["tracks"])]
    assert runner.invoke(app, [*base, "--label", "spotify", "--out", str(out)]).exit_code == 0
    before = (out / "songs.parquet").read_bytes()
    # Only charted songs have no "not_hit" class: the hit label refuses a single class.
    charted_only = tmp_path / "charted.csv"
    charted_only.write_text(SEED_TRACK_HEADER + SEED_TRACK_ROWS[0] + "\n")
    result = runner.invoke(
        app, [*base[:4], "--tracks", str(charted_only), "--label", "hit", "--out", str(out)]
    )
    assert result.exit_code != 0 and "single class" in result.output
    assert (out / "songs.parquet").read_bytes() == before
    assert not list(out.glob(".build-*"))


def test_composite_weights_option(tiny: dict[str, Path], tmp_path: Path) -> None:
    base = ["data", "build", "--charts", str(tiny["charts"]), "--tracks", str(tiny["tracks"])]
    out = tmp_path / "w"
    result = runner.invoke(app, [*base, "--weights", "weeks=1,popularity=0", "--out", str(out)])
    assert result.exit_code == 0, result.output
    build = json.loads((out / "build.json").read_text())
    assert build["label_report"]["parameters"]["weights"] == {"weeks": 1.0, "popularity": 0.0}
    result = runner.invoke(app, [*base, "--weights", "weeks=lots", "--out", str(out)])
    assert result.exit_code != 0 and "weeks=lots" in result.output
    result = runner.invoke(app, [*base, "--weights", "loudness=1", "--out", str(out)])
    assert result.exit_code != 0 and "loudness" in result.output
