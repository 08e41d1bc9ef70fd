"""Reusing an earlier run's stage: keys, the data fingerprint, finding and linking outputs."""

from __future__ import annotations

import os
from pathlib import Path

from songpop.stages import (
    data_fingerprint,
    find_reusable,
    link_outputs,
    read_stages,
    record_stage,
    stage_key,
)


def test_a_key_changes_with_any_input_or_setting() -> None:
    base = stage_key("train_seed", songs="abc", budget="default")
    assert base == stage_key("train_seed", budget="default", songs="abc")  # order-free
    assert base != stage_key("train_seed", songs="abd", budget="default")
    assert base != stage_key("train_seed", songs="abc", budget="full")
    assert base != stage_key("train_hit", songs="abc", budget="default")


def test_the_data_fingerprint_sees_each_file_but_not_songpops_own_caches(tmp_path: Path) -> None:
    (tmp_path / "charts").mkdir()
    (tmp_path / "charts" / "hot100.csv").write_text("a,b\n")
    (tmp_path / ".catalogue").mkdir()
    (tmp_path / ".catalogue" / "index.parquet").write_text("x")
    first = data_fingerprint(tmp_path)
    assert [row[0] for row in first] == ["charts/hot100.csv"]
    (tmp_path / "charts" / "hot100.csv").write_text("a,b\n1,2\n")
    assert data_fingerprint(tmp_path) != first  # a changed file is a new fingerprint


def test_the_newest_run_with_the_key_and_its_outputs_is_reused(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for name, key in (("r1", "k"), ("r2", "k"), ("r3", "other")):
        (runs / name / "data" / "seed").mkdir(parents=True)
        (runs / name / "data" / "seed" / "songs.parquet").write_text(name)
        record_stage(runs / name, "build_seed", key, 1.0, None)
    current = runs / "r4"
    current.mkdir()
    found = find_reusable(runs, current, "build_seed", "k", ["data/seed"])
    assert found == runs / "r2"
    # outputs gone: not reusable
    (runs / "r2" / "data" / "seed" / "songs.parquet").unlink()
    (runs / "r2" / "data" / "seed").rmdir()
    assert find_reusable(runs, current, "build_seed", "k", ["data/seed"]) == runs / "r1"
    assert find_reusable(runs, current, "build_seed", "missing", ["data/seed"]) is None
    link_outputs(runs / "r1", current, ["data/seed"])
    linked = current / "data" / "seed" / "songs.parquet"
    assert linked.read_text() == "r1"
    assert os.stat(linked).st_ino == os.stat(runs / "r1" / "data" / "seed" / "songs.parquet").st_ino
    record_stage(current, "build_seed", "k", 0.01, "r1")
    assert read_stages(current)["build_seed"] == {"key": "k", "seconds": 0.01, "reused_from": "r1"}
