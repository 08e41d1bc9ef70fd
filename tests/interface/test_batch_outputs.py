"""An output never eats its input (issue #21): `songpop predict --csv ... --out ...`.

The input as output, one file for scored rows and rejects, an existing output without
--overwrite, a Dask folder holding another run's parts, and a SIGTERM in the middle of a batch.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from songpop.cli import app
from songpop.errors import InputError
from songpop.inference.dask_cluster import MANIFEST, check_output_folder
from support import audio_pipeline, labelled_songs, random_songs, save_audio_bundle

runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    X, y = labelled_songs(120)
    est = audio_pipeline(LogisticRegression(max_iter=300), scale=True).fit(X, y)
    return save_audio_bundle(est, tmp_path_factory.mktemp("m") / "logreg", X, y, compile=False)


@pytest.fixture
def songs_csv(tmp_path: Path) -> Path:
    table = random_songs(30)
    table.loc[3, "tempo"] = 900.0  # one reject
    path = tmp_path / "songs.csv"
    table.to_csv(path, index=False)
    return path


def predict(model_dir: Path, *args: str):
    return runner.invoke(app, ["predict", "--model", str(model_dir), *args])


def one_line_error(result, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    return " ".join(result.output.split())


def test_the_input_as_output_is_refused_before_anything_is_read(model_dir, songs_csv) -> None:
    before = songs_csv.read_bytes()
    said = one_line_error(predict(model_dir, "--csv", str(songs_csv), "--out", str(songs_csv)))
    assert "is the input file" in said
    same = songs_csv.parent / "." / songs_csv.name  # another spelling of the same file
    said = one_line_error(predict(model_dir, "--csv", str(songs_csv), "--out", "x.csv",
                                  "--rejects", str(same)))  # fmt: skip
    assert "--rejects" in said and "is the input file" in said
    assert songs_csv.read_bytes() == before


def test_one_file_for_scored_rows_and_rejects_is_refused(model_dir, songs_csv) -> None:
    out = songs_csv.with_name("same.csv")
    said = one_line_error(predict(model_dir, "--csv", str(songs_csv), "--out", str(out),
                                  "--rejects", str(out)))  # fmt: skip
    assert "the same file" in said and not out.exists()


def test_an_existing_output_is_replaced_only_with_overwrite(model_dir, songs_csv) -> None:
    out = songs_csv.with_name("scored.csv")
    out.write_text("my earlier work\n")
    said = one_line_error(predict(model_dir, "--csv", str(songs_csv), "--out", str(out)))
    assert "already there" in said and "--overwrite" in said
    assert out.read_text() == "my earlier work\n"
    done = predict(model_dir, "--csv", str(songs_csv), "--out", str(out), "--overwrite")
    assert done.exit_code == 0, done.output
    scored = pd.read_csv(out)
    rejects = pd.read_csv(songs_csv.with_name("scored.rejects.csv"))
    assert len(scored) == 29 and list(rejects["row"]) == [4]
    again = predict(model_dir, "--csv", str(songs_csv), "--out", str(out))
    assert "already there" in one_line_error(again)


def test_an_output_folder_holding_another_runs_parts_is_refused_or_cleared(
    tmp_path: Path,
) -> None:
    out = tmp_path / "scored"
    (out / "rejects").mkdir(parents=True)
    for name in ("part-00000.parquet", "part-00001.parquet", "rejects/part-00000.csv", MANIFEST):
        (out / name).write_text("an earlier run")
    (out / "notes.txt").write_text("mine")
    inputs = [tmp_path / "a.parquet"]
    with pytest.raises(InputError, match="holds 4 file.s. of another run.*--overwrite"):
        check_output_folder(out, inputs, overwrite=False)
    assert check_output_folder(out, inputs, overwrite=True) == out
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == ["notes.txt"]
    with pytest.raises(InputError, match="holds the input"):
        check_output_folder(tmp_path, inputs, overwrite=True)
    joined = tmp_path / "all.csv"
    joined.write_text("x\n")
    with pytest.raises(InputError, match="already there.*--overwrite"):
        check_output_folder(joined, inputs, overwrite=False)


def test_a_dask_run_writes_a_manifest_and_a_second_run_does_not_mix_in(
    model_dir: Path, tmp_path: Path
) -> None:
    from distributed import Client, LocalCluster

    from songpop.inference.dask_cluster import score_files

    for i in range(3):
        random_songs(20, seed=i).to_parquet(tmp_path / f"in{i}.parquet")
    out = tmp_path / "out"
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                     dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        first = score_files(client, str(tmp_path / "in*.parquet"), out, model_dir)
        manifest = json.loads((out / MANIFEST).read_text())
        assert manifest["run"] == first["run"] and len(manifest["parts"]) == 3
        with pytest.raises(InputError, match="another run"):
            score_files(client, str(tmp_path / "in0.parquet"), out, model_dir)
        second = score_files(client, str(tmp_path / "in0.parquet"), out, model_dir,
                             overwrite=True)  # fmt: skip
    parts = sorted(p.name for p in out.glob("part-*.parquet"))
    assert parts == ["part-00000.parquet"] and second["scored"] == 20
    assert json.loads((out / MANIFEST).read_text())["parts"] == second["parts"]


def test_sigterm_in_the_middle_of_a_batch_leaves_no_temporary_file(
    model_dir: Path, tmp_path: Path
) -> None:
    big = tmp_path / "big.csv"
    pd.concat([random_songs(5000, seed=i) for i in range(40)]).to_csv(big, index=False)
    out = tmp_path / "out" / "scored.csv"
    out.parent.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "songpop", "predict", "--model", str(model_dir), "--csv",
         str(big), "--out", str(out), "--chunksize", "500"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(out.parent.glob(".*.tmp")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no temporary output appeared"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert "terminated (SIGTERM); nothing half-written was kept" in stderr
    assert "Traceback" not in stderr
    assert list(out.parent.iterdir()) == []
