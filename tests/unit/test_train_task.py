"""`train_task` end to end on a tiny table: split, search, choose, evaluate, save, catalogue."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from songpop.bundle import load_bundle, resolve_model
from songpop.inference import predict_frame
from songpop.train import TaskSpec, train_task
from support import labelled_songs


def test_a_task_trains_end_to_end_on_a_tiny_table(tmp_path: Path) -> None:
    X, y = labelled_songs(240, seed=1)
    songs = X.assign(level=y, year=np.random.default_rng(1).integers(1960, 2020, len(X)))
    spec = TaskSpec(
        task="tiny",
        label_strategy="spotify",
        models=("dummy", "logreg", "lgbm"),
        budget="quick",
        extras=False,
    )
    summary = train_task(songs, tmp_path, spec)
    assert summary["n_train"] + summary["n_test"] == 240
    # the year alone is every table's yardstick (no bundle: a baseline, not a product)
    assert set(summary["feature_sets"]) == {"audio", "audio+context", "measured", "year"}
    assert summary["feature_sets"]["year"]["features"] == ["year"]
    # 240 songs over 60 years: no rolling origin has 100 test songs, so none is scored
    forward = summary["forward"]
    assert forward["rows"] == [] and forward["latest"] is None
    # what a file's measurements and tags give: duration, loudness, tempo, key and the year
    measured = summary["feature_sets"]["measured"]
    assert set(measured["features"]) == {"duration_ms", "loudness", "tempo", "key", "year"}
    indexed = {
        e["feature_set"] for e in json.loads((tmp_path / "index.json").read_text())["models"]
    }
    assert "measured" in indexed and "year" not in indexed
    audio = summary["feature_sets"]["audio"]
    assert audio["best"] in ("logreg", "lgbm")  # never the dummy
    assert audio["models"]["logreg"]["accuracy"] > audio["models"]["dummy"]["accuracy"]
    index = json.loads((tmp_path / "index.json").read_text())
    assert index["default"] == summary["default"] and index["default"].startswith("tiny/audio/")
    bundle = load_bundle(resolve_model(tmp_path))
    scored = predict_frame(X.head(5), bundle)
    assert len(scored) == 5 and set(scored["level"]) <= {"low", "medium", "high"}
    assert (tmp_path / "tiny" / "section.json").is_file()
    # the same spec with a field replaced, as keywords
    again = train_task(songs, tmp_path / "b", spec, feature_sets=("audio",), save=False)
    assert set(again["feature_sets"]) == {"audio"} and not (tmp_path / "b").exists()
