"""`songpop explore` and `songpop report` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from songpop import config
from songpop.cli import app

runner = CliRunner()


def tiny_songs(n: int = 60) -> pd.DataFrame:
    """A small songs table in which loudness rises with popularity."""
    rng = np.random.default_rng(1)
    popularity = np.linspace(0, 90, n)
    songs = pd.DataFrame({f: rng.uniform(0, 1, n) for f in config.AUDIO_NUMERIC})
    songs["duration_ms"] = rng.uniform(120_000, 300_000, n)
    songs["tempo"] = rng.uniform(70, 180, n)
    songs["loudness"] = -20 + popularity / 6 + rng.normal(0, 0.5, n)
    songs["key"] = rng.integers(-1, 12, n)
    songs["year"] = rng.integers(1960, 2020, n)
    songs["popularity"] = popularity
    songs["level"] = pd.qcut(popularity, 3, labels=list(config.LEVELS)).astype(str)
    return songs


@pytest.mark.parametrize("command", ["explore", "report"])
def test_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "--out" in result.output
    assert ("--songs" if command == "explore" else "--run") in result.output


def test_missing_songs_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "songs.parquet"
    result = runner.invoke(app, ["explore", "--songs", str(missing), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0
    assert str(missing) in result.output
    assert not (tmp_path / "o" / "section.json").exists()


def test_missing_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "songs.parquet"
    tiny_songs().drop(columns=["valence"]).to_parquet(path)
    result = runner.invoke(app, ["explore", "--songs", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0
    assert "valence" in result.output and str(path) in result.output


def test_not_a_parquet_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "songs.parquet"
    path.write_text("this is not parquet", encoding="utf-8")
    result = runner.invoke(app, ["explore", "--songs", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0
    assert str(path) in result.output


def test_explore_then_report(tmp_path: Path) -> None:
    songs = tmp_path / "build" / "songs.parquet"
    songs.parent.mkdir()
    tiny_songs(90).to_parquet(songs)
    run = tmp_path / "runs" / "r1"
    result = runner.invoke(app, ["explore", "--songs", str(songs), "--out", str(run / "explore")])
    assert result.exit_code == 0, result.output
    assert "loudness" in result.stdout.splitlines()[1]  # highest correlation printed first
    section = json.loads((run / "explore" / "section.json").read_text(encoding="utf-8"))
    assert section["order"] == 20
    for fig in section["figures"]:
        assert (run / "explore" / fig["png"]).stat().st_size > 0
        assert (run / "explore" / fig["svg"]).stat().st_size > 0
    out = tmp_path / "page.html"
    result = runner.invoke(app, ["report", "--run", str(run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    assert out.read_text(encoding="utf-8").count("data:image/png;base64,") == len(
        section["figures"]
    )


def test_report_on_empty_run_fails(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", "--run", str(tmp_path), "--out", str(tmp_path / "x")])
    assert result.exit_code != 0
    assert "no section.json" in result.output
