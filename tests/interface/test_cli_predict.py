"""`songpop predict` through Typer's CliRunner: options, JSON, batch files, errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from songpop import config
from songpop.cli import app
from support import (
    SONG,
    in_hit_predictor_layout,
    random_songs,
    save_lgbm_bundle,
)

runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_lgbm_bundle(tmp_path_factory.mktemp("models") / "lgbm")


def options(song: dict) -> list[str]:
    return [arg for k, v in song.items() for arg in (f"--{k.replace('_', '-')}", str(v))]


def test_help_lists_every_feature_option():
    result = runner.invoke(
        app, ["predict", "--help"], env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"}
    )
    assert result.exit_code == 0
    for name in config.AUDIO_FEATURES + config.CONTEXT_FEATURES:
        assert f"--{name.replace('_', '-')}" in result.output
    for option in ("--model", "--json", "--csv", "--out", "--rejects", "--explain"):
        assert option in result.output
    assert "0 to 300 BPM" in result.output  # the allowed range is in the help


def test_feature_options_print_level_and_explanation(model_dir):
    result = runner.invoke(
        app, ["predict", "--model", str(model_dir), *options(SONG), "--explain"], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    assert "Predictions of lgbm" in result.output
    assert "chance of each level" in result.output
    assert "high popularity" in result.output  # the predicted level in plain words
    assert "pushes" in result.output and "Why" in result.output


def test_json_records_and_json_out(tmp_path, model_dir):
    records = [dict(SONG, title="one"), dict(SONG, loudness=-22.0, title="two")]
    (tmp_path / "in.json").write_text(json.dumps(records))
    out = tmp_path / "pred.json"
    result = runner.invoke(
        app, ["predict", "--model", str(model_dir), "--json", str(tmp_path / "in.json"),
              "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    assert [w["ids"]["title"] for w in written] == ["one", "two"]
    assert all(abs(sum(w["probabilities"].values()) - 1) < 1e-9 for w in written)


def test_csv_batch_in_hit_predictor_layout(tmp_path, model_dir):
    X = random_songs(30, seed=3)
    hp = in_hit_predictor_layout(X)
    hp.loc[4, "energy"] = 3.0
    hp.to_csv(tmp_path / "hits.csv", index=False)
    out, rejects = tmp_path / "scored.parquet", tmp_path / "bad.csv"
    result = runner.invoke(
        app,
        ["predict", "--model", str(model_dir), "--csv", str(tmp_path / "hits.csv"),
         "--out", str(out), "--rejects", str(rejects)],
        terminal_width=200,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "hit_predictor" in result.output
    scored = pd.read_parquet(out)
    assert len(scored) == 29 and "level" in scored.columns and "proba_medium" in scored.columns
    bad = pd.read_csv(rejects)
    assert bad[["row", "field"]].values.tolist() == [[5, "energy"]]
    assert bad["title"].tolist() == ["track 4"]


def test_csv_batch_with_explanations(tmp_path, model_dir):
    X = random_songs(40, seed=4)
    X.loc[7, "tempo"] = -3.0
    X.assign(title=[f"song {i}" for i in range(40)]).to_csv(tmp_path / "songs.csv", index=False)
    out = tmp_path / "why.csv"
    result = runner.invoke(
        app,
        ["predict", "--model", str(model_dir), "--csv", str(tmp_path / "songs.csv"),
         "--out", str(out), "--explain", "--top", "2"],
        terminal_width=200,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "log-odds" in result.output  # the unit of the contribution columns is said
    scored = pd.read_csv(out)
    assert len(scored) == 39 and 8 not in scored["row"].tolist()
    assert {f"contribution_{f}" for f in config.AUDIO_FEATURES} <= set(scored.columns)
    # two sentences per song, each naming its direction towards the predicted level
    for why, level in zip(scored["why"], scored["level"], strict=True):
        parts = why.split("; ")
        assert len(parts) == 2 and all(f"the chance of {level} popularity" in p for p in parts)
    assert pd.read_csv(tmp_path / "why.rejects.csv")["field"].tolist() == ["tempo"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--danceability", "1.7"], "danceability: 1.7 is out of range"),
        ([], "give exactly one input"),
        (["--csv", "x.csv"], "--csv needs --out"),
    ],
)
def test_bad_input_exits_non_zero(model_dir, args, message):
    extra = (
        options({k: v for k, v in SONG.items() if k != "danceability"})
        if args[:1] == ["--danceability"]
        else []
    )
    result = runner.invoke(app, ["predict", "--model", str(model_dir), *extra, *args])
    assert result.exit_code != 0
    assert message in " ".join(result.output.split())


def test_no_model_and_no_run(tmp_path, monkeypatch):
    monkeypatch.setenv(config.RUNS_DIR_ENV, str(tmp_path / "runs"))
    result = runner.invoke(app, ["predict", *options(SONG)])
    assert result.exit_code != 0
    assert "make run" in " ".join(result.output.split())


def test_tampered_model_exits_non_zero(tmp_path, model_dir):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(model_dir, copy)
    (copy / "estimator.skops").write_bytes(b"not a model")
    result = runner.invoke(app, ["predict", "--model", str(copy), *options(SONG)])
    assert result.exit_code != 0
    assert "estimator.skops" in " ".join(result.output.split())


@pytest.mark.data
def test_real_hit_predictor_file(tmp_path, data_dir, model_dir):
    real = pd.read_csv(data_dir / "tracks" / "hit_predictor_dev.csv.gz", nrows=500)
    real.to_csv(tmp_path / "hp.csv", index=False)
    out = tmp_path / "scored.csv"
    result = runner.invoke(
        app, ["predict", "--model", str(model_dir), "--csv", str(tmp_path / "hp.csv"),
              "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(out)
    rejected = (
        len(pd.read_csv(tmp_path / "scored.rejects.csv"))
        if (tmp_path / "scored.rejects.csv").exists()
        else 0
    )
    assert len(scored) + rejected == 500
    assert scored["title"].notna().all() and set(scored["level"]) <= set(config.LEVELS)


def test_similar_songs_plot_and_the_notes_a_reader_needs(tmp_path, model_dir):
    """--similar N lists the nearest training songs with their chart history, --plot writes
    where the song sits, and every answer says what the levels mean, how often the model is
    right when this sure, and warns about a value no training song has (issue #14)."""
    plot = tmp_path / "where.svg"
    args = ["predict", "--model", str(model_dir), *options(dict(SONG, tempo=299.0)),
            "--similar", "4", "--plot", str(plot)]  # fmt: skip
    result = runner.invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "The 4 nearest songs the model learned from" in out
    assert "Artist" in out and ("never charted" in out or "#" in out)
    assert "What the levels mean:" in out and "low popularity" in out
    assert "warning: unlike the training songs: tempo 299 BPM is outside the range" in " ".join(
        result.stderr.split()
    )
    assert plot.read_text().startswith("<svg") and 'data-position="tempo"' in plot.read_text()
    # --explain names the three nearest songs in one line
    result = runner.invoke(app, ["predict", "--model", str(model_dir), *options(SONG),
                                 "--explain"], terminal_width=200)  # fmt: skip
    assert "Nearest songs the model learned from: Song " in " ".join(result.output.split())
    bad = runner.invoke(app, ["predict", "--model", str(model_dir), *options(SONG),
                              "--similar", "99"])  # fmt: skip
    assert bad.exit_code == 2 and "--similar 99: expected a number from 0 to 50" in bad.stderr
