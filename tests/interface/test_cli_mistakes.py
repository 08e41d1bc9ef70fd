"""A user's mistake or the system's refusal: one clear line, a non-zero exit, nothing half-done."""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path

import pytest
from lightgbm import LGBMClassifier
from typer.testing import CliRunner

import songpop.__main__ as entry
from songpop.cli import app
from support import audio_pipeline, labelled_songs, save_audio_bundle

runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    X, y = labelled_songs(150)
    est = audio_pipeline(LGBMClassifier(n_estimators=10, verbose=-1), scale=False).fit(X, y)
    return save_audio_bundle(est, tmp_path_factory.mktemp("m") / "lgbm", X, y)


@pytest.fixture
def batch(tmp_path: Path) -> Path:
    labelled_songs(20)[0].to_csv(tmp_path / "in.csv", index=False)
    return tmp_path / "in.csv"


def run_main(argv: list[str], monkeypatch, capsys) -> tuple[int, str]:
    """Run the `songpop` console script in-process; (exit code, standard error)."""
    monkeypatch.setattr(sys, "argv", ["songpop", *argv])
    with pytest.raises(SystemExit) as done:
        entry.main()
    return int(done.value.code or 0), capsys.readouterr().err


def test_out_is_an_existing_folder(model_dir: Path, batch: Path, tmp_path: Path) -> None:
    (tmp_path / "scored").mkdir()
    args = ["predict", "--model", str(model_dir), "--csv", str(batch), "--out"]
    result = runner.invoke(app, [*args, str(tmp_path / "scored")])
    assert result.exit_code == 2
    assert "a folder is there; give a file name" in result.output
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "scored"]  # no rejects file


def test_data_build_out_is_an_existing_file(tmp_path: Path) -> None:
    (tmp_path / "songs").write_text("not a folder")
    result = runner.invoke(app, ["data", "build", "--out", str(tmp_path / "songs")])
    assert result.exit_code != 0 and "a file is there; give a folder" in result.output
    assert (tmp_path / "songs").read_text() == "not a folder"


def test_a_full_disk_is_one_line_and_leaves_nothing(
    model_dir: Path, batch: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    import songpop.io

    def full(tmp, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(songpop.io, "_publish", full)
    out = tmp_path / "scored.parquet"
    args = ["predict", "--model", str(model_dir), "--csv", str(batch), "--out", str(out)]
    code, err = run_main(args, monkeypatch, capsys)
    assert code == 1
    assert err.strip() == f"error: {out}: No space left on device"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]  # no output, no temp file


def test_an_interruption_is_one_line(monkeypatch, capsys) -> None:
    import songpop.cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(songpop.cli, "app", interrupted)
    code, err = run_main(["--help"], monkeypatch, capsys)
    assert code == 130 and err.strip().startswith("songpop: interrupted")


def test_serve_with_a_refused_bundle_stops_with_one_line(model_dir: Path, tmp_path: Path) -> None:
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(model_dir, bad)
    meta = json.loads((bad / "bundle.json").read_text())
    meta["files"]["estimator.skops"] = "0" * 64
    (bad / "bundle.json").write_text(json.dumps(meta))
    result = runner.invoke(app, ["serve", "--model", str(bad), "--port", "1"])
    assert result.exit_code == 2
    assert "differs from the" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) <= 3  # one message, folded by the terminal


def test_utf16_input_is_named_as_an_encoding_problem(model_dir: Path, tmp_path: Path) -> None:
    X, _ = labelled_songs(5)
    (tmp_path / "u16.csv").write_text(X.to_csv(index=False), encoding="utf-16")
    args = ["predict", "--model", str(model_dir), "--csv", str(tmp_path / "u16.csv"), "--out"]
    result = runner.invoke(app, [*args, str(tmp_path / "out.csv")])
    assert result.exit_code == 2 and "UTF-16" in result.output and "UTF-8" in result.output
    assert not (tmp_path / "out.csv").exists()


def test_a_folder_without_tables_given_as_the_input(model_dir: Path, tmp_path: Path) -> None:
    # a folder is a batch of files for the Dask path; one holding none is refused up front
    (tmp_path / "notes.txt").write_text("no tables here\n")
    args = ["predict", "--model", str(model_dir), "--csv", str(tmp_path), "--out"]
    result = runner.invoke(app, [*args, str(tmp_path / "out.csv")])
    assert result.exit_code == 2
    assert "no CSV or Parquet file there" in " ".join(result.output.split())
