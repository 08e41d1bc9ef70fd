"""`songpop train`, `songpop reproduce`, `songpop models list` through Typer's CliRunner."""

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


def write_songs(path: Path, n: int = 120, with_level: bool = True) -> Path:
    rng = np.random.default_rng(0)
    level = np.arange(n) % 3
    data = {name: rng.uniform(0, 1, n) for name in config.AUDIO_NUMERIC}
    data["loudness"] = -20 + 6 * level + rng.normal(0, 2, n)
    data["tempo"] = rng.uniform(60, 200, n)
    data["duration_ms"] = rng.uniform(1e5, 4e5, n)
    data["key"] = rng.integers(0, 12, n)
    data["year"] = 1960 + 15 * level + rng.integers(0, 10, n)
    data["primary_artist"] = [f"artist {i % 40}" for i in range(n)]
    if with_level:
        data["level"] = np.array(config.LEVELS)[level]
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(data).to_parquet(path, index=False)
    return path


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["train", "--help"], "--songs"),
        (["reproduce", "--help"], "--out"),
        (["models", "list", "--help"], "--dir"),
        (["models", "--help"], "list"),
    ],
)
def test_every_command_has_help(args: list[str], expected: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert expected in result.output


def test_missing_songs_file_exits_non_zero_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "songs.parquet"
    result = runner.invoke(app, ["train", "--songs", str(missing), "--out", str(tmp_path / "m")])
    assert result.exit_code != 0
    assert "songs.parquet" in result.output and "no such file" in result.output


def test_table_without_level_exits_non_zero_naming_the_column(tmp_path: Path) -> None:
    songs = write_songs(tmp_path / "songs.parquet", with_level=False)
    result = runner.invoke(app, ["train", "--songs", str(songs), "--out", str(tmp_path / "m")])
    assert result.exit_code != 0
    assert "'level'" in result.output


def test_unknown_model_and_budget_exit_non_zero(tmp_path: Path) -> None:
    songs = write_songs(tmp_path / "songs.parquet")
    out = str(tmp_path / "m")
    bad_model = runner.invoke(app, ["train", "--songs", str(songs), "--out", out, "--models", "x"])
    assert bad_model.exit_code != 0 and "unknown model 'x'" in bad_model.output
    bad_budget = runner.invoke(app, ["train", "--songs", str(songs), "--out", out, "--budget", "y"])
    assert bad_budget.exit_code != 0 and "unknown budget 'y'" in bad_budget.output


def test_train_then_list(tmp_path: Path) -> None:
    songs = write_songs(tmp_path / "build" / "songs.parquet")
    out = tmp_path / "models"
    args = ["train", "--songs", str(songs), "--out", str(out), "--models", "dummy,logreg"]
    quick = ["--budget", "quick", "--task", "toy", "--feature-sets", "audio", "-q"]
    result = runner.invoke(app, [*args, *quick])
    assert result.exit_code == 0, result.output
    assert "logreg" in result.output and "default model: toy/audio/logreg" in result.output
    for model in ("dummy", "logreg"):
        assert (out / "toy" / "audio" / model / "bundle.json").is_file()
    assert not (out / "toy" / "audio_context").exists()
    listed = runner.invoke(app, ["models", "list", "--dir", str(out)])
    assert listed.exit_code == 0, listed.output
    assert "toy/audio/logreg (default)" in listed.output
    assert "toy/audio/dummy" in listed.output
    # how each bundle is scored is listed: the registry's pipelines compile to ONNX
    from songpop.bundle import list_bundles

    assert "scored by" in listed.output and "onnx" in listed.output
    rows = {row["model_id"]: row for row in list_bundles(out)}
    assert rows["toy/audio/logreg"]["scored_by"] == "onnx"
    index = json.loads((out / "index.json").read_text())
    fast = {e["id"]: e["fast_to_serve"] for e in index["models"]}
    assert fast["toy/audio/logreg"] is True


def test_models_list_on_a_missing_folder_fails_clearly(tmp_path: Path) -> None:
    result = runner.invoke(app, ["models", "list", "--dir", str(tmp_path / "none")])
    assert result.exit_code != 0 and "no such folder" in result.output
