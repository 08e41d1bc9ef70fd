"""SIGKILL at random points of a batch score and of a build: the old output or the new, never a
mix, and nothing left behind once the next run is done."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from lightgbm import LGBMClassifier
from sklearn.pipeline import Pipeline

from songpop.features import make_preprocessor
from support import FEATURES, labelled_songs, save_audio_bundle

pytestmark = pytest.mark.slow
KILLS = 3
SONGPOP = [sys.executable, "-m", "songpop"]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def kill_after(command: list[str], seconds: float, env: dict | None = None) -> int:
    """Start `command`, SIGKILL it after `seconds` (if still running); its return code."""
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()
    return process.returncode


def test_a_killed_batch_score_leaves_the_old_output_or_the_new(tmp_path: Path) -> None:
    X, y = labelled_songs(300)
    # songpop's own preprocessing (columns by position) converts to ONNX: each `predict` scores
    # through the graph without importing skops (about 2.5 s of each start), so more of every
    # run, and of the kills that land at random in it, is reading, scoring and writing
    pre = make_preprocessor("boosting", FEATURES)
    est = Pipeline([("pre", pre), ("model", LGBMClassifier(n_estimators=30, verbose=-1))])
    model = save_audio_bundle(est.fit(X[FEATURES], y), tmp_path / "model", X, y)
    assert (model / "estimator.onnx").is_file()
    big = pd.concat([labelled_songs(1000, seed=s)[0] for s in range(60)], ignore_index=True)
    big.loc[::97, "energy"] = 5.0  # some rows to reject
    work = tmp_path / "work"
    work.mkdir()
    big.to_csv(work / "in.csv", index=False)
    out, rejects = work / "out.parquet", work / "rejects.csv"
    old_out, old_rejects = b"old output", b"old rejects"
    out.write_bytes(old_out)
    rejects.write_bytes(old_rejects)
    command = [*SONGPOP, "predict", "--model", str(model), "--csv", str(work / "in.csv")]
    command += ["--out", str(out), "--rejects", str(rejects), "--overwrite"]
    t0 = time.perf_counter()
    assert kill_after(command, 120) == 0  # a full run, to time it
    full = time.perf_counter() - t0
    new_rows = len(pd.read_parquet(out))
    assert new_rows + len(pd.read_csv(rejects)) == len(big)
    rng = random.Random(7)
    for _ in range(KILLS):
        out.write_bytes(old_out)
        rejects.write_bytes(old_rejects)
        kill_after(command, rng.uniform(0.2, full))
        for path, old in ((out, old_out), (rejects, old_rejects)):
            data = path.read_bytes()
            if data != old:  # the new file, whole
                if path == out:
                    assert len(pd.read_parquet(path)) == new_rows
                else:
                    assert len(pd.read_csv(path)) == len(big) - new_rows
    assert kill_after(command, 120) == 0  # the next run clears what the killed ones left
    assert leftovers(work) == []


def test_a_killed_build_leaves_the_old_build_or_the_new(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "builds" / "seed"
    command = [*SONGPOP, "data", "build", "--out", str(out), "--profile", "seed"]
    env = {**os.environ, "SONGPOP_DATA_DIR": str(data_dir)}
    t0 = time.perf_counter()
    assert kill_after(command, 300, env) == 0
    full = time.perf_counter() - t0
    rng = random.Random(11)
    for _ in range(KILLS):
        before = {p.name: p.stat().st_ino for p in out.iterdir()}
        kill_after(command, rng.uniform(0.2, full), env)
        if not out.exists():  # killed between the two renames of the swap: the next run
            assert kill_after(command, 300, env) == 0  # puts the old one back, then rebuilds
        after = {p.name: p.stat().st_ino for p in out.iterdir()}
        assert set(after) == set(before)  # a whole build: the same files
        kept = [name for name in after if after[name] == before[name]]
        assert len(kept) in (0, len(after)), f"a mix of two builds: {kept} kept"
        songs = pd.read_parquet(out / "songs.parquet")
        assert len(songs) == 9505
    assert kill_after(command, 300, env) == 0
    assert leftovers(out.parent) == []
